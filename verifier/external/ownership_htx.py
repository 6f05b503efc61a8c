"""HTX's ownership file (`por verify-ownership --format htx`), checked as HTX's own verifier does.

Where it sits: one layout of `verifier/external/ownership_files.py`. The file is HTX's
``huobi_por.csv`` (huobiapi/Tool-Node.js-VerifyAddress): a per-coin balance section
(``coin,snapshot height,balance``, ``BTC(ALL)`` lines for the totals), an empty line, then
``coin,address,snapshot height,balance,message,signature``. A row whose signature is ``-``
is unsigned (HTX's tool skips it).

The chain of a row comes from its coin name and address shape
(`verifier/external/ownership_chains.py`). EVM rows follow HTX's `verify`: first
`ecrecover(keccak256(message))`; if that does not give the address, web3's
`accounts.recover(message, signature)`, i.e. EIP-191 personal_sign over the message. The row
reports which one matched (``raw-keccak256`` or ``eip191``). HTX compares the raw form's
address case-sensitively with lower-case hex; we compare the 20 bytes (case is only the
EIP-55 checksum), as its EIP-191 fallback does.
"""

from __future__ import annotations

from decimal import Decimal, localcontext

from verifier.base.errors import InputError
from verifier.external.ownership_chains import chain_of, check_on_chain
from verifier.external.ownership_csv import blank, csv_rows, shown
from verifier.external.ownership_evm import check_evm_in_order
from verifier.external.ownership_rows import (
    PRECISION,
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

HTX_HEADER = ("coin", "address", "snapshot height", "balance", "message", "signature")
HTX_EVM_ORDER = ("raw-keccak256", "eip191")
"""HTX's order: raw ECDSA over keccak256(message), then personal_sign over the message."""
_BALANCE_COLUMNS = ("balance", "amount", "total", "total balance")


def _reported(rows: list[tuple[int, list[str]]]) -> dict[str, Decimal]:
    """The balance section: coin → balance as the file states it (``BTC(ALL)`` kept as is)."""
    reported: dict[str, Decimal] = {}
    header: list[str] | None = None
    for line, cells in rows:
        if blank(cells):
            continue
        if header is None:
            header = [c.strip().lower() for c in cells]
            continue
        record = dict(zip(header, (c.strip() for c in cells), strict=False))
        coin = record.get("coin", "")
        column = next((k for k in _BALANCE_COLUMNS if k in record), "")
        if coin and column and (value := amount(record[column], line, column)) is not None:
            with localcontext() as ctx:
                ctx.prec = PRECISION
                reported[coin] = reported.get(coin, Decimal(0)) + value
    return reported


def _row(line: int, cells: list[str]) -> OwnershipRow:
    coin, address, _height, balance_text, message, signature = (c.strip() for c in cells[:6])
    balance = amount(balance_text, line, "balance")
    chain = chain_of(coin, address)

    def check() -> Proven:
        if is_empty(signature) or is_empty(message):
            empty = ("signature", signature) if is_empty(signature) else ("message", message)
            raise Unsigned(missing(*empty))
        if chain is None:
            raise Unsupported(f"{coin} address {address}: chain not recognised by this tool")
        if chain.family == "evm":
            found: list[str] = []

            def evm() -> str:
                scheme, reason = check_evm_in_order(address, signature, message, HTX_EVM_ORDER)
                found.append(scheme)
                return reason

            proven = run(",".join(HTX_EVM_ORDER), evm)
            return Proven(found[0], proven.reason)
        return check_on_chain(chain, address, message, [signature])

    return make_row(line, coin, coin, address, balance, check, chain.name if chain else "")


def parse_htx(text: str) -> OwnershipReport:
    """HTX's CSV: a per-coin balance section, then the ownership section."""
    rows = csv_rows(text)
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
    out = []
    for line, cells in rows[start + 1 :]:
        if blank(cells):
            continue
        if len(cells) < len(HTX_HEADER):
            raise InputError(
                f"expected {len(HTX_HEADER)} fields, found {len(cells)}",
                line=line,
                value=shown(cells),
            )
        out.append(_row(line, cells))
    weaknesses = (
        "a signature proves control of an address when it was made, not the balance: the "
        "balances are the file's own, to be read on the chain at the stated height",
        "HTX signs a fixed word ('huobi', 'htx'), not a fresh challenge: an old signature "
        "proves nothing about today",
    )
    return OwnershipReport("htx", tuple(out), _reported(rows[:start]), weaknesses)
