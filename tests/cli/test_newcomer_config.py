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

from attestations.document.sign import public_key_hex, sign_attestation
from verifier.cli.options import NO_CONFIG

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
        # commented-out lines (the ownership proofs until step 4) are not values yet
        live = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
        for value in re.findall(r'"(REPLACE:[^"]*)"', live):
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


# ----------------------------------------------------------------------------- por challenge --epoch

UNFINISHED = """
[exchange]
name = "{name}"
attestation_id = "acme-2026-q4"

[ethereum]
url = "http://127.0.0.1:9"
chain_id = 31337
timeout = 1

[[ethereum.wallets]]
label = "cold"
class = "cold"
address = "0x0000000000000000000000000000000000000001"
ownership = {{ scheme = "eip191", signature = "0x00", epoch = "{epoch}" }}

[ownership]
max_age_days = 92
{epochs}
"""
"""A config part way through the newcomer's path: the wallet's proof names an epoch that
is not (properly) defined yet. Port 9 refuses: past the config, the node fails (exit 4)."""

PLACEHOLDER_EPOCH = """
[[ownership.epochs]]
id = "REPLACE: your epoch id"
ethereum = { height = 0, hash = "REPLACE: the 64 hex digit hash of the ethereum block" }
"""


def unfinished(tmp_path: Path, *, epoch: str, epochs: str, name: str = "Acme KK") -> Path:
    path = tmp_path / "por.toml"
    path.write_text(UNFINISHED.format(name=name, epoch=epoch, epochs=epochs))
    return path


@pytest.mark.parametrize(
    ("epoch", "epochs"),
    [
        ("REPLACE: your epoch id", PLACEHOLDER_EPOCH),  # the template's placeholders
        ("2026-q4", ""),  # the epoch removed: the proof names the epoch being created
        ("2026-q4", PLACEHOLDER_EPOCH),
    ],
)
def test_an_epoch_challenge_reads_a_config_whose_epoch_is_not_there_yet(
    por, tmp_path, epoch, epochs
):
    config = unfinished(tmp_path, epoch=epoch, epochs=epochs)
    res = por("challenge", "--config", config, "--epoch", "2026-q4", "--json")
    assert res.rc == 4, res.err  # past the config: the node (port 9) is what fails
    assert "Traceback" not in res.err
    # the normal load is as strict as before: every other command refuses this file
    for command in (["snapshot"], ["challenge"]):
        refused = por(*command, "--config", config)
        assert refused.rc == 3, refused.err
        assert "ownership" in refused.err_flat
    assert por("config", "check", "--config", config).rc == 3


def test_a_placeholder_epoch_is_set_aside_with_a_note_and_keeps_the_indexes(tmp_path):
    from verifier.base.errors import InputError
    from verifier.inputs.config import load_config
    from verifier.inputs.epoch_config import load_for_epoch

    good = (
        '\n[[ownership.epochs]]\nid = "2026-q3"\nethereum = { height = 3, hash = "'
        + ("ab" * 32)
        + '" }\n'
    )
    config = unfinished(tmp_path, epoch="2026-q4", epochs=PLACEHOLDER_EPOCH + good)
    loaded, notes = load_for_epoch(config)
    assert [(e.id, e.key) for e in loaded.ownership.epochs] == [("2026-q3", "ownership.epochs[1]")]
    assert len(notes) == 1 and "ownership.epochs[0]" in notes[0] and "placeholder" in notes[0]
    with pytest.raises(InputError) as strict:
        load_config(config)
    # the placeholder id is not an epoch id ([A-Za-z0-9._:+-]): named first, before its hash
    assert strict.value.key == "ownership.epochs[0].id"
    # an entry that is filled in but wrong is still an error, named at its own index
    bad = good.replace("ab" * 32, "xyz")
    config = unfinished(tmp_path, epoch="2026-q4", epochs=PLACEHOLDER_EPOCH + bad)
    with pytest.raises(InputError) as relaxed:
        load_for_epoch(config)
    assert relaxed.value.key == "ownership.epochs[1].ethereum.hash"
    # and the same id twice too
    config = unfinished(tmp_path, epoch="2026-q4", epochs=good + good)
    with pytest.raises(InputError) as twice:
        load_for_epoch(config)
    assert twice.value.key == "ownership.epochs[1].id"


def test_an_epoch_challenge_refuses_a_placeholder_exchange_name(por, tmp_path):
    """The name is in the signed text: a cold-key round spent on a placeholder is wasted."""
    config = unfinished(tmp_path, epoch="2026-q4", epochs="", name="REPLACE: your name")
    res = por("challenge", "--config", config, "--epoch", "2026-q4", "--json")
    assert res.rc == 3
    assert "exchange.name" in res.err_flat and "placeholder" in res.err_flat


def test_the_template_leaves_ownership_commented_out_until_it_is_signed(por, tmp_path):
    assert por("init", "--dir", tmp_path).rc == 0
    text = (tmp_path / "por.toml").read_text()
    lines = text.splitlines()
    assert not [line for line in lines if line.startswith(("ownership", "[[ownership.epochs"))]
    assert sum(line.startswith("# ownership = {") for line in lines) == 2
    assert "# [[ownership.epochs]]" in lines
    assert "por challenge --config por.toml --epoch ID" in text and "paste" in text
    # and the next steps `por init` prints say so
    steps = " ".join(por("init", "--dir", tmp_path / "again", "--json").json()["next_steps"])
    assert "commented out" in steps and "[[ownership.epochs]]" in steps


def test_an_expiry_in_the_past_is_refused_before_any_node(por, tmp_path):
    config = unfinished(tmp_path, epoch="2026-q4", epochs="")
    res = por(
        "challenge", "--config", config, "--epoch", "new", "--expires", "2020-01-01T00:00:00Z"
    )
    assert res.rc == 2, res.err
    assert "2020-01-01T00:00:00Z" in res.err_flat and "not in the future" in res.err_flat
    assert "127.0.0.1:9" not in res.err_flat


def test_expiry_against_the_epoch_blocks_and_the_maximum_age():
    from chains.base import BlockRef, Chain
    from verifier.base.errors import UsageError
    from verifier.holdings.challenge_plan import expiry_warnings
    from verifier.inputs.config_values import OwnershipConfig, PorConfig

    config = PorConfig(Path("por.toml"), "Acme KK", "", ownership=OwnershipConfig(max_age_days=10))
    day = 86_400
    t0 = 1_900_000_000  # 2030-03-17T17:46:40Z
    btc = BlockRef(Chain.BITCOIN, "regtest", 5, "ab" * 32, t0)
    eth = BlockRef(Chain.ETHEREUM, "31337", 7, "cd" * 32, t0 + day)
    with pytest.raises(UsageError) as before:
        expiry_warnings(config, "2030-03-17T17:46:40Z", [btc, eth])  # == the btc block time
    assert "bitcoin block 5" in before.value.message
    with pytest.raises(UsageError) as between:
        expiry_warnings(config, "2030-03-18T00:00:00Z", [btc, eth])  # before the eth block
    assert "ethereum block 7" in between.value.message
    assert expiry_warnings(config, "2030-03-27T17:46:40Z", [btc, eth]) == []  # t0 + 10 days
    (warning,) = expiry_warnings(config, "2030-03-27T17:46:41Z", [btc, eth])
    assert "stale at 2030-03-27T17:46:40Z" in warning and "10 days" in warning
    assert "[ownership] max_age_days" in warning
    assert expiry_warnings(config, "2030-03-27T17:46:41Z", [replace_time(btc)]) == []


def replace_time(block: Any) -> Any:
    """The block without a time (a node that did not say): nothing to compare."""
    import dataclasses

    return dataclasses.replace(block, time=None)


# ----------------------------------------------------------------------------- url_env


def test_config_check_notes_an_unset_node_variable(por, tmp_path, monkeypatch):
    config = tmp_path / "por.toml"
    config.write_text(
        AUDITOR.format(name="Acme KK", id_line='attestation_id = "x-1"').replace(
            'url = "http://127.0.0.1:9"', 'url_env = "POR_TEST_NEWCOMER_ETH_URL"'
        )
    )
    monkeypatch.delenv("POR_TEST_NEWCOMER_ETH_URL", raising=False)
    res = por("config", "check", "--config", config, "--json")
    assert res.rc == 0 and res.json()["problems"] == []  # a note, not a problem
    assert res.json()["notes"] == [
        "ethereum.url_env: POR_TEST_NEWCOMER_ETH_URL is not set in this environment (set it "
        "where por runs: a run here fails naming it)"
    ]
    text = por("config", "check", "--config", config)
    assert "note: ethereum.url_env: POR_TEST_NEWCOMER_ETH_URL is not set" in text.out
    assert text.out.strip().splitlines()[-1] == "config OK"
    # set: no note; set to something that is no URL: a problem, the value never shown
    monkeypatch.setenv("POR_TEST_NEWCOMER_ETH_URL", "http://127.0.0.1:9")
    res = por("config", "check", "--config", config, "--json")
    assert res.rc == 0 and res.json()["notes"] == []
    monkeypatch.setenv("POR_TEST_NEWCOMER_ETH_URL", "ftp://secret-token@node")
    res = por("config", "check", "--config", config, "--json")
    assert res.rc == 3
    (problem,) = res.json()["problems"]
    assert problem["key"] == "ethereum.url_env" and "secret-token" not in res.out
