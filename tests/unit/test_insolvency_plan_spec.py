"""docs/spec/por-insolvency-v1.md §2 and the estate's published schema agree with the code:
the worked example's every figure recomputed with rules.py, the committed JSON Schema equal
to the generated one, the example estate read as the plan reads it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from attestations.encoding import AssetSpec
from verifier.inputs.file_schemas import schema_text
from verifier.insolvency.estate import SCHEMA_FILE, json_schema, read_estate
from verifier.insolvency.rules import PoolAsset, minor_per_unit, plan_distribution

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "docs" / "spec" / "por-insolvency-v1.md"
A, B, C = "11" * 32, "22" * 32, "33" * 32


def _example():  # type: ignore[no-untyped-def]
    x = minor_per_unit(Decimal("1.5"), 2, 2)
    y = minor_per_unit(Decimal("10"), 0, 2)
    return plan_distribution(
        [A, B, C],
        [[3, 1, 0], [1, 0, 2]],
        [PoolAsset("X", 2, 2, x), PoolAsset("Y", 0, 1, y)],
        policy="mixed",
        cash=500,
        deductions=200,
    )


def test_the_worked_example_recomputes() -> None:
    text = SPEC.read_text(encoding="utf-8")
    plan = _example()
    x, y = plan.assets
    fiat = plan.fiat
    assert fiat is not None
    claims = [[3, 1, 0], [1, 0, 2]]
    for i, name in enumerate("abc"):
        row = (
            f"| {name} | {claims[0][i]} | {x.allocation.shares[i]} | {claims[1][i]} | "
            f"{y.allocation.shares[i]} | {fiat.claims[i]} | {fiat.allocation.shares[i]} |"
        )
        assert row in text, row
    assert f"`T = {fiat.allocation.total}`" in text
    assert f"The pool is 500 − 200 = {fiat.pool}" in text
    assert x.allocation.cutoff is not None and x.allocation.cutoff.leaf_hash == A
    assert y.allocation.cutoff is not None and y.allocation.cutoff.leaf_hash == C
    assert fiat.allocation.cutoff is not None
    cut = (x.allocation.cutoff.remainder, y.allocation.cutoff.remainder)
    assert (
        f"Cutoffs: X ({cut[0]}, a), Y ({cut[1]}, c), fiat ({fiat.allocation.cutoff.remainder}, c)"
        in text
    )


def test_published_estate_schema_is_the_generated_one() -> None:
    committed = (ROOT / "docs" / "spec" / "schemas" / SCHEMA_FILE).read_text(encoding="utf-8")
    assert committed == schema_text(json_schema()), (
        f"{SCHEMA_FILE} is stale: run python -m verifier.insolvency.estate docs/spec/schemas"
    )


def test_the_example_estate_reads() -> None:
    assets = (AssetSpec("BTC", 8), AssetSpec("ETH", 18), AssetSpec("USDT", 6))
    estate = read_estate(ROOT / "docs" / "examples" / "estate.toml", assets)
    assert estate.policy == "mixed" and estate.currency == "USD"
    assert estate.available == {
        "BTC": 2_000_000_000,
        "ETH": 340282366923 * 10**18,
        "USDT": 12_345_100_000_000,
    }
    assert estate.cash == {"recovered": 0, "reserve": 5_000_000, "insurance": 1_000_025}
    assert estate.deductions_total == 500_000
