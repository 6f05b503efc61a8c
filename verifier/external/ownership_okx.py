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
    ``Eigenlayer Staking``. OKX reads the columns by position, shifted by one when a ``Type``
    column is in the header; so do we.

EVM signatures are personal_sign over keccak256(message) (``eip191-keccak256``). Who signs
is OKX's rule: with EOA1 and EOA2, signature1 by EOA1 and signature2 by EOA2; with EOA1
only, signature1 by EOA1; else signature1 by the address. Staking rows name a validator key
in the address column and are proven by their withdrawal EOAs: the signature proves the
EOA, not the validator (a weakness the report states). Bitcoin rows are BIP-137, or a
witness script plus one signature per cosigner. Other chains are reported unsupported.
"""

from __future__ import annotations

from decimal import Decimal, localcontext

from verifier.base.errors import InputError
from verifier.external.ownership_chains import Chain, chain_of, check_bitcoin
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
        (
            i
            for i, (_, cells) in enumerate(rows)
            if {"address", "signature1"} <= {c.strip().lower() for c in cells}
        ),
        None,
    )
    if start is None:
        raise InputError(
            f"the first line is not the OKX header {','.join(OKX_HEADER)}, and no line is "
            "the header of OKX's report layout (coin,…,address,amount,message,signature1,…)",
            line=1,
            value=shown(rows[0][1]) if rows else "",
        )
    header = [c.strip().lower() for c in rows[start][1]]
    offset = 1 if "type" in header else 0  # OKX's detectFormatOffset
    out, weaknesses = [], []
    for line, cells in rows[start + 1 :]:
        if blank(cells):
            continue
        row = _report_row(line, cells, offset)
        out.append(row)
        if row.signers:
            staking = offset == 1 and _is_staking(cells[1])
            weakness = STAKING_WEAKNESS if staking else OWNER_WEAKNESS
            if weakness not in weaknesses:
                weaknesses.append(weakness)
    return OwnershipReport("okx", tuple(out), _reported(rows[:start]), tuple(weaknesses))


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


def _report_row(line: int, cells: list[str], offset: int) -> OwnershipRow:
    """A row of the 11- or 12-column layout (`offset` 1 when a Type column follows coin)."""
    if len(cells) < 9 + offset:
        raise InputError(
            f"expected at least {9 + offset} fields, found {len(cells)}",
            line=line,
            value=shown(cells),
        )
    cell = [c.strip() for c in cells]
    coin, kind = cell[0], (cell[1] if offset else "")
    network, address, balance_text, message = cell[1 + offset], *cell[3 + offset : 6 + offset]
    sig1, sig2, script = cell[6 + offset : 9 + offset]
    # OKX reads the EOAs only when both columns are there
    eoa1, eoa2 = (cell[9 + offset], cell[10 + offset]) if len(cell) > 10 + offset else ("", "")
    balance = amount(balance_text, line, "amount")
    chain = chain_of(coin, address, network)

    def check() -> Proven:
        if chain is None or chain.family not in ("evm", "bitcoin"):
            raise Unsupported(f"network {network} is not supported by this tool")
        signatures = [s for s in (sig1, sig2) if not is_empty(s)]
        if not signatures or is_empty(message):
            raise Unsigned("no signature in the row")
        if chain.family == "bitcoin":
            return check_bitcoin(address, signatures, message, "" if is_empty(script) else script)
        return _okx_evm(address, message, sig1, sig2, eoa1, eoa2, kind)

    shown_network = f"{network} ({kind})" if kind else network
    return make_row(line, coin, shown_network, address, balance, check, _name(chain, network))


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
        ) -> Proven:
            evm = chain is not None and chain.family == "evm" and EVM_ADDRESS.fullmatch(address)
            if not evm and (chain is None or chain.family != "bitcoin"):
                raise Unsupported(f"network {network} is not supported by this tool")
            if not signatures:
                raise Unsigned("no signature in the row")
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
            return check_bitcoin(address, signatures, message, "" if is_empty(script) else script)

        out.append(make_row(line, coin, network, address, None, check, _name(chain, network)))
    return OwnershipReport("okx", tuple(out))
