"""A newcomer's config, offline: `por config check` names every placeholder `por init` left
(none passes silently), an auditor's config may leave out `[exchange] attestation_id` for
`por verify --config` while every command that needs the id refuses it naming the key, and
`por challenge` finds its config as every command does (--config, POR_CONFIG, ./por.toml).
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest

from attestations.document import public_key_hex, sign_attestation
from verifier.cli import NO_CONFIG

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "_site_builder_newcomer", ROOT / "tests" / "browser" / "site_builder.py"
)
assert _spec is not None and _spec.loader is not None
builder = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(builder)
PUBLISHED = public_key_hex(builder.KEY)


# ----------------------------------------------------------------------------- placeholders


@pytest.mark.parametrize("pack", ["jp-fsa-2026", "eu-mica"])
def test_config_check_lists_every_placeholder_of_a_fresh_init(por, tmp_path, pack):
    assert por("init", "--dir", tmp_path, "--pack", pack).rc == 0
    expected: set[tuple[str, str]] = set()
    for name in ("por.toml", "prices.toml", "reserve.toml", "assets.toml"):
        text = (tmp_path / name).read_text()
        for value in re.findall(r'"(REPLACE:[^"]*)"', text):
            expected.add((name, value))
    assert ("por.toml", "REPLACE: your exchange's legal name") in expected
    res = por("config", "check", "--config", tmp_path / "por.toml", "--json")
    assert res.rc == 3
    problems = res.json()["problems"]
    placeholders = [p for p in problems if p["message"].startswith("placeholder not filled in")]
    listed = {(Path(p["file"]).name, p["value"]) for p in placeholders if p["key"] != "account_id"}
    assert listed == expected
    named = {p["key"] for p in placeholders if Path(p["file"]).name == "por.toml"}
    assert {"exchange.name", "exchange.attestation_id", "bitcoin.wallets[0].address"} <= named
    assert all(p["line"] >= 1 for p in placeholders)
    # the example customers of liabilities.csv are placeholders too, by line
    rows = [p for p in placeholders if p["key"] == "account_id"]
    assert [p["line"] for p in rows] == [2, 3]
    # a placeholder is named once, as a placeholder (not also as a bad address or hash)
    keys = [(p["file"], p["key"], p.get("line")) for p in problems]
    assert len(keys) == len(set(keys))
    assert not any("not a valid" in p["message"] or "block hash" in p["message"] for p in problems)
    text = por("config", "check", "--config", tmp_path / "por.toml")
    assert text.rc == 3
    assert "por.toml:10: exchange.name: placeholder not filled in" in text.out


def test_only_the_exchange_name_left_is_not_config_ok(por, tmp_path):
    """The one a schema cannot see: any one-line text is a valid name."""
    config = tmp_path / "por.toml"
    config.write_text(AUDITOR.format(id_line='attestation_id = "x-1"', name="REPLACE: your name"))
    res = por("config", "check", "--config", config, "--json")
    assert res.rc == 3
    (problem,) = res.json()["problems"]
    assert problem["key"] == "exchange.name" and problem["line"] == 3
    assert problem["message"] == "placeholder not filled in"
    config.write_text(AUDITOR.format(id_line='attestation_id = "x-1"', name="Acme KK"))
    res = por("config", "check", "--config", config)
    assert res.rc == 0 and res.out.strip() == "config OK"


# ----------------------------------------------------------------------------- auditor configs

AUDITOR = """
[exchange]
name = "{name}"
{id_line}

[ethereum]
url = "http://127.0.0.1:9"
chain_id = 31337
timeout = 1
"""
"""Port 9 refuses connections: a command that got past the config fails with exit 4."""


def auditor(tmp_path: Path, name: str, attestation_id: str | None) -> Path:
    id_line = "" if attestation_id is None else f'attestation_id = "{attestation_id}"'
    path = tmp_path / "auditor.toml"
    path.write_text(AUDITOR.format(name=name, id_line=id_line))
    return path


@pytest.fixture(scope="module")
def attestation(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    att_dir, _ = builder.make_attestation_dir(tmp_path_factory.mktemp("att"), "att-newcomer")
    path = att_dir / "attestation.json"
    doc: dict[str, Any] = json.loads(path.read_text())
    path.write_text(json.dumps(sign_attestation(doc, builder.KEY)))
    return path, doc


def test_verify_takes_an_auditor_config_without_attestation_id(por, attestation, tmp_path):
    path, doc = attestation
    pinned = ("--public-key", PUBLISHED, "--json")
    with_id = por(
        "verify",
        path,
        "--config",
        auditor(tmp_path, doc["exchange"], doc["attestation_id"]),
        *pinned,
    )
    without = por("verify", path, "--config", auditor(tmp_path, doc["exchange"], None), *pinned)
    assert without.rc == with_id.rc, without.err
    assert without.json()["discrepancies"] == with_id.json()["discrepancies"]
    assert not any("attestation_id" in d for d in without.json()["discrepancies"])
    # the name is still checked
    other = por("verify", path, "--config", auditor(tmp_path, "Other KK", None), *pinned)
    assert other.rc == 3 and any("Other KK" in d for d in other.json()["discrepancies"])
    # and config check accepts it, with a note saying what it is for
    res = por("config", "check", "--config", auditor(tmp_path, "Acme KK", None), "--json")
    assert res.rc == 0 and res.json()["problems"] == []
    assert "por verify --config" in res.json()["notes"][0]
    assert por("config", "check", "--config", tmp_path / "auditor.toml").out.startswith("note: ")


@pytest.mark.parametrize(
    "command",
    [
        ["snapshot"],
        ["reconcile"],
        ["attest", "--out", "att"],
        ["challenge"],
    ],
)
def test_commands_that_need_the_id_refuse_a_config_without_it(por, tmp_path, command):
    config = auditor(tmp_path, "Acme KK", None)
    if command[0] == "attest":
        command = ["attest", "--out", str(tmp_path / "att")]
    res = por(*command, "--config", config)
    assert res.rc == 3, res.err
    assert "exchange.attestation_id" in res.err_flat and str(config) in res.err_flat
    assert "127.0.0.1:9" not in res.err_flat  # refused before any node is asked
    assert "Traceback" not in res.err


def test_an_epoch_challenge_needs_no_attestation_id(por, tmp_path):
    res = por("challenge", "--config", auditor(tmp_path, "Acme KK", None), "--epoch", "e1")
    assert res.rc == 4, res.err  # past the config: the node (port 9) is not there
    assert "attestation_id" not in res.err_flat


# ----------------------------------------------------------------------------- --config


def test_challenge_finds_its_config_like_every_command(por, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("POR_CONFIG", raising=False)
    res = por("challenge")
    assert res.rc == 2 and NO_CONFIG in res.err_flat
    # POR_CONFIG: this config's missing id is named, so it was the one read
    env_config = auditor(tmp_path, "Env KK", None)
    monkeypatch.setenv("POR_CONFIG", str(env_config))
    res = por("challenge")
    assert res.rc == 3 and str(env_config) in res.err_flat
    # ./por.toml when there is no POR_CONFIG
    monkeypatch.delenv("POR_CONFIG")
    Path("por.toml").write_text(AUDITOR.format(name="Cwd KK", id_line=""))
    res = por("challenge")
    assert res.rc == 3 and "por.toml" in res.err_flat and "exchange.attestation_id" in res.err_flat
    # --config wins over POR_CONFIG
    monkeypatch.setenv("POR_CONFIG", str(tmp_path / "nowhere.toml"))
    res = por("challenge", "--config", "por.toml", "--epoch", "e1")
    assert res.rc == 4, res.err
