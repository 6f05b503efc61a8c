"""The scenarios a site publishes beside its attestation: a ``por-stress-v1`` document, read
and checked before it is shown.

Where it sits: a step of `por publish --stress FILE` (verifier/site/publish.py), after the
attestation directory is loaded (verifier/site/bundle.py) and before the pages are rendered
(verifier/site/pages.py renders the scenarios page with verifier/stress/html.py). `load_stress`
reads the file (bounded, a regular file), parses it as strict JSON (no floats, no duplicate
keys, bounded depth), checks every field the page shows against `StressDocument` (pydantic)
and checks that it is about the site's own report.

Invariants: every figure is a string of digits (base units) or an exact decimal string; a
field of the wrong type, a float, a figure that is not a decimal, or a document for another
report is refused (exit 3) naming the file, the key and the value; fields the page does not
show are allowed (a later engine may add some) and never rendered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from verifier.base.errors import InputError
from verifier.inputs.config_errors import schema_error
from verifier.site.files import read_input, read_json

BaseUnits = Annotated[str, Field(pattern=r"^[0-9]{1,80}$")]
"""An amount of an asset in base units: an integer string (no sign, at most 80 digits)."""
Amount = Annotated[str, Field(pattern=r"^-?[0-9]{1,40}(\.[0-9]{1,80})?$")]
"""A value, price, ratio or share: an exact decimal string (never a float, no exponent)."""
Text = Annotated[str, Field(max_length=4000)]


class _Model(BaseModel):
    # extra keys are allowed and never shown: the engine may add fields the page does not read
    model_config = ConfigDict(extra="allow", strict=True)


class StressAsset(_Model):
    code: Text
    decimals: Annotated[int, Field(ge=0, le=80)]
    liabilities: BaseUnits
    holdings_before: BaseUnits
    loss_units: BaseUnits
    loss_value: Amount | None = None
    price_before: Amount | None = None
    price_after: Amount | None = None
    paid_units: BaseUnits
    uncovered_units: BaseUnits
    uncovered_value: Amount | None = None
    coverage_before: Amount | None = None
    coverage_after: Amount | None = None
    made_whole: bool


class StressPayer(_Model):
    order: int
    kind: Literal["surplus", "cash", "insurance", "guarantee"]
    name: Text
    available: Amount | None = None
    paid: Amount
    currency: Text | None = None
    days: int | None = None
    notes: list[Text] = []


class WalletLost(_Model):
    wallet: Text | None = None
    label: Text | None = None
    class_: Text | None = Field(default=None, alias="class")
    vendor: Text | None = None
    custodian: Text | None = None
    chain: Text | None = None
    address: Text | None = None
    asset: Text | None = None
    units: BaseUnits
    share: Amount | None = None


class StressScenario(_Model):
    id: Text
    title: Text
    description: Text | None = None
    shocks: list[dict[str, Any]]
    made_whole: bool
    uncovered_value: Amount
    time_to_pay_days: int | None
    time_to_pay_note: Text | None = None
    events: list[dict[str, Any]] = []
    assets: list[StressAsset]
    payers: list[StressPayer]
    wallets_lost: list[WalletLost] = []


class SweepEntry(_Model):
    key: Text | None = None
    label: Text | None = None
    vendor: Text | None = None
    name: Text | None = None
    value: Amount
    absorbable_share: Amount
    absorbable_value: Amount
    fully_absorbed: bool


class StressSweep(_Model):
    peril: Text
    wallets: list[SweepEntry]
    vendors: list[SweepEntry]


class StressDocument(_Model):
    """The fields of a ``por-stress-v1`` document (docs/stress.md) that the site shows."""

    stress: Literal["por-stress-v1"]
    generated_at: Text
    report_id: Text
    exchange: Text | None = None
    currency: Text
    as_of: Text | None = None
    statement_note: Text | list[Text] | None = None
    scenarios: list[StressScenario]
    sweep: StressSweep | None = None


@dataclass(frozen=True, slots=True)
class StressFile:
    """A checked ``por-stress-v1`` document and its bytes, published as ``stress.json``."""

    doc: Mapping[str, Any]
    data: bytes


def load_stress(path: Path, report: Mapping[str, Any] | None) -> StressFile:
    """Read and check the scenarios document `path` for the site of `report`.

    Raises
    ------
    NotFound
        No such file.
    InputError
        Not a regular file, too large, not strict JSON, a field of the wrong type or an
        inexact figure (naming the key and value), no report on the site to check it
        against, or a ``report_id`` other than the site's report's.
    """
    data = read_input(path, what="scenarios document")
    raw = read_json(data, path, "scenarios document")
    if not isinstance(raw, Mapping):
        raise InputError("the scenarios document is not a JSON object", file=str(path))
    try:
        StressDocument.model_validate(raw)
    except ValidationError as exc:
        raise schema_error(path, exc.errors()[0]) from None
    if report is None:
        raise InputError(
            "the site has no report (report.json) to check the scenarios against: "
            "attest with a report, or publish without --stress",
            file=str(path),
        )
    if raw["report_id"] != report.get("report_id"):
        raise InputError(
            "the scenarios were evaluated against another report than the site's "
            f"({report.get('report_id')})",
            file=str(path),
            key="report_id",
            value=str(raw["report_id"]),
        )
    return StressFile(doc=raw, data=data)
