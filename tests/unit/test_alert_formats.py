"""Alert payloads (verifier/history/alerts.py) in each format, POSTed to a real local receiver:
por-alert-v1, Alertmanager's postable alerts (API v2) and a Slack incoming-webhook
message; their shape is checked field by field and no secret reaches any of them."""

from __future__ import annotations

import re
import sys
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from postgres_fixtures import WebhookReceiver, sample_report

from verifier.base.errors import InputError, NodeUnavailable, PorError
from verifier.history.alerts import FORMATS, Alert, Webhook, render_payload
from verifier.history.records import RunRecord
from verifier.history.schedule import RunOptions, run_once

SECRET = "s3cr3t-pa55"
CONFIG = """
[exchange]
name = "Demo"
attestation_id = "a-1"

[bitcoin]
backend = "bcoin"
url = "http://127.0.0.1:9"
network = "regtest"

[alerts]
retries = 0
format = "{format}"
"""

# Alertmanager's OpenAPI (api/v2/openapi.yaml): postableAlert = alert {labels, generatorURL}
# + startsAt, endsAt, annotations; labelSet is a map of strings.
POSTABLE_KEYS = {"labels", "annotations", "startsAt", "endsAt", "generatorURL"}
SLACK_BLOCK_TYPES = {"header", "section", "context", "divider"}


def _run(**over: Any) -> RunRecord:
    fields: dict[str, Any] = {
        "id": 7,
        "started_at": "2026-11-21T00:00:00.000Z",
        "finished_at": "2026-11-21T00:00:05.000Z",
        "status": "failed",
        "exit_code": 4,
        "error": "NodeUnavailable: node down",
        "duration_ms": 5000,
        "tool_version": "0.1.0",
        "config_hash": None,
        "report_id": None,
        "currency": None,
        "combined_ratio": None,
        "reserve_required": None,
        "reserve_eligible": None,
        "reserve_met": None,
    }
    return RunRecord(**{**fields, **over})


def check_alertmanager(document: Any) -> None:
    assert isinstance(document, list) and document
    for alert in document:
        assert set(alert) <= POSTABLE_KEYS and {"labels", "annotations", "startsAt"} <= set(alert)
        for field in ("labels", "annotations"):
            assert all(isinstance(k, str) and isinstance(v, str) for k, v in alert[field].items())
        assert re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", alert["labels"]["alertname"])
        assert alert["labels"]["severity"] in {"critical", "warning"}
        assert {"summary", "description"} <= set(alert["annotations"])
        datetime.fromisoformat(alert["startsAt"].replace("Z", "+00:00"))


def check_slack(document: Any) -> None:
    assert set(document) == {"text", "blocks"} and document["text"]
    blocks = document["blocks"]
    assert 1 <= len(blocks) <= 50
    for block in blocks:
        assert block["type"] in SLACK_BLOCK_TYPES
        if block["type"] == "header":
            assert block["text"]["type"] == "plain_text" and len(block["text"]["text"]) <= 150
        if block["type"] == "section":
            assert block["text"]["type"] == "mrkdwn" and len(block["text"]["text"]) <= 3000
        if block["type"] == "context":
            assert all(e["type"] == "mrkdwn" and len(e["text"]) <= 3000 for e in block["elements"])


def test_each_format_reaches_a_real_receiver_in_shape() -> None:
    run = _run(
        status="shortfall",
        exit_code=1,
        error=None,
        coverage={"BTC": SimpleNamespace()},  # only membership matters: BTC is an asset
    )
    alerts = [
        Alert("shortfall", "BTC", "BTC holdings 1 < liabilities 2 <b>&</b>"),
        Alert("threshold", "reserve", "eligible reserve under the requirement"),
        Alert("drift", "BTC", "coverage of BTC fell"),
    ]
    receiver = WebhookReceiver()
    try:
        for shape in FORMATS:
            document = render_payload(
                shape, run, alerts, exchange="Demo", attestation="a-1", database="/x/por.db"
            )
            assert Webhook(receiver.url, retries=0).send(document).delivered
    finally:
        receiver.close()
    received: list[Any] = receiver.received
    generic, manager, slack = received
    assert generic["format"] == "por-alert-v1" and len(generic["alerts"]) == 3
    check_alertmanager(manager)
    labels = [a["labels"] for a in manager]
    assert [x["alertname"] for x in labels] == [
        "PorShortfall",
        "PorThresholdBreached",
        "PorCoverageDrift",
    ]
    assert labels[0] == {
        "alertname": "PorShortfall",
        "severity": "critical",
        "subject": "BTC",
        "exchange": "Demo",
        "attestation": "a-1",
        "asset": "BTC",
    }
    assert "asset" not in labels[1] and labels[1]["severity"] == "warning"
    check_slack(slack)
    sections = [b["text"]["text"] for b in slack["blocks"] if b["type"] == "section"]
    assert len(sections) == 3 and "&lt;b&gt;&amp;&lt;/b&gt;" in sections[0]


def test_slack_keeps_within_its_limits() -> None:
    many = [Alert("threshold", f"check-{i}", "x" * 5000) for i in range(80)]
    document = render_payload(
        "slack", _run(), many, exchange="E" * 300, attestation=None, database=""
    )
    check_slack(document)
    assert "and 33 more" in document["blocks"][-2]["text"]["text"]


def test_an_unknown_format_names_the_key() -> None:
    with pytest.raises(InputError) as caught:
        render_payload("teams", _run(), [], exchange=None, database="")
    assert caught.value.key == "alerts.format"


@pytest.mark.parametrize("shape", FORMATS)
def test_config_format_and_no_secret_in_any_payload(tmp_path: Path, shape: str) -> None:
    (tmp_path / "por.toml").write_text(CONFIG.format(format=shape))
    receiver = WebhookReceiver()
    outcomes: list[Any] = [
        NodeUnavailable(f"node http://por:{SECRET}@127.0.0.1:9/x?apikey={SECRET} refused"),
        SimpleNamespace(report=sample_report(exit_code=1), exit_code=1),
    ]

    def fake(_config: object) -> Any:
        item = outcomes.pop(0)
        if isinstance(item, PorError):
            raise item
        item.report["verdict"] = {
            "breaches": [{"kind": "asset", "subject": "BTC", "message": "BTC not covered"}]
        }
        return item

    options = RunOptions(config_file=tmp_path / "por.toml", webhook=receiver.url, env={})
    try:
        assert run_once(options, fake).delivered
        assert run_once(options, fake).delivered
    finally:
        receiver.close()
    assert len(receiver.received) == 2
    assert SECRET not in repr(receiver.received)
    received: list[Any] = receiver.received
    failure, shortfall = received
    if shape == "generic":
        assert failure["alerts"][0]["kind"] == "failure"
    elif shape == "alertmanager":
        check_alertmanager(failure)
        check_alertmanager(shortfall)
        assert failure[0]["labels"]["alertname"] == "PorRunFailed"
        assert shortfall[0]["labels"]["asset"] == "BTC"
    else:
        check_slack(failure)
        check_slack(shortfall)
        assert "Demo" in failure["text"]


def test_the_flag_overrides_the_config(tmp_path: Path) -> None:
    (tmp_path / "por.toml").write_text(CONFIG.format(format="generic"))
    receiver = WebhookReceiver()
    options = RunOptions(
        config_file=tmp_path / "por.toml", webhook=receiver.url, alert_format="slack", env={}
    )

    def fail(_config: object) -> Any:
        raise NodeUnavailable("node down")

    try:
        run_once(options, fail)
    finally:
        receiver.close()
    (document,) = receiver.received
    check_slack(document)
