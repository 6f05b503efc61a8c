"""One row of an ownership file, its verdict, and the report's summaries per coin and per chain.

Where it sits: the result type of `verifier/external/ownership_files.py` (and the layouts it
dispatches to: ownership_okx.py, ownership_htx.py); `verifier/external/check.py` turns a
report into the `por verify-ownership` document. Pure: no files, no network.

Invariants:
  1. Every row gets exactly one status: ``valid``, ``invalid`` (with the failed check),
     ``unsigned``, or ``unsupported`` (a chain this tool cannot check), which is reported,
     never counted as proven and never a failure.
  2. Balances are Decimal, summed in an exact local context; never float.
  3. The file is valid (exit 0) iff no row is ``invalid``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any

from verifier.base.errors import InputError, InvalidProof, PorError

OWNERSHIP_STATUSES = ("valid", "invalid", "unsigned", "unsupported")
EMPTY = frozenset({"", "-", "null", "none", "n/a"})
"""Cells that mean "nothing here" in the publishers' files."""
PRECISION = 200
MAX_AMOUNT_DIGITS = 80
"""Longest balance accepted (digits, point excluded): the exact context of `PRECISION`
digits then never rounds a sum of them."""
_AMOUNT = re.compile(r"-?[0-9]+(\.[0-9]+)?")


class RowStatus(enum.StrEnum):
    """The verdict on one row."""

    VALID = "valid"
    INVALID = "invalid"
    UNSIGNED = "unsigned"
    UNSUPPORTED = "unsupported"


_BALANCE_KEY = {
    RowStatus.VALID: "proven_balance",
    RowStatus.UNSIGNED: "unsigned_balance",
    RowStatus.INVALID: "invalid_balance",
    RowStatus.UNSUPPORTED: "unsupported_balance",
}


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
    """e.g. "bip137", "p2wsh-multisig", "eip191-keccak256", "raw-keccak256", "eip191", "tron";
    the one that verified (or the last one tried); None if none ran."""
    reason: str
    balance: Decimal | None = None
    """Whole units, when the file states a balance for the row."""
    chain: str = ""
    """The chain the row was decided to be on ("bitcoin", "ethereum", "tron", …; "" unknown)."""
    variant: str | None = None
    """The form of the scheme that verified, when the scheme has several (TRON, Solana, …)."""
    signers: tuple[str, ...] = ()
    """The addresses whose signatures were checked when they are not the row's address
    (OKX's staking and contract rows: the withdrawal or owner EOAs)."""
    check: str | None = None
    """For an invalid row, the check that failed ("recovered key", "address", …)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "coin": self.coin,
            "network": self.network,
            "chain": self.chain or None,
            "address": self.address,
            "status": self.status.value,
            "scheme": self.scheme,
            "variant": self.variant,
            "signers": list(self.signers),
            "reason": self.reason,
            "check": self.check,
            "balance": None if self.balance is None else plain(self.balance),
        }


@dataclass(frozen=True, slots=True)
class OwnershipReport:
    """Every row's verdict and the summaries per coin and per chain."""

    format: str
    rows: tuple[OwnershipRow, ...]
    reported: Mapping[str, Decimal] = field(default_factory=dict)
    """The file's own per-coin balance section (htx, okx), whole units."""
    weaknesses: tuple[str, ...] = ()
    """What a valid row of this file does not prove (shown with the verdict)."""

    @property
    def valid(self) -> bool:
        return all(row.status is not RowStatus.INVALID for row in self.rows)

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per coin: counts per status, proven, unsigned, invalid, unsupported and total balance."""
        out = _summarise(self.rows, lambda row: row.coin)
        for coin, entry in out.items():
            if coin in self.reported:
                entry["reported_balance"] = plain(self.reported[coin])
        for coin, value in self.reported.items():
            if coin not in out:
                out[coin] = {"reported_balance": plain(value), "rows": 0}
        return out

    def summary_by_chain(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Per chain, then per coin on it: the same entries as `summary`."""
        chains: dict[str, list[OwnershipRow]] = {}
        for row in self.rows:
            chains.setdefault(row.chain or "unknown", []).append(row)
        return {chain: _summarise(rows, lambda row: row.coin) for chain, rows in chains.items()}

    def to_json(self) -> dict[str, Any]:
        counts = {s.value: sum(1 for r in self.rows if r.status is s) for s in RowStatus}
        return {
            "valid": self.valid,
            "format": self.format,
            "counts": counts,
            "rows": [row.to_json() for row in self.rows],
            "summary": self.summary(),
            "summary_by_chain": self.summary_by_chain(),
            "weaknesses": list(self.weaknesses),
        }


def _summarise(
    rows: Iterable[OwnershipRow], key: Callable[[OwnershipRow], str]
) -> dict[str, dict[str, Any]]:
    """Counts and balances per status for each key; balances None when the file states none."""
    sums: dict[str, dict[str, Any]] = {}
    stated: set[str] = set()
    with localcontext() as ctx:
        ctx.prec = PRECISION
        for row in rows:
            entry = sums.setdefault(
                key(row),
                {
                    **dict.fromkeys(OWNERSHIP_STATUSES, 0),
                    **{name: Decimal(0) for name in _BALANCE_KEY.values()},
                    "total_balance": Decimal(0),
                },
            )
            entry[row.status.value] += 1
            if row.balance is not None:
                stated.add(key(row))
                entry[_BALANCE_KEY[row.status]] += row.balance
                entry["total_balance"] += row.balance
    for name, entry in sums.items():
        for balance in (*_BALANCE_KEY.values(), "total_balance"):
            entry[balance] = plain(entry[balance]) if name in stated else None
    return sums


# ----------------------------------------------------------------------------- cells


def plain(value: Decimal) -> str:
    """A decimal as plain digits, trailing zeros dropped ("0" for zero)."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def amount(text: str, line: int, column: str) -> Decimal | None:
    """A balance cell in whole units (``1,234.5`` allowed), None when empty or ``-``."""
    text = text.strip().replace(",", "")
    if text.lower() in EMPTY:
        return None
    if not _AMOUNT.fullmatch(text):
        raise InputError("not a decimal amount", line=line, key=column, value=text)
    if len(text.lstrip("-").replace(".", "")) > MAX_AMOUNT_DIGITS:
        raise InputError(
            f"an amount of more than {MAX_AMOUNT_DIGITS} digits", line=line, key=column,
            value=text,
        )  # fmt: skip
    with localcontext() as ctx:
        ctx.prec = PRECISION
        try:
            return Decimal(text)
        except InvalidOperation:  # pragma: no cover - the pattern admits only plain decimals
            raise InputError("not a decimal amount", line=line, key=column, value=text) from None


def is_empty(text: str | None) -> bool:
    return text is None or text.strip().lower() in EMPTY


def missing(what: str, cell: str | None) -> str:
    """Why a row is unsigned, naming the cell as found: empty, or its placeholder (``-``)."""
    text = (cell or "").strip()
    return f"no {what} in the row ({f'{text!r}' if text else 'the cell is empty'})"


# ----------------------------------------------------------------------------- outcomes


class Unsupported(Exception):
    """The row's chain or scheme cannot be checked by this tool (reported, never failed)."""


class Unsigned(Exception):
    """The row carries no signature."""


class Failed(Exception):
    """The row's signature does not prove the address: `scheme` tried, `reason` why not."""

    def __init__(
        self, scheme: str, reason: str, variant: str | None = None, check: str | None = None
    ) -> None:
        super().__init__(reason)
        self.scheme = scheme
        self.reason = reason
        self.variant = variant
        self.check = check


@dataclass(frozen=True, slots=True)
class Proven:
    """What a check that passed returns: the scheme, why it passed, and its details."""

    scheme: str
    reason: str
    variant: str | None = None
    signers: tuple[str, ...] = ()


def run(scheme: str, check: Callable[[], str]) -> Proven:
    """Run a check that returns its reason or raises `PorError`; a failure becomes `Failed`."""
    try:
        return Proven(scheme, check())
    except InvalidProof as exc:
        raise Failed(scheme, exc.message, check=exc.check) from None
    except PorError as exc:
        raise Failed(scheme, exc.message) from None


def make_row(
    line: int,
    coin: str,
    network: str,
    address: str,
    balance: Decimal | None,
    check: Callable[[], Proven],
    chain: str = "",
) -> OwnershipRow:
    """Run `check` and turn its outcome into a row."""

    def row(status: RowStatus, scheme: str | None, reason: str, **extra: Any) -> OwnershipRow:
        return OwnershipRow(
            line, coin, network, address, status, scheme, reason, balance, chain, **extra
        )

    try:
        proven = check()
    except Unsupported as exc:
        return row(RowStatus.UNSUPPORTED, None, str(exc))
    except Unsigned as exc:
        return row(RowStatus.UNSIGNED, None, str(exc))
    except Failed as exc:
        return row(RowStatus.INVALID, exc.scheme, exc.reason, variant=exc.variant, check=exc.check)
    return row(
        RowStatus.VALID, proven.scheme, proven.reason, variant=proven.variant,
        signers=proven.signers,
    )  # fmt: skip
