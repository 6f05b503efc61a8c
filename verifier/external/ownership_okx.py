"""OKX's ownership files (`por verify-ownership --format okx`), in each layout OKX has published.

Where it sits: one layout family of `verifier/external/ownership_files.py`; the rules are
those of OKX's own verifier (okx/proof-of-reserves, cmd/verifyaddress and common/verify.go).
The layout is decided by the header:

``digitalAsset,network,address,signedMessage,signedMessage2,message,publicKey,owner1,owner2``
    ``test.csv``: no balances.
``coin,Network,Snapshot Height,address,amount,message,signature1,signature2,``
``redeem script/ public key, eoa1, eoa2``
    ``okx_por_example.csv``: a per-coin balance section (``coin,snapshot height,amount``),
    an empty line, then these rows (11 columns).
the same with ``Type`` after ``coin`` (12 columns)
    ``okx_por_staking_example.csv``: ``Type`` is ``Non Staking``, ``Native ETH Staking`` or
    ``Eigenlayer Staking``.
``coin,address,amount,message,signature1,signature2,redeem script/ public key``
    Okcoin's ``okcoin_por_example.csv`` (okx/proof-of-reserves@6ffa88e7): 7 columns, no
    network column (the chain comes from the coin's suffix and the address), Bitcoin rows
    P2SH or P2WSH 2-of-3 multisig with two signatures and the script.

A report layout's columns are read by the names of its header (in the published layouts
they sit where OKX's verifier reads them by position); a header with a column name not in
`REPORT_COLUMNS`, a repeated one, or without the required ones is refused: "layout not
supported: header …" (exit 3, never a verdict). A row needs a cell for every column up to
the last one before EOA1/EOA2; OKX reads the EOAs only when both cells are there.

EVM signatures are personal_sign over keccak256(message) (``eip191-keccak256``). Who signs
is OKX's rule: with EOA1 and EOA2, signature1 by EOA1 and signature2 by EOA2; with EOA1
only, signature1 by EOA1; else signature1 by the address. Staking rows name a validator key
in the address column and are proven by their withdrawal EOAs: the signature proves the
EOA, not the validator (a weakness the report states). Bitcoin rows are BIP-137, or a
script plus one signature per cosigner: a ``bc1q…`` address is P2WSH of the witness script,
a ``3…`` address plain P2SH of the redeem script (OKX's ``VerifyUtxoCoinSig``:
``NewAddressScriptHash(script)``; scheme ``p2sh-multisig``). TRON rows of the report
layouts (a ``0x`` hex signature) are checked by `chains.tron_signatures.verify_tron`, which
reports the form that verified. Other chains are reported unsupported.
"""

from __future__ import annotations

from decimal import Decimal, localcontext

from verifier.base.errors import InputError
from verifier.external.ownership_chains import Chain, chain_of, check_bitcoin, check_on_chain
from verifier.external.ownership_csv import blank, csv_rows, shown
from verifier.external.ownership_evm import EVM_ADDRESS, check_evm
from verifier.external.ownership_rows import (
    PRECISION,
    Failed,
    OwnershipReport,
    OwnershipRow,
    Proven,
    Unsigned,
    Unsupported,
    amount,
    is_empty,
    make_row,
    missing,
    run,
)

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
OKX_EVM_SCHEME = "eip191-keccak256"
REPORT_COLUMNS = (
    "coin", "type", "network", "snapshot height", "address", "amount", "message",
    "signature1", "signature2", "redeem script/public key", "eoa1", "eoa2",
)  # fmt: skip
"""Every column name of OKX's report layouts (lower case, no space around ``/``)."""
REQUIRED_COLUMNS = ("coin", "address", "message", "signature1")
BASE_UNIT_DECIMALS = {"BTC": 8, "ETH": 18, "USDT": 6}
"""Okcoin's layout (no network column) states row amounts in base units (satoshi, wei, USDT's
6 decimals; its ETH rows sum to the 5.2834 of its balance section): the decimals of each
asset it lists. A row of another asset keeps no balance (the file does not say its unit)."""
STAKING_WEAKNESS = (
    "a staking row's signatures prove control of its withdrawal EOAs (EOA1/EOA2), not of the "
    "validator key in its address column, nor that the staked amount is withdrawable to them"
)
OWNER_WEAKNESS = (
    "a row proven by its owner EOAs (EOA1/EOA2) proves those keys, not that they control the "
    "contract wallet in its address column"
)


def parse_okx(text: str) -> OwnershipReport:
    """Any of OKX's ownership layouts, decided by the header."""
    rows = csv_rows(text)
    first = next(((line, cells) for line, cells in rows if not blank(cells)), None)
    if first is not None and tuple(c.strip() for c in first[1][: len(OKX_HEADER)]) == OKX_HEADER:
        return _parse_test_layout(rows[rows.index(first) + 1 :])
    start = next(
        (i for i, (_, cells) in enumerate(rows) if "address" in {c.strip().lower() for c in cells}),
        None,
    )
    if start is None:
        raise InputError(
            f"the first line is not the OKX header {','.join(OKX_HEADER)}, and no line is "
            "the header of OKX's report layout (coin,…,address,amount,message,signature1,…)",
            line=1,
            value=shown(rows[0][1]) if rows else "",
        )
    columns = _columns(rows[start][0], rows[start][1])
    out, weaknesses = [], []
    for line, cells in rows[start + 1 :]:
        if blank(cells):
            continue
        row, kind = _report_row(line, cells, columns)
        out.append(row)
        if row.signers:
            weakness = STAKING_WEAKNESS if _is_staking(kind) else OWNER_WEAKNESS
            if weakness not in weaknesses:
                weaknesses.append(weakness)
    return OwnershipReport("okx", tuple(out), _reported(rows[:start]), tuple(weaknesses))


def _columns(line: int, cells: list[str]) -> dict[str, int]:
    """The report header's columns by name, or "layout not supported" naming the header."""
    names = [
        " ".join(c.strip().lower().replace(" /", "/").replace("/ ", "/").split()) for c in cells
    ]
    while names and not names[-1]:  # a trailing comma ends OKX's 11-column header
        names.pop()
    columns = {name: i for i, name in enumerate(names)}
    unknown = [n for n in names if n not in REPORT_COLUMNS]
    absent = [n for n in REQUIRED_COLUMNS if n not in columns]
    if unknown or absent or len(columns) != len(names):
        why = (
            f"unknown column(s) {', '.join(map(repr, unknown))}" if unknown
            else f"no column {', '.join(absent)}" if absent
            else "a repeated column"
        )  # fmt: skip
        raise InputError(
            f"layout not supported: header {','.join(c.strip() for c in cells)!r} ({why}); "
            f"OKX's report layouts name only {','.join(REPORT_COLUMNS)}",
            line=line,
        )
    return columns


def _reported(rows: list[tuple[int, list[str]]]) -> dict[str, Decimal]:
    """The balance section before the rows: coin → amount (``ETH(ALL)`` kept as is)."""
    reported: dict[str, Decimal] = {}
    records = [(line, cells) for line, cells in rows if not blank(cells)]
    for line, cells in records[1:]:  # the first is the section's header
        if len(cells) < 3 or not cells[0].strip():
            continue
        value = amount(cells[2], line, "amount")
        if value is not None:
            with localcontext() as ctx:
                ctx.prec = PRECISION
                reported[cells[0].strip()] = reported.get(cells[0].strip(), Decimal(0)) + value
    return reported


def _report_row(line: int, cells: list[str], columns: dict[str, int]) -> tuple[OwnershipRow, str]:
    """A row of a report layout, read by `columns`; its Type ("" without the column)."""
    needed = 1 + max(i for name, i in columns.items() if name not in ("eoa1", "eoa2"))
    if len(cells) < needed:
        raise InputError(
            f"expected at least {needed} fields, found {len(cells)}", line=line, value=shown(cells)
        )
    cell = [c.strip() for c in cells]

    def get(name: str) -> str:
        index = columns.get(name)
        return cell[index] if index is not None and index < len(cell) else ""

    coin, kind, network, address, message = (
        get(n) for n in ("coin", "type", "network", "address", "message")
    )
    sig1, sig2, script = get("signature1"), get("signature2"), get("redeem script/public key")
    # OKX reads the EOAs only when both cells are there
    both = all(columns.get(n, len(cell)) < len(cell) for n in ("eoa1", "eoa2"))
    eoa1, eoa2 = (get("eoa1"), get("eoa2")) if both else ("", "")
    balance = amount(get("amount"), line, "amount")
    if "network" not in columns and balance is not None:
        balance = _whole(balance, coin, line)
    chain = chain_of(coin, address, network)

    def check() -> Proven:
        if chain is None or chain.family not in ("evm", "bitcoin", "tron"):
            raise Unsupported(f"network {network or coin} is not supported by this tool")
        signatures = [s for s in (sig1, sig2) if not is_empty(s)]
        if not signatures:
            raise Unsigned(missing("signature", sig1))
        if is_empty(message):
            raise Unsigned(missing("message", message))
        if chain.family == "bitcoin":
            script_hex = "" if is_empty(script) else script
            return check_bitcoin(address, signatures, message, script_hex, legacy_p2sh=True)
        if chain.family == "tron":
            return check_on_chain(chain, address, message, signatures)
        return _okx_evm(address, message, sig1, sig2, eoa1, eoa2, kind)

    shown_network = (f"{network} ({kind})" if kind else network) or _name(chain, coin)
    row = make_row(line, coin, shown_network, address, balance, check, _name(chain, network))
    return row, kind


def _whole(base: Decimal, coin: str, line: int) -> Decimal | None:
    """An Okcoin row's amount in base units, in whole units (None for an asset not known)."""
    decimals = BASE_UNIT_DECIMALS.get(coin.split("-", 1)[0].strip().upper())
    if decimals is None:
        return None
    if base != base.to_integral_value():
        raise InputError("an amount in base units is not an integer", line=line, key="amount")
    with localcontext() as ctx:
        ctx.prec = PRECISION
        return base.scaleb(-decimals)


def _okx_evm(
    address: str, message: str, sig1: str, sig2: str, eoa1: str, eoa2: str, kind: str
) -> Proven:
    """OKX's rule for who signs an EVM row; every named signer must verify."""
    if eoa1 and eoa2:
        pairs = [(eoa1, sig1), (eoa2, sig2)]
    elif eoa1:
        pairs = [(eoa1, sig1)]
    else:
        pairs = [(address, sig1)]
    for signer, signature in pairs:
        if is_empty(signature):
            raise Failed(OKX_EVM_SCHEME, f"no signature for {signer}", check="signature")
        _check_signer(signer, signature, message)
    signers = tuple(s for s, _ in pairs)
    if signers == (address,):
        return Proven(OKX_EVM_SCHEME, f"{OKX_EVM_SCHEME} signature over {message!r} recovers "
                      "to the address")  # fmt: skip
    what = "validator" if _is_staking(kind) else "contract wallet"
    reason = (
        f"{OKX_EVM_SCHEME} signature(s) over {message!r} recover to {', '.join(signers)}: "
        f"they prove {'that EOA' if len(signers) == 1 else 'those EOAs'}, not the {what} "
        "address"
    )
    if not EVM_ADDRESS.fullmatch(address) and not _is_staking(kind):
        reason += f" ({address!r} is not an EVM address)"
    return Proven(OKX_EVM_SCHEME, reason, signers=signers)


def _check_signer(signer: str, signature: str, message: str) -> None:
    run(OKX_EVM_SCHEME, lambda: check_evm(signer, signature, message, OKX_EVM_SCHEME))


def _is_staking(kind: str) -> bool:
    """``Native ETH Staking``, ``Eigenlayer Staking`` (not ``Non Staking``)."""
    text = kind.strip().lower()
    return "staking" in text and not text.startswith("non")


def _name(chain: Chain | None, network: str) -> str:
    return chain.name if chain is not None else network.strip().lower()


def _parse_test_layout(rows: list[tuple[int, list[str]]]) -> OwnershipReport:
    """OKX's ``test.csv`` layout (no balances, no EOAs used)."""
    out = []
    for line, cells in rows:
        if blank(cells):
            continue
        padded = [c.strip() for c in cells] + [""] * (len(OKX_HEADER) - len(cells))
        coin, network, address, sig1, sig2, message, public_key = padded[:7]
        signatures = [s for s in (sig1, sig2) if not is_empty(s)]
        chain = chain_of(coin, address, network)

        def check(
            chain: Chain | None = chain,
            network: str = network,
            address: str = address,
            signatures: list[str] = signatures,
            message: str = message,
            script: str = public_key,
            first: str = sig1,
        ) -> Proven:
            evm = chain is not None and chain.family == "evm" and EVM_ADDRESS.fullmatch(address)
            if not evm and (chain is None or chain.family != "bitcoin"):
                raise Unsupported(f"network {network} is not supported by this tool")
            if not signatures:
                raise Unsigned(missing("signature", first))
            if evm:
                if len(signatures) != 1:
                    raise Unsupported(
                        "two EVM signatures: a contract (multisig) wallet, whose owners "
                        "cannot be checked offline"
                    )
                return run(
                    OKX_EVM_SCHEME,
                    lambda: check_evm(address, signatures[0], message, OKX_EVM_SCHEME),
                )
            script_hex = "" if is_empty(script) else script
            return check_bitcoin(address, signatures, message, script_hex, legacy_p2sh=True)

        out.append(make_row(line, coin, network, address, None, check, _name(chain, network)))
    return OwnershipReport("okx", tuple(out))
