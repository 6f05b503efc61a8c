"""Concentration: where customer coins sit, by vendor, by custodian and by wallet, and the
rule pack's limits on it (largest vendor share, notified vendors, no mixed wallets).

Where it sits: called by verifier/reconcile/coverage.py after tally.py has split every
holding into customer and own units; the report (verifier/report/document.py) renders the
`Concentration` it returns, and its pack-limit breaches join the verdict. Pure: values in,
values out.

Invariants:
1. The base is the value of customer holdings: every listed wallet's customer units
   (`Holding.customer_units`: a mixed wallet's declared own coins excluded, an address
   listed twice counted once), whatever their proof status, at the report's prices, in the
   reporting currency, exact (`EXACT`). Concentration is about where the coins are, so an
   unproven or custodial wallet counts as much as a proven one. An asset without a price
   adds nothing (the report already warns about it).
2. A share is value / base, rounded toward zero like every ratio (`RATIO`); a limit is
   decided on exact values (value > limit x base), never on a rounded share.
3. Groups list every wallet that may hold customer coins (segregation customer or mixed)
   once: by vendor (wallets naming none form the group with
   ``vendor`` None) and by custodian (None: "none declared"), largest value first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any

from verifier.inputs.prices import Price
from verifier.reconcile.numbers import EXACT, RATIO, dec_str, percent_of, unit_value
from verifier.reconcile.result import Breach
from verifier.reconcile.values import Holding, VendorInfo

NONE_DECLARED = "none declared"
"""How the report names the group of wallets that declare no custodian (or no vendor)."""
LIMITS = ("max_vendor_share", "vendors_must_be_notified", "mixed_wallets_forbidden")
"""The rule-pack parameters this module applies (verifier/reserve/pack.py PARAMETER_KINDS)."""


@dataclass(frozen=True, slots=True)
class Group:
    """The wallets of one vendor, one custodian or one wallet key, and their value."""

    key: str | None
    """Vendor id, custodian name or wallet key; None: wallets that declare none."""
    value: Decimal
    wallets: tuple[str, ...]
    """Wallet keys (por.toml `bitcoin.wallets[2]`), in first-seen order."""
    label: str = ""
    """A wallet group's label."""


@dataclass(frozen=True, slots=True)
class Concentration:
    """Customer holdings by vendor, by custodian and by wallet, in the reporting currency."""

    currency: str
    total: Decimal
    """The value of customer holdings: the base of every share."""
    by_vendor: tuple[Group, ...]
    by_custodian: tuple[Group, ...]
    by_wallet: tuple[Group, ...]
    mixed_wallets: tuple[str, ...]
    vendors: Mapping[str, VendorInfo]

    def share(self, value: Decimal) -> Decimal | None:
        """value / total rounded toward zero; None when customers hold nothing of value."""
        if self.total == 0:
            return None
        with localcontext(RATIO):
            return value / self.total

    def largest_vendor(self) -> Group | None:
        """The named vendor holding the most customer value (ties: the first by id)."""
        named = [g for g in self.by_vendor if g.key is not None]
        return named[0] if named else None

    def to_json(self) -> dict[str, Any]:
        """The report's ``concentration`` member (docs/report.md)."""

        def share(value: Decimal) -> str | None:
            ratio = self.share(value)
            return None if ratio is None else dec_str(ratio)

        def vendor_row(g: Group) -> dict[str, Any]:
            info = self.vendors.get(g.key) if g.key is not None else None
            return {
                "vendor": g.key,
                "name": NONE_DECLARED if g.key is None else (info.name if info else None),
                "kind": info.kind if info else None,
                "notified": info.notified if info else None,
                "registered": info.registered if info else None,
                "value": dec_str(g.value),
                "share": share(g.value),
                "wallets": list(g.wallets),
            }

        largest = self.largest_vendor()
        wallet = self.by_wallet[0] if self.by_wallet else None
        return {
            "currency": self.currency,
            "base": "customer holdings",
            "total": dec_str(self.total),
            "by_vendor": [vendor_row(g) for g in self.by_vendor],
            "by_custodian": [
                {
                    "custodian": NONE_DECLARED if g.key is None else g.key,
                    "value": dec_str(g.value),
                    "share": share(g.value),
                    "wallets": list(g.wallets),
                }
                for g in self.by_custodian
            ],
            "largest_vendor": None
            if largest is None
            else {
                "vendor": largest.key,
                "value": dec_str(largest.value),
                "share": share(largest.value),
            },
            "largest_wallet": None
            if wallet is None
            else {
                "wallet": wallet.key,
                "label": wallet.label,
                "value": dec_str(wallet.value),
                "share": share(wallet.value),
            },
            "mixed_wallets": list(self.mixed_wallets),
        }


def _wallet_key(holding: Holding) -> str:
    return holding.wallet or holding.label or holding.address


def concentration(
    holdings: Sequence[Holding],
    decimals: Mapping[str, int],
    prices: Mapping[str, Price],
    currency: str,
    vendors: Mapping[str, VendorInfo],
) -> Concentration:
    """Group the customer value of `holdings` (tallied: `customer_units` set) by vendor,
    custodian and wallet."""
    values: dict[str, Decimal] = {}
    first: dict[str, Holding] = {}
    mixed: list[str] = []
    with localcontext(EXACT):
        for h in holdings:
            if h.segregation == "own":
                continue  # holds no customer coins by declaration
            key = _wallet_key(h)
            first.setdefault(key, h)
            if h.segregation == "mixed" and key not in mixed:
                mixed.append(key)
            value = values.setdefault(key, Decimal(0))
            for code, units in h.customer_units.items():
                price = prices.get(code)
                if price is not None and units:
                    value += unit_value(units, decimals.get(code, 0), price.value)
            values[key] = value
        total = sum(values.values(), Decimal(0))
    return Concentration(
        currency=currency,
        total=total,
        by_vendor=_groups(values, {k: h.vendor for k, h in first.items()}),
        by_custodian=_groups(values, {k: h.custodian for k, h in first.items()}),
        by_wallet=tuple(
            Group(k, v, (k,), first[k].label)
            for k, v in sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))
        ),
        mixed_wallets=tuple(mixed),
        vendors=dict(vendors),
    )


def _groups(values: Mapping[str, Decimal], key_of: Mapping[str, str | None]) -> tuple[Group, ...]:
    """Wallets grouped by `key_of`, largest value first (ties by key; None last)."""
    members: dict[str | None, list[str]] = {}
    for wallet in values:
        members.setdefault(key_of[wallet], []).append(wallet)
    with localcontext(EXACT):
        groups = [
            Group(key, sum((values[w] for w in wallets), Decimal(0)), tuple(wallets))
            for key, wallets in members.items()
        ]
    return tuple(sorted(groups, key=lambda g: (g.key is None, -g.value, g.key or "")))


def _apart(value: Decimal, total: Decimal, limit: Decimal) -> tuple[str, str]:
    """The share `value` / `total` and `limit` as percentages with as many decimals as it
    takes (two at least, both rounded toward zero as `percent_of`) for the share to read
    above the limit it breaches — never "48.26% above 48.26%". Exact: a Fraction."""
    share, bound = Fraction(value) * 100 / Fraction(total), Fraction(limit) * 100
    for places in range(2, 60):
        scale = 10**places
        shown, floor_bound = int(share * scale), int(bound * scale)
        if shown > floor_bound:
            return (
                f"{Decimal(shown).scaleb(-places):,f}%",
                f"{Decimal(floor_bound).scaleb(-places):,f}%",
            )
    return percent_of(limit), percent_of(limit)


def _grouped(value: Decimal) -> str:
    """An amount with its thousands grouped, as the report's figures show them."""
    return f"{value.normalize():,f}" if value == value.to_integral_value() else f"{value:,f}"


def limit_breaches(
    conc: Concentration, limits: Mapping[str, tuple[object, str]], as_of: str | None = None
) -> list[Breach]:
    """The rule pack's concentration limits that `conc` breaches, in words.

    `limits` maps a parameter name of `LIMITS` to (value, status tag) as the evaluation
    document carries it ({"max_vendor_share": ("0.5", "PH")}). `as_of` is the day the
    liabilities are committed for (ISO 8601; its date part is read): a vendor whose
    notice is dated after it was not notified on that day.
    """
    day = as_of[:10] if as_of else None
    out: list[Breach] = []
    share_limit = limits.get("max_vendor_share")
    if share_limit is not None and conc.total > 0:
        limit = Decimal(str(share_limit[0]))
        for g in conc.by_vendor:
            with localcontext(EXACT):
                over = g.key is not None and g.value > limit * conc.total
            if over:
                out.append(
                    Breach(
                        "concentration",
                        str(g.key),
                        f"vendor {g.key}: its wallets hold "
                        f"{_apart(g.value, conc.total, limit)[0]} of the value of customer "
                        f"holdings ({_grouped(g.value)} {conc.currency}), above "
                        f"max_vendor_share {_apart(g.value, conc.total, limit)[1]} "
                        f"[{share_limit[1]}]",
                    )
                )
    notified = limits.get("vendors_must_be_notified")
    if notified is not None and notified[0] is True:
        for g in conc.by_vendor:
            info = conc.vendors.get(g.key) if g.key is not None else None
            notice = info.notified if info is not None else None
            later = notice is not None and day is not None and notice[:10] > day
            if g.key is not None and (notice is None or later):
                when = f" by {day} (notice dated {notice})" if later else ""
                out.append(
                    Breach(
                        "concentration",
                        g.key,
                        f"vendor {g.key} ({', '.join(g.wallets)}) has not been notified to "
                        f"the regulator{when}: vendors_must_be_notified [{notified[1]}]",
                    )
                )
    forbidden = limits.get("mixed_wallets_forbidden")
    if forbidden is not None and forbidden[0] is True:
        out.extend(
            Breach(
                "segregation",
                wallet,
                f"{wallet} mixes the exchange's own coins with customers': "
                f"mixed_wallets_forbidden [{forbidden[1]}]",
            )
            for wallet in conc.mixed_wallets
        )
    return out
