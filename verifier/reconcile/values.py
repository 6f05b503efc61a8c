"""What reconciliation reads: the settings (thresholds, own-buffer rule) and the holdings.

Where it sits: verifier/reconcile/parse.py turns the ``por-snapshot-v1`` document and the
liabilities into the `ChainPin`, `Holding` and `Liabilities` values here; the caller
(verifier/jobs/pipeline.py, from por.toml) gives `Thresholds` and `OwnBufferRule`;
verifier/reconcile/tally.py and coverage.py count them. Frozen values; constructors check.

The closed sets of DESIGN.md live here too: wallet classes, attributions and ownership
statuses, so every module of the package spells them one way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from verifier.base.errors import InputError
from verifier.reconcile.numbers import dec_str, units_json

CLASSES = ("cold", "hot", "other", "custodial")
"""Wallet classes of DESIGN.md, in report order."""
PROVEN_CLASSES = ("cold", "hot", "other")
"""Classes whose proven customer holdings back liabilities."""
ATTRIBUTIONS = ("customer", "own")
SEGREGATIONS = ("customer", "own", "mixed")
"""Whose coins a wallet holds (por.toml `segregation`); absent: as its attribution."""
STATUSES = ("proven", "unproven", "custodial", "stale")
"""Ownership statuses a snapshot may carry; "stale" (an epoch proof past its maximum age or
expiry, verifier/holdings/ownership.py) counts as unproven everywhere."""


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
    vendor: str | None = None
    """The id of the wallet's vendor (por.toml `vendor`), if named."""
    vendor_name: str | None = None
    """That vendor's name ([vendors.<id>] name), when the snapshot declares it."""
    custodian: str | None = None
    signing: str | None = None
    segregation: str = ""
    """customer | own | mixed (empty: as `attribution`)."""
    own: Mapping[str, int] = field(default_factory=dict)
    """A mixed wallet's declared own coins (asset -> base units), for the whole wallet:
    tally.py takes them once per wallet, address by address."""
    customer_units: Mapping[str, int] = field(default_factory=dict)
    """Base units of this address counted by the customer side (set by tally.py)."""
    own_units: Mapping[str, int] = field(default_factory=dict)
    """Base units of this address that are the exchange's own (set by tally.py)."""

    def __post_init__(self) -> None:
        if not self.segregation:
            object.__setattr__(self, "segregation", self.attribution)

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
            "vendor": self.vendor,
            "vendor_name": self.vendor_name,
            "custodian": self.custodian,
            "signing": self.signing,
            "segregation": self.segregation,
            "customer_units": {c: str(u) for c, u in sorted(self.customer_units.items())},
            "own_units": {c: str(u) for c, u in sorted(self.own_units.items())},
        }


@dataclass(frozen=True, slots=True)
class VendorInfo:
    """A wallet vendor as the snapshot declares it (por.toml [vendors.<id>])."""

    id: str
    name: str
    kind: str
    notified: str | None = None
    """ISO date it was notified to the regulator; None: not notified."""
    registered: bool = False
    jurisdiction: str | None = None


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


def _check_ratio(value: Any, where: str) -> None:
    if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
        raise InputError("a threshold must be a finite, non-negative Decimal", key=where)
