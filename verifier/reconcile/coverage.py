"""Reconciliation: liabilities against proven on-chain holdings and the liability reserve.

Where it sits: after the snapshot (verifier/holdings/snapshot.py, the ``por-snapshot-v1`` document)
and the reserve evaluation (verifier/reserve/rules.py, which sizes the reserve from the numbers
`reserve_inputs` builds here); before the report (verifier/report/document.py renders the
`Reconciliation` this module returns). Pure: values in, values out; no files, network,
clock or database.

Invariants (each one is a check below, or follows from how a figure is computed):

1. Base units are ``int`` throughout; fiat values are `Decimal` computed in an explicit
   context (`EXACT`: 999 digits with ``Inexact`` trapped, so a product or sum is exact or
   raises); floats are refused wherever a number enters.
2. Only addresses whose ownership status is ``proven`` and whose attribution is
   ``customer`` back liabilities. Unproven and custodial holdings are reported and excluded
   (custodial ones are counted only when ``count_custodial``); the exchange's own
   holdings (attribution ``own``) never back customer liabilities: at most they are its
   own buffer (`OwnBufferRule`).
3. Coverage is per asset and shortfalls are never netted across assets: a surplus of one
   asset cannot hide a shortfall of another. The combined figure caps each asset's holdings
   at its liabilities for exactly that reason (DESIGN.md, "Coverage").
4. Ratios are rounded toward zero (`RATIO`, ``ROUND_FLOOR``), so a shown ratio never
   overstates coverage (``ratio * liabilities <= holdings``); every pass/fail decision is
   taken on exact values, never on a rounded ratio.
5. An address listed under two wallets of a chain counts once; if the two entries disagree
   on its class or attribution the input is ambiguous and rejected.
6. Every asset with liabilities has a price above zero (a missing price is an
   `InputError`, never a zero); all prices and the rule pack are in one reporting currency.

Under-coverage is a result (``exit_code == 1`` with every breach in words), never an
exception; malformed input raises `InputError` (exit 3).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import (
    ROUND_CEILING,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)
from typing import Any

from attestations.proofs import RootDocument, format_units
from verifier.base.errors import EXIT_OK, EXIT_SHORTFALL, InputError
from verifier.inputs.prices import Price

EXACT = Context(
    prec=999,
    rounding=ROUND_HALF_EVEN,
    traps=[InvalidOperation, DivisionByZero, Overflow, Inexact],
)
"""Context for fiat sums and products: exact, or an error (never a silent rounding)."""

RATIO = Context(prec=28, rounding=ROUND_FLOOR, traps=[InvalidOperation, DivisionByZero, Overflow])
"""Context for ratios: 28 significant digits, rounded toward zero (never overstated)."""

DISPLAY = Context(
    prec=999, rounding=ROUND_FLOOR, traps=[InvalidOperation, DivisionByZero, Overflow]
)
"""Context for shown figures (percentages, 2-decimal money): rounded toward zero, wide
enough that a huge over-coverage ratio still fits."""

SNAPSHOT_FORMAT = "por-snapshot-v1"
CLASSES = ("cold", "hot", "other", "custodial")
"""Wallet classes of DESIGN.md, in report order."""
PROVEN_CLASSES = ("cold", "hot", "other")
"""Classes whose proven customer holdings back liabilities."""
ATTRIBUTIONS = ("customer", "own")
STATUSES = ("proven", "unproven", "custodial", "stale")
"""Ownership statuses a snapshot may carry; "stale" (an epoch proof past its maximum age or
expiry, verifier/holdings/ownership.py) counts as unproven everywhere."""

_INT = re.compile(r"0|[1-9][0-9]*")
_DEC = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?")
_MAX_DECIMALS = 36


# ----------------------------------------------------------------------------- value objects


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Minimum coverage ratios: per asset (default 1) and combined (default 1)."""

    min_coverage: Decimal = Decimal(1)
    """Minimum proven holdings / liabilities for every asset not listed in `per_asset`."""
    per_asset: Mapping[str, Decimal] = field(default_factory=dict)
    """Asset code -> its own minimum coverage ratio."""
    min_combined: Decimal = Decimal(1)
    """Minimum combined coverage (DESIGN.md, "Coverage")."""

    def __post_init__(self) -> None:
        _check_ratio(self.min_coverage, "thresholds.min_coverage")
        _check_ratio(self.min_combined, "thresholds.min_combined")
        for code, value in self.per_asset.items():
            _check_ratio(value, f"thresholds.per_asset.{code}")
        object.__setattr__(self, "per_asset", dict(self.per_asset))

    def for_asset(self, code: str) -> Decimal:
        """The minimum coverage ratio of `code`."""
        return self.per_asset.get(code, self.min_coverage)

    def to_json(self) -> dict[str, Any]:
        return {
            "min_coverage": dec_str(self.min_coverage),
            "per_asset": {code: dec_str(v) for code, v in sorted(self.per_asset.items())},
            "min_combined": dec_str(self.min_combined),
        }


@dataclass(frozen=True, slots=True)
class OwnBufferRule:
    """Which of the exchange's own holdings count as its own buffer.

    Japan today (Payment Services Act Art. 63-11-2) makes an exchange hold its own crypto of
    the same type and quantity as its non-cold customer crypto. Holdings attributed ``own``
    are that buffer, never customer backing. Without a rule they are reported as "own, not
    credited"; with one, the proven own holdings it selects are the buffer.
    """

    classes: frozenset[str] = frozenset({"cold", "hot", "other"})
    """Wallet classes whose own holdings form the buffer (Japan requires "cold")."""
    wallets: frozenset[str] = frozenset()
    """Wallet keys or labels forming the buffer; empty = every own wallet of `classes`."""

    def __post_init__(self) -> None:
        unknown = sorted(set(self.classes) - set(CLASSES))
        if unknown:
            raise InputError("unknown wallet class in the own-buffer rule", value=unknown[0])
        object.__setattr__(self, "classes", frozenset(self.classes))
        object.__setattr__(self, "wallets", frozenset(self.wallets))

    def selects(self, holding: Holding) -> bool:
        """Whether `holding` is part of the buffer (own, proven, in the rule's scope)."""
        return (
            holding.attribution == "own"
            and holding.status == "proven"
            and holding.wallet_class in self.classes
            and (not self.wallets or bool({holding.wallet, holding.label} & self.wallets))
        )

    def to_json(self) -> dict[str, Any]:
        return {"classes": sorted(self.classes), "wallets": sorted(self.wallets)}


@dataclass(frozen=True, slots=True)
class ChainPin:
    """The block one chain was read at."""

    chain: str
    network: str
    height: int
    block_hash: str

    def to_json(self) -> dict[str, Any]:
        return {
            "chain": self.chain,
            "network": self.network,
            "height": self.height,
            "block_hash": self.block_hash,
        }


@dataclass(frozen=True, slots=True)
class Holding:
    """One address of one wallet at its chain's pinned block, and how it was counted."""

    chain: str
    label: str
    wallet: str
    """The wallet's key in por.toml (e.g. "bitcoin.wallets[2]")."""
    wallet_class: str
    """cold | hot | other | custodial."""
    attribution: str
    """customer | own."""
    address: str
    balances: Mapping[str, int]
    """Asset code -> base units at the pinned block."""
    status: str
    """Ownership: proven | unproven | custodial | stale (counted as unproven)."""
    scheme: str | None
    reason: str
    counted_as: str = ""
    """How reconciliation counted it, in words (set by `reconcile`)."""
    epoch: Mapping[str, Any] | None = None
    """The ownership epoch the proof signed ({"id", "height", "hash", "expires"}); None for a
    point-in-time proof."""
    age: Mapping[str, Any] | None = None
    """The epoch proof's age at the pinned block ({"blocks", "seconds"}); None otherwise."""

    def to_json(self, decimals: Mapping[str, int]) -> dict[str, Any]:
        return {
            "chain": self.chain,
            "label": self.label,
            "wallet": self.wallet,
            "class": self.wallet_class,
            "attribution": self.attribution,
            "address": self.address,
            "balances": {
                code: units_json(units, decimals.get(code, 0))
                for code, units in sorted(self.balances.items())
            },
            "ownership": {
                "status": self.status,
                "scheme": self.scheme,
                "reason": self.reason,
                "epoch": None if self.epoch is None else dict(self.epoch),
                "age": None if self.age is None else dict(self.age),
            },
            "counted_as": self.counted_as,
        }


@dataclass(frozen=True, slots=True)
class Liabilities:
    """What the exchange owes, per asset, as committed in its liabilities tree."""

    assets: tuple[tuple[str, int, int], ...]
    """(code, decimals, owed base units) per asset, in the tree's order."""
    attestation_id: str | None = None
    """The root document's attestation id (given as a bare mapping: the snapshot's)."""
    as_of: str | None = None
    commitment: str | None = None
    """The tree's commitment, lowercase hex (None when given as a bare mapping)."""


@dataclass(frozen=True, slots=True)
class AssetCoverage:
    """One asset's liabilities, holdings by kind, coverage and shortfall."""

    code: str
    decimals: int
    liabilities: int
    """Owed base units (the liabilities tree's root sum for this asset)."""
    cold: int
    """Proven customer holdings in cold wallets, base units."""
    hot: int
    """Proven customer holdings in hot wallets, base units."""
    other: int
    """Proven customer holdings in wallets of class "other", base units."""
    custodial: int
    """Customer holdings declared custodial (counted only when `counted_custodial`)."""
    unproven: int
    """Customer holdings whose ownership proof is missing or fails (never counted)."""
    own_buffer: int
    """Own holdings the `OwnBufferRule` selects (the exchange's buffer; not backing)."""
    own_other: int
    """Own holdings not credited as buffer (unproven, outside the rule, or no rule)."""
    counted_custodial: bool
    threshold: Decimal
    """Minimum coverage ratio for this asset."""
    price: Price | None
    """None only for an asset without liabilities and without a price."""

    @property
    def holdings(self) -> int:
        """Holdings counted as customer backing, base units."""
        counted = self.cold + self.hot + self.other
        return counted + self.custodial if self.counted_custodial else counted

    @property
    def shortfall(self) -> int:
        """``max(0, liabilities - holdings)``, base units (never netted across assets)."""
        return max(0, self.liabilities - self.holdings)

    @property
    def surplus(self) -> int:
        """``max(0, holdings - liabilities)``, base units (never offsets another asset)."""
        return max(0, self.holdings - self.liabilities)

    @property
    def ratio(self) -> Decimal | None:
        """Holdings / liabilities, rounded toward zero; None when nothing is owed."""
        return floor_ratio(self.holdings, self.liabilities)

    @property
    def covered(self) -> bool:
        """Holdings >= threshold x liabilities, decided exactly."""
        with localcontext(EXACT):
            return Decimal(self.holdings) >= self.threshold * Decimal(self.liabilities)

    @property
    def cold_share(self) -> Decimal | None:
        """Cold / counted holdings (equal in units and value); None when nothing is held."""
        return floor_ratio(self.cold, self.holdings)

    def value(self, units: int) -> Decimal | None:
        """`units` of this asset in the reporting currency (exact); None without a price."""
        if self.price is None:
            return None
        return unit_value(units, self.decimals, self.price.value)


@dataclass(frozen=True, slots=True)
class Combined:
    """Combined coverage in the reporting currency (DESIGN.md, "Coverage")."""

    currency: str
    liabilities_value: Decimal
    """Σ_a liabilities_a · price_a."""
    capped_holdings_value: Decimal
    """Σ_a min(holdings_a, liabilities_a) · price_a: a surplus never offsets a shortfall."""
    eligible_reserve: Decimal
    """The eligible off-chain reserve from the rule pack's evaluation (0 without one)."""
    threshold: Decimal

    @property
    def numerator(self) -> Decimal:
        with localcontext(EXACT):
            return self.capped_holdings_value + self.eligible_reserve

    @property
    def ratio(self) -> Decimal | None:
        """(capped holdings + eligible reserve) / liabilities; None when nothing is owed."""
        if self.liabilities_value == 0:
            return None
        with localcontext(RATIO):
            return self.numerator / self.liabilities_value

    @property
    def met(self) -> bool:
        """Numerator >= threshold x liabilities value, decided exactly."""
        with localcontext(EXACT):
            return self.numerator >= self.threshold * self.liabilities_value


@dataclass(frozen=True, slots=True)
class Reserve:
    """The figures reconciliation reads from the rule pack's evaluation document."""

    pack_id: str
    pack_version: str
    currency: str
    required: Decimal
    eligible: Decimal
    shortfall: Decimal
    surplus: Decimal
    met: bool
    failed_checks: tuple[Mapping[str, Any], ...]
    document: Mapping[str, Any]
    """The evaluation document as given (embedded in the report unchanged)."""


@dataclass(frozen=True, slots=True)
class Breach:
    """One reason the verdict is not "covered", in words."""

    kind: str
    """asset | reserve | combined | check."""
    subject: str
    """The asset code, "reserve", "combined" or the check's name."""
    message: str

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "subject": self.subject, "message": self.message}


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """Everything the report shows: per-asset and combined coverage, reserve, verdict."""

    exchange: str
    currency: str
    liabilities: Liabilities
    snapshot_taken_at: str
    chains: tuple[ChainPin, ...]
    holdings: tuple[Holding, ...]
    prices: Mapping[str, Price]
    assets: tuple[AssetCoverage, ...]
    combined: Combined
    reserve: Reserve | None
    reserve_inputs: Mapping[str, Any]
    """What `reserve_inputs` gave the rule pack (so the report can be recomputed)."""
    thresholds: Thresholds
    count_custodial: bool
    own_buffer_rule: OwnBufferRule | None
    breaches: tuple[Breach, ...]
    warnings: tuple[str, ...]
    max_age: Mapping[str, Any] | None = None
    """The maximum ownership-proof age the snapshot applied ({"days", "source", "blocks"}),
    when any proof named an epoch; None otherwise."""

    @property
    def covered(self) -> bool:
        """Every asset at or above its threshold."""
        return all(a.covered for a in self.assets)

    @property
    def reserve_met(self) -> bool | None:
        """The rule pack's verdict on the reserve; None when no pack was evaluated."""
        return None if self.reserve is None else self.reserve.met

    @property
    def exit_code(self) -> int:
        """0 when nothing breaches, 1 otherwise (DESIGN.md, "Exit codes")."""
        return EXIT_OK if not self.breaches else EXIT_SHORTFALL

    def decimals(self) -> dict[str, int]:
        return {a.code: a.decimals for a in self.assets}

    def value_by_class(self) -> dict[str, Decimal]:
        """Value of proven customer holdings per class (custodial: declared custodial)."""
        totals = {name: Decimal(0) for name in CLASSES}
        with localcontext(EXACT):
            for a in self.assets:
                for name, units in (
                    ("cold", a.cold),
                    ("hot", a.hot),
                    ("other", a.other),
                    ("custodial", a.custodial),
                ):
                    value = a.value(units)
                    if value is not None:
                        totals[name] += value
        return totals

    def cold_share(self) -> Decimal | None:
        """Cold value / value of counted holdings, over every priced asset."""
        by_class = self.value_by_class()
        with localcontext(EXACT):
            counted = by_class["cold"] + by_class["hot"] + by_class["other"]
            if self.count_custodial:
                counted += by_class["custodial"]
        if counted == 0:
            return None
        with localcontext(RATIO):
            return by_class["cold"] / counted


# ----------------------------------------------------------------------------- number helpers


def dec_str(value: Decimal) -> str:
    """A Decimal as a plain decimal string: no exponent, no trailing fractional zeros."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def units_json(units: int, decimals: int) -> dict[str, str]:
    """``{"base_units": "<int>", "amount": "<whole units>"}`` for the report."""
    return {"base_units": str(units), "amount": format_units(units, decimals)}


def unit_value(units: int, decimals: int, price: Decimal) -> Decimal:
    """Exact value of `units` base units at `price` per whole unit."""
    with localcontext(EXACT):
        return Decimal(units).scaleb(-decimals) * price


def floor_ratio(numerator: int, denominator: int) -> Decimal | None:
    """numerator / denominator rounded toward zero (28 digits); None when denominator is 0."""
    if denominator == 0:
        return None
    with localcontext(RATIO):
        return Decimal(numerator) / Decimal(denominator)


def _check_ratio(value: Any, where: str) -> None:
    if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
        raise InputError("a threshold must be a finite, non-negative Decimal", key=where)


# ----------------------------------------------------------------------------- input parsing


def _need(obj: Mapping[str, Any], name: str, where: str) -> Any:
    if not isinstance(obj, Mapping):
        raise InputError("expected an object", key=where)
    if name not in obj:
        raise InputError("missing key", key=f"{where}.{name}" if where else name)
    return obj[name]


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise InputError("expected a string", key=where, value=repr(value))
    return value


def _units(value: Any, where: str) -> int:
    """Base units: a canonical non-negative integer string (or a JSON integer)."""
    if isinstance(value, str) and _INT.fullmatch(value):
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise InputError("expected non-negative integer base units", key=where, value=repr(value))


def _decimal(value: Any, where: str) -> Decimal:
    """An amount of the evaluation document: a decimal string (never a float)."""
    if isinstance(value, str) and _DEC.fullmatch(value):
        return Decimal(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, Decimal) and value.is_finite():
        return value
    raise InputError("expected a decimal string", key=where, value=repr(value))


def _liabilities(source: RootDocument | Mapping[str, tuple[int, int]]) -> Liabilities:
    if isinstance(source, RootDocument):
        return Liabilities(
            assets=tuple(
                (spec.code, spec.decimals, owed)
                for spec, owed in zip(source.assets, source.root.sums, strict=True)
            ),
            attestation_id=source.attestation_id,
            as_of=source.as_of,
            commitment=source.commitment.hex(),
        )
    rows = []
    for code, pair in sorted(source.items()):
        where = f"liabilities.{code}"
        if not isinstance(code, str) or not code:
            raise InputError("an asset code must be a non-empty string", value=repr(code))
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise InputError("expected (decimals, owed base units)", key=where, value=repr(pair))
        decimals, owed = pair
        if isinstance(decimals, bool) or not isinstance(decimals, int):
            raise InputError("decimals must be an integer", key=where, value=repr(decimals))
        if not 0 <= decimals <= _MAX_DECIMALS:
            raise InputError(f"decimals must be 0..{_MAX_DECIMALS}", key=where, value=str(decimals))
        rows.append((code, decimals, _units(owed, where)))
    return Liabilities(assets=tuple(rows))


def _address_key(chain: str, address: str) -> str:
    # Ethereum addresses and bech32 addresses are case-insensitive (EIP-55 checksums and
    # BIP-173 both allow other spellings of the same address); base58 ones are not.
    lowered = address.lower()
    if chain == "ethereum" or lowered.startswith(("bc1", "tb1", "bcrt1")):
        return f"{chain}:{lowered}"
    return f"{chain}:{address}"


def _decimals_of_totals(chains: list[Any]) -> dict[str, int]:
    """Asset decimals as the snapshot's totals imply them (base units vs. whole amount)."""
    found: dict[str, int] = {}
    for i, chain in enumerate(chains):
        totals = chain.get("totals", {}) if isinstance(chain, Mapping) else {}
        if not isinstance(totals, Mapping):
            raise InputError("expected an object", key=f"snapshot.chains[{i}].totals")
        for code, kinds in totals.items():
            if not isinstance(kinds, Mapping):
                raise InputError("expected an object", key=f"snapshot.chains[{i}].totals.{code}")
            for kind, pair in kinds.items():
                where = f"snapshot.chains[{i}].totals.{code}.{kind}"
                units = _units(_need(pair, "base_units", where), f"{where}.base_units")
                amount = _str(_need(pair, "amount", where), f"{where}.amount")
                if units == 0:
                    continue
                fits = [d for d in range(_MAX_DECIMALS + 1) if format_units(units, d) == amount]
                if not fits:
                    raise InputError("base units and amount disagree", key=where, value=amount)
                if found.setdefault(code, fits[0]) != fits[0]:
                    raise InputError(
                        f"the snapshot gives {code} two different numbers of decimals", key=where
                    )
    return found


def _snapshot(
    doc: Mapping[str, Any],
) -> tuple[str, str, str, tuple[ChainPin, ...], list[Holding], dict[str, int]]:
    """(exchange, attestation id, taken at, pins, holdings, implied decimals) of a snapshot."""
    fmt = _need(doc, "snapshot", "snapshot")
    if fmt != SNAPSHOT_FORMAT:
        raise InputError(f"not a {SNAPSHOT_FORMAT} document", key="snapshot", value=repr(fmt))
    exchange = _str(doc.get("exchange", ""), "snapshot.exchange")
    attestation_id = _str(doc.get("attestation_id", ""), "snapshot.attestation_id")
    taken_at = _str(doc.get("taken_at", ""), "snapshot.taken_at")
    chains = _need(doc, "chains", "snapshot")
    if not isinstance(chains, list):
        raise InputError("expected a list", key="snapshot.chains")
    pins: list[ChainPin] = []
    holdings: list[Holding] = []
    for i, chain in enumerate(chains):
        where = f"snapshot.chains[{i}]"
        network = _str(_need(chain, "network", where), f"{where}.network")
        name = _str(chain.get("chain", network), f"{where}.chain")
        height = _need(chain, "height", where)
        if isinstance(height, bool) or not isinstance(height, int) or height < 0:
            raise InputError("expected a block height", key=f"{where}.height", value=repr(height))
        block_hash = _str(_need(chain, "block_hash", where), f"{where}.block_hash")
        if any(pin.chain == name for pin in pins):
            raise InputError(f"chain {name!r} appears twice", key=where)
        pins.append(ChainPin(name, network, height, block_hash))
        addresses = _need(chain, "addresses", where)
        if not isinstance(addresses, list):
            raise InputError("expected a list", key=f"{where}.addresses")
        for j, entry in enumerate(addresses):
            holdings.append(_holding(name, entry, f"{where}.addresses[{j}]"))
    return exchange, attestation_id, taken_at, tuple(pins), holdings, _decimals_of_totals(chains)


def _holding(chain: str, entry: Any, where: str) -> Holding:
    wallet_class = _str(_need(entry, "class", where), f"{where}.class")
    if wallet_class not in CLASSES:
        raise InputError("unknown wallet class", key=f"{where}.class", value=wallet_class)
    attribution = _str(_need(entry, "attribution", where), f"{where}.attribution")
    if attribution not in ATTRIBUTIONS:
        raise InputError("unknown attribution", key=f"{where}.attribution", value=attribution)
    ownership = _need(entry, "ownership", where)
    status = _str(_need(ownership, "status", f"{where}.ownership"), f"{where}.ownership.status")
    if status not in STATUSES:
        raise InputError("unknown ownership status", key=f"{where}.ownership", value=status)
    scheme = ownership.get("scheme")
    if scheme is not None:
        scheme = _str(scheme, f"{where}.ownership.scheme")
    raw = _need(entry, "balances", where)
    if not isinstance(raw, Mapping):
        raise InputError("expected an object", key=f"{where}.balances")
    balances = {
        _str(code, f"{where}.balances"): _units(units, f"{where}.balances.{code}")
        for code, units in raw.items()
    }
    return Holding(
        chain=chain,
        label=_str(entry.get("label", ""), f"{where}.label"),
        wallet=_str(entry.get("wallet", ""), f"{where}.wallet"),
        wallet_class=wallet_class,
        attribution=attribution,
        address=_str(_need(entry, "address", where), f"{where}.address"),
        balances=balances,
        status=status,
        scheme=scheme,
        reason=_str(ownership.get("reason", ""), f"{where}.ownership.reason"),
        epoch=_epoch(ownership.get("epoch"), f"{where}.ownership.epoch"),
        age=_age(ownership.get("age"), f"{where}.ownership.age"),
    )


def _epoch(raw: Any, where: str) -> dict[str, Any] | None:
    """A holding's ownership epoch, checked: {"id", "height", "hash", "expires"} or None."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise InputError("expected an object or null", key=where)
    height = _need(raw, "height", where)
    if isinstance(height, bool) or not isinstance(height, int) or height < 0:
        raise InputError("expected a block height", key=f"{where}.height", value=repr(height))
    expires = raw.get("expires")
    return {
        "id": _str(_need(raw, "id", where), f"{where}.id"),
        "height": height,
        "hash": _str(_need(raw, "hash", where), f"{where}.hash"),
        "expires": None if expires is None else _str(expires, f"{where}.expires"),
    }


def _age(raw: Any, where: str) -> dict[str, Any] | None:
    """A holding's proof age, checked: {"blocks": count, "seconds": int or null} or None."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise InputError("expected an object or null", key=where)
    blocks = _need(raw, "blocks", where)
    if isinstance(blocks, bool) or not isinstance(blocks, int) or blocks < 0:
        raise InputError("expected a count of blocks", key=f"{where}.blocks", value=repr(blocks))
    seconds = raw.get("seconds")
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, int)):
        raise InputError(
            "expected whole seconds or null", key=f"{where}.seconds", value=repr(seconds)
        )
    return {"blocks": blocks, "seconds": seconds}


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


def _reserve(doc: Mapping[str, Any]) -> Reserve:
    where = "evaluation"
    pack = _need(doc, "pack", where)
    required = _decimal(_need(_need(doc, "required", where), "amount", "required"), "required")
    eligible_doc = _need(doc, "eligible", where)
    eligible = _decimal(_need(eligible_doc, "total", "eligible"), "eligible.total")
    components = _need(eligible_doc, "components", "eligible")
    if not isinstance(components, list):
        raise InputError("expected a list", key="eligible.components")
    shortfall = _decimal(_need(doc, "shortfall", where), "shortfall")
    surplus = _decimal(_need(doc, "surplus", where), "surplus")
    met = _need(doc, "met", where)
    if not isinstance(met, bool):
        raise InputError("expected true or false", key="evaluation.met", value=repr(met))
    checks = _need(doc, "checks", where)
    if not isinstance(checks, list):
        raise InputError("expected a list", key="evaluation.checks")
    with localcontext(EXACT):
        expected_shortfall = max(Decimal(0), required - eligible)
        expected_surplus = max(Decimal(0), eligible - required)
    # The evaluation is another module's output: check that its headline figures agree
    # with each other before a verdict rests on them.
    if shortfall != expected_shortfall:
        raise InputError(
            f"the evaluation's shortfall is not max(0, required {required} - eligible {eligible})",
            key="evaluation.shortfall",
            value=str(shortfall),
        )
    if surplus != expected_surplus:
        raise InputError(
            f"the evaluation's surplus is not max(0, eligible {eligible} - required {required})",
            key="evaluation.surplus",
            value=str(surplus),
        )
    if met and shortfall > 0:
        raise InputError("the evaluation says met with a shortfall", key="evaluation.met")
    failed = []
    for i, check in enumerate(checks):
        passed = _need(check, "passed", f"evaluation.checks[{i}]")
        if not isinstance(passed, bool):
            raise InputError("expected true or false", key=f"evaluation.checks[{i}].passed")
        if not passed:
            failed.append(check)
    return Reserve(
        pack_id=str(_need(pack, "id", "pack")),
        pack_version=str(_need(pack, "version", "pack")),
        # the amounts are in the evaluation's reporting currency; a document that does not
        # state it separately is in its pack's currency
        currency=_str(doc.get("currency", _need(pack, "currency", "pack")), "evaluation.currency"),
        required=required,
        eligible=eligible,
        shortfall=shortfall,
        surplus=surplus,
        met=met,
        failed_checks=tuple(failed),
        document=doc,
    )


# ----------------------------------------------------------------------------- tallying


@dataclass
class _Tally:
    """Per-asset counters while walking the holdings (internal, mutable)."""

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


def _tally(
    holdings: list[Holding], own_buffer: OwnBufferRule | None, count_custodial: bool
) -> tuple[dict[str, _Tally], list[Holding]]:
    tallies: dict[str, _Tally] = {}
    annotated: list[Holding] = []
    for holding, first in _dedupe(holdings):
        if first is not None:
            counted = f"duplicate of {first.wallet or first.label}: counted once"
            annotated.append(_with_counted(holding, counted))
            continue
        bucket, counted = _bucket(holding, own_buffer, count_custodial)
        annotated.append(_with_counted(holding, counted))
        for code, units in holding.balances.items():
            tally = tallies.setdefault(code, _Tally())
            if bucket == "backing":
                tally.proven[holding.wallet_class] += units
            elif bucket == "custodial":
                tally.custodial += units
            elif bucket == "unproven":
                tally.unproven += units
            elif bucket == "own_buffer":
                tally.own_buffer += units
            else:
                tally.own_other += units
    return tallies, annotated


def _with_counted(holding: Holding, counted: str) -> Holding:
    return replace(holding, counted_as=counted)


@dataclass(frozen=True, slots=True)
class _Prepared:
    exchange: str
    attestation_id: str
    taken_at: str
    liabilities: Liabilities
    pins: tuple[ChainPin, ...]
    holdings: tuple[Holding, ...]
    tallies: Mapping[str, _Tally]
    decimals: Mapping[str, int]
    owed: Mapping[str, int]
    prices: Mapping[str, Price]
    currency: str
    count_custodial: bool
    warnings: tuple[str, ...]


def _prepare(
    liabilities: RootDocument | Mapping[str, tuple[int, int]],
    snapshot: Mapping[str, Any],
    prices: Mapping[str, Price],
    count_custodial: bool,
    own_buffer: OwnBufferRule | None,
    pack_currency: str | None,
) -> _Prepared:
    owed_doc = _liabilities(liabilities)
    exchange, attestation_id, taken_at, pins, raw_holdings, implied = _snapshot(snapshot)
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
        owed_doc = replace(owed_doc, attestation_id=attestation_id)
    for code, price in prices.items():
        if not isinstance(price, Price):
            raise InputError("expected a Price", key=f"prices.{code}")
        if not isinstance(price.value, Decimal) or not price.value.is_finite():
            raise InputError("a price must be a finite Decimal", key=f"prices.{code}")
        if price.value < 0:
            raise InputError("a price cannot be negative", key=f"prices.{code}")
    tallies, holdings = _tally(raw_holdings, own_buffer, count_custodial)
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
        held = _total(tallies[code])
        if code not in implied and held:
            raise InputError(
                f"{code} is held but not owed and the snapshot does not say its decimals",
                key="snapshot.totals",
            )
        decimals[code] = implied.get(code, 0)
        owed[code] = 0
        if held:
            warnings.append(f"{code} is held but not in the liabilities (nothing owed)")
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
        if code not in prices and _total(tallies.get(code, _Tally())):
            warnings.append(f"{code} has no price: its holdings have no value in the report")
    currency = _currency(prices, pack_currency)
    return _Prepared(
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
        currency=currency,
        count_custodial=count_custodial,
        warnings=tuple(warnings),
    )


def _total(tally: _Tally) -> int:
    """Every unit of the asset in any listed wallet, counted or not."""
    proven = sum(tally.proven.values())
    return proven + tally.custodial + tally.unproven + tally.own_buffer + tally.own_other


def _order(prepared: _Prepared) -> list[str]:
    """Liabilities' asset order, then assets only held, by code."""
    listed = [code for code, _, _ in prepared.liabilities.assets]
    return listed + sorted(set(prepared.decimals) - set(listed))


def _inputs_from(prepared: _Prepared) -> dict[str, Any]:
    by_class = {name: Decimal(0) for name in CLASSES}
    own_value = Decimal(0)
    per_asset = []
    unpriced = []
    for code in _order(prepared):
        tally = prepared.tallies.get(code, _Tally())
        decimals = prepared.decimals[code]
        price = prepared.prices.get(code)
        non_cold = tally.proven["hot"] + tally.proven["other"]
        counted = sum(tally.proven.values())
        if prepared.count_custodial:
            counted += tally.custodial
        if price is None:
            # only an asset nobody is owed can lack a price (`_prepare` checks it)
            if _total(tally):
                unpriced.append(code)
            continue
        per_asset.append(
            {
                "code": code,
                "decimals": decimals,
                "owed_units": str(prepared.owed[code]),
                "held_units": str(counted),
                "hot_units": str(non_cold),
                "own_buffer_units": str(tally.own_buffer),
                "price": dec_str(price.value),
            }
        )
        with localcontext(EXACT):
            for name in PROVEN_CLASSES:
                by_class[name] += unit_value(tally.proven[name], decimals, price.value)
            by_class["custodial"] += unit_value(tally.custodial, decimals, price.value)
            # the buffer backs non-cold customer crypto of the same type: a buffer of one
            # asset never offsets the hot holdings of another
            credited = min(tally.own_buffer, non_cold)
            own_value += unit_value(credited, decimals, price.value)
    return {
        "currency": prepared.currency,
        "client_value_by_class": {name: dec_str(v) for name, v in by_class.items()},
        "own_buffer_value": dec_str(own_value),
        "per_asset": per_asset,
        "unpriced_assets": unpriced,
    }


# ----------------------------------------------------------------------------- public API


def reserve_inputs(
    liabilities: RootDocument | Mapping[str, tuple[int, int]],
    snapshot: Mapping[str, Any],
    prices: Mapping[str, Price],
    *,
    count_custodial: bool = False,
    own_buffer: OwnBufferRule | None = None,
    currency: str | None = None,
) -> dict[str, Any]:
    """The numbers a reserve rule pack needs, from the snapshot and the prices.

    Parameters
    ----------
    liabilities
        The root document (`RootDocument`) or ``{code: (decimals, owed base units)}``.
    snapshot
        A ``por-snapshot-v1`` document (`verifier.holdings.snapshot.Snapshot.to_json()`).
    prices
        ``{code: Price}``, every price in one currency; required for each owed asset.
    count_custodial
        Count customer holdings in custodial wallets as held (``held_units``).
    own_buffer
        Which own holdings are the exchange's buffer; None credits no buffer.
    currency
        The reporting currency when no price gives it (and a check when prices do).

    Returns
    -------
    dict
        ``{"currency", "client_value_by_class": {"cold","hot","other","custodial"},
        "own_buffer_value", "per_asset": [{"code", "decimals", "owed_units",
        "held_units", "hot_units", "own_buffer_units", "price"}], "unpriced_assets"}``.
        Values and prices are decimal strings, base units integer strings. Every figure
        counts exactly the holdings coverage counts: proven customer holdings by class
        (``custodial``: customer holdings in custodial wallets, always given, and part of
        ``held_units`` only when `count_custodial`); unproven holdings are left out.
        ``hot_units`` is the non-cold part of ``held_units`` (hot + other), the quantity a
        same-type own buffer must match; ``own_buffer_value`` credits each asset's buffer
        only up to that asset's non-cold holdings, so a buffer of one asset never offsets
        the hot holdings of another. ``unpriced_assets`` lists held assets without a price
        (they are owed nothing): they are left out of ``per_asset`` and of every value.

    Raises
    ------
    InputError
        Malformed snapshot, an owed asset without a price, mixed currencies.
    """
    prepared = _prepare(liabilities, snapshot, prices, count_custodial, own_buffer, currency)
    return _inputs_from(prepared)


def reconcile(
    liabilities: RootDocument | Mapping[str, tuple[int, int]],
    snapshot: Mapping[str, Any],
    prices: Mapping[str, Price],
    evaluation: Mapping[str, Any] | None = None,
    *,
    thresholds: Thresholds | None = None,
    count_custodial: bool = False,
    own_buffer: OwnBufferRule | None = None,
) -> Reconciliation:
    """Per-asset and combined coverage, the reserve verdict and every breach.

    Parameters
    ----------
    liabilities
        The root document (`RootDocument`) or ``{code: (decimals, owed base units)}``.
    snapshot
        A ``por-snapshot-v1`` document (`verifier.holdings.snapshot.Snapshot.to_json()`).
    prices
        ``{code: Price}`` in the reporting currency; every owed asset needs one.
    evaluation
        The rule pack's reserve evaluation document (verifier/reserve/rules.py), or None when no
        reserve is assessed (the eligible reserve is then 0).
    thresholds
        Minimum coverage per asset and combined (default 1 and 1).
    count_custodial
        Count custodial customer holdings as backing (excluded by default).
    own_buffer
        Which own holdings are the exchange's buffer (never customer backing either way).

    Returns
    -------
    Reconciliation
        Figures, breaches in words and ``exit_code`` (0 covered, 1 otherwise).

    Raises
    ------
    InputError
        Malformed inputs, a missing price, mixed currencies, decimals or attestation ids
        that disagree, an inconsistent evaluation.
    """
    limits = thresholds if thresholds is not None else Thresholds()
    reserve = None if evaluation is None else _reserve(evaluation)
    prepared = _prepare(
        liabilities,
        snapshot,
        prices,
        count_custodial,
        own_buffer,
        None if reserve is None else reserve.currency,
    )
    assets = []
    for code in _order(prepared):
        tally = prepared.tallies.get(code, _Tally())
        assets.append(
            AssetCoverage(
                code=code,
                decimals=prepared.decimals[code],
                liabilities=prepared.owed[code],
                cold=tally.proven["cold"],
                hot=tally.proven["hot"],
                other=tally.proven["other"],
                custodial=tally.custodial,
                unproven=tally.unproven,
                own_buffer=tally.own_buffer,
                own_other=tally.own_other,
                counted_custodial=count_custodial,
                threshold=limits.for_asset(code),
                price=prepared.prices.get(code),
            )
        )
    combined = _combined(assets, prepared.currency, reserve, limits.min_combined)
    warnings = list(prepared.warnings)
    warnings.extend(
        f"a coverage threshold is set for {code}, which is neither owed nor held"
        for code in sorted(set(limits.per_asset) - set(prepared.decimals))
    )
    return Reconciliation(
        exchange=prepared.exchange,
        currency=prepared.currency,
        liabilities=prepared.liabilities,
        snapshot_taken_at=prepared.taken_at,
        chains=prepared.pins,
        holdings=prepared.holdings,
        prices=dict(prepared.prices),
        assets=tuple(assets),
        combined=combined,
        reserve=reserve,
        reserve_inputs=_inputs_from(prepared),
        thresholds=limits,
        count_custodial=count_custodial,
        own_buffer_rule=own_buffer,
        breaches=tuple(_breaches(assets, combined, reserve)),
        warnings=tuple(warnings),
        max_age=_max_age(snapshot),
    )


def _max_age(snapshot: Mapping[str, Any]) -> dict[str, Any] | None:
    """The snapshot's `ownership_max_age`, checked (None when absent or null)."""
    raw = snapshot.get("ownership_max_age") if isinstance(snapshot, Mapping) else None
    if raw is None:
        return None
    where = "snapshot.ownership_max_age"
    if not isinstance(raw, Mapping):
        raise InputError("expected an object or null", key=where)
    days = _need(raw, "days", where)
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise InputError("expected a count of days", key=f"{where}.days", value=repr(days))
    blocks = raw.get("blocks", {})
    if not isinstance(blocks, Mapping) or any(
        isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in blocks.values()
    ):
        raise InputError("expected chain -> count of blocks", key=f"{where}.blocks")
    return {
        "days": days,
        "source": _str(raw.get("source", ""), f"{where}.source"),
        "blocks": {_str(k, f"{where}.blocks"): v for k, v in sorted(blocks.items())},
    }


def _combined(
    assets: list[AssetCoverage], currency: str, reserve: Reserve | None, threshold: Decimal
) -> Combined:
    owed_value = Decimal(0)
    capped_value = Decimal(0)
    with localcontext(EXACT):
        for a in assets:
            if a.liabilities == 0 or a.price is None:
                continue
            owed_value += unit_value(a.liabilities, a.decimals, a.price.value)
            capped_value += unit_value(min(a.holdings, a.liabilities), a.decimals, a.price.value)
    return Combined(
        currency=currency,
        liabilities_value=owed_value,
        capped_holdings_value=capped_value,
        eligible_reserve=Decimal(0) if reserve is None else reserve.eligible,
        threshold=threshold,
    )


def percent_of(ratio: Decimal) -> str:
    """A ratio as a percentage with two decimals, rounded toward zero (0.99876 -> 99.87%)."""
    with localcontext(DISPLAY):
        return f"{dec_str((ratio * 100).quantize(Decimal('0.01')))}%"


def _breaches(
    assets: list[AssetCoverage], combined: Combined, reserve: Reserve | None
) -> list[Breach]:
    out: list[Breach] = []
    for a in assets:
        if a.covered:
            continue
        ratio = a.ratio
        shown = "0%" if ratio is None else percent_of(ratio)
        message = (
            f"{a.code}: proven holdings {format_units(a.holdings, a.decimals)} cover "
            f"{shown} of liabilities {format_units(a.liabilities, a.decimals)}, below the "
            f"minimum {percent_of(a.threshold)}"
        )
        if a.shortfall:
            message += f"; short by {format_units(a.shortfall, a.decimals)} {a.code}"
        else:
            with localcontext(EXACT):
                target = int((a.threshold * a.liabilities).to_integral_value(ROUND_CEILING))
            more = format_units(target - a.holdings, a.decimals)
            message += f"; {more} {a.code} more needed to reach the minimum"
        out.append(Breach("asset", a.code, message))
    if reserve is not None and not reserve.met:
        out.append(
            Breach(
                "reserve",
                "reserve",
                f"liability reserve not met under {reserve.pack_id} {reserve.pack_version}: "
                f"required {dec_str(reserve.required)} {reserve.currency}, eligible "
                f"{dec_str(reserve.eligible)}, shortfall {dec_str(reserve.shortfall)}",
            )
        )
    if reserve is not None:
        for check in reserve.failed_checks:
            name = str(check.get("check", "check"))
            detail = f"{name}: {check.get('reason', 'failed')}"
            if check.get("value") is not None or check.get("limit") is not None:
                detail += f" (value {check.get('value')}, limit {check.get('limit')})"
            if check.get("status"):
                detail += f" [{check.get('status')}]"
            out.append(Breach("check", name, detail))
    if not combined.met:
        ratio = combined.ratio
        out.append(
            Breach(
                "combined",
                "combined",
                f"combined coverage {'n/a' if ratio is None else percent_of(ratio)} is below the "
                f"minimum {percent_of(combined.threshold)}",
            )
        )
    return out
