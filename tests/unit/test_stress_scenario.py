"""The scenario file: the shipped examples load, and every hostile key is refused (exit 3)
naming the file, the key and the value."""

from __future__ import annotations

from pathlib import Path

import pytest

from verifier.base import safetoml
from verifier.base.errors import InputError
from verifier.inputs.file_schemas import problems
from verifier.stress.scenario import example_path, load_scenarios, parse_scenarios

EXAMPLES = ("dmm-2024.toml", "bybit-2025.toml", "coincheck-2018.toml", "market-2022.toml")
HEAD = '[[scenarios]]\nid = "a"\ntitle = "t"\ndescription = "d"\n[[scenarios.shocks]]\n'


@pytest.mark.parametrize("name", EXAMPLES)
def test_shipped_examples_load(name: str) -> None:
    scenarios = load_scenarios(example_path(name)).scenarios
    assert len(scenarios) == 1 and scenarios[0].id == name.removesuffix(".toml")
    assert problems("scenarios", example_path(name)) == []


def test_shock_as_json_is_normalised() -> None:
    s = parse_scenarios(safetoml.loads(HEAD + 'kind = "loss"\nclass = "hot"\n', source="x"))
    assert s.scenarios[0].shocks[0].as_json() == {
        "kind": "loss",
        "class": "hot",
        "share": "1",
        "peril": "hack",
        "largest": False,
    }


@pytest.mark.parametrize(
    ("body", "key", "says"),
    [
        ('kind = "loss"\nclass = "hot"\nshare = 0.5\n', "scenarios[0].shocks[0].share", "float"),
        (
            'kind = "loss"\nclass = "hot"\nshare = "1.5"\n',
            "scenarios[0].shocks[0].share",
            "between 0 and 1",
        ),
        ('kind = "loss"\nclass = "warm"\n', "scenarios[0].shocks[0].class", "one of"),
        ('kind = "loss"\nclass = "hot"\ncolour = "red"\n', "scenarios[0].shocks[0].colour", ""),
        ('kind = "loss"\n', "scenarios[0].shocks[0]", "needs one of"),
        (
            'kind = "loss"\nclass = "hot"\nchange = "0.1"\n',
            "scenarios[0].shocks[0].change",
            "does not take",
        ),
        ('kind = "price"\nasset = "BTC"\n', "scenarios[0].shocks[0].price", "one of them"),
        (
            'kind = "price"\nasset = "BTC"\nchange = "-1.5"\n',
            "scenarios[0].shocks[0].change",
            "above -1",
        ),
        ('kind = "price"\nasset = "BTC"\nchange = "NaN"\n', "scenarios[0].shocks[0].change", ""),
        ('kind = "insurer_default"\npays = "some"\n', "scenarios[0].shocks[0].pays", "none"),
        ('kind = "insurer_default"\n', "scenarios[0].shocks[0]", "one of them"),
        ('kind = "meteor"\n', "scenarios[0].shocks[0].kind", "one of"),
        ('kind = "loss"\nclass = "hot"\nperil = "Hack!"\n', "scenarios[0].shocks[0].peril", ""),
        (
            'kind = "loss"\nclass = "hot"\nshare = "' + "9" * 60 + '"\n',
            "scenarios[0].shocks[0].share",
            "digits",
        ),
    ],
)
def test_hostile_shock_refused_naming_key(body: str, key: str, says: str) -> None:
    with pytest.raises(InputError, match=says or None) as info:
        parse_scenarios(safetoml.loads(HEAD + body, source="s.toml"), "s.toml")
    assert info.value.key == key and info.value.file == "s.toml" and info.value.exit_code == 3


def test_duplicate_ids_and_empty_files_refused(tmp_path: Path) -> None:
    twice = HEAD + 'kind = "loss"\nclass = "hot"\n'
    with pytest.raises(InputError, match="given twice"):
        parse_scenarios(safetoml.loads(twice + twice, source="s"), "s")
    for text in ("", "scenarios = []\n", '[[scenarios]]\nid = "a"\ntitle = "t"\n'):
        with pytest.raises(InputError):
            parse_scenarios(safetoml.loads(text, source="s"), "s")
    path = tmp_path / "dup.toml"
    path.write_text(HEAD + 'kind = "loss"\nkind = "loss"\n')
    with pytest.raises(InputError):
        load_scenarios(path)


SHOCK = '[[scenarios.shocks]]\nkind = "loss"\nclass = "hot"\n'


def _scenario(sid: str, title: str, description: str) -> str:
    """A one-scenario file; TOML escapes (\\n, \\u001b) written as they are."""
    return f'[[scenarios]]\nid = "{sid}"\ntitle = "{title}"\ndescription = "{description}"\n'


@pytest.mark.parametrize(
    ("sid", "title", "description", "key", "says"),
    [
        ("a\\n", "t", "d", "scenarios[0].id", "not a scenario id"),
        ("a\\u001b", "t", "d", "scenarios[0].id", "not a scenario id"),
        ("a", "t\\nforged row", "d", "scenarios[0].title", "U\\+000A"),
        ("a", "t\\u001b[31mred", "d", "scenarios[0].title", "U\\+001B"),
        ("a", "t\\u202eevil", "d", "scenarios[0].title", "U\\+202E"),
        ("a", "t\\tx", "d", "scenarios[0].title", "U\\+0009"),
        ("a", "t", "one\\n\\u001b[2Jcleared", "scenarios[0].description", "line 2.*U\\+001B"),
        ("a", "t", "one\\rtwo", "scenarios[0].description", "U\\+000D"),
        ("a", "t", "tab\\there", "scenarios[0].description", "U\\+0009"),
    ],
)
def test_control_characters_refused_in_id_title_description(
    sid: str, title: str, description: str, key: str, says: str, tmp_path: Path
) -> None:
    """As exchange.name (chains.challenge.line_problem): an id and a title are one line of
    visible characters; a description may break lines, and holds nothing else of the kind
    (an ESC would rewrite a terminal, a line break in a title forge a table row)."""
    text = _scenario(sid, title, description) + SHOCK
    with pytest.raises(InputError, match=says) as info:
        parse_scenarios(safetoml.loads(text, source="s.toml"), "s.toml")
    assert info.value.key == key and info.value.exit_code == 3
    (tmp_path / "s.toml").write_text(text)
    assert problems("scenarios", tmp_path / "s.toml")  # as `por config check` reads it


def test_a_description_keeps_its_line_breaks() -> None:
    text = _scenario("a", "Plain title, with – dashes", "First.\\n\\nSecond\\r\\nthird.") + SHOCK
    (scenario,) = parse_scenarios(safetoml.loads(text, source="s"), "s").scenarios
    assert scenario.title == "Plain title, with – dashes"
    assert scenario.description == "First.\n\nSecond\nthird."
