"""The reserve statement file's rows: field types and one pydantic model per table.

Where it sits: the schema half of reading a statement. verifier/reserve/statement.py holds
the whole file's model (`StatementFile`, built from these rows), the checks between fields
and the reading; verifier/reserve/statement_build.py turns each row into its value
(verifier/reserve/statement_model.py). Field types, ranges and descriptions are the file's
one definition (verifier.inputs.file_schemas), published with `StatementFile` as
docs/spec/schemas/por-reserve-statement.schema.json.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field

from attestations.encoding import ASSET_CODE_RE, MAX_DECIMALS
from verifier.inputs.file_schemas import (
    DECIMAL_PATTERN,
    Amount,
    Check,
    Day,
    FileModel,
    Flag,
    Share,
    Text,
    decimal_value,
    fault,
    integer,
    pattern,
)
from verifier.reserve.statement_model import CURRENCY_RE

LIMIT_TYPES = ("aggregate", "per_occurrence")


def _rate(value: object) -> Decimal:
    return decimal_value(value, "rate")


def _multiplier(value: object) -> Decimal:
    return decimal_value(value, "multiplier")


def _quantity(value: object) -> Decimal:
    quantity = decimal_value(value, "quantity")
    if quantity < 0:
        raise fault("quantity must not be negative", quantity)
    return quantity


def _names(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise fault("must be a list of non-empty strings", value)
    return tuple(value)


def _cover(value: object) -> Decimal | tuple[str, ...]:
    if isinstance(value, list):
        return _names(value)
    share = decimal_value(value, "share")
    if not 0 <= share <= 1:
        raise fault("share must be between 0 and 1", share)
    return share


def _limit_type(value: object) -> str:
    text = value.strip() if isinstance(value, str) else value
    if text not in LIMIT_TYPES:
        raise fault(f"must be one of {', '.join(LIMIT_TYPES)}", value)
    return str(text)


_NAMES_SCHEMA = {"type": "array", "items": {"type": "string", "minLength": 1}}
Names = Annotated[tuple[str, ...], Check(_names, _NAMES_SCHEMA)]
Currency = Annotated[str, pattern(CURRENCY_RE, "not a currency code (upper case, e.g. JPY, USD)")]
AssetCode = Annotated[str, pattern(ASSET_CODE_RE, "not an asset code ([A-Z0-9._-]{1,16})")]
Rate = Annotated[
    Decimal,
    Check(
        _rate,
        {
            "description": "A positive decimal string or integer",
            "anyOf": [{"type": "string", "pattern": DECIMAL_PATTERN}, {"type": "integer"}],
        },
    ),
]
Multiplier = Annotated[
    Decimal,
    Check(
        _multiplier,
        {
            "description": "A positive decimal string or integer",
            "anyOf": [{"type": "string", "pattern": DECIMAL_PATTERN}, {"type": "integer"}],
        },
    ),
]
Quantity = Annotated[
    Decimal,
    Check(
        _quantity,
        {
            "description": "Whole units as a decimal string (at most the asset's decimals)",
            "anyOf": [
                {"type": "string", "pattern": DECIMAL_PATTERN.replace("[+-]?", r"\+?")},
                {"type": "integer", "minimum": 0},
            ],
        },
    ),
]
Cover = Annotated[
    Decimal | tuple[str, ...],
    Check(
        _cover,
        {
            "description": 'A covered share ("0".."1") or the list of perils covered',
            "anyOf": [
                {"type": "string", "pattern": DECIMAL_PATTERN.replace("[+-]?", r"\+?")},
                {"type": "integer", "minimum": 0, "maximum": 1},
                _NAMES_SCHEMA,
            ],
        },
    ),
]
LimitType = Annotated[str, Check(_limit_type, {"type": "string", "enum": list(LIMIT_TYPES)})]
_CCY = "Currency code; default: the statement's reporting currency"


class CashRow(FileModel):
    """``[[cash]]``: cash set aside for the reserve."""

    name: Text = Field(description="Your label for this deposit")
    amount: Amount = Field(description="Amount in `currency`")
    currency: Currency | None = Field(None, description=_CCY)
    holder: Text = Field(description="The bank or trust company holding it")
    on_trust: Flag = Field(description="Held on trust for the customers (bankruptcy-remote)")
    maturity: Day | None = Field(
        None, description="The day a term deposit matures; omit for demand deposits"
    )


class PerilsTable(FileModel):
    """``[insurance.perils]``: per wallet class, a covered share or the perils covered."""

    cold: Cover | None = Field(None, description="Cold wallets")
    hot: Cover | None = Field(None, description="Hot wallets")
    other: Cover | None = Field(None, description="Other wallets")
    custodial: Cover | None = Field(None, description="Assets with a custodian")


class InsuranceRow(FileModel):
    """``[[insurance]]``: a policy offered as part of the reserve."""

    name: Text | None = Field(None, description="Your label; default: the insurer")
    insurer: Text = Field(description="The insurer")
    authorised: Flag = Field(description="Insurer authorised to write this business where licensed")
    limit: Amount = Field(description="The policy limit")
    limit_type: LimitType = Field(
        description="aggregate (all claims in the term) or per_occurrence"
    )
    deductible: Amount | None = Field(None, description="Deductible; default 0")
    currency: Currency | None = Field(None, description=_CCY)
    perils: PerilsTable | None = Field(None, description="Cover per wallet class")
    exclusions: Names = Field((), description="Perils excluded everywhere")
    start: Day = Field(description="First day of cover")
    end: Day = Field(description="Expiry: cover ends at the start of this day (after start)")
    notice_days: Annotated[int, integer(0, 36_500)] = Field(
        description="Days of notice the insurer must give to cancel"
    )
    scope: Share | None = Field(
        None, description="Declared share of the reserve's risk covered; default 1"
    )
    claim_days: Annotated[int, integer(0, 36_500)] | None = Field(
        None, description="Days from a claim to payment (por stress: time to pay); optional"
    )


class GuaranteeRow(FileModel):
    """``[[guarantee]]``: a bank guarantee or standby letter of credit."""

    name: Text | None = Field(None, description="Your label; default: the issuer")
    issuer: Text = Field(description="The issuing bank")
    amount: Amount = Field(description="Amount in `currency`")
    currency: Currency | None = Field(None, description=_CCY)
    on_demand: Flag = Field(description="Payable on first demand, without proof of default")
    maturity: Day | None = Field(None, description="Expiry; omit if open-ended")
    payment_days: Annotated[int, integer(0, 36_500)] | None = Field(
        None, description="Days from a demand to payment (por stress: time to pay); optional"
    )


class VolumeRow(FileModel):
    """``[[volume]]``: trading volume of one category over one 12-month period."""

    category: Text = Field(description="Volume category (spot, derivatives, ...; packs rate each)")
    year: Annotated[int, integer(1970, 9998)] | None = Field(
        None, description="A calendar year (exactly one of year, period_start)"
    )
    period_start: Day | None = Field(None, description="First day of a 12-month period (or year)")
    amount: Amount = Field(description="Volume over the period, reporting currency")


class IncidentRow(FileModel):
    """``[[incident]]``: a loss event and what was recovered."""

    day: Day = Field(description="The day of the loss", alias="date")
    loss: Amount = Field(description="The loss")
    recovered: Amount | None = Field(
        None, description="Recovered so far (at most the loss); default 0"
    )
    description: Text | None = Field(None, description="What happened")


class OverheadsTable(FileModel):
    """``[entity.overheads]``: fixed overheads, or the year's expenses less deductions."""

    fixed: Amount | None = Field(
        None, description="Fixed overheads (alone; or give total_expenses)"
    )
    total_expenses: Amount | None = Field(None, description="Previous year's total expenses")
    bonuses: Amount | None = Field(None, description="Bonuses depending on net profit")
    profit_shares: Amount | None = Field(
        None, description="Employees', directors' and partners' profit shares"
    )
    discretionary: Amount | None = Field(
        None, description="Other appropriations and variable remuneration"
    )
    non_recurring: Amount | None = Field(None, description="Non-recurring expenses")


class OperationalRiskTable(FileModel):
    """``[entity.operational_risk]``: inputs of the multiplier m_ops."""

    m_ops: Multiplier | None = Field(None, description="An assessed multiplier (positive)")
    flags: Names = Field((), description="Risk flags the pack may price (m_ops_step.<flag>)")


class EntityTable(FileModel):
    """``[entity]``: the licensed entity."""

    jurisdiction: Text | None = Field(None, description="Jurisdiction code")
    licence_class: Text | None = Field(
        None, description="MiCA class_1, class_2 or class_3 (Annex IV)"
    )
    overheads: OverheadsTable | None = Field(
        None, description="Fixed overheads (capital-model packs)"
    )
    cet1: Amount | None = Field(None, description="Own funds: Common Equity Tier 1 items")
    paid_up_capital: Amount | None = Field(None, description="Paid-up capital")
    operational_risk: OperationalRiskTable | None = Field(
        None, description="Operational-risk multiplier"
    )


class HeldAssetRow(FileModel):
    """``[[holdings.assets]]``: one asset's customer position for the same-type checks."""

    code: AssetCode = Field(description="Asset code")
    decimals: Annotated[int, integer(0, MAX_DECIMALS)] = Field(description="The asset's decimals")
    price: Amount = Field(description="Reporting currency per whole unit")
    owed: Quantity = Field(description="Customer liabilities, whole units")
    held: Quantity = Field(description="Customer holdings in every wallet class, whole units")
    hot: Quantity | None = Field(
        None, description="The part of held outside cold storage; default 0"
    )
    own_buffer: Quantity | None = Field(
        None, description="The exchange's own buffer of this asset; default 0"
    )


class HoldingsTable(FileModel):
    """``[holdings]``: customer holdings by wallet class (when no snapshot gives them)."""

    cold: Amount | None = Field(None, description="Customer value in cold wallets; default 0")
    hot: Amount | None = Field(None, description="Customer value in hot wallets; default 0")
    other: Amount | None = Field(None, description="Customer value in other wallets; default 0")
    custodial: Amount | None = Field(None, description="Customer value with custodians; default 0")
    own_buffer: Amount | None = Field(
        None, description="Value of the exchange's own buffer; default 0"
    )
    assets: tuple[HeldAssetRow, ...] = Field((), description="Per-asset positions")
