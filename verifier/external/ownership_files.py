"""Ownership files that exchanges publish: one signature (or two) per address, checked offline.

Where it sits: `por verify-ownership FILE --format F` (`verifier/external/check.py` reads the file
and calls `verify_ownership_file`). It lives in `chains/` because it reuses the signature
code of `chains/btc_ownership.py` and `chains/eth_ownership.py`; it is pure (no network).

Layouts (`--format`):

``okx``
    ``test.csv``: ``digitalAsset,network,address,signedMessage,signedMessage2,message,
    publicKey,owner1,owner2``; EVM rows are personal_sign over ``keccak256(message)``;
    Bitcoin rows are BIP-137 compact signatures; a P2WSH row carries its witness script in
    ``publicKey`` and one signature per cosigner.
``summa``
    ``chain;address;signature;message``: personal_sign over
    ``keccak256(abi.encode(string message))``.
``htx``
    A per-coin balance section, then an ownership section under the header
    ``coin,address,snapshot height,balance,message,signature``; EVM signatures are raw ECDSA
    over ``keccak256(message)`` (no EIP-191 prefix); unsigned rows hold ``-``.
``por``
    Our attestation document: every wallet's ownership proof against its chain's challenge.

Invariants:
  1. Every row gets exactly one status: ``valid``, ``invalid`` (with the failed check),
     ``unsigned``, or ``unsupported`` (a chain this tool cannot check: TRON, Solana,
     Dogecoin, XRP, …), which is reported, never counted as proven and never a failure.
  2. Balances are Decimal, summed in an exact local context; never float.
  3. The file is valid (exit 0) iff no row is ``invalid``.
"""

from __future__ import annotations

import csv
import enum
import io
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any

from eth_abi.abi import encode as abi_encode
from eth_keys.datatypes import Signature as EthSignature
from eth_keys.exceptions import BadSignature
from eth_utils.crypto import keccak

from chains.btc_address import AddressType
from chains.btc_bip137 import check_bip137
from chains.btc_multisig import check_p2wsh_multisig
from chains.btc_proof_checks import decode_address
from verifier.base.errors import InputError, InvalidProof, PorError, UsageError

FORMATS = ("okx", "summa", "htx", "por")
OWNERSHIP_STATUSES = ("valid", "invalid", "unsigned", "unsupported")
HTX_HEADER = ("coin", "address", "snapshot height", "balance", "message", "signature")
OKX_HEADER = (
    "digitalAsset",
    "network",
    "address",
    "signedMessage",
    "signedMessage2",
    "message",
    "publicKey",
    "owner1",
    "owner2",
)
EVM_NETWORKS = frozenset(
    {
        "ETH", "ERC20", "OKC", "OKTC", "BSC", "BEP20", "POLYGON", "MATIC", "ARBITRUM",
        "ARBITRUM ONE", "OPTIMISM", "AVAXC", "AVAX-C", "BASE", "LINEA", "ZKSYNC", "ZKSYNC ERA",
        "MANTLE", "SCROLL", "FTM", "FANTOM", "CRONOS", "X LAYER", "XLAYER", "ETHW", "ETF",
    }
)  # fmt: skip
BITCOIN_NETWORKS = frozenset({"BTC", "BITCOIN"})
_EVM_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_EMPTY = frozenset({"", "-", "null", "none", "n/a"})
_PRECISION = 200
MAX_AMOUNT_DIGITS = 80
"""Longest balance accepted (digits, point excluded): the exact context of `_PRECISION`
digits then never rounds a sum of them."""
_AMOUNT = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_STRAY_CR = re.compile(r"\r(?!\n)(?!\Z)")


class RowStatus(enum.StrEnum):
    """The verdict on one row."""

    VALID = "valid"
    INVALID = "invalid"
    UNSIGNED = "unsigned"
    UNSUPPORTED = "unsupported"


@dataclass(frozen=True, slots=True)
class OwnershipRow:
    """One address of the file and its verdict."""

    line: int
    """1-based line (CSV) or wallet number (por), for the reader."""
    coin: str
    network: str
    address: str
    status: RowStatus
    scheme: str | None
    """e.g. "bip137", "p2wsh-multisig", "eip191-keccak256", "raw-keccak256"; None if none ran."""
    reason: str
    balance: Decimal | None = None
    """Whole units, when the file states a balance for the row."""

    def to_json(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "coin": self.coin,
            "network": self.network,
            "address": self.address,
            "status": self.status.value,
            "scheme": self.scheme,
            "reason": self.reason,
            "balance": None if self.balance is None else _plain(self.balance),
        }


@dataclass(frozen=True, slots=True)
class OwnershipReport:
    """Every row's verdict and the per-coin summary."""

    format: str
    rows: tuple[OwnershipRow, ...]
    reported: Mapping[str, Decimal] = field(default_factory=dict)
    """The file's own per-coin balance section (htx), whole units."""

    @property
    def valid(self) -> bool:
        return all(row.status is not RowStatus.INVALID for row in self.rows)

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per coin: counts per status, proven and unsigned balance, unsupported rows."""
        out: dict[str, dict[str, Any]] = {}
        with localcontext() as ctx:
            ctx.prec = _PRECISION
            for row in self.rows:
                entry = out.setdefault(
                    row.coin,
                    {
                        "valid": 0,
                        "invalid": 0,
                        "unsigned": 0,
                        "unsupported": 0,
                        "proven_balance": Decimal(0),
                        "unsigned_balance": Decimal(0),
                        "invalid_balance": Decimal(0),
                        "unsupported_balance": Decimal(0),
                        "balances_stated": False,
                    },
                )
                entry[row.status.value] += 1
                if row.balance is not None:
                    entry["balances_stated"] = True
                    key = {
                        RowStatus.VALID: "proven_balance",
                        RowStatus.UNSIGNED: "unsigned_balance",
                        RowStatus.INVALID: "invalid_balance",
                        RowStatus.UNSUPPORTED: "unsupported_balance",
                    }[row.status]
                    entry[key] += row.balance
        for coin, entry in out.items():
            stated = entry.pop("balances_stated")
            for key in ("proven_balance", "unsigned_balance", "invalid_balance"):
                entry[key] = _plain(entry[key]) if stated else None
            entry["unsupported_balance"] = _plain(entry["unsupported_balance"]) if stated else None
            if coin in self.reported:
                entry["reported_balance"] = _plain(self.reported[coin])
        for coin, value in self.reported.items():
            if coin not in out:
                out[coin] = {"reported_balance": _plain(value), "rows": 0}
        return out

    def to_json(self) -> dict[str, Any]:
        counts = {s.value: sum(1 for r in self.rows if r.status is s) for s in RowStatus}
        return {
            "valid": self.valid,
            "format": self.format,
            "counts": counts,
            "rows": [row.to_json() for row in self.rows],
            "summary": self.summary(),
        }


# ----------------------------------------------------------------------------- helpers


def _plain(value: Decimal) -> str:
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _amount(text: str, line: int, column: str) -> Decimal | None:
    """A balance cell in whole units (``1,234.5`` allowed), None when empty or ``-``."""
    text = text.strip().replace(",", "")
    if text.lower() in _EMPTY:
        return None
    if not _AMOUNT.fullmatch(text):
        raise InputError("not a decimal amount", line=line, key=column, value=text)
    if len(text.lstrip("-").replace(".", "")) > MAX_AMOUNT_DIGITS:
        raise InputError(
            f"an amount of more than {MAX_AMOUNT_DIGITS} digits", line=line, key=column,
            value=text,
        )  # fmt: skip
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        try:
            return Decimal(text)
        except InvalidOperation:  # pragma: no cover - the pattern admits only plain decimals
            raise InputError("not a decimal amount", line=line, key=column, value=text) from None


def _empty(text: str | None) -> bool:
    return text is None or text.strip().lower() in _EMPTY


def _bitcoin_network(address: str) -> str:
    lowered = address.lower()
    if lowered.startswith("bcrt1"):
        return "regtest"
    if lowered.startswith("tb1") or address[:1] in ("m", "n", "2"):
        return "test"
    return "main"


# ----------------------------------------------------------------------------- EVM


def eip191_digest(payload: bytes) -> bytes:
    """keccak256("\\x19Ethereum Signed Message:\\n" + len + payload): personal_sign's hash."""
    return keccak(b"\x19Ethereum Signed Message:\n" + str(len(payload)).encode() + payload)


EVM_SCHEMES: dict[str, Callable[[str], bytes]] = {
    "eip191": lambda m: eip191_digest(m.encode("utf-8")),
    "eip191-keccak256": lambda m: eip191_digest(keccak(text=m)),
    "eip191-keccak256-abi": lambda m: eip191_digest(keccak(abi_encode(["string"], [m]))),
    "raw-keccak256": lambda m: keccak(text=m),
}
"""The digest each scheme signs, from the message text."""


def recover_evm(digest: bytes, signature: str) -> str:
    """The checksummed address whose key made `signature` (65 bytes r||s||v, hex) over `digest`.

    Raises
    ------
    InvalidProof
        Not hex, not 65 bytes, v not 0/1/27/28, or no key recovers.
    """
    text = signature.strip().removeprefix("0x")
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise InvalidProof("signature encoding", "the signature is not hex") from None
    if len(raw) != 65:
        raise InvalidProof("signature encoding", f"the signature has {len(raw)} bytes, not 65")
    v = raw[64] - 27 if raw[64] >= 27 else raw[64]
    if v not in (0, 1):
        raise InvalidProof("signature encoding", f"v = {raw[64]} is not 27 or 28")
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:64], "big")
    try:
        key = EthSignature(vrs=(v, r, s)).recover_public_key_from_msg_hash(digest)
    except (BadSignature, ValueError) as exc:
        raise InvalidProof("key recovery", f"no public key recovers ({exc})") from None
    return str(key.to_checksum_address())


def check_evm(address: str, signature: str, message: str, scheme: str) -> str:
    """Check an EVM signature under `scheme`; returns what was proven, raises `InvalidProof`."""
    if not _EVM_ADDRESS.fullmatch(address):
        raise InvalidProof("address", f"{address!r} is not an EVM address (0x + 40 hex)")
    signer = recover_evm(EVM_SCHEMES[scheme](message), signature)
    if signer.lower() != address.lower():
        raise InvalidProof(
            "recovered key",
            f"the signature over {message!r} ({scheme}) recovers to {signer}, not {address}",
        )
    return f"{scheme} signature over {message!r} recovers to the address"


# ----------------------------------------------------------------------------- rows


def _row(
    line: int,
    coin: str,
    network: str,
    address: str,
    balance: Decimal | None,
    check: Callable[[], tuple[str, str]],
) -> OwnershipRow:
    """Run `check` (returns scheme and reason) and turn its outcome into a row."""
    try:
        scheme, reason = check()
    except _Unsupported as exc:
        return OwnershipRow(
            line, coin, network, address, RowStatus.UNSUPPORTED, None, str(exc), balance
        )
    except _Unsigned as exc:
        return OwnershipRow(
            line, coin, network, address, RowStatus.UNSIGNED, None, str(exc), balance
        )
    except _Failed as exc:
        return OwnershipRow(
            line, coin, network, address, RowStatus.INVALID, exc.scheme, exc.reason, balance
        )
    return OwnershipRow(line, coin, network, address, RowStatus.VALID, scheme, reason, balance)


class _Unsupported(Exception):
    pass


class _Unsigned(Exception):
    pass


class _Failed(Exception):
    def __init__(self, scheme: str, reason: str) -> None:
        super().__init__(reason)
        self.scheme = scheme
        self.reason = reason


def _run(scheme: str, check: Callable[[], str]) -> tuple[str, str]:
    try:
        return scheme, check()
    except InvalidProof as exc:
        raise _Failed(scheme, exc.message) from None
    except PorError as exc:
        raise _Failed(scheme, exc.message) from None


def _bitcoin(address: str, signatures: Sequence[str], message: str, script: str) -> tuple[str, str]:
    network = _bitcoin_network(address)
    try:
        kind = decode_address(address, network).type
    except InvalidProof as exc:
        raise _Failed("bip137", exc.message) from None
    if kind in (AddressType.P2WSH,) or (kind is AddressType.P2SH and script):
        if not script:
            raise _Failed("p2wsh-multisig", "no signature: the row carries no witness script")
        return _run(
            "p2wsh-multisig",
            lambda: check_p2wsh_multisig(address, script, signatures, network, message),
        )
    if kind in (AddressType.P2PKH, AddressType.P2SH, AddressType.P2WPKH):
        if len(signatures) != 1:
            raise _Failed("bip137", f"{len(signatures)} signatures for a single-key address")
        return _run("bip137", lambda: check_bip137(address, signatures[0], network, message))
    raise _Unsupported(f"{kind} addresses are not supported by signed messages (BIP-137)")


def _chain_of(network: str, address: str) -> str:
    """ "bitcoin", "evm" or "" (unsupported), from the network name and the address shape."""
    name = network.strip().upper()
    if name in BITCOIN_NETWORKS:
        return "bitcoin"
    if name in EVM_NETWORKS and _EVM_ADDRESS.fullmatch(address.strip()):
        return "evm"
    return ""


# ----------------------------------------------------------------------------- layouts


def _csv_rows(text: str, delimiter: str = ",") -> list[tuple[int, list[str]]]:
    """The records of a CSV file with the line each starts on (1-based).

    Line ends may be LF, CRLF or CR alone (a file saved by an old Mac tool); a carriage
    return inside a line of an LF or CRLF file is refused rather than guessed at, since it
    would silently cut a row in two.
    """
    if "\n" in text:
        stray = _STRAY_CR.search(text)
        if stray is not None:
            line = text.count("\n", 0, stray.start()) + 1
            start = text.rfind("\n", 0, stray.start()) + 1
            end = text.find("\n", stray.start())
            raise InputError(
                "a carriage return (\\r) inside a line",
                line=line,
                value=text[start : end if end >= 0 else len(text)].rstrip("\r"),
            )
    # newline="": the csv module sees the line ends as they are and splits on all three
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    rows: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for cells in reader:
            rows.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise InputError(f"not CSV ({exc})", line=reader.line_num or 1) from None
    return rows


def _shown(cells: Sequence[str], delimiter: str = ",") -> str:
    """A row as the file has it, for a message."""
    return delimiter.join(cells)


def parse_okx(text: str) -> OwnershipReport:
    """OKX's ``test.csv`` layout (EVM: personal_sign over keccak256(message))."""
    rows = _csv_rows(text)
    if not rows or tuple(c.strip() for c in rows[0][1][: len(OKX_HEADER)]) != OKX_HEADER:
        raise InputError(
            f"the first line is not the OKX header {','.join(OKX_HEADER)}",
            line=1,
            value=_shown(rows[0][1]) if rows else "",
        )
    out = []
    for line, cells in rows[1:]:
        if not any(c.strip() for c in cells):
            continue
        padded = [c.strip() for c in cells] + [""] * (len(OKX_HEADER) - len(cells))
        coin, network, address, sig1, sig2, message, public_key = padded[:7]
        signatures = [s for s in (sig1, sig2) if not _empty(s)]

        def check(
            network: str = network,
            address: str = address,
            signatures: list[str] = signatures,
            message: str = message,
            script: str = public_key,
        ) -> tuple[str, str]:
            chain = _chain_of(network, address)
            if not chain:
                raise _Unsupported(f"network {network} is not supported by this tool")
            if not signatures:
                raise _Unsigned("no signature in the row")
            if chain == "evm":
                if len(signatures) != 1:
                    raise _Unsupported(
                        "two EVM signatures: a contract (multisig) wallet, whose owners "
                        "cannot be checked offline"
                    )
                scheme = "eip191-keccak256"
                return _run(scheme, lambda: check_evm(address, signatures[0], message, scheme))
            return _bitcoin(address, signatures, message, "" if _empty(script) else script)

        out.append(_row(line, coin, network, address, None, check))
    return OwnershipReport("okx", tuple(out))


def parse_summa(text: str) -> OwnershipReport:
    """Summa's ``signatures.csv`` (personal_sign over keccak256(abi.encode(message)))."""
    rows = _csv_rows(text, ";")
    if not rows or [c.strip().lower() for c in rows[0][1]] != [
        "chain",
        "address",
        "signature",
        "message",
    ]:
        raise InputError(
            "the first line is not 'chain;address;signature;message'",
            line=1,
            value=_shown(rows[0][1], ";") if rows else "",
        )
    out = []
    for line, cells in rows[1:]:
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != 4:
            raise InputError(
                f"expected 4 fields, found {len(cells)}", line=line, value=_shown(cells, ";")
            )
        chain, address, signature, message = (c.strip() for c in cells)

        def check(
            chain: str = chain, address: str = address, signature: str = signature,
            message: str = message,
        ) -> tuple[str, str]:  # fmt: skip
            if _chain_of(chain, address) != "evm":
                raise _Unsupported(f"chain {chain} is not supported by this tool")
            if _empty(signature):
                raise _Unsigned("no signature in the row")
            scheme = "eip191-keccak256-abi"
            return _run(scheme, lambda: check_evm(address, signature, message, scheme))

        out.append(_row(line, chain, chain, address, None, check))
    return OwnershipReport("summa", tuple(out))


def parse_htx(text: str) -> OwnershipReport:
    """HTX's CSV: a per-coin balance section, then the ownership section (raw keccak256)."""
    rows = _csv_rows(text)
    start = next(
        (
            i
            for i, (_, cells) in enumerate(rows)
            if tuple(c.strip().lower() for c in cells[: len(HTX_HEADER)]) == HTX_HEADER
        ),
        None,
    )
    if start is None:
        raise InputError(f"no ownership section: no line {','.join(HTX_HEADER)}")
    reported: dict[str, Decimal] = {}
    header: list[str] | None = None
    for line, cells in rows[:start]:
        if not any(c.strip() for c in cells):
            continue
        if header is None:
            header = [c.strip().lower() for c in cells]
            continue
        record = dict(zip(header, (c.strip() for c in cells), strict=False))
        coin = record.get("coin", "")
        value = next(
            (record[k] for k in ("balance", "amount", "total", "total balance") if k in record),
            None,
        )
        column = next(
            (k for k in ("balance", "amount", "total", "total balance") if k in record), ""
        )
        if coin and value is not None and (amount := _amount(value, line, column)) is not None:
            with localcontext() as ctx:
                ctx.prec = _PRECISION
                reported[coin] = reported.get(coin, Decimal(0)) + amount
    out = []
    for line, cells in rows[start + 1 :]:
        if not any(c.strip() for c in cells):
            continue
        if len(cells) < len(HTX_HEADER):
            raise InputError(
                f"expected {len(HTX_HEADER)} fields, found {len(cells)}",
                line=line,
                value=_shown(cells),
            )
        coin, address, _height, balance_text, message, signature = (c.strip() for c in cells[:6])
        balance = _amount(balance_text, line, "balance")

        def check(
            coin: str = coin, address: str = address, message: str = message,
            signature: str = signature,
        ) -> tuple[str, str]:  # fmt: skip
            if coin.upper() in BITCOIN_NETWORKS:
                chain = "bitcoin"
            elif _EVM_ADDRESS.fullmatch(address):
                chain = "evm"
            else:
                raise _Unsupported(f"{coin} address {address}: chain not supported by this tool")
            if _empty(signature) or _empty(message):
                raise _Unsigned("no signature in the row ('-')")
            if chain == "evm":
                scheme = "raw-keccak256"
                return _run(scheme, lambda: check_evm(address, signature, message, scheme))
            return _bitcoin(address, [signature], message, "")

        out.append(_row(line, coin, coin, address, balance, check))
    return OwnershipReport("htx", tuple(out), reported)


def parse_por(data: bytes, source: str | None = None) -> OwnershipReport:
    """Our attestation document: each wallet's proof against its chain's challenge."""
    from attestations.document.files import loads_attestation
    from attestations.document.parse import parse_attestation
    from attestations.proofs import format_units
    from chains.btc_ownership import verify_bitcoin_ownership
    from chains.eth_ownership import EIP191, verify_eip191

    doc = parse_attestation(loads_attestation(data, source=source), require_signature=False)
    decimals = {a.code: a.decimals for a in doc.liabilities.assets}
    out = []
    number = 0
    for chain in doc.chains:
        challenge = chain.challenge or ""
        for wallet in chain.wallets:
            number += 1
            proof = wallet.ownership
            network = chain.block.network
            for coin, units in (wallet.balances or {"": 0}).items():
                balance = Decimal(format_units(units, decimals[coin])) if coin in decimals else None

                def check(
                    proof: Mapping[str, Any] | None = proof,
                    address: str = wallet.address,
                    kind: str = str(chain.block.chain),
                    network: str = network,
                    challenge: str = challenge,
                ) -> tuple[str, str]:
                    if not proof:
                        raise _Unsigned("no ownership proof for this wallet")
                    scheme = str(proof.get("scheme"))
                    if kind == "bitcoin":
                        verdict = verify_bitcoin_ownership(proof, address, network, challenge)
                    elif scheme == EIP191:
                        verdict = verify_eip191(address, challenge, str(proof.get("signature")))
                    else:
                        raise _Unsupported(
                            f"scheme {scheme} needs a node (EIP-1271 asks the contract)"
                        )
                    if verdict.status.value != "proven":
                        raise _Failed(verdict.scheme or scheme, verdict.reason)
                    return verdict.scheme or scheme, verdict.reason

                out.append(
                    _row(
                        number, coin or "-", str(chain.block.chain), wallet.address, balance, check
                    )
                )
    return OwnershipReport("por", tuple(out))


def verify_ownership_file(data: bytes, fmt: str, source: str | None = None) -> OwnershipReport:
    """Check every row of an ownership file.

    Parameters
    ----------
    data
        The file's bytes.
    fmt
        One of `FORMATS`.
    source
        The file's name, for messages (the CLI names it when this is None).

    Returns
    -------
    OwnershipReport
        Every row's verdict; `.valid` is False iff some row is ``invalid``.

    Raises
    ------
    UsageError
        Unknown `fmt`.
    InputError
        The file does not have the layout's header or shape.
    """
    if fmt not in FORMATS:
        raise UsageError(f"unknown ownership format {fmt!r} (one of: {', '.join(FORMATS)})")
    if fmt == "por":
        return parse_por(data, source)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"the ownership file is not UTF-8 text (byte {exc.start + 1})",
            file=source,
            line=data[: exc.start].count(b"\n") + 1,
        ) from None
    parser = {"okx": parse_okx, "summa": parse_summa, "htx": parse_htx}[fmt]
    try:
        return parser(text)
    except InputError as exc:
        if source is None or exc.file is not None:
            raise
        raise _named(exc, source) from None


def _named(exc: InputError, source: str) -> InputError:
    """The same error, naming the file it is in."""
    error = type(exc)(exc.message, file=source)
    error.line, error.key, error.value = exc.line, exc.key, exc.value
    return error
