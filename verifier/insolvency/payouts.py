"""Payouts made against a distribution plan: the paid file read exactly, and reconciled.

Where it sits: the last step of an insolvency (docs/insolvency.md). The administrator pays
each customer what the plan's ``distributions.csv`` says (`por insolvency plan`), records
every payment in a paid file (CSV: ``account_id,asset,units,reference``), and
`por insolvency payouts` (verifier/cli/insolvency.py) reads it here, reconciles it against
the plan and stores the run in the history database (verifier/history/payouts.py).

Pure: bytes in, values out (the CLI reads the files). Invariants:

- amounts are integer base units end to end (the paid file's ``units`` are base units of the
  plan's asset: satoshi, wei, yen for a JPY pool with 0 decimals); never a float;
- every hostile row is refused naming the file, the line and the value (`InputError`, exit
  3): a negative, empty, non-integer or zero amount, one reaching 2**128, an asset the plan
  does not distribute, an empty or over-long account id or reference, control characters,
  invalid UTF-8, a ``\\r`` line end, a missing or unknown column;
- the reconciliation never nets: per (account, asset) what was paid is compared with what is
  due; an overpayment of one customer never hides another's unpaid amount, and one asset
  never offsets another.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from verifier.base.errors import InputError

PAID_COLUMNS = ("account_id", "asset", "units", "reference")
"""The paid file's header (any order, each once, nothing else)."""
DISTRIBUTION_COLUMNS = ("account_id", "asset", "claim_units", "distribution_units")
"""The plan's ``distributions.csv`` header (written by `por insolvency plan`)."""
MAX_UNITS = 2**128
MAX_ID_BYTES = 256
MAX_REFERENCE = 256
MAX_DIGITS = 39
"""2**128 has 39 digits: a longer amount is refused before ``int()``."""

STATUSES = ("paid", "partial", "unpaid", "overpaid", "unknown")
"""Per (account, asset): paid in full, paid in part, nothing paid, paid more than due, or
paid to an account the plan does not know."""


@dataclass(frozen=True, slots=True)
class Payment:
    """One row of the paid file."""

    line: int
    """1-based line in the file (the header is line 1)."""
    account_id: str
    asset: str
    units: int
    """Base units of `asset` paid (> 0)."""
    reference: str
    """The transaction id or bank reference that paid it."""


@dataclass(frozen=True, slots=True)
class AccountAsset:
    """What one account was due and paid in one asset."""

    account_id: str
    asset: str
    due: int
    paid: int
    status: str
    """One of `STATUSES`."""


@dataclass(frozen=True, slots=True)
class AssetPayouts:
    """One asset's reconciliation: never netted across accounts or assets."""

    code: str
    decimals: int
    due: int
    """Σ distribution over the plan's accounts."""
    paid: int
    """Σ paid to accounts the plan knows."""
    unpaid: int
    """Σ max(0, due − paid) per account: still to pay."""
    overpaid: int
    """Σ max(0, paid − due) per account."""
    paid_unknown: int
    """Σ paid to accounts the plan does not know."""
    accounts: Mapping[str, int]
    """Accounts per status (`STATUSES`) in this asset."""

    def to_json(self) -> dict[str, Any]:
        return {
            "asset": self.code,
            "decimals": self.decimals,
            "due": str(self.due),
            "paid": str(self.paid),
            "unpaid": str(self.unpaid),
            "overpaid": str(self.overpaid),
            "paid_unknown": str(self.paid_unknown),
            "accounts": dict(self.accounts),
        }


@dataclass(frozen=True, slots=True)
class PayoutResult:
    """The whole reconciliation of a paid file against a plan."""

    plan_id: str
    paid_sha256: str
    payments: int
    """Rows in the paid file."""
    assets: tuple[AssetPayouts, ...]
    rows: tuple[AccountAsset, ...]
    """Every (account, asset) due or paid, sorted by account then asset."""
    duplicates: tuple[tuple[str, str, str, tuple[int, ...]], ...]
    """(account, asset, reference, lines) recorded more than once."""
    statuses: Mapping[str, int] = field(default_factory=dict)
    """Accounts by overall status: the worst of its assets (unknown > overpaid > partial >
    unpaid > paid)."""

    @property
    def consistent(self) -> bool:
        """No overpayment, no payment to an unknown account, no duplicate reference."""
        return not self.duplicates and all(
            a.overpaid == 0 and a.paid_unknown == 0 for a in self.assets
        )

    @property
    def exceptions(self) -> list[AccountAsset]:
        return [r for r in self.rows if r.status in {"overpaid", "unknown"}]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": "por-payouts-v1",
            "plan_id": self.plan_id,
            "paid_sha256": self.paid_sha256,
            "payments": self.payments,
            "consistent": self.consistent,
            "assets": [a.to_json() for a in self.assets],
            "accounts": dict(self.statuses),
            "exceptions": [
                {
                    "account_id": r.account_id,
                    "asset": r.asset,
                    "due": str(r.due),
                    "paid": str(r.paid),
                    "status": r.status,
                }
                for r in self.exceptions
            ],
            "duplicates": [
                {"account_id": a, "asset": s, "reference": ref, "lines": list(lines)}
                for a, s, ref, lines in self.duplicates
            ],
        }


# ----------------------------------------------------------------------------- reading


def _lines(data: bytes, name: str, what: str) -> Iterator[tuple[int, str]]:
    """(line number, text) of a UTF-8 CSV file; a bare ``\\r``, a NUL or invalid UTF-8 is
    refused naming its line. A final newline is optional; blank lines are skipped."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    for number, physical in enumerate(data.split(b"\n"), start=1):
        raw = physical[:-1] if physical.endswith(b"\r") else physical
        if b"\r" in raw:
            raise InputError(f"{what}: a carriage return inside a line", file=name, line=number)
        if b"\x00" in raw:
            raise InputError(f"{what}: a NUL byte", file=name, line=number)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{what} is not valid UTF-8 (byte {exc.start + 1} of the line)",
                file=name,
                line=number,
            ) from None
        if text.strip():
            yield number, text


def _fields(text: str, name: str, number: int, width: int, what: str) -> list[str]:
    try:
        row = next(csv.reader([text], strict=True))
    except csv.Error as exc:
        raise InputError(f"{what}: not a CSV line ({exc})", file=name, line=number) from None
    if len(row) != width:
        raise InputError(
            f"{what}: {len(row)} fields, the header has {width}", file=name, line=number, value=text
        )
    return row


def _header(
    lines: Iterator[tuple[int, str]], name: str, columns: Sequence[str], what: str
) -> list[int]:
    """The position of each of `columns` in the header line (any order, each once)."""
    first = next(lines, None)
    if first is None:
        raise InputError(f"{what} is empty (a header {','.join(columns)} is required)", file=name)
    number, text = first
    names = [h.strip() for h in _fields(text, name, number, len(columns), what)]
    if sorted(names) != sorted(columns):
        raise InputError(
            f"{what}: the header must name the columns {','.join(columns)}",
            file=name,
            line=number,
            value=text,
        )
    return [names.index(c) for c in columns]


def _text(value: str, key: str, name: str, number: int, limit: int) -> str:
    size = len(value.encode("utf-8", "surrogatepass"))
    if size == 0 or size > limit:
        raise InputError(
            f"{key} must be 1 to {limit} bytes, not {size}", file=name, line=number, value=value
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InputError(f"{key} holds a control character", file=name, line=number, value=value)
    return value


def _units(value: str, key: str, name: str, number: int, *, positive: bool) -> int:
    """A canonical decimal integer of base units: digits only (no blank around them, as
    spec §4.1 says: " 1" was once read as 1), no sign, no leading zero."""
    text = value
    if not text.isascii() or not text.isdigit() or (len(text) > 1 and text[0] == "0"):
        raise InputError(
            f"{key} must be an integer number of base units (digits only)",
            file=name,
            line=number,
            value=value,
        )
    if len(text) > MAX_DIGITS or int(text) >= MAX_UNITS:
        raise InputError(f"{key} reaches 2**128", file=name, line=number, value=value)
    units = int(text)
    if positive and units == 0:
        raise InputError(f"{key} must be more than 0", file=name, line=number, value=value)
    return units


def read_paid(data: bytes, name: str, assets: Mapping[str, int]) -> list[Payment]:
    """The paid file's rows; `assets` (code -> decimals) are what the plan distributes."""
    what = "paid file"
    lines = _lines(data, name, what)
    order = _header(lines, name, PAID_COLUMNS, what)
    payments = []
    for number, text in lines:
        row = _fields(text, name, number, len(PAID_COLUMNS), what)
        account, asset, units, reference = (row[i] for i in order)
        account = _text(account, "account_id", name, number, MAX_ID_BYTES)
        if asset not in assets:
            raise InputError(
                f"asset is not one the plan distributes ({', '.join(sorted(assets))})",
                file=name,
                line=number,
                value=asset,
            )
        payments.append(
            Payment(
                line=number,
                account_id=account,
                asset=asset,
                units=_units(units, "units", name, number, positive=True),
                reference=_text(reference.strip(), "reference", name, number, MAX_REFERENCE),
            )
        )
    return payments


@dataclass(frozen=True, slots=True)
class DistributionFile:
    """The plan's ``distributions.csv`` read whole: what is due, and its sums to check
    against the plan (payouts_files.py)."""

    due: dict[tuple[str, str], int]
    """(account, asset) -> distribution units, for the assets paid."""
    claimed: dict[str, int]
    """Per asset (and the currency): Σ claim_units."""
    distributed: dict[str, int]
    """Per asset (and the currency): Σ distribution_units."""
    accounts: int
    """Distinct accounts listed."""


def read_distribution_file(
    data: bytes, name: str, assets: Mapping[str, int], sold: Sequence[str] = ()
) -> DistributionFile:
    """The plan's ``distributions.csv``. `assets` are what the plan pays; `sold` the assets
    sold into the fiat pool (policy fiat: their rows carry the claim and a distribution of
    0). A row the plan could not have written (an unknown asset, a repeated pair, a
    distribution above the claim, a sold asset paid) is refused naming its line: the file
    was changed after the plan."""
    what = "distributions file"
    lines = _lines(data, name, what)
    order = _header(lines, name, DISTRIBUTION_COLUMNS, what)
    due: dict[tuple[str, str], int] = {}
    seen: set[tuple[str, str]] = set()
    claimed: dict[str, int] = {}
    distributed: dict[str, int] = {}
    for number, text in lines:
        row = _fields(text, name, number, len(DISTRIBUTION_COLUMNS), what)
        account, asset, claim, dist = (row[i] for i in order)
        account = _text(account, "account_id", name, number, MAX_ID_BYTES)
        if asset not in assets and asset not in sold:
            raise InputError("asset is not in the plan", file=name, line=number, value=asset)
        claim_units = _units(claim, "claim_units", name, number, positive=False)
        units = _units(dist, "distribution_units", name, number, positive=False)
        if units > claim_units or (asset in sold and units):
            raise InputError(
                "distribution_units exceed claim_units, or pay an asset that was sold (the "
                "rule never pays more than a claim)",
                file=name,
                line=number,
                value=text,
            )
        if (account, asset) in seen:
            raise InputError(
                "account and asset listed twice", file=name, line=number, value=f"{account} {asset}"
            )
        seen.add((account, asset))
        claimed[asset] = claimed.get(asset, 0) + claim_units
        distributed[asset] = distributed.get(asset, 0) + units
        if asset in assets:
            due[(account, asset)] = units
    return DistributionFile(due, claimed, distributed, len({a for a, _ in seen}))


def read_distributions(
    data: bytes, name: str, assets: Mapping[str, int]
) -> dict[tuple[str, str], int]:
    """(account, asset) -> units due, from ``distributions.csv`` (`read_distribution_file`)."""
    return read_distribution_file(data, name, assets).due


# ----------------------------------------------------------------------------- reconciling


_WORST = {"paid": 0, "unpaid": 1, "partial": 2, "overpaid": 3, "unknown": 4}


def _status(due: int | None, paid: int) -> str:
    if due is None:
        return "unknown"
    if paid == due:
        return "paid"
    if paid > due:
        return "overpaid"
    return "unpaid" if paid == 0 else "partial"


def reconcile(
    plan_id: str,
    paid_sha256: str,
    assets: Mapping[str, int],
    due: Mapping[tuple[str, str], int],
    payments: Sequence[Payment],
) -> PayoutResult:
    """Compare what was paid with what is due, per (account, asset), never netted.

    An account due nothing in an asset (distribution 0) counts as paid there when nothing
    was paid. Duplicates are the same (account, asset, reference) on more than one line:
    every line still counts as paid (the file says so), and the run is not consistent.
    """
    paid: dict[tuple[str, str], int] = {}
    seen: dict[tuple[str, str, str], list[int]] = {}
    for p in payments:
        paid[(p.account_id, p.asset)] = paid.get((p.account_id, p.asset), 0) + p.units
        seen.setdefault((p.account_id, p.asset, p.reference), []).append(p.line)
    known_accounts = {account for account, _ in due}
    rows = []
    for key in sorted(set(due) | set(paid)):
        account, asset = key
        owed = due.get(key, 0 if account in known_accounts else None)
        got = paid.get(key, 0)
        rows.append(AccountAsset(account, asset, owed or 0, got, _status(owed, got)))
    per_asset = []
    for code in sorted(assets):
        mine = [r for r in rows if r.asset == code]
        counts = dict.fromkeys(STATUSES, 0)
        for r in mine:
            counts[r.status] += 1
        per_asset.append(
            AssetPayouts(
                code=code,
                decimals=assets[code],
                due=sum(r.due for r in mine),
                paid=sum(r.paid for r in mine if r.status != "unknown"),
                unpaid=sum(max(0, r.due - r.paid) for r in mine),
                overpaid=sum(max(0, r.paid - r.due) for r in mine if r.status != "unknown"),
                paid_unknown=sum(r.paid for r in mine if r.status == "unknown"),
                accounts=counts,
            )
        )
    worst: dict[str, str] = {}
    for r in rows:
        if _WORST[r.status] >= _WORST[worst.get(r.account_id, "paid")]:
            worst[r.account_id] = r.status
    statuses = dict.fromkeys(STATUSES, 0)
    for status in worst.values():
        statuses[status] += 1
    duplicates = tuple(
        (a, s, ref, tuple(lines)) for (a, s, ref), lines in sorted(seen.items()) if len(lines) > 1
    )
    return PayoutResult(
        plan_id=plan_id,
        paid_sha256=paid_sha256,
        payments=len(payments),
        assets=tuple(per_asset),
        rows=tuple(rows),
        duplicates=duplicates,
        statuses=statuses,
    )


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


__all__ = [
    "DISTRIBUTION_COLUMNS",
    "PAID_COLUMNS",
    "STATUSES",
    "AccountAsset",
    "AssetPayouts",
    "DistributionFile",
    "Payment",
    "PayoutResult",
    "read_distribution_file",
    "read_distributions",
    "read_paid",
    "reconcile",
    "sha256_hex",
]
