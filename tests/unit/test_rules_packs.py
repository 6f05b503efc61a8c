"""Rule packs: the built-in packs load with provenance per parameter; custom packs work the
same; malformed packs and unknown ids are input errors that say what is known."""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from verifier.base.errors import InputError
from verifier.reserve.pack import PARAMETER_KINDS, RulePack, Status, parameter_kind
from verifier.reserve.pack_file import known_packs, load_pack
from verifier.reserve.positions import inputs_from_statement
from verifier.reserve.rules import evaluate
from verifier.reserve.statement import load_statement

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures" / "reserve"
PACKS = ROOT / "verifier" / "reserve" / "packs"
BUILT_IN = ("ae-vara", "eu-mica", "hk-sfc", "jp-fsa-2026", "jp-psa")


def test_known_packs() -> None:
    assert known_packs() == BUILT_IN


@pytest.mark.parametrize("pack_id", BUILT_IN)
def test_builtin_pack_provenance(pack_id: str) -> None:
    pack = load_pack(pack_id)
    assert pack.id == pack_id
    assert pack.version and pack.name and pack.currency and pack.model in ("reserve", "capital")
    assert pack.parameters
    for parameter in pack.parameters:
        assert isinstance(parameter.status, Status)
        assert parameter.source
        assert isinstance(parameter.verified_on, date)
        assert parameter_kind(parameter.name) is not None
        assert not isinstance(parameter.value, float)


def test_pack_figures_of_rules_md() -> None:
    def value(pack: RulePack, name: str) -> object:
        parameter = pack.get(name)
        assert parameter is not None, name
        return parameter.value

    psa = load_pack("jp-psa")
    assert value(psa, "non_cold_limit") == Decimal("0.05")
    assert value(psa, "own_buffer_same_type") is True
    assert {p.status for p in psa.parameters} == {Status.LAW}
    fsa = load_pack("jp-fsa-2026")
    assert value(fsa, "c_cold") == Decimal("0.01") and value(fsa, "c_hot") == 1
    assert value(fsa, "volume_rate") == Decimal("0.0005")
    assert value(fsa, "k_inc") == Decimal("0.5") and value(fsa, "theta") == Decimal("0.5")
    assert value(fsa, "floor") == 2 * 10**9 and value(fsa, "cap") == 40 * 10**9
    assert (value(fsa, "m_ops_min"), value(fsa, "m_ops_max")) == (1, Decimal("1.5"))
    assert value(fsa, "buffer_credit") is True
    assert fsa.get("buffer_credit").status is Status.PH  # type: ignore[union-attr]
    hk = load_pack("hk-sfc")
    assert (value(hk, "c_cold"), value(hk, "c_hot")) == (Decimal("0.5"), Decimal(1))
    assert hk.get("c_cold").status is Status.GUIDE  # type: ignore[union-attr]
    mica = load_pack("eu-mica")
    assert [value(mica, f"minimum.class_{n}") for n in (1, 2, 3)] == [50_000, 125_000, 150_000]
    assert value(mica, "overheads_share") == Decimal("0.25")
    assert value(mica, "insurance_min_term_days") == 365
    assert value(mica, "insurance_min_notice_days") == 90
    assert value(mica, "insurance_require_authorised") is True
    vara = load_pack("ae-vara")
    assert value(vara, "minimum") == 1_500_000 and vara.currency == "AED"
    assert value(vara, "per_asset_coverage_min") == 1


def test_unknown_pack_lists_known_ones() -> None:
    with pytest.raises(InputError) as info:
        load_pack("jp-fsa-2027")
    message = str(info.value)
    for pack_id in BUILT_IN:
        assert pack_id in message
    assert info.value.value == "jp-fsa-2027"
    assert info.value.exit_code == 3


def test_missing_pack_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        load_pack(str(tmp_path / "mine.toml"))
    assert "not found" in str(info.value) and "jp-psa" in str(info.value)


def test_custom_pack_file_works_the_same(tmp_path: Path) -> None:
    text = (PACKS / "hk-sfc.toml").read_text(encoding="utf-8")
    text = text.replace('id = "hk-sfc"', 'id = "my-hk"').replace(
        '[parameters.c_cold]\nvalue = "0.5"', '[parameters.c_cold]\nvalue = "0.6"'
    )
    path = tmp_path / "my-pack.toml"
    path.write_text(text, encoding="utf-8")
    pack = load_pack(str(path))
    assert pack.id == "my-hk" and pack.origin == str(path)
    statement = load_statement(FIXTURES / "hk-sfc-worked.toml")
    result = evaluate(pack, statement, inputs_from_statement(statement), as_of=date(2026, 3, 31))
    assert result.required == Decimal("0.6") * Decimal("9.85e9") + Decimal("0.15e9")


def test_builtin_copy_loads_by_path(tmp_path: Path) -> None:
    path = tmp_path / "copy.toml"
    shutil.copy(PACKS / "eu-mica.toml", path)
    assert load_pack(str(path)).parameters == load_pack("eu-mica").parameters


GOOD_PACK = """
id = "mine"
version = "1"
name = "Mine"
currency = "JPY"
model = "reserve"

[parameters.c_cold]
value = "0.01"
status = "PH"
source = "ours"
verified_on = 2026-11-21

[parameters.c_hot]
value = "1"
status = "PH"
source = "ours"
verified_on = 2026-11-21

[parameters.floor]
value = "10"
status = "PH"
source = "ours"
verified_on = 2026-11-21
"""

BAD_PACKS = [
    ('value = "0.01"', "value = 0.01", "parameters.c_cold.value", "write amounts as strings"),
    ('value = "0.01"', 'value = "-0.01"', "parameters.c_cold.value", "negative"),
    ('status = "PH"', 'status = "DRAFT"', "parameters.c_cold.status", "LAW"),
    (
        "verified_on = 2026-11-21",
        'verified_on = "2026-11-21"',
        "parameters.c_cold.verified_on",
        "TOML date",
    ),
    ("verified_on = 2026-11-21", "", "parameters.c_cold.verified_on", "missing"),
    ('source = "ours"', 'source = ""', "parameters.c_cold.source", "non-empty"),
    ("[parameters.c_cold]", "[parameters.c_colder]", "parameters.c_colder", "unknown parameter"),
    ('model = "reserve"', 'model = "bank"', "model", "'bank'"),
    ('model = "reserve"', 'model = "capital"', "parameters.overheads_share", "missing"),
    ('currency = "JPY"', 'currency = "yen"', "currency", "'yen'"),
    ('id = "mine"', "", "id", "missing"),
    ('name = "Mine"', 'name = "Mine"\nextra = 1', "extra", "unknown key"),
    ('value = "10"', 'value = "10"\nnote = "x"', "parameters.floor.note", "unknown key"),
]


@pytest.mark.parametrize(
    ("old", "new", "key", "fragment"),
    BAD_PACKS,
    ids=[b[2] + str(i) for i, b in enumerate(BAD_PACKS)],
)
def test_bad_pack(tmp_path: Path, old: str, new: str, key: str, fragment: str) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(GOOD_PACK.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_pack(str(path))
    assert info.value.file == str(path)
    assert info.value.key == key
    assert fragment in str(info.value)


def test_cap_below_floor(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    cap = '\n[parameters.cap]\nvalue = "5"\nstatus = "PH"\nsource = "ours"\nverified_on = 2026-11-21\n'
    path.write_text(GOOD_PACK + cap, encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_pack(str(path))
    assert info.value.key == "parameters.cap"


def test_overrides() -> None:
    pack = load_pack("jp-fsa-2026")
    changed = pack.with_overrides(
        {
            "theta": "0.3",
            "buffer_credit": "false",
            "eligible_kinds": "cash, insurance",
            "horizon_days": "7",
        },
        on=date(2026, 1, 1),
    )
    assert changed.get("theta").value == Decimal("0.3")  # type: ignore[union-attr]
    assert changed.get("buffer_credit").value is False  # type: ignore[union-attr]
    assert changed.get("eligible_kinds").value == ("cash", "insurance")  # type: ignore[union-attr]
    assert changed.get("horizon_days").value == 7  # type: ignore[union-attr]
    assert changed.get("theta").status is Status.PH  # type: ignore[union-attr]
    assert pack.get("theta").value == Decimal("0.5")  # type: ignore[union-attr]  # unchanged
    for bad in (
        {"thetta": "1"},
        {"theta": "2"},
        {"buffer_credit": "maybe"},
        {"horizon_days": "x"},
        {"eligible_kinds": "cash,bitcoin"},
        {"floor": "50000000000"},
        {"volume_years": "0"},
    ):
        with pytest.raises(InputError):
            pack.with_overrides(bad, on=date(2026, 1, 1))


def test_parameter_kinds_cover_prefixes() -> None:
    assert parameter_kind("volume_rate.spot") == "rate"
    assert parameter_kind("minimum.class_9") == "amount"
    assert parameter_kind("volume_rate.") is None
    assert parameter_kind("nothing") is None
    assert "theta" in PARAMETER_KINDS


def test_parameters_in_json() -> None:
    statement = load_statement(FIXTURES / "eu-mica-worked.toml")
    pack = load_pack("eu-mica")
    doc = evaluate(
        pack, statement, inputs_from_statement(statement), as_of=date(2026, 1, 15)
    ).to_json()
    params = {p["name"]: p for p in doc["parameters"]}  # type: ignore[union-attr, index]
    assert set(params) == {p.name for p in pack.parameters}
    assert params["overheads_share"] == {
        "name": "overheads_share",
        "value": "0.25",
        "status": "LAW",
        "source": pack.get("overheads_share").source,  # type: ignore[union-attr]
        "verified_on": "2026-11-21",
    }
    assert params["eligible_kinds"]["value"] == ["capital", "insurance"]
    assert params["insurance_require_authorised"]["value"] is True
