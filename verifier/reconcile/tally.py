"""Counts the holdings per asset and checks that liabilities, snapshot and prices agree.

Where it sits: between verifier/reconcile/parse.py (documents → values) and the two
consumers of its `Prepared` inputs, verifier/reconcile/coverage.py (the coverage figures)
and verifier/reconcile/reserve_inputs.py (the numbers the rule pack sizes the reserve
from), so both count exactly the same holdings.

Invariants: an address listed under two wallets of a chain counts once, and two entries
that disagree on class or attribution are rejected; each holding lands in exactly one
bucket (proven by class, custodial, unproven, own buffer, own other) and says how in
``counted_as``, except a mixed wallet's address, whose declared own coins (por.toml `own`,
taken once per wallet) go to an own bucket and the rest to the customer one; every holding
carries that split (`customer_units` + `own_units` = its balances; a duplicate: both
empty); every owed asset has a price above zero; all prices and the rule pack are
in one currency; decimals agree between the liabilities and the snapshot.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from attestations.proofs import RootDocument, format_units
from verifier.base.errors import InputError
from verifier.inputs.prices import Price
from verifier.reconcile.parse import parse_liabilities, parse_snapshot, parse_vendors
from verifier.reconcile.values import (
    PROVEN_CLASSES,
    ChainPin,
    Holding,
    Liabilities,
    OwnBufferRule,
    VendorInfo,
)


def _address_key(chain: str, address: str) -> str:
    # Ethereum addresses and bech32 addresses are case-insensitive (EIP-55 checksums and
    # BIP-173 both allow other spellings of the same address); base58 ones are not.
    lowered = address.lower()
    if chain == "ethereum" or lowered.startswith(("bc1", "tb1", "bcrt1")):
        return f"{chain}:{lowered}"
    return f"{chain}:{address}"


def _dedupe(holdings: Iterable[Holding]) -> list[tuple[Holding, Holding | None]]:
    """Each holding with the first holding of the same address (None if it is the first)."""
    first: dict[str, Holding] = {}
    out: list[tuple[Holding, Holding | None]] = []
    for holding in holdings:
        key = _address_key(holding.chain, holding.address)
        seen = first.get(key)
        if seen is None:
            first[key] = holding
            out.append((holding, None))
            continue
        if (seen.wallet_class, seen.attribution) != (holding.wallet_class, holding.attribution):
            raise InputError(
                f"address {holding.address} is listed as {seen.wallet_class}/{seen.attribution}"
                f" ({seen.wallet or seen.label}) and as {holding.wallet_class}/"
                f"{holding.attribution} ({holding.wallet or holding.label})",
                key="snapshot",
            )
        out.append((holding, seen))
    return out


def _currency(prices: Mapping[str, Price], fallback: str | None) -> str:
    currencies = sorted({p.currency for p in prices.values()})
    if len(currencies) > 1:
        raise InputError("prices are in more than one currency", value=", ".join(currencies))
    if currencies and fallback is not None and currencies[0] != fallback:
        raise InputError(
            f"prices are in {currencies[0]} but the rule pack reports in {fallback}",
            key="prices",
        )
    if currencies:
        return currencies[0]
    if fallback is None:
        raise InputError("no reporting currency: give prices or a rule-pack evaluation")
    return fallback


@dataclass
class Tally:
    """Per-asset counters while walking the holdings (mutable while `prepare` fills it;
    read-only afterwards)."""

    proven: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PROVEN_CLASSES, 0))
    custodial: int = 0
    unproven: int = 0
    own_buffer: int = 0
    own_other: int = 0


def _bucket(
    holding: Holding, own_buffer: OwnBufferRule | None, count_custodial: bool
) -> tuple[str, str]:
    """(tally bucket, how it was counted in words) of one holding."""
    custodial = holding.status == "custodial" or holding.wallet_class == "custodial"
    if holding.attribution == "own":
        if own_buffer is not None and own_buffer.selects(holding):
            return "own_buffer", "own buffer"
        note = "" if holding.status == "proven" else f" ({holding.status})"
        return "own_other", f"own, not credited{note}"
    if custodial:
        words = "customer backing (custodial)" if count_custodial else "excluded: custodial"
        return "custodial", words
    if holding.status == "proven":
        return "backing", "customer backing"
    if holding.status == "stale":
        return "unproven", "excluded: stale (counted as unproven)"
    return "unproven", "excluded: unproven"


def _add(tally: Tally, bucket: str, wallet_class: str, units: int) -> None:
    if bucket == "backing":
        tally.proven[wallet_class] += units
    elif bucket == "custodial":
        tally.custodial += units
    elif bucket == "unproven":
        tally.unproven += units
    elif bucket == "own_buffer":
        tally.own_buffer += units
    else:
        tally.own_other += units


@dataclass(frozen=True, slots=True)
class OwnLeft:
    """A mixed wallet whose declared own coins exceed what it holds: all of it is own."""

    wallet: str
    code: str
    declared: int
    held: int


def _own_part(holding: Holding, left: dict[tuple[str, str], dict[str, int]]) -> dict[str, int]:
    """The units of this address that are the exchange's own: all of an own wallet's; of a
    mixed customer wallet, its declared own coins, taken address by address (in snapshot
    order) until the wallet's declaration is used up."""
    if holding.attribution == "own":
        return dict(holding.balances)
    if not holding.own:
        return {}
    remaining = left.setdefault((holding.chain, holding.wallet or holding.label), dict(holding.own))
    part = {}
    for code, units in holding.balances.items():
        take = min(units, remaining.get(code, 0))
        if take:
            remaining[code] -= take
            part[code] = take
    return part


def _tally(
    holdings: list[Holding],
    own_buffer: OwnBufferRule | None,
    count_custodial: bool,
    vendors: Mapping[str, VendorInfo],
) -> tuple[dict[str, Tally], list[Holding], list[OwnLeft]]:
    tallies: dict[str, Tally] = {}
    annotated: list[Holding] = []
    left: dict[tuple[str, str], dict[str, int]] = {}
    for listed, first in _dedupe(holdings):
        vendor = vendors.get(listed.vendor) if listed.vendor is not None else None
        holding = replace(listed, vendor_name=None if vendor is None else vendor.name)
        if first is not None:
            counted = f"duplicate of {first.wallet or first.label}: counted once"
            annotated.append(_with_counted(holding, counted))
            continue
        own = _own_part(holding, left)
        customer = {code: units - own.get(code, 0) for code, units in holding.balances.items()}
        bucket, counted = _bucket(holding, own_buffer, count_custodial)
        own_bucket, own_counted = _bucket(replace(holding, attribution="own"), own_buffer, False)
        if own and holding.attribution == "customer":
            counted = f"{counted}; declared own coins: {own_counted}"
        for code in holding.balances:
            tally = tallies.setdefault(code, Tally())
            _add(tally, bucket, holding.wallet_class, customer[code])
            _add(tally, own_bucket, holding.wallet_class, own.get(code, 0))
        annotated.append(
            replace(
                holding,
                counted_as=counted,
                customer_units=customer,
                own_units={code: own.get(code, 0) for code in holding.balances},
            )
        )
    beyond = [
        OwnLeft(wallet, code, declared, declared - units)
        for (_, wallet), rest in left.items()
        for code, units in sorted(rest.items())
        if units > 0
        for declared in [_declared(holdings, wallet, code)]
    ]
    return tallies, annotated, beyond


def _declared(holdings: list[Holding], wallet: str, code: str) -> int:
    return next(
        (h.own.get(code, 0) for h in holdings if (h.wallet or h.label) == wallet and h.own), 0
    )


def _with_counted(holding: Holding, counted: str) -> Holding:
    return replace(holding, counted_as=counted)


@dataclass(frozen=True, slots=True)
class Prepared:
    """Checked inputs and per-asset tallies: what coverage and the reserve inputs read."""

    exchange: str
    attestation_id: str
    taken_at: str
    liabilities: Liabilities
    pins: tuple[ChainPin, ...]
    holdings: tuple[Holding, ...]
    tallies: Mapping[str, Tally]
    decimals: Mapping[str, int]
    owed: Mapping[str, int]
    prices: Mapping[str, Price]
    currency: str
    count_custodial: bool
    warnings: tuple[str, ...]
    vendors: Mapping[str, VendorInfo] = field(default_factory=dict)
    """The snapshot's wallet vendors by id."""


def prepare(
    liabilities: RootDocument | Mapping[str, tuple[int, int]],
    snapshot: Mapping[str, Any],
    prices: Mapping[str, Price],
    count_custodial: bool,
    own_buffer: OwnBufferRule | None,
    pack_currency: str | None,
) -> Prepared:
    """Parse and cross-check the inputs, then tally the holdings per asset.

    Raises
    ------
    InputError
        Malformed documents or prices, attestation ids or decimals that disagree, an owed
        asset without a price (or at zero), mixed currencies.
    """
    owed_doc = parse_liabilities(liabilities)
    exchange, attestation_id, taken_at, pins, raw_holdings, implied = parse_snapshot(snapshot)
    owed_doc = _same_attestation(owed_doc, attestation_id)
    _check_prices(prices)
    vendors = parse_vendors(snapshot)
    tallies, holdings, beyond = _tally(raw_holdings, own_buffer, count_custodial, vendors)
    decimals, owed, warnings = _asset_table(owed_doc, implied, tallies)
    warnings += _priced_owed(owed, prices, tallies)
    warnings += [
        f"{b.wallet} declares {format_units(b.declared, decimals.get(b.code, 0))} {b.code} of "
        f"its own but holds {format_units(b.held, decimals.get(b.code, 0))}: all of it counts "
        "as own"
        for b in beyond
    ]
    return Prepared(
        exchange=exchange,
        attestation_id=attestation_id,
        taken_at=taken_at,
        liabilities=owed_doc,
        pins=pins,
        holdings=tuple(holdings),
        tallies=tallies,
        decimals=decimals,
        owed=owed,
        prices=prices,
        currency=_currency(prices, pack_currency),
        count_custodial=count_custodial,
        warnings=tuple(warnings),
        vendors=vendors,
    )


def _same_attestation(owed_doc: Liabilities, attestation_id: str) -> Liabilities:
    """The liabilities, refused when the snapshot names another attestation, else given
    the snapshot's attestation id when they have none."""
    if (
        owed_doc.attestation_id is not None
        and attestation_id
        and owed_doc.attestation_id != attestation_id
    ):
        # ownership signatures name the attestation: holdings proven for another one
        # cannot back these liabilities
        raise InputError(
            f"the snapshot is for attestation {attestation_id!r}, the liabilities for "
            f"{owed_doc.attestation_id!r}",
            key="snapshot.attestation_id",
        )
    if owed_doc.attestation_id is None and attestation_id:
        return replace(owed_doc, attestation_id=attestation_id)
    return owed_doc


def _check_prices(prices: Mapping[str, Price]) -> None:
    for code, price in prices.items():
        if not isinstance(price, Price):
            raise InputError("expected a Price", key=f"prices.{code}")
        if not isinstance(price.value, Decimal) or not price.value.is_finite():
            raise InputError("a price must be a finite Decimal", key=f"prices.{code}")
        if price.value < 0:
            raise InputError("a price cannot be negative", key=f"prices.{code}")


def _asset_table(
    owed_doc: Liabilities, implied: Mapping[str, int], tallies: Mapping[str, Tally]
) -> tuple[dict[str, int], dict[str, int], list[str]]:
    """(decimals, owed units, warnings) of every asset owed or held: the liabilities'
    assets, then held-only ones (owed 0) with the decimals the snapshot implies."""
    decimals = {code: d for code, d, _ in owed_doc.assets}
    owed = {code: units for code, _, units in owed_doc.assets}
    for code, d in implied.items():
        if code in decimals and decimals[code] != d:
            raise InputError(
                f"{code} has {decimals[code]} decimals in the liabilities but {d} in the snapshot",
                key=f"snapshot.totals.{code}",
            )
    warnings: list[str] = []
    for code in sorted(tallies):
        if code in decimals:
            continue
        held = total_units(tallies[code])
        if code not in implied and held:
            raise InputError(
                f"{code} is held but not owed and the snapshot does not say its decimals",
                key="snapshot.totals",
            )
        decimals[code] = implied.get(code, 0)
        owed[code] = 0
        if held:
            warnings.append(f"{code} is held but not in the liabilities (nothing owed)")
    return decimals, owed, warnings


def _priced_owed(
    owed: Mapping[str, int], prices: Mapping[str, Price], tallies: Mapping[str, Tally]
) -> list[str]:
    """Refuse an owed asset without a price above zero; warnings about unheld or unpriced
    assets."""
    warnings: list[str] = []
    for code, units in owed.items():
        if units > 0 and code not in prices:
            raise InputError(
                f"no price for {code}, which has liabilities (a missing price is never zero)",
                key=f"prices.{code}",
            )
        if units > 0 and prices[code].value == 0:
            # a zero price would value these liabilities at nothing and hide any shortfall
            raise InputError(
                f"the price of {code}, which has liabilities, is zero", key=f"prices.{code}"
            )
        if units > 0 and code not in tallies:
            warnings.append(f"no configured wallet holds {code}")
        if code not in prices and total_units(tallies.get(code, Tally())):
            warnings.append(f"{code} has no price: its holdings have no value in the report")
    return warnings


def total_units(tally: Tally) -> int:
    """Every unit of the asset in any listed wallet, counted or not."""
    proven = sum(tally.proven.values())
    return proven + tally.custodial + tally.unproven + tally.own_buffer + tally.own_other


def asset_order(prepared: Prepared) -> list[str]:
    """Liabilities' asset order, then assets only held, by code."""
    listed = [code for code, _, _ in prepared.liabilities.assets]
    return listed + sorted(set(prepared.decimals) - set(listed))
