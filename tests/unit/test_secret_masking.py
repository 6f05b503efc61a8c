"""Registered secrets (node URLs read from url_file/url_env, password files, cookies) are
masked where a run's error is stored, read back, rendered by history and sent to a webhook;
a secret URL registers the parts of it a message may quote on their own."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from verifier.base import logs
from verifier.base.errors import NodeUnavailable
from verifier.history.alerts import FORMATS, Alert, render_payload
from verifier.history.records import RunRecord
from verifier.history.schedule import RunResult, error_document, unrecorded_summary
from verifier.history.store import Store
from verifier.history.view import history_json, render_history_html, render_table

SECRET_URL = "http://127.0.0.1:1/rpc/Zq7mysecrettok"
MESSAGE = f"NodeUnavailable: ethereum node at {SECRET_URL}: refused"


@pytest.fixture(autouse=True)
def fresh_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs, "_SECRETS", set())


@pytest.mark.parametrize(
    ("url", "parts", "kept"),
    [
        (SECRET_URL, {"Zq7mysecrettok", "/rpc/Zq7mysecrettok"}, {"/rpc", "127.0.0.1:1"}),
        (SECRET_URL + "/", {SECRET_URL, "Zq7mysecrettok", "/rpc/Zq7mysecrettok/"}, set()),
        ("http://h:1/rpc?k=Qx9hiddenvalue&chain=1", {"Qx9hiddenvalue", "/rpc?k=Qx9hiddenvalue&chain=1"}, {"chain=1", "/rpc"}),
        ("https://u:Pw5secretword@h/", {"Pw5secretword", "u:Pw5secretword"}, {"https://u"}),
        ("http://127.0.0.1:8545", set(), {"127.0.0.1", "8545"}),
        ("http://h:1/ethereum/mainnet", set(), {"ethereum", "mainnet", "h:1"}),
    ],
)  # fmt: skip
def test_a_secret_url_registers_its_secret_parts_not_its_host(
    url: str, parts: set[str], kept: set[str]
) -> None:
    logs.register_secret(url)
    registered = set(logs.secrets())
    assert url in registered and parts <= registered
    assert not kept & registered
    masked = logs.mask(f"node at {url.rstrip('/')} and its key {sorted(parts)}")
    assert all(part not in masked for part in parts)


def test_register_secret_of_a_plain_value_is_unchanged() -> None:
    logs.register_secret("  pw-Secret-7e1b  ")
    assert logs.secrets() == ("pw-Secret-7e1b",)


def test_the_store_masks_registered_secrets_on_write_and_on_read(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'por.db'}")
    store.ensure_ready()
    logs.register_secret(
        SECRET_URL
    )  # as verifier/inputs/config_values.py does when it reads url_file
    with store.writer() as writer:
        writer.record_failure(
            started_at="2026-12-05T00:00:00.000Z",
            finished_at="2026-12-05T00:00:01.000Z",
            duration_ms=1000,
            error=MESSAGE,
            exit_code=4,
            config_hash=None,
        )
    (stored,) = sqlite3.connect(tmp_path / "por.db").execute("SELECT error FROM runs").fetchone()
    assert "Zq7mysecrettok" not in stored and "ethereum node at ***" in stored
    # a row an older por stored unmasked is masked when read back
    with sqlite3.connect(tmp_path / "por.db") as raw:
        raw.execute("UPDATE runs SET error = ?", (MESSAGE,))
    (run,) = store.runs()
    assert run.error is not None and "Zq7mysecrettok" not in run.error


def failed_run(error: str) -> RunRecord:
    return RunRecord(
        id=7,
        started_at="2026-12-05T00:00:00.000Z",
        finished_at="2026-12-05T00:00:01.000Z",
        status="failed",
        exit_code=4,
        error=error,
        duration_ms=1000,
        tool_version="0",
        config_hash=None,
        report_id=None,
        currency=None,
        combined_ratio=None,
        reserve_required=None,
        reserve_eligible=None,
        reserve_met=None,
    )


def test_history_masks_what_it_renders() -> None:
    """A run as read from a database written before errors were masked at the source."""
    from rich.console import Console

    logs.register_secret(SECRET_URL)
    userinfo = "NodeUnavailable: bitcoin node at http://por:Pw5secretword@10.0.0.1:8332/"
    runs = [failed_run(MESSAGE), failed_run(userinfo)]
    console = Console(record=True, width=200)
    render_table(runs, console)
    shown = [
        console.export_text(),
        json.dumps(history_json(runs, "por.db")),
        render_history_html(runs, "por.db"),
    ]
    for text in shown:
        assert "Zq7mysecrettok" not in text and "Pw5secretword" not in text
        assert "ethereum node at ***" in text


@pytest.mark.parametrize("shape", FORMATS)
def test_alert_payloads_mask_the_run_error_and_messages(shape: str) -> None:
    logs.register_secret(SECRET_URL)
    run = failed_run(MESSAGE)
    alerts = [Alert("failure", "run", MESSAGE)]
    body = json.dumps(render_payload(shape, run, alerts, exchange="X", database="por.db"))
    assert "Zq7mysecrettok" not in body and "***" in body


def test_error_documents_are_masked_even_when_the_run_was_never_stored(tmp_path: Path) -> None:
    logs.register_secret(SECRET_URL)
    error = NodeUnavailable(f"ethereum node at {SECRET_URL}: refused")
    stored = error_document(RunResult(4, None, None, error, []))
    line = unrecorded_summary(error, "2026-12-05T00:00:00.000Z", tmp_path / "rep")
    files = [p.read_text() for p in (tmp_path / "rep").iterdir()]
    for text in (json.dumps(stored), json.dumps(line), *files):
        assert "Zq7mysecrettok" not in text and "ethereum node at ***" in text
