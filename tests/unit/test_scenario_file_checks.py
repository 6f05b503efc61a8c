"""Scenario-file checks a second outside tester asked for (issue 14):

- a file whose only scenario is invalid names that scenario's keys, without pydantic's echo
  "tuple should have at least 1 item after validation, not 0" on ``scenarios``;
- a scheduled run stores the first problem "and N more problems in this file", not only
  the first as if it were the only one;
- `por config check` flags a loss shock naming a wallet, label, vendor or custodian no
  wallet of por.toml has (a problem: every run would store that scenario as an error).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from verifier.base import safetoml
from verifier.base.errors import InputError
from verifier.inputs.config_check import scenario_selector_problems
from verifier.inputs.file_schemas import problems
from verifier.stress.scenario import parse_scenarios

ONLY_BAD = '[[scenarios]]\nid = "x"\nkind = 1\n'


def test_an_only_scenario_that_is_invalid_gives_no_spurious_length_message(
    tmp_path: Path,
) -> None:
    (tmp_path / "s.toml").write_text(ONLY_BAD)
    found = problems("scenarios", tmp_path / "s.toml")
    assert [p.key for p in found] == [
        "scenarios[0].title",
        "scenarios[0].description",
        "scenarios[0].shocks",
        "scenarios[0].kind",
    ]
    assert not any("at least 1 item" in p.message for p in found)
    # an empty list is still refused as such: nothing else says it
    (tmp_path / "s.toml").write_text("scenarios = []\n")
    (empty,) = problems("scenarios", tmp_path / "s.toml")
    assert empty.key == "scenarios" and "at least 1 item" in empty.message


def test_the_first_problem_says_how_many_more() -> None:
    with pytest.raises(InputError) as caught:
        parse_scenarios(safetoml.loads(ONLY_BAD, source="s.toml"), "s.toml")
    assert caught.value.key == "scenarios[0].title"
    assert caught.value.message.endswith("missing (and 3 more problems in this file)")
    assert str(caught.value) == caught.value.message
    one = '[[scenarios]]\nid = "x"\ntitle = "t"\ndescription = "d"\n'
    with pytest.raises(InputError) as single:
        parse_scenarios(safetoml.loads(one, source="s.toml"), "s.toml")
    assert "more problem" not in single.value.message


def test_a_scheduled_run_stores_the_count(tmp_path: Path) -> None:
    import stress_fixture as fx
    from test_stress_scheduled import _stress

    (tmp_path / "s.toml").write_text(ONLY_BAD)
    (only,) = _stress(tmp_path / "s.toml", 110 * fx.BTC).outcomes
    assert only.scenario_id is None
    assert "scenarios[0].title" in (only.error or "")
    assert "and 3 more problems in this file" in (only.error or "")


CONFIG: dict[str, Any] = {
    "bitcoin": {
        "wallets": [
            {"label": "cold", "vendor": "signco", "custodian": "Acme"},
            {"label": "hot", "vendor": "vaultsoft"},
        ]
    },
    "ethereum": {"wallets": [{"label": "eth-hot", "vendor": "vaultsoft"}]},
}


def _check(tmp_path: Path, shocks: str) -> list[tuple[str | None, str | None, str | None]]:
    path = tmp_path / "s.toml"
    path.write_text('[[scenarios]]\nid = "a"\ntitle = "t"\ndescription = "d"\n' + shocks)
    return [(p.key, p.value, p.suggestion) for p in scenario_selector_problems(CONFIG, path)]


def test_config_check_names_a_selector_no_wallet_has(tmp_path: Path) -> None:
    loss = '[[scenarios.shocks]]\nkind = "loss"\n{}\n'
    ok = (
        loss.format('vendor = "vaultsoft"\nclass = "hot"')
        + loss.format('wallet = "ethereum.wallets[0]"')
        + loss.format('label = "cold"\ncustodian = "Acme"')
        + '[[scenarios.shocks]]\nkind = "price"\nasset = "BTC"\nchange = "-0.3"\n'
    )
    assert _check(tmp_path, ok) == []
    bad = (
        loss.format('vendor = "vaultsfot"')
        + loss.format('wallet = "bitcoin.wallets[2]"')
        + loss.format('label = "warm"')
        + loss.format('custodian = "Nobody"')
    )
    assert _check(tmp_path, bad) == [
        ("scenarios[0].shocks[0].vendor", "vaultsfot", "vaultsoft"),
        ("scenarios[0].shocks[1].wallet", "bitcoin.wallets[2]", "bitcoin.wallets[1]"),
        ("scenarios[0].shocks[2].label", "warm", None),
        ("scenarios[0].shocks[3].custodian", "Nobody", None),
    ]
    (first,) = scenario_selector_problems(CONFIG, tmp_path / "s.toml")[:1]
    assert first.message == "no wallet of por.toml has this vendor (known: signco, vaultsoft)"
    assert first.file == str(tmp_path / "s.toml")


def test_selector_check_of_a_hostile_file_never_raises(tmp_path: Path) -> None:
    for text in ("scenarios = 1\n", "[[scenarios]]\nshocks = 3\n", "[[scenarios]]\nshocks = [1]\n"):
        (tmp_path / "s.toml").write_text(text)
        assert scenario_selector_problems(CONFIG, tmp_path / "s.toml") == []
    assert scenario_selector_problems({"bitcoin": {"wallets": 7}}, tmp_path / "absent.toml") == []
