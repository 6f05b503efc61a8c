"""Ownership files that exchanges publish: one signature (or two) per address, checked offline.

Where it sits: `por verify-ownership FILE --format F` (`verifier/external/check.py` reads the
file and calls `verify_ownership_file`). Pure (no network). This module picks the layout and
holds the small ones; the others have their own modules in this package:

``okx``
    `verifier/external/ownership_okx.py`: ``test.csv`` and OKX's report layouts (11 columns,
    or 12 with ``Type`` and staking rows proven by their withdrawal EOAs).
``summa``
    ``chain;address;signature;message``: personal_sign over
    ``keccak256(abi.encode(string message))``.
``htx``
    `verifier/external/ownership_htx.py`: a per-coin balance section, then
    ``coin,address,snapshot height,balance,message,signature``; EVM rows raw keccak256 first,
    then EIP-191; TRON, Solana, Algorand, Dogecoin and Litecoin rows by their chain's rule.
``por``
    Our attestation document: every wallet's ownership proof against its chain's challenge.

Rows, verdicts and summaries: `verifier/external/ownership_rows.py`; the chain of a row and
the non-EVM checks: `ownership_chains.py`; EVM digests: `ownership_evm.py`; CSV reading:
`ownership_csv.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from verifier.base.errors import InputError, UsageError
from verifier.external.ownership_chains import chain_of
from verifier.external.ownership_csv import blank, csv_rows, shown
from verifier.external.ownership_evm import EVM_ADDRESS, check_evm
from verifier.external.ownership_htx import parse_htx
from verifier.external.ownership_okx import parse_okx
from verifier.external.ownership_rows import (
    Failed,
    OwnershipReport,
    Proven,
    Unsigned,
    Unsupported,
    is_empty,
    make_row,
    missing,
    run,
)

FORMATS = ("okx", "summa", "htx", "por")


def parse_summa(text: str) -> OwnershipReport:
    """Summa's ``signatures.csv`` (personal_sign over keccak256(abi.encode(message)))."""
    rows = csv_rows(text, ";")
    if not rows or [c.strip().lower() for c in rows[0][1]] != [
        "chain",
        "address",
        "signature",
        "message",
    ]:
        raise InputError(
            "the first line is not 'chain;address;signature;message'",
            line=1,
            value=shown(rows[0][1], ";") if rows else "",
        )
    out = []
    for line, cells in rows[1:]:
        if blank(cells):
            continue
        if len(cells) != 4:
            raise InputError(
                f"expected 4 fields, found {len(cells)}", line=line, value=shown(cells, ";")
            )
        chain, address, signature, message = (c.strip() for c in cells)

        def check(
            chain: str = chain, address: str = address, signature: str = signature,
            message: str = message,
        ) -> Proven:  # fmt: skip
            found = chain_of(chain, address, chain)
            if found is None or found.family != "evm" or not EVM_ADDRESS.fullmatch(address):
                raise Unsupported(f"chain {chain} is not supported by this tool")
            if is_empty(signature):
                raise Unsigned(missing("signature", signature))
            scheme = "eip191-keccak256-abi"
            return run(scheme, lambda: check_evm(address, signature, message, scheme))

        found = chain_of(chain, address, chain)
        name = found.name if found is not None else chain.lower()
        out.append(make_row(line, chain, chain, address, None, check, name))
    return OwnershipReport("summa", tuple(out))


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
                ) -> Proven:
                    if not proof:
                        raise Unsigned("no ownership proof for this wallet")
                    scheme = str(proof.get("scheme"))
                    if kind == "bitcoin":
                        verdict = verify_bitcoin_ownership(proof, address, network, challenge)
                    elif scheme == EIP191:
                        verdict = verify_eip191(address, challenge, str(proof.get("signature")))
                    else:
                        raise Unsupported(
                            f"scheme {scheme} needs a node (EIP-1271 asks the contract)"
                        )
                    if verdict.status.value != "proven":
                        raise Failed(verdict.scheme or scheme, verdict.reason)
                    return Proven(verdict.scheme or scheme, verdict.reason)

                out.append(
                    make_row(
                        number,
                        coin or "-",
                        str(chain.block.chain),
                        wallet.address,
                        balance,
                        check,
                        str(chain.block.chain),
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
