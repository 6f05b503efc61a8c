"""Wallet metadata (issue 14): por.toml's vendor, custodian, signing, segregation and own
keys and [vendors.<id>]; the customer/own split of a mixed wallet; the report's
concentration section with hand-computed figures; the rule pack's concentration limits;
reports and snapshots written before the metadata still load.

Figures (prices BTC 50,000, ETH 3,000 USD; see `world`):
  cold  (vendor signco,   custodian Acme):  4 BTC            = 200,000
  hot   (vendor vaultsoft, mixed, own 1 BTC): 2 BTC, 1 own    =  50,000 customer
  eth   (vendor vaultsoft, custodian Acme):  10 ETH           =  30,000
  buf   (own wallet):                        3 BTC            = not customer
  total customer value 280,000; signco 200,000 = 5/7 = 0.714285…; vaultsoft 80,000 = 2/7.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verifier.base.errors import InputError
from verifier.inputs.config import config_problems, load_config
from verifier.inputs.config_schema import SEGREGATIONS as SCHEMA_SEGREGATIONS
from verifier.inputs.config_values import whole_to_units
from verifier.reconcile.coverage import reconcile
from verifier.reconcile.values import SEGREGATIONS
from verifier.report.document import build_report
from verifier.report.html import render_html
from verifier.reserve.pack import parameter_kind
from verifier.reserve.pack_file import load_pack

_spec = importlib.util.spec_from_file_location(
    "_reconcile_cases_meta", Path(__file__).with_name("test_reconcile.py")
)
assert _spec is not None and _spec.loader is not None
cases = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cases)

SAT, WEI = 10**8, 10**18
VENDORS = {
    "signco": {"name": "SignCo", "kind": "signing", "notified": None, "registered": False},
    "vaultsoft": {"name": "VaultSoft", "kind": "wallet-software", "notified": "2026-04-01"},
}


def world(own_btc: int = 1 * SAT, **extra: Any) -> dict[str, Any]:
    cold = cases.address("cold", {"BTC": 4 * SAT})
    cold.update(vendor="signco", custodian="Acme", signing="2-of-3 multisig")
    hot = cases.address("hot", {"BTC": 2 * SAT}, cls="hot")
    hot.update(vendor="vaultsoft", segregation="mixed", own={"BTC": str(own_btc)})
    buf = cases.address("buf", {"BTC": 3 * SAT}, attribution="own")
    eth = cases.address("eth", {"ETH": 10 * WEI}, cls="hot", addr="0x" + "1" * 40)
    eth.update(vendor="vaultsoft", custodian="Acme")
    snap = cases.snapshot(
        cases.chain("bitcoin", {"BTC": 8}, cold, hot, buf),
        cases.chain("ethereum", {"ETH": 18}, eth),
    )
    snap["vendors"] = VENDORS
    snap.update(extra)
    return snap


OWED = {"BTC": (8, 5 * SAT), "ETH": (18, 10 * WEI)}
PRICES = {k: v for k, v in cases.PRICES.items() if k != "USDT"}


def limits(**params: Any) -> dict[str, Any]:
    doc = cases.evaluation("0", [("cash", "trust", "1")])
    doc["parameters"] = [{"name": k, "value": v, "status": "PH"} for k, v in params.items()]
    return doc


# ----------------------------------------------------------------------------- the split


def test_a_mixed_wallets_own_coins_are_own_not_customer_backing() -> None:
    rec = reconcile(OWED, world(), PRICES)
    btc = rec.assets[0]
    # cold 4 + hot 2 - 1 own = 5 BTC of customer backing: exactly the 5 owed
    assert (btc.cold, btc.hot, btc.own_other) == (4 * SAT, 1 * SAT, 4 * SAT)
    assert rec.exit_code == 0
    hot = next(h for h in rec.holdings if h.label == "hot")
    assert (hot.customer_units, hot.own_units) == ({"BTC": 1 * SAT}, {"BTC": 1 * SAT})
    assert "declared own coins" in hot.counted_as
    # without the declaration the same wallet backs customers with all of its 2 BTC
    plain = reconcile(OWED, world(own_btc=0), PRICES)
    assert plain.assets[0].hot == 2 * SAT


def test_a_declared_own_amount_above_the_balance_makes_all_of_it_own_with_a_warning() -> None:
    rec = reconcile(OWED, world(own_btc=3 * SAT), PRICES)
    hot = next(h for h in rec.holdings if h.label == "hot")
    assert hot.customer_units == {"BTC": 0} and hot.own_units == {"BTC": 2 * SAT}
    assert rec.assets[0].hot == 0 and rec.exit_code == 1  # 4 BTC held of 5 owed
    assert any("declares 3 BTC of its own but holds 2" in w for w in rec.warnings)


@given(
    balances=st.lists(st.integers(0, 10**12), min_size=1, max_size=5),
    own=st.integers(0, 5 * 10**12),
)
def test_customer_plus_own_is_the_balance_and_own_never_exceeds_the_declaration(
    balances: list[int], own: int
) -> None:
    addresses = []
    for i, units in enumerate(balances):
        a = cases.address(f"x{i}", {"BTC": units}, wallet="bitcoin.wallets[0]")
        a.update(segregation="mixed", own={"BTC": str(own)} if own else {})
        addresses.append(a)
    rec = reconcile(
        {"BTC": (8, 1)}, cases.snapshot(cases.chain("bitcoin", {"BTC": 8}, *addresses)), PRICES
    )
    taken = sum(h.own_units["BTC"] for h in rec.holdings)
    assert taken == min(own, sum(balances))
    for h in rec.holdings:
        assert h.customer_units["BTC"] + h.own_units["BTC"] == h.balances["BTC"] >= 0


# ----------------------------------------------------------------------------- concentration


def test_concentration_figures_by_hand() -> None:
    doc = build_report(reconcile(OWED, world(), PRICES), generated_at="t", input_hashes={})
    conc = doc["concentration"]
    assert conc["total"] == "280000" and conc["base"] == "customer holdings"
    rows = {r["vendor"]: r for r in conc["by_vendor"]}
    assert rows["signco"]["value"] == "200000"
    # 5/7 to 28 significant digits, rounded toward zero (never overstated)
    assert rows["signco"]["share"] == "0.7142857142857142857142857142"
    assert rows["vaultsoft"]["value"] == "80000"  # 50,000 hot customer + 30,000 ETH
    assert rows["vaultsoft"]["wallets"] == ["wallets.hot", "wallets.eth"]
    assert rows["vaultsoft"]["notified"] == "2026-04-01" and rows["signco"]["notified"] is None
    assert "wallets.buf" not in str(conc["by_vendor"])  # an own wallet holds no customer coins
    assert conc["largest_vendor"]["vendor"] == "signco"
    assert conc["largest_wallet"] == {
        "wallet": "wallets.cold",
        "label": "cold",
        "value": "200000",
        "share": rows["signco"]["share"],
    }
    custodians = {r["custodian"]: r["value"] for r in conc["by_custodian"]}
    assert custodians == {"Acme": "230000", "none declared": "50000"}
    assert conc["mixed_wallets"] == ["wallets.hot"]
    wallet = next(w for w in doc["wallets"] if w["label"] == "hot")
    assert (wallet["vendor"], wallet["vendor_name"], wallet["segregation"]) == (
        "vaultsoft",
        "VaultSoft",
        "mixed",
    )
    assert wallet["customer_units"] == {"BTC": "100000000"}
    assert wallet["own_units"] == {"BTC": "100000000"}


def test_old_snapshots_without_metadata_still_reconcile() -> None:
    snap = cases.snapshot(cases.chain("bitcoin", {"BTC": 8}, cases.address("c", {"BTC": SAT})))
    doc = build_report(
        reconcile({"BTC": (8, SAT)}, snap, PRICES), generated_at="t", input_hashes={}
    )
    (wallet,) = doc["wallets"]
    assert wallet["vendor"] is None and wallet["segregation"] == "customer"
    assert doc["concentration"]["by_vendor"][0]["name"] == "none declared"
    assert doc["concentration"]["largest_vendor"] is None


def test_an_old_report_without_concentration_renders() -> None:
    doc = build_report(reconcile(OWED, world(), PRICES), generated_at="t", input_hashes={})
    del doc["concentration"]
    for w in doc["wallets"]:
        for key in ("vendor", "vendor_name", "custodian", "signing", "segregation"):
            w.pop(key)
    page = render_html(doc)
    assert "Concentration" not in page and "<svg" in page


def test_html_shows_the_vendor_chart_and_an_unnotified_vendor() -> None:
    page = render_html(
        build_report(reconcile(OWED, world(), PRICES), generated_at="t", input_hashes={})
    )
    assert "Customer holdings by wallet vendor" in page
    assert "not notified" in page and "signco: 71.42%" in page


@pytest.mark.parametrize(
    ("field", "value"),
    [("segregation", "both"), ("own", {"BTC": "-1"}), ("own", "1"), ("vendor", 3)],
)
def test_hostile_snapshot_metadata_is_an_input_error(field: str, value: Any) -> None:
    snap = world()
    snap["chains"][0]["addresses"][1][field] = value
    with pytest.raises(InputError):
        reconcile(OWED, snap, PRICES)


# ----------------------------------------------------------------------------- pack limits


def test_pack_limits_are_breaches_that_fail_the_verdict() -> None:
    rec = reconcile(
        OWED,
        world(),
        PRICES,
        limits(max_vendor_share="0.7", vendors_must_be_notified=True, mixed_wallets_forbidden=True),
    )
    kinds = sorted((b.kind, b.subject) for b in rec.breaches)
    assert kinds == [
        ("concentration", "signco"),  # 71.42% > 70%
        ("concentration", "signco"),  # not notified
        ("segregation", "wallets.hot"),
    ]
    assert rec.exit_code == 1
    assert "71.42%" in rec.breaches[0].message and "[PH]" in rec.breaches[0].message


def test_a_share_below_the_limit_is_no_breach() -> None:
    # signco's share is 5/7 = 0.714…: under a limit of 0.72; the decision is exact (value
    # > limit x total), so 0.7142857142857142857142857142 (5/7 floored) is a breach
    rec = reconcile(OWED, world(), PRICES, limits(max_vendor_share="0.72"))
    assert rec.breaches == () and rec.exit_code == 0
    floored = limits(max_vendor_share="0.7142857142857142857142857142")
    assert [b.subject for b in reconcile(OWED, world(), PRICES, floored).breaches] == ["signco"]


def test_a_limit_of_the_wrong_type_is_refused() -> None:
    with pytest.raises(InputError, match="share"):
        reconcile(OWED, world(), PRICES, limits(max_vendor_share=0.7))


def test_pack_parameter_kinds() -> None:
    assert parameter_kind("max_vendor_share") == "share"
    assert parameter_kind("vendors_must_be_notified") == "bool"
    assert parameter_kind("mixed_wallets_forbidden") == "bool"
    pack = load_pack("jp-fsa-2026").with_overrides(
        {"vendors_must_be_notified": "true"}, on=__import__("datetime").date(2026, 12, 5)
    )
    assert pack.flag("vendors_must_be_notified")


# ----------------------------------------------------------------------------- por.toml

CONFIG = """
[exchange]
name = "X"
attestation_id = "x-1"
[bitcoin]
backend = "bcoin"
network = "regtest"
url = "http://127.0.0.1:1"
[[bitcoin.wallets]]
label = "hot"
class = "hot"
address = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
vendor = "vaultsoft"
custodian = "Acme"
signing = "MPC"
segregation = "mixed"
own = { BTC = "1.5" }
[vendors.vaultsoft]
name = "VaultSoft"
kind = "wallet-software"
notified = 2026-04-01
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "por.toml"
    path.write_text(text)
    return path


def test_config_reads_the_metadata(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, CONFIG))
    assert config.bitcoin is not None
    (wallet,) = config.bitcoin.wallets
    assert (wallet.vendor, wallet.custodian, wallet.signing) == ("vaultsoft", "Acme", "MPC")
    assert wallet.segregation_of == "mixed" and wallet.own == {"BTC": "1.5"}
    assert config.vendors["vaultsoft"].notified == "2026-04-01"
    plain = load_config(
        _write(tmp_path, CONFIG.replace('segregation = "mixed"\nown = { BTC = "1.5" }\n', ""))
    )
    assert plain.bitcoin is not None and plain.bitcoin.wallets[0].segregation_of == "customer"


@pytest.mark.parametrize(
    ("old", "new", "key", "words"),
    [
        (
            'vendor = "vaultsoft"',
            'vendor = "vaultsof"',
            "bitcoin.wallets[0].vendor",
            "did you mean 'vaultsoft'",
        ),
        (
            'segregation = "mixed"',
            'segregation = "own"',
            "bitcoin.wallets[0].segregation",
            "contradicts",
        ),
        (
            'own = { BTC = "1.5" }',
            'own = { BTC = "1.123456789" }',
            "bitcoin.wallets[0].own.BTC",
            "decimals",
        ),
        (
            'own = { BTC = "1.5" }',
            'own = { BTC = "1e3" }',
            "bitcoin.wallets[0].own.BTC",
            "whole units",
        ),
        ('own = { BTC = "1.5" }', "own = { BTC = 1.5 }", "bitcoin.wallets[0].own.BTC", "string"),
        (
            'own = { BTC = "1.5" }',
            'own = { ETH = "1" }',
            "bitcoin.wallets[0].own.ETH",
            "not an asset",
        ),
        (
            'own = { BTC = "1.5" }',
            'own = { BTC = "0" }',
            "bitcoin.wallets[0].own.BTC",
            "more than zero",
        ),
        ('segregation = "mixed"\n', "", "bitcoin.wallets[0].own", "mixed"),
        ('kind = "wallet-software"', 'kind = "software"', "vendors.vaultsoft.kind", "one of"),
        (
            "notified = 2026-04-01",
            'notified = "2026-04-01"',
            "vendors.vaultsoft.notified",
            "TOML date",
        ),
        (
            "notified = 2026-04-01",
            "notified = 2026-04-01T00:00:00Z",
            "vendors.vaultsoft.notified",
            "TOML date",
        ),
        ('name = "VaultSoft"\n', "", "vendors.vaultsoft.name", ""),
        ("[vendors.vaultsoft]", "[vendors.VaultSoft]", "vendors.VaultSoft", "vendor id"),
        (
            'name = "VaultSoft"',
            'name = "VaultSoft"\nshare = 1',
            "vendors.vaultsoft.share",
            "unknown",
        ),
    ],
)
def test_config_problems_name_the_key(
    tmp_path: Path, old: str, new: str, key: str, words: str
) -> None:
    assert old in CONFIG
    path = _write(tmp_path, CONFIG.replace(old, new))
    with pytest.raises(InputError) as caught:
        load_config(path)
    from verifier.base import safetoml

    found = config_problems(path, safetoml.load_path(path, what="config file")).problems
    messages = {str(getattr(p, "key", "")): str(p) for p, _ in found}
    assert any(k.startswith(key) and words in m for k, m in messages.items()), messages
    assert caught.value is not None


def test_whole_units_are_exact_or_refused() -> None:
    assert whole_to_units("1.5", 8) == 150_000_000
    assert whole_to_units("1.50000000000", 8) == 150_000_000  # trailing zeros are exact
    assert whole_to_units("0.000000001", 8) is None
    assert whole_to_units("1e3", 8) is None and whole_to_units("-1", 8) is None
    assert whole_to_units("٣", 8) is None  # a non-ASCII digit


def test_segregations_are_spelt_one_way() -> None:
    assert SCHEMA_SEGREGATIONS == SEGREGATIONS


def test_a_breach_reads_above_its_limit() -> None:
    # 5/7 = 71.428571…% breaches 71.42%: two decimals read "71.42% above 71.42%"; the value
    # is grouped as the report's figures are
    rec = reconcile(OWED, world(), PRICES, limits(max_vendor_share="0.7142"))
    message = rec.breaches[0].message
    assert "hold 71.428% of the value" in message and "max_vendor_share 71.420%" in message
    assert "(200,000 USD)" in message
    floored = limits(max_vendor_share="0.7142857142857142857142857142")
    message = reconcile(OWED, world(), PRICES, floored).breaches[0].message
    assert "hold 71.42857142857142857142857143%" in message
    assert "max_vendor_share 71.42857142857142857142857142%" in message


def test_a_notice_dated_after_the_as_of_day_is_not_a_notice() -> None:
    # A vendor notified on 2026-12-01 was not notified on 2026-11-21, the day the
    # liabilities are committed for; on the day itself or after, it was.
    from decimal import Decimal

    from verifier.reconcile.concentration import Concentration, Group, limit_breaches
    from verifier.reconcile.values import VendorInfo

    conc = Concentration(
        currency="JPY",
        total=Decimal(10),
        by_vendor=(Group("vaultsoft", Decimal(10), ("bitcoin.wallets[0]",)),),
        by_custodian=(),
        by_wallet=(),
        mixed_wallets=(),
        vendors={"vaultsoft": VendorInfo("vaultsoft", "VaultSoft", "wallet-software", "2026-12-01")},
    )
    rule = {"vendors_must_be_notified": (True, "PROP")}
    late = limit_breaches(conc, rule, "2026-11-21T00:00:00Z")
    assert [b.subject for b in late] == ["vaultsoft"]
    assert "by 2026-11-21 (notice dated 2026-12-01)" in late[0].message
    assert limit_breaches(conc, rule, "2026-12-01") == []
    assert limit_breaches(conc, rule, "2026-12-05") == []
    assert limit_breaches(conc, rule, None) == []
