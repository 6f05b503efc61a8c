"""The assets file read by plain code (verifier/inputs/assets.py) gives exactly what its
pydantic model gives (verifier/inputs/assets_schema.py): the same specs for a file it
accepts, the same first refusal (message, key, value) for one it does not. The plain reader
only ever accepts; everything else is the model's, so this holds the two in step."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attestations.encoding import MAX_ASSETS, MAX_DECIMALS, AssetSpec
from verifier.base.errors import InputError
from verifier.inputs import assets
from verifier.inputs.assets_schema import AssetsFile
from verifier.inputs.file_schemas import validate

FILE = "assets.toml"


def _by_model(raw: dict[str, Any]) -> tuple[AssetSpec, ...] | tuple[str, str | None, str]:
    """The reading before the plain path existed: the model, then the count checks."""
    try:
        if not isinstance(raw.get("assets"), dict):
            raise InputError("no [assets.CODE] tables", file=FILE, key="assets")
        doc = validate(AssetsFile, raw, FILE)
        problems = assets.file_problems(doc, FILE)
        if problems:
            raise problems[0]
    except InputError as exc:
        return ("refused", exc.key, str(exc))
    specs = [AssetSpec(code=c, decimals=e.decimals) for c, e in doc.assets.items()]
    return tuple(sorted(specs, key=lambda s: s.code.encode()))


def _by_reader(raw: dict[str, Any]) -> tuple[AssetSpec, ...] | tuple[str, str | None, str]:
    try:
        return assets.assets_from(raw, FILE)
    except InputError as exc:
        return ("refused", exc.key, str(exc))


codes = st.one_of(
    st.from_regex(r"[A-Z0-9._-]{1,16}", fullmatch=True),
    st.sampled_from(["", "btc", "B TC", "A" * 17, "É", "BTC\n"]),
)
values = st.one_of(
    st.integers(-3, MAX_DECIMALS + 3),
    st.sampled_from([True, False, 8.0, "8", None, [], {}, 2**70]),
)
entries = st.one_of(
    st.fixed_dictionaries(
        {"decimals": values},
        optional={"name": st.one_of(st.text(max_size=5), st.integers()), "extra": st.just(1)},
    ),
    st.sampled_from([{}, {"name": "x"}, 8, "8", []]),
)
tables = st.dictionaries(codes, entries, max_size=4)


@settings(max_examples=400, deadline=None)
@given(tables, st.booleans())
def test_plain_reading_is_the_models(table, other_table):
    raw: dict[str, Any] = {"assets": table}
    if other_table:
        raw["other_tool"] = {"x": 1}  # other top-level tables are ignored by both
    assert _by_reader(raw) == _by_model(raw)


@pytest.mark.parametrize(
    "raw",
    [
        {"assets": {"BTC": {"decimals": 8}, "ETH": {"decimals": 18, "name": "Ether"}}},
        {"assets": {}},
        {"assets": {f"A{i}": {"decimals": 0} for i in range(MAX_ASSETS + 1)}},
        {"assets": {"BTC": {"decimals": True}}},
        {"assets": {"BTC": {"decimals": 8, "nmae": "x"}}},
        {"assets": {"btc": {"decimals": 8}}},
        {"assets": {"BTC": {"decimals": MAX_DECIMALS + 1}}},
        {"assets": "BTC"},
        {},
    ],
)
def test_hand_picked_files_read_alike(raw):
    assert _by_reader(raw) == _by_model(raw)


def test_a_well_formed_file_never_reaches_the_model(monkeypatch):
    def refuse(*_: object) -> None:
        raise AssertionError("the model was used for a well-formed file")

    monkeypatch.setattr(assets, "_model_decimals", refuse)
    got = assets.assets_from({"assets": {"ETH": {"decimals": 18}, "BTC": {"decimals": 8}}}, FILE)
    assert got == (AssetSpec("BTC", 8), AssetSpec("ETH", 18))


def test_a_faulty_file_is_refused_with_the_models_message():
    with pytest.raises(InputError) as caught:
        assets.assets_from({"assets": {"BTC": {"decimals": 8, "nmae": "x"}}}, FILE)
    assert caught.value.key == "assets.BTC.nmae" and "name" in str(caught.value)


def test_the_models_are_still_found_on_the_module():
    assert assets.AssetsFile is AssetsFile
    with pytest.raises(AttributeError):
        assets.NoSuchModel  # noqa: B018
