"""Review fixes at the command line: `config schema` never drops a flag silently; `init`
and every atomic write name the file the user asked for (exit 4 when the file system
refuses, never a temporary name) and `init --dir` says to cd there first; a root-only log
option after the command says where it goes; the snapshot names an ownership status once."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

import pytest

import verifier.base.atomic
from verifier.base.atomic import write_atomic
from verifier.base.errors import PorError
from verifier.cli.reconcile import _render_snapshot
from verifier.inputs.config_reference import reference_table

# ----------------------------------------------------------------------------- config schema


def test_schema_markdown_and_json_together_is_a_usage_error(por) -> None:
    res = por("config", "schema", "--markdown", "--json")
    assert res.rc == 2
    assert "give one of --markdown or --json" in res.err_flat
    doc = res.json()  # under --json, one document still: the error
    assert doc["exit_code"] == 2 and "--markdown" in doc["message"]


def test_schema_markdown_out_writes_the_table(por, tmp_path: Path) -> None:
    res = por("config", "schema", "--markdown", "--out", tmp_path / "keys.md")
    assert res.rc == 0, res.err
    assert (tmp_path / "keys.md").read_text() == reference_table()


# ----------------------------------------------------------------------------- file system


def _refuse(code: int) -> Any:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise OSError(code, os.strerror(code), str(args[0]) if args else None)

    return refuse


@pytest.mark.parametrize(
    ("code", "reason"),
    [(errno.EACCES, "Permission denied"), (errno.EROFS, "Read-only file system")],
)
def test_init_into_a_directory_it_cannot_write_is_exit_4_naming_the_file(
    por, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, reason: str
) -> None:
    target = tmp_path / "exch"
    target.mkdir()
    # the file system refuses every new file, and (read-only) even the cleanup's unlink
    monkeypatch.setattr(verifier.base.atomic.tempfile, "mkstemp", _refuse(code))
    monkeypatch.setattr(Path, "unlink", _refuse(code))
    for as_json in (False, True):
        res = por("init", "--dir", target, *(["--json"] if as_json else []))
        assert res.rc == 4, res.err
        assert f"cannot write {target / 'por.toml'}: {reason}" in res.err_flat
        assert ".tmp-" not in res.out + res.err and "system error" not in res.err
        if as_json:
            assert res.json()["exit_code"] == 4
    assert list(target.iterdir()) == []


def test_init_under_a_regular_file_is_exit_4(por, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("x")
    res = por("init", "--dir", tmp_path / "a-file" / "exch")
    assert res.rc == 4
    assert f"cannot create the directory {tmp_path / 'a-file' / 'exch'}" in res.err_flat


def test_write_atomic_names_the_destination_never_the_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "replace", _refuse(errno.EROFS))
    with pytest.raises(PorError) as caught:
        write_atomic(tmp_path / "schema.json", b"{}")
    assert caught.value.exit_code == 4
    assert caught.value.message == (
        f"cannot write {tmp_path / 'schema.json'}: Read-only file system"
    )
    assert list(tmp_path.iterdir()) == []  # the temporary file is gone


def test_an_atomic_write_under_a_regular_file_names_it(por, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("x")
    out = tmp_path / "a-file" / "schema.json"
    res = por("config", "schema", "--out", out)
    assert res.rc == 4
    assert f"cannot write {out}:" in res.err_flat and "system error" not in res.err


def test_init_elsewhere_says_cd_there_first(
    por, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    res = por("init", "--dir", "exch dir", "--json")
    assert res.rc == 0, res.err
    steps = res.json()["next_steps"]
    assert steps[0] == "cd 'exch dir'" and "--config por.toml" in " ".join(steps[1:])
    res = por("init", "--dir", "other")
    assert res.rc == 0 and "1. cd other" in res.out
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    res = por("init", "--json")  # the current directory: nothing to cd to
    assert not res.json()["next_steps"][0].startswith("cd ")


# ----------------------------------------------------------------------------- log options


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (["reconcile", "-v"], "por -v reconcile …"),
        (["reconcile", "-vv"], "por -vv reconcile …"),
        (["reconcile", "-q"], "por -q reconcile …"),
        (["reconcile", "--log-level", "debug"], "por --log-level debug reconcile …"),
        (["reconcile", "--log-format=json"], "por --log-format=json reconcile …"),
        (["config", "check", "--verbose"], "por --verbose config check …"),
    ],
)
def test_a_root_option_after_the_command_says_where_it_goes(
    por, args: list[str], shown: str
) -> None:
    res = por(*args)
    assert res.rc == 2
    assert f"log options go before the command: {shown}" in res.err_flat
    res = por(*args, "--json")
    assert res.rc == 2 and shown in res.json()["message"]


def test_another_unknown_option_keeps_clicks_message(por) -> None:
    res = por("reconcile", "--nope")
    assert res.rc == 2 and "No such option" in res.err and "log options" not in res.err


# ----------------------------------------------------------------------------- snapshot text


def test_the_snapshot_names_each_status_once(capsys: pytest.CaptureFixture[str]) -> None:
    reasons = {
        "proven": "proven; signed for epoch e1 at block 5, 0 blocks before the pinned block",
        "stale": "stale, counted as unproven: epoch e0 proof expired at 2026-01-01T00:00:00Z",
        "custodial": "declared custodial: held by a custodian, not proven by signature",
        "unproven": "no ownership proof configured",
    }
    doc = {
        "exchange": "Ex",
        "attestation_id": "a-1",
        "taken_at": "2026-12-05T00:00:00Z",
        "chains": [
            {
                "chain": "bitcoin",
                "network": "regtest",
                "height": 5,
                "block_hash": "ab" * 32,
                "method": "m",
                "requests": 1,
                "addresses": [
                    {
                        "label": status,
                        "wallet": status,
                        "class": "hot",
                        "address": f"bcrt1q{status}",
                        "balances": {"BTC": "1"},
                        "ownership": {"status": status, "reason": reason},
                    }
                    for status, reason in reasons.items()
                ],
                "totals": {},
            }
        ],
    }
    _render_snapshot(doc)
    text = " ".join(capsys.readouterr().out.split())
    for status in ("proven", "stale"):
        assert f"{status} {status}" not in text
    assert "proven; signed for epoch e1" in text
    assert "stale, counted as unproven" in text
    assert "custodial; declared custodial" in text
    assert "unproven; no ownership proof configured" in text
    assert json.dumps(doc)  # the document itself is untouched
