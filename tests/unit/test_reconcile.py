"""verifier.reconcile: per-asset and combined coverage, the reserve verdict, reserve inputs.

Inputs are built by hand in the shapes of the real documents (``por-snapshot-v1``, the
rule pack's evaluation); every expected figure is computed here independently, with
integers and `Decimal` in an explicit context.
"""

from __future__ import annotations

from decimal import Decimal, localcontext
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from attestations.encoding import AssetSpec
from attestations.proofs import RootDocument, SumNode, format_units
from verifier.base.errors import InputError
from verifier.inputs.prices import Price
from verifier.reconcile.coverage import reconcile
from verifier.reconcile.numbers import EXACT, dec_str, floor_ratio
from verifier.reconcile.reserve_inputs import reserve_inputs
from verifier.reconcile.values import OwnBufferRule, Thresholds

BTC, ETH, USDT = 8, 18, 6
SAT = 10**8
WEI = 10**18


def price(value: str, currency: str = "USD") -> Price:
    return Price(Decimal(value), currency, "fixture", "2026-11-21T00:00:00Z")


PRICES = {"BTC": price("50000"), "ETH": price("3000"), "USDT": price("1")}


def address(
    label: str,
    balances: dict[str, int],
    *,
    cls: str = "cold",
    attribution: str = "customer",
    status: str = "proven",
    addr: str | None = None,
    wallet: str | None = None,
) -> dict[str, Any]:
    where = addr or f"addr-{label}"
    return {
        "label": label,
        "wallet": wallet or f"wallets.{label}",
        "class": cls,
        "attribution": attribution,
        "address": where,
        "balances": {code: str(units) for code, units in balances.items()},
        "ownership": {
            "address": where,
            "status": status,
            "scheme": "bip137" if status == "proven" else None,
            "reason": "fixture",
        },
    }


def chain(name: str, decimals: dict[str, int], *addresses: dict[str, Any]) -> dict[str, Any]:
    totals = {code: {"proven": 0, "unproven": 0, "custodial": 0} for code in decimals}
    for a in addresses:
        for code, units in a["balances"].items():
            totals[code][a["ownership"]["status"]] += int(units)
    return {
        "chain": name,
        "network": "regtest" if name == "bitcoin" else "31337",
        "height": 160,
        "block_hash": "ab" * 32,
        "method": "fixture",
        "requests": 1,
        "challenge": "por ownership proof",
        "addresses": list(addresses),
        "totals": {
            code: {
                kind: {"base_units": str(u), "amount": format_units(u, decimals[code])}
                for kind, u in kinds.items()
            }
            for code, kinds in totals.items()
        },
    }


def snapshot(*chains: dict[str, Any], attestation_id: str = "att-1") -> dict[str, Any]:
    return {
        "snapshot": "por-snapshot-v1",
        "exchange": "Example Exchange",
        "attestation_id": attestation_id,
        "taken_at": "2026-11-21T00:00:00Z",
        "count_custodial": False,
        "chains": list(chains),
        "warnings": [],
    }


def evaluation(
    required: str,
    components: list[tuple[str, str, str]],
    *,
    checks: list[dict[str, Any]] | None = None,
    currency: str = "USD",
) -> dict[str, Any]:
    """An evaluation document: components are (kind, name, eligible amount)."""
    with localcontext(EXACT):
        total = sum((Decimal(c[2]) for c in components), Decimal(0))
        need = Decimal(required)
        shortfall = max(Decimal(0), need - total)
        surplus = max(Decimal(0), total - need)
    return {
        "pack": {"id": "test-pack", "version": "1", "name": "Test", "currency": currency},
        "required": {"amount": required, "formula": "R = test", "terms": []},
        "eligible": {
            "total": str(total),
            "insurance_cap": None,
            "components": [
                {"kind": k, "name": n, "amount": a, "eligible": a, "gates": []}
                for k, n, a in components
            ],
        },
        "shortfall": str(shortfall),
        "surplus": str(surplus),
        "met": shortfall == 0,
        "checks": checks or [],
        "parameters": [],
    }


def btc_eth(btc_held: int, eth_held: int) -> dict[str, Any]:
    return snapshot(
        chain("bitcoin", {"BTC": BTC}, address("btc-cold", {"BTC": btc_held})),
        chain("ethereum", {"ETH": ETH}, address("eth-cold", {"ETH": eth_held})),
    )


# ----------------------------------------------------------------------------- never netted


def test_per_asset_shortfall_is_never_netted_across_assets() -> None:
    owed = {"BTC": (BTC, 10 * SAT), "ETH": (ETH, 100 * WEI)}
    snap = btc_eth(20 * SAT, 90 * WEI)  # BTC 200% covered, ETH 90%

    # value ratio without capping: (20*50000 + 90*3000) / (10*50000 + 100*3000) = 1.5875 >= 1
    naive = Decimal(20 * 50000 + 90 * 3000) / Decimal(10 * 50000 + 100 * 3000)
    assert naive > 1

    rec = reconcile(owed, snap, PRICES)
    btc, eth = rec.assets
    assert btc.covered and btc.shortfall == 0 and btc.surplus == 10 * SAT
    assert not eth.covered
    assert eth.shortfall == 10 * WEI
    assert eth.ratio == Decimal("0.9")
    assert not rec.covered
    assert rec.exit_code == 1
    # capped: (10*50000 + 90*3000) / 800000 = 0.9625 — the BTC surplus does not count
    assert rec.combined.ratio == Decimal("0.9625")
    assert [b.subject for b in rec.breaches] == ["ETH", "combined"]
    assert "short by 10 ETH" in rec.breaches[0].message

    # enough off-chain reserve lifts the combined ratio to >= 1, the ETH breach stays
    rec = reconcile(owed, snap, PRICES, evaluation("1000", [("cash", "trust", "40000")]))
    assert rec.combined.met and rec.combined.ratio == Decimal("1.0125")
    assert rec.reserve_met is True
    assert [b.subject for b in rec.breaches] == ["ETH"]
    assert rec.exit_code == 1


def test_fully_covered_exits_zero() -> None:
    rec = reconcile(
        {"BTC": (BTC, 10 * SAT), "ETH": (ETH, 100 * WEI)},
        btc_eth(10 * SAT, 100 * WEI),
        PRICES,
        evaluation("100", [("cash", "trust", "100")]),
    )
    assert rec.covered and rec.combined.met and rec.reserve_met
    assert rec.breaches == ()
    assert rec.exit_code == 0


def test_per_asset_threshold_above_one_is_decided_exactly() -> None:
    owed = {"BTC": (BTC, 100 * SAT)}
    snap = snapshot(chain("bitcoin", {"BTC": BTC}, address("c", {"BTC": 101 * SAT})))
    strict = Thresholds(per_asset={"BTC": Decimal("1.02")})
    rec = reconcile(owed, snap, PRICES, thresholds=strict)
    assert rec.assets[0].shortfall == 0
    assert not rec.assets[0].covered
    assert rec.exit_code == 1
    assert "1 BTC more needed to reach the minimum" in rec.breaches[0].message
    exact = snapshot(chain("bitcoin", {"BTC": BTC}, address("c", {"BTC": 102 * SAT})))
    assert reconcile(owed, exact, PRICES, thresholds=strict).exit_code == 0


# ----------------------------------------------------------------------------- what counts


def mixed_snapshot() -> dict[str, Any]:
    return snapshot(
        chain(
            "bitcoin",
            {"BTC": BTC},
            address("cold", {"BTC": 5 * SAT}),
            address("hot", {"BTC": 1 * SAT}, cls="hot"),
            address("other", {"BTC": 1 * SAT}, cls="other"),
            address("unsigned", {"BTC": 2 * SAT}, status="unproven"),
            address("custodian", {"BTC": 3 * SAT}, cls="custodial", status="custodial"),
            address("buffer", {"BTC": 4 * SAT}, attribution="own"),
            address("own-hot", {"BTC": 1 * SAT}, cls="hot", attribution="own"),
        )
    )


def test_unproven_and_custodial_are_excluded_unless_count_custodial() -> None:
    owed = {"BTC": (BTC, 10 * SAT)}
    rec = reconcile(owed, mixed_snapshot(), PRICES)
    a = rec.assets[0]
    assert (a.cold, a.hot, a.other) == (5 * SAT, 1 * SAT, 1 * SAT)
    assert a.unproven == 2 * SAT and a.custodial == 3 * SAT
    assert a.holdings == 7 * SAT
    assert a.shortfall == 3 * SAT
    assert not a.covered

    counted = reconcile(owed, mixed_snapshot(), PRICES, count_custodial=True)
    a = counted.assets[0]
    assert a.holdings == 10 * SAT  # custodial now counts, unproven never does
    assert a.covered and counted.exit_code == 0
    labels = {h.label: h.counted_as for h in counted.holdings}
    assert labels["unsigned"] == "excluded: unproven"
    assert labels["custodian"] == "customer backing (custodial)"


def test_own_holdings_never_back_customer_liabilities() -> None:
    owed = {"BTC": (BTC, 10 * SAT)}
    rec = reconcile(owed, mixed_snapshot(), PRICES)
    a = rec.assets[0]
    assert a.own_buffer == 0 and a.own_other == 5 * SAT  # no rule: reported, not credited
    assert a.holdings == 7 * SAT

    ruled = reconcile(owed, mixed_snapshot(), PRICES, own_buffer=OwnBufferRule())
    a = ruled.assets[0]
    assert a.own_buffer == 5 * SAT and a.own_other == 0
    assert a.holdings == 7 * SAT  # the buffer still is not customer backing
    assert not a.covered

    cold_only = reconcile(
        owed, mixed_snapshot(), PRICES, own_buffer=OwnBufferRule(classes=frozenset({"cold"}))
    )
    assert cold_only.assets[0].own_buffer == 4 * SAT
    assert cold_only.assets[0].own_other == 1 * SAT


def test_reserve_inputs_shape_and_figures() -> None:
    owed = {"BTC": (BTC, 10 * SAT)}
    inputs = reserve_inputs(owed, mixed_snapshot(), PRICES, own_buffer=OwnBufferRule())
    assert inputs["currency"] == "USD"
    assert inputs["client_value_by_class"] == {
        "cold": "250000",
        "hot": "50000",
        "other": "50000",
        "custodial": "150000",
    }
    # buffer 5 BTC, but only the 2 BTC of non-cold customer holdings can be credited
    assert inputs["own_buffer_value"] == "100000"
    assert inputs["per_asset"] == [
        {
            "code": "BTC",
            "decimals": 8,
            "owed_units": str(10 * SAT),
            "held_units": str(7 * SAT),
            "hot_units": str(2 * SAT),
            "own_buffer_units": str(5 * SAT),
            "price": "50000",
        }
    ]
    with_custodial = reserve_inputs(owed, mixed_snapshot(), PRICES, count_custodial=True)
    assert with_custodial["per_asset"][0]["held_units"] == str(10 * SAT)
    assert with_custodial["own_buffer_value"] == "0"


def test_buffer_of_one_asset_does_not_offset_hot_holdings_of_another() -> None:
    snap = snapshot(
        chain("bitcoin", {"BTC": BTC}, address("hot", {"BTC": 1 * SAT}, cls="hot")),
        chain("ethereum", {"ETH": ETH}, address("own", {"ETH": 100 * WEI}, attribution="own")),
    )
    inputs = reserve_inputs(
        {"BTC": (BTC, 1 * SAT), "ETH": (ETH, 0)}, snap, PRICES, own_buffer=OwnBufferRule()
    )
    assert inputs["own_buffer_value"] == "0"


def test_duplicate_address_counts_once_and_conflicts_are_rejected() -> None:
    owed = {"ETH": (ETH, 10 * WEI)}
    mixed_case = "0x" + "Ab" * 20
    snap = snapshot(
        chain(
            "ethereum",
            {"ETH": ETH},
            address("a", {"ETH": 10 * WEI}, addr=mixed_case.lower()),
            address("b", {"ETH": 10 * WEI}, addr=mixed_case),
        )
    )
    rec = reconcile(owed, snap, PRICES)
    assert rec.assets[0].holdings == 10 * WEI
    assert rec.holdings[1].counted_as.startswith("duplicate of")

    snap["chains"][0]["addresses"][1]["attribution"] = "own"
    with pytest.raises(InputError, match="listed as"):
        reconcile(owed, snap, PRICES)


# ----------------------------------------------------------------------------- bad inputs


def test_missing_price_for_an_owed_asset_is_an_input_error() -> None:
    with pytest.raises(InputError, match="no price for ETH"):
        reconcile({"BTC": (BTC, SAT), "ETH": (ETH, WEI)}, btc_eth(SAT, WEI), {"BTC": PRICES["BTC"]})
    with pytest.raises(InputError, match="no price for ETH"):
        reserve_inputs({"ETH": (ETH, WEI)}, btc_eth(0, WEI), {"BTC": PRICES["BTC"]})


def test_zero_price_for_an_owed_asset_is_an_input_error() -> None:
    prices = {**PRICES, "ETH": price("0")}
    with pytest.raises(InputError, match="zero"):
        reconcile({"ETH": (ETH, WEI)}, btc_eth(0, WEI), prices)


def test_prices_in_two_currencies_or_another_than_the_pack_are_rejected() -> None:
    owed = {"BTC": (BTC, SAT), "ETH": (ETH, WEI)}
    with pytest.raises(InputError, match="more than one currency"):
        reconcile(owed, btc_eth(SAT, WEI), {**PRICES, "ETH": price("3000", "JPY")})
    with pytest.raises(InputError, match="rule pack reports in JPY"):
        reconcile(owed, btc_eth(SAT, WEI), PRICES, evaluation("1", [], currency="JPY"))


def test_float_is_refused() -> None:
    snap = btc_eth(SAT, WEI)
    snap["chains"][0]["addresses"][0]["balances"]["BTC"] = 1.5
    with pytest.raises(InputError, match="integer base units"):
        reconcile({"BTC": (BTC, SAT)}, snap, PRICES)
    doc = evaluation("1", [("cash", "c", "1")])
    doc["required"]["amount"] = 1.0
    with pytest.raises(InputError, match="decimal string"):
        reconcile({"BTC": (BTC, SAT)}, btc_eth(SAT, WEI), PRICES, doc)


def test_decimals_that_disagree_are_rejected() -> None:
    snap = snapshot(chain("ethereum", {"USDT": 18}, address("u", {"USDT": 5 * WEI})))
    with pytest.raises(InputError, match="6 decimals in the liabilities but 18"):
        reconcile({"USDT": (USDT, 5 * 10**6)}, snap, PRICES)


def test_snapshot_for_another_attestation_is_rejected() -> None:
    root = RootDocument(
        attestation_id="att-2",
        as_of="2026-11-21T00:00:00Z",
        assets=(AssetSpec("BTC", BTC),),
        height=1,
        root=SumNode(b"\x11" * 32, (SAT,)),
        commitment=b"\x22" * 32,
    )
    with pytest.raises(InputError, match="attestation"):
        reconcile(root, btc_eth(SAT, 0), PRICES)


def test_wrong_snapshot_format_is_rejected() -> None:
    snap = btc_eth(SAT, WEI)
    snap["snapshot"] = "por-snapshot-v0"
    with pytest.raises(InputError, match="por-snapshot-v1"):
        reconcile({"BTC": (BTC, SAT)}, snap, PRICES)


def test_inconsistent_evaluation_is_rejected() -> None:
    doc = evaluation("100", [("cash", "c", "40")])
    doc["shortfall"] = "0"
    with pytest.raises(InputError, match="shortfall"):
        reconcile({"BTC": (BTC, SAT)}, btc_eth(SAT, 0), PRICES, doc)
    doc = evaluation("100", [("cash", "c", "40")])
    doc["met"] = True
    with pytest.raises(InputError, match="met with a shortfall"):
        reconcile({"BTC": (BTC, SAT)}, btc_eth(SAT, 0), PRICES, doc)


# ----------------------------------------------------------------------------- edge cases


def test_zero_liabilities_give_no_ratio_and_no_breach() -> None:
    rec = reconcile({"BTC": (BTC, 0), "ETH": (ETH, 0)}, btc_eth(SAT, 0), PRICES)
    btc, eth = rec.assets
    assert btc.ratio is None and eth.ratio is None
    assert btc.covered and eth.covered and btc.surplus == SAT
    assert rec.combined.liabilities_value == 0
    assert rec.combined.ratio is None and rec.combined.met
    assert rec.exit_code == 0


def test_zero_liabilities_need_no_price() -> None:
    rec = reconcile({"BTC": (BTC, SAT), "ETH": (ETH, 0)}, btc_eth(SAT, WEI), {"BTC": PRICES["BTC"]})
    assert rec.exit_code == 0
    assert any("ETH has no price" in w for w in rec.warnings)


def test_asset_held_but_not_owed_takes_decimals_from_the_snapshot() -> None:
    snap = snapshot(
        chain("ethereum", {"ETH": ETH, "USDT": USDT}, address("w", {"ETH": WEI, "USDT": 10**6}))
    )
    rec = reconcile({"ETH": (ETH, WEI)}, snap, PRICES)
    assert [(a.code, a.decimals, a.liabilities) for a in rec.assets] == [
        ("ETH", 18, WEI),
        ("USDT", 6, 0),
    ]
    assert any("USDT is held but not in the liabilities" in w for w in rec.warnings)


def test_huge_wei_sums_beyond_two_to_the_64_are_exact() -> None:
    big = 2**127 + 12345  # one tree total, far above 2**64
    owed = {"ETH": (ETH, big)}
    parts = [2**126 + 1, 2**126 + 7, 12338]  # sums to big + 1
    assert sum(parts) == big + 1
    snap = snapshot(
        chain(
            "ethereum",
            {"ETH": ETH},
            *(address(f"w{i}", {"ETH": p}, addr=f"0x{i:040x}") for i, p in enumerate(parts)),
        )
    )
    rec = reconcile(owed, snap, PRICES)
    eth = rec.assets[0]
    assert eth.holdings == big + 1 and eth.surplus == 1 and eth.shortfall == 0
    assert isinstance(eth.holdings, int)
    value = eth.value(eth.liabilities)
    assert value is not None
    with localcontext(EXACT):
        assert value == Decimal(big) * 3000 / Decimal(10**18)
    assert dec_str(value) == format_units(big * 3000, 18)
    short = reconcile({"ETH": (ETH, big + 2)}, snap, PRICES)
    assert short.assets[0].shortfall == 1


def test_combined_coverage_matches_a_hand_computed_value() -> None:
    owed = {"BTC": (BTC, 3 * SAT), "ETH": (ETH, 7 * WEI), "USDT": (USDT, 1_000_000 * 10**6)}
    prices = {"BTC": price("50123.45"), "ETH": price("2999.99"), "USDT": price("0.9998")}
    snap = snapshot(
        chain("bitcoin", {"BTC": BTC}, address("b", {"BTC": 4 * SAT})),  # over: capped at 3
        chain(
            "ethereum",
            {"ETH": ETH, "USDT": USDT},
            address("e", {"ETH": 6_500_000_000_000_000_001, "USDT": 999_000 * 10**6}),
        ),
    )
    doc = evaluation("5000", [("cash", "trust", "2500.5"), ("insurance", "policy", "1500")])
    rec = reconcile(owed, snap, prices, doc)
    with localcontext() as ctx:
        ctx.prec = 100
        numerator = (
            3 * Decimal("50123.45")
            + Decimal("6.500000000000000001") * Decimal("2999.99")
            + 999_000 * Decimal("0.9998")
            + Decimal("4000.5")
        )
        denominator = (
            3 * Decimal("50123.45") + 7 * Decimal("2999.99") + 1_000_000 * Decimal("0.9998")
        )
        assert numerator == Decimal("1172670.98500000000000299999")
        assert denominator == Decimal("1171170.28")
        expected = numerator / denominator
    assert rec.combined.numerator == numerator
    assert rec.combined.liabilities_value == denominator
    assert rec.combined.eligible_reserve == Decimal("4000.5")
    ratio = rec.combined.ratio
    assert ratio is not None
    assert ratio <= expected and expected - ratio < Decimal("1e-27")
    assert rec.combined.met
    assert rec.reserve_met is False  # 4000.5 eligible < 5000 required
    assert {b.kind for b in rec.breaches} == {"asset", "reserve"}


def test_failed_rule_pack_checks_are_breaches() -> None:
    doc = evaluation(
        "1",
        [("cash", "c", "1")],
        checks=[
            {
                "check": "non-cold share",
                "passed": False,
                "value": "0.07",
                "limit": "0.05",
                "status": "LAW",
                "reason": "non-cold customer crypto above 5% of value",
            },
            {
                "check": "ok",
                "passed": True,
                "value": "1",
                "limit": "1",
                "status": "PH",
                "reason": "",
            },
        ],
    )
    rec = reconcile({"BTC": (BTC, SAT)}, btc_eth(SAT, 0), PRICES, doc)
    assert [b.subject for b in rec.breaches] == ["non-cold share"]
    assert "[LAW]" in rec.breaches[0].message
    assert rec.exit_code == 1


def test_root_document_input() -> None:
    root = RootDocument(
        attestation_id="att-1",
        as_of="2026-11-21T00:00:00Z",
        assets=(AssetSpec("BTC", BTC), AssetSpec("ETH", ETH)),
        height=1,
        root=SumNode(b"\x11" * 32, (2 * SAT, 3 * WEI)),
        commitment=b"\x22" * 32,
    )
    rec = reconcile(root, btc_eth(2 * SAT, 3 * WEI), PRICES)
    assert rec.liabilities.attestation_id == "att-1"
    assert rec.liabilities.commitment == "22" * 32
    assert [a.liabilities for a in rec.assets] == [2 * SAT, 3 * WEI]
    assert rec.exit_code == 0


def test_cold_share_per_asset_and_aggregate() -> None:
    rec = reconcile({"BTC": (BTC, 7 * SAT)}, mixed_snapshot(), PRICES)
    assert rec.assets[0].cold_share == floor_ratio(5, 7)
    assert rec.cold_share() == floor_ratio(5, 7)


def test_thresholds_refuse_floats() -> None:
    with pytest.raises(InputError):
        Thresholds(min_coverage=1.0)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- properties

units = st.integers(min_value=0, max_value=2**130)


@given(owed=units, held=st.lists(units, min_size=0, max_size=4))
@example(owed=3, held=[1])  # 1/3 is not a finite decimal: the ratio must round down
@example(owed=2**128 - 1, held=[2**128 - 2])
@example(owed=0, held=[5])
def test_ratio_never_overstates_and_shortfall_is_never_negative(owed: int, held: list[int]) -> None:
    snap = snapshot(
        chain(
            "ethereum",
            {"ETH": ETH},
            *(address(f"w{i}", {"ETH": h}, addr=f"0x{i:040x}") for i, h in enumerate(held)),
        )
    )
    rec = reconcile({"ETH": (ETH, owed)}, snap, PRICES)
    a = rec.assets[0]
    assert a.holdings == sum(held)
    assert a.shortfall >= 0 and a.surplus >= 0
    assert a.holdings + a.shortfall >= a.liabilities
    assert a.shortfall == max(0, owed - sum(held))
    if a.ratio is None:
        assert owed == 0
    else:
        with localcontext(EXACT):
            assert a.ratio * a.liabilities <= a.holdings
    assert a.covered == (sum(held) >= owed)
    assert rec.exit_code == (0 if sum(held) >= owed else 1)


@given(
    owed=st.tuples(units, units),
    held=st.tuples(units, units),
    reserve=st.integers(min_value=0, max_value=10**40),
)
def test_a_surplus_never_offsets_another_assets_shortfall(
    owed: tuple[int, int], held: tuple[int, int], reserve: int
) -> None:
    rec = reconcile(
        {"BTC": (BTC, owed[0]), "ETH": (ETH, owed[1])},
        btc_eth(*held),
        PRICES,
        evaluation("0", [("cash", "trust", str(reserve))]),
    )
    assert rec.combined.capped_holdings_value <= rec.combined.liabilities_value
    every_asset = held[0] >= owed[0] and held[1] >= owed[1]
    assert rec.covered == every_asset
    if not every_asset:
        assert rec.exit_code == 1  # whatever the other asset's surplus or the reserve
    assert rec.exit_code == (0 if every_asset else 1)
