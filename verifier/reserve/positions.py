"""The customer holdings a rule pack weighs: value per wallet class and per-asset positions.

Where it sits: the evaluation's second input, next to the statement. The reconciliation
builds it from a snapshot (verifier/reconcile/reserve_inputs.py gives a plain dict, read by
`inputs_from_mapping`); a what-if evaluation builds it from the statement's ``[holdings]``
(`inputs_from_statement`). Constructors validate: asset codes, non-negative integer units,
hot within held, finite non-negative `Decimal` values, known wallet classes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from attestations.encoding import ASSET_CODE_RE, MAX_DECIMALS
from verifier.base.errors import InputError
from verifier.reserve.money import ZERO, money_context
from verifier.reserve.statement_model import CURRENCY_RE, WALLET_CLASSES, ReserveStatement


@dataclass(frozen=True, slots=True)
class AssetPosition:
    """One asset's customer position, in integer base units."""

    code: str
    owed_units: int
    """Customer liabilities (the liabilities tree total)."""
    held_units: int
    """Customer holdings of the asset in every wallet class."""
    hot_units: int
    """The part of `held_units` outside cold storage (hot and other wallets)."""
    own_buffer_units: int
    """The exchange's own coins of this asset held as the buffer (Japan: 履行保証暗号資産)."""
    decimals: int
    price: Decimal
    """Reporting currency per whole unit."""

    def __post_init__(self) -> None:
        where = f"per_asset[{self.code}]"
        if not isinstance(self.code, str) or not ASSET_CODE_RE.fullmatch(self.code):
            raise InputError("not an asset code", key=where, value=str(self.code))
        if isinstance(self.decimals, bool) or not isinstance(self.decimals, int):
            raise InputError("decimals must be an integer", key=where, value=str(self.decimals))
        if not 0 <= self.decimals <= MAX_DECIMALS:
            raise InputError(
                f"decimals must be 0..{MAX_DECIMALS}", key=where, value=str(self.decimals)
            )
        for name in ("owed_units", "held_units", "hot_units", "own_buffer_units"):
            units = getattr(self, name)
            if isinstance(units, bool) or not isinstance(units, int) or units < 0:
                raise InputError(
                    f"{name} must be a non-negative integer",
                    key=f"{where}.{name}",
                    value=str(units),
                )
        if self.hot_units > self.held_units:
            raise InputError(
                "hot_units exceed held_units", key=f"{where}.hot_units", value=str(self.hot_units)
            )
        if not isinstance(self.price, Decimal) or not self.price.is_finite() or self.price < 0:
            raise InputError(
                "price must be a non-negative Decimal", key=f"{where}.price", value=str(self.price)
            )


@dataclass(frozen=True, slots=True)
class ReserveInputs:
    """Customer holdings the rule pack needs, valued in the reporting currency.

    Built from a snapshot by the reconciliation, or from a statement's ``[holdings]`` by
    `inputs_from_statement` (what-if). Missing wallet classes count zero.
    """

    currency: str
    client_value_by_class: dict[str, Decimal]
    """Value of customer assets per wallet class: cold, hot, other, custodial."""
    own_buffer_value: Decimal = ZERO
    """Value of the exchange's own buffer assets."""
    per_asset: tuple[AssetPosition, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.currency, str) or not CURRENCY_RE.fullmatch(self.currency):
            raise InputError("not a currency code", key="currency", value=str(self.currency))
        values = dict(self.client_value_by_class)
        for name, value in values.items():
            if name not in WALLET_CLASSES:
                raise InputError(
                    f"unknown wallet class (known: {', '.join(WALLET_CLASSES)})",
                    key="client_value_by_class",
                    value=str(name),
                )
            if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
                raise InputError(
                    "value must be a non-negative Decimal",
                    key=f"client_value_by_class.{name}",
                    value=str(value),
                )
        for name in WALLET_CLASSES:
            values.setdefault(name, ZERO)
        object.__setattr__(self, "client_value_by_class", values)
        buffer = self.own_buffer_value
        if not isinstance(buffer, Decimal) or not buffer.is_finite() or buffer < 0:
            raise InputError(
                "must be a non-negative Decimal", key="own_buffer_value", value=str(buffer)
            )
        codes = [p.code for p in self.per_asset]
        if len(set(codes)) != len(codes):
            raise InputError("duplicate asset in per_asset", key="per_asset", value=",".join(codes))


def inputs_from_statement(statement: ReserveStatement) -> ReserveInputs:
    """The what-if holdings of a statement's ``[holdings]`` section as `ReserveInputs`.

    Parameters
    ----------
    statement:
        A statement read by `verifier.reserve.statement.load_statement`.

    Returns
    -------
    ReserveInputs

    Raises
    ------
    InputError
        When the statement has no ``[holdings]`` section.
    """
    holdings = statement.holdings
    if holdings is None:
        raise InputError(
            "missing: give [holdings] for a what-if evaluation, or evaluate against a snapshot",
            file=statement.path,
            key="holdings",
        )
    return ReserveInputs(
        currency=statement.currency,
        client_value_by_class={
            "cold": holdings.cold,
            "hot": holdings.hot,
            "other": holdings.other,
            "custodial": holdings.custodial,
        },
        own_buffer_value=holdings.own_buffer,
        per_asset=tuple(
            AssetPosition(
                code=a.code,
                owed_units=a.owed_units,
                held_units=a.held_units,
                hot_units=a.hot_units,
                own_buffer_units=a.own_buffer_units,
                decimals=a.decimals,
                price=a.price,
            )
            for a in holdings.assets
        ),
    )


def inputs_from_mapping(doc: Mapping[str, Any]) -> ReserveInputs:
    """`ReserveInputs` from the dict `verifier.reconcile.reserve_inputs.reserve_inputs` returns.

    Parameters
    ----------
    doc:
        {"currency", "client_value_by_class", "own_buffer_value", "per_asset": [...]} with
        decimal strings for values and integers (or integer strings) for units.

    Returns
    -------
    ReserveInputs
    """
    with money_context():
        return ReserveInputs(
            currency=str(doc["currency"]),
            client_value_by_class={
                str(k): Decimal(str(v)) for k, v in doc["client_value_by_class"].items()
            },
            own_buffer_value=Decimal(str(doc["own_buffer_value"])),
            per_asset=tuple(
                AssetPosition(
                    code=str(p["code"]),
                    owed_units=int(p["owed_units"]),
                    held_units=int(p["held_units"]),
                    hot_units=int(p["hot_units"]),
                    own_buffer_units=int(p["own_buffer_units"]),
                    decimals=int(p["decimals"]),
                    price=Decimal(str(p["price"])),
                )
                for p in doc["per_asset"]
            ),
        )
