"""The claims register at the commencement date: what each customer is owed, per asset.

Where it sits: the first step of an administrator's distribution (issue 15). In: the
exchange's liabilities tree (a por-mst-v1 tree directory, read through
attestations.store.TreeStore after a full audit), the commencement date and optionally a
prices file (verifier/inputs/prices.py). Out: a `Register` — every account with a non-zero
balance, its balances per asset as (hi, lo) 64-bit halves, the totals, and the valuation —
which claims_files.py writes as the claims directory (claims tree, exports, claims.json).
The plan (verifier/insolvency/plan.py) starts from that directory.

Rules (docs/spec/por-insolvency-v1.md, "Claims"):
  * The source tree is audited in full with its secret before a balance is read: every
    leaf recomputed from its account id, salt and balances, every node up to root.json.
    A customer's claim is the sum of that account's leaves (a split tree has several).
  * The per-asset totals of the register equal root.json's root sums, or exit 3.
  * The tree must be AT the commencement date: its as_of falls on the same UTC calendar
    date as --as-of, or exit 3 (no override: a register at another date is another
    register; build a tree at the commencement date).
  * Values are exact: units x price / 10**decimals with no rounding. A prices file must
    price every asset that has a claim, or exit 3 (a partial valuation would understate
    the total); every price used must be taken on one UTC date, the valuation date.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from attestations.encoding import HASH_LEN, MAX_SUM, AssetSpec
from attestations.store import TreeStore
from verifier.base.errors import InputError, InvalidProof

Progress = Callable[[str, int, int], None]
CHUNK = 1 << 20
"""Leaf records read per block (a 10M-account tree has a 2 GB leaf level)."""
_MASK32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)


def no_progress(phase: str, done: int, total: int) -> None:
    return None


@dataclass(frozen=True)
class Source:
    """The liabilities tree the register was drawn from (its public root.json facts)."""

    attestation_id: str
    commitment: str
    as_of: str
    excluded: Mapping[str, Any] | None

    def to_json(self) -> dict[str, str]:
        return {
            "attestation_id": self.attestation_id,
            "commitment": self.commitment,
            "as_of": self.as_of,
        }


@dataclass(frozen=True)
class Valuation:
    """Prices in the reporting currency at the valuation date (exact Decimals)."""

    date: str
    currency: str
    prices: dict[str, Decimal]
    """Only the assets of the register; an asset without claims may be unpriced."""

    def to_json(self) -> dict[str, Any]:
        return {
            "date": self.date,
            "currency": self.currency,
            "prices": {code: dec_text(p) for code, p in self.prices.items()},
        }


@dataclass(frozen=True)
class Register:
    """Every customer with a claim, by row: ids, balances and the per-asset totals."""

    assets: tuple[AssetSpec, ...]
    account_ids: pa.Array
    """UTF-8 ids of the accounts with a non-zero balance in some asset, tree row order."""
    balances: npt.NDArray[Any]
    """Shape (customers, assets, 2), dtype '>u8': (hi, lo) halves, as attestations.build."""
    totals: tuple[int, ...]
    zero_accounts: int
    """Accounts of the source tree with a zero balance in every asset (no claim)."""
    source: Source

    @property
    def customers(self) -> int:
        return int(self.balances.shape[0])

    def units(self, asset: int) -> npt.NDArray[Any]:
        """One asset's balances: uint64 when every one fits, else Python ints (object)."""
        hi = self.balances[:, asset, 0].astype(np.uint64)
        lo = self.balances[:, asset, 1].astype(np.uint64)
        if not hi.any():
            return lo
        return np.array(
            [(int(h) << 64) | int(v) for h, v in zip(hi.tolist(), lo.tolist(), strict=True)],
            dtype=object,
        )

    def customers_of(self, asset: int) -> int:
        """Customers with a non-zero claim in `asset`."""
        column = self.balances[:, asset, :]
        return int((column != 0).any(axis=1).sum())


# ----------------------------------------------------------------------------- numbers


def dec_text(value: Decimal) -> str:
    """A Decimal as a plain string: no exponent, no trailing fractional zeros."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def scaled(price: Decimal) -> tuple[int, int]:
    """`price` as (integer, scale): price == integer / 10**scale, exactly."""
    sign, digits, exponent = price.as_tuple()
    if sign or not isinstance(exponent, int):
        raise ValueError(f"not a finite non-negative price: {price}")
    integer = int("".join(map(str, digits)) or "0")
    if exponent >= 0:
        return integer * 10**exponent, 0
    return integer, -exponent


def fixed_text(numerator: int, scale: int) -> str:
    """numerator / 10**scale as an exact plain decimal string (trailing zeros dropped)."""
    if scale == 0:
        return str(numerator)
    whole, fraction = divmod(numerator, 10**scale)
    digits = f"{fraction:0{scale}d}".rstrip("0")
    return f"{whole}.{digits}" if digits else str(whole)


def value_of(units: int, decimals: int, price: Decimal) -> str:
    """The exact value of `units` base units at `price` per whole unit (decimal string)."""
    integer, scale = scaled(price)
    return fixed_text(units * integer, scale + decimals)


def values_of(units: npt.NDArray[Any], decimals: int, price: Decimal) -> list[str]:
    """`value_of` for a column of units (one asset), one Python multiply per row."""
    integer, scale = scaled(price)
    return [fixed_text(u * integer, scale + decimals) for u in units.tolist()]


def add_texts(values: list[str]) -> str:
    """The exact sum of plain decimal strings."""
    scale = max((len(v) - v.index(".") - 1 for v in values if "." in v), default=0)
    total = 0
    for v in values:
        whole, _, fraction = v.partition(".")
        total += int(whole + fraction.ljust(scale, "0"))
    return fixed_text(total, scale)


# ----------------------------------------------------------------------------- the date


def _utc_date(text: str, what: str, *, key: str | None, file: str | None) -> date:
    """The UTC calendar date of an ISO 8601 date or date-time (naive is read as UTC)."""
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            f"{what} is not an ISO 8601 date or time", file=file, key=key, value=text
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).date()


def check_commencement(as_of: str, tree_as_of: str, tree_root: str) -> date:
    """The commencement date of `--as-of`; the source tree must be as of that same date.

    --as-of is a date (2026-11-21) or a date-time with its zone (2026-11-21T09:00:00+09:00);
    a date-time without a zone is refused (it names no instant)."""
    if len(as_of) != 10:
        try:
            moment = datetime.fromisoformat(as_of.replace("Z", "+00:00"))
        except ValueError:
            raise InputError(
                "--as-of must be an ISO 8601 date (2026-11-21) or date-time with a zone "
                "(2026-11-21T00:00:00Z)",
                key="--as-of",
                value=as_of,
            ) from None
        if moment.tzinfo is None:
            raise InputError(
                "--as-of names no time zone; add Z or an offset (2026-11-21T00:00:00Z)",
                key="--as-of",
                value=as_of,
            )
    commencement = _utc_date(as_of, "--as-of", key="--as-of", file=None)
    tree_date = _utc_date(tree_as_of, "the tree's as_of", key="as_of", file=tree_root)
    if tree_date != commencement:
        raise InputError(
            f"the source tree is as of {tree_as_of} (UTC date {tree_date}), not the "
            f"commencement date {commencement} given by --as-of; the claims register is drawn "
            "from the balances at the commencement date: build the liabilities tree as of "
            "that date",
            file=tree_root,
            key="as_of",
            value=tree_as_of,
        )
    return commencement


# ----------------------------------------------------------------------------- the source tree


def read_register(
    tree_dir: Path,
    *,
    secret_file: Path | None = None,
    workers: int = 0,
    progress: Progress = no_progress,
) -> Register:
    """Audit the tree at `tree_dir` with its secret, then read every customer's claim."""
    from attestations.audit import audit_tree

    audit_tree(
        tree_dir, secret_file=secret_file, require_secret=True, workers=workers, progress=progress
    )
    with TreeStore(tree_dir, secret_file=secret_file) as store:
        meta, root = store.meta, store.root
        balances = _account_balances(store, progress)
        ids = store.account_ids()
    totals = _column_totals(balances)
    if totals != root.root.sums:
        raise InvalidProof(
            "totals",
            f"the customers' balances in {tree_dir} add up to {list(map(str, totals))}, "
            f"not root.json's root sums {list(map(str, root.root.sums))}",
        )
    nonzero = balances.reshape(meta.accounts, -1).any(axis=1)
    keep = np.flatnonzero(nonzero)
    source = Source(root.attestation_id, root.commitment.hex(), root.as_of, root.excluded)
    if not len(keep):
        raise InputError(
            "no customer has a non-zero balance: there is no claim to register", file=str(tree_dir)
        )
    return Register(
        assets=meta.assets,
        account_ids=ids.take(pa.array(keep)) if len(keep) < meta.accounts else ids,
        balances=balances[keep] if len(keep) < meta.accounts else balances,
        totals=totals,
        zero_accounts=meta.accounts - len(keep),
        source=source,
    )


def _account_balances(store: TreeStore, progress: Progress) -> npt.NDArray[Any]:
    """Per account row, the sum of its leaves' balances: (accounts, assets, 2) '>u8'.

    Leaf id = row * split + part, and positions.bin names the leaf at every position
    (attestations/build.py); the audit has just checked both, and that padding is zero."""
    meta = store.meta
    tree = store.dir / "tree"
    assets, width = len(meta.assets), meta.record_width
    positions = np.memmap(tree / "positions.bin", dtype="<u8", mode="r")
    level = np.memmap(tree / "level-00.bin", dtype=np.uint8, mode="r").reshape(-1, width)
    leaves = np.zeros((meta.leaves, assets, 2), dtype=">u8")
    total = 1 << meta.height
    for start in range(0, total, CHUNK):
        ids = np.asarray(positions[start : start + CHUNK]).astype(np.int64)
        real = ids < meta.leaves
        block = np.ascontiguousarray(level[start : start + CHUNK][real, HASH_LEN:])
        leaves[ids[real]] = block.view(">u8").reshape(-1, assets, 2)
        progress("read claims", min(start + CHUNK, total), total)
    if meta.split == 1:
        return leaves
    return sum_parts(leaves.reshape(meta.accounts, meta.split, assets, 2))


def sum_parts(parts: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """(n, k, A, 2) (hi, lo) parts -> (n, A, 2) '>u8' sums over k, exact (k <= 2**32).

    Summed in 32-bit limbs held in uint64 (no limb sum can wrap), then carried; a sum
    reaching 2**128 raises (the audit's root check makes that impossible for a good tree)."""
    hi = parts[..., 0].astype(np.uint64)
    lo = parts[..., 1].astype(np.uint64)
    limbs = [
        (lo & _MASK32).sum(axis=1, dtype=np.uint64),
        (lo >> _SHIFT32).sum(axis=1, dtype=np.uint64),
        (hi & _MASK32).sum(axis=1, dtype=np.uint64),
        (hi >> _SHIFT32).sum(axis=1, dtype=np.uint64),
    ]
    carry = np.zeros_like(limbs[0])
    for i in range(len(limbs)):
        carried = limbs[i] + carry
        carry = carried >> _SHIFT32
        limbs[i] = carried & _MASK32
    if carry.any():
        raise InvalidProof("sums", "an account's balance reaches 2**128")
    out = np.empty((*limbs[0].shape, 2), dtype=">u8")
    out[..., 0] = (limbs[3] << _SHIFT32) | limbs[2]
    out[..., 1] = (limbs[1] << _SHIFT32) | limbs[0]
    return out


def _column_totals(balances: npt.NDArray[Any]) -> tuple[int, ...]:
    """Exact per-asset totals of (n, A, 2) balances, as Python ints."""
    summed = sum_parts(balances.reshape(1, *balances.shape))[0]
    totals = tuple((int(h) << 64) | int(v) for h, v in summed.astype(np.uint64).tolist())
    if any(t >= MAX_SUM for t in totals):  # pragma: no cover - sum_parts raised already
        raise InvalidProof("sums", "a total reaches 2**128")
    return totals


# ----------------------------------------------------------------------------- valuation


def read_valuation(path: Path, register: Register, commencement: date) -> Valuation:
    """The prices of `path` for the register's assets, checked; see the module rules."""
    from verifier.inputs.prices import load_prices

    currency, prices = load_prices(path)
    used: dict[str, Decimal] = {}
    days: dict[str, str] = {}
    for asset, total in zip(register.assets, register.totals, strict=True):
        price = prices.get(asset.code)
        if price is None:
            if total:
                raise InputError(
                    f"no price for {asset.code}, which has claims; the register is valued "
                    "in full or not at all (leave out --prices for units only)",
                    file=str(path),
                    key=f"prices.{asset.code}",
                )
            continue
        used[asset.code] = price.value
        day = _utc_date(price.time, "time", key=f"prices.{asset.code}.time", file=str(path))
        days[asset.code] = day.isoformat()
    if len(set(days.values())) > 1:
        listed = ", ".join(f"{code} {day}" for code, day in days.items())
        raise InputError(
            f"the prices are taken on different dates ({listed}); a valuation has one date",
            file=str(path),
            key="time",
        )
    when = next(iter(days.values()), commencement.isoformat())
    return Valuation(date=when, currency=currency, prices=used)
