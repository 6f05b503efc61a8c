"""Alerts: what a run raises (failure, shortfall, threshold, drift) and the webhook's
retries with backoff against a real aiohttp receiver that first answers 500."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from postgres_fixtures import WebhookReceiver

from verifier.base.errors import InputError
from verifier.history.alerts import Webhook, alerts_for, parse_drift, payload
from verifier.history.records import Coverage, RunRecord


def _run(status: str = "ok", btc: str | None = "1.0", error: str | None = None) -> RunRecord:
    coverage = {}
    if btc is not None:
        coverage["BTC"] = Coverage("BTC", 8, 100, 100, 0, Decimal(btc), Decimal(1), True)
    return RunRecord(
        1,
        "2026-01-01T00:00:00.000Z",
        "2026-01-01T00:00:01.000Z",
        status,
        0 if status == "ok" else 4,
        error,
        1000,
        "0.1.0",
        None,
        None,
        "JPY",
        None,
        None,
        None,
        None,
        coverage,
    )


def test_parse_drift() -> None:
    assert parse_drift("0.05") == Decimal("0.05")
    assert parse_drift("5%") == Decimal("0.05")
    assert parse_drift(None) is None
    for bad in ("x", "-1", "nan"):
        with pytest.raises(InputError):
            parse_drift(bad)


def test_failure_shortfall_threshold_and_drift() -> None:
    failed = _run("failed", None, "NodeUnavailable: gone")
    assert [a.kind for a in alerts_for(failed, None, None, None)] == ["failure"]
    report = {
        "verdict": {
            "breaches": [
                {"kind": "asset", "subject": "BTC", "message": "under"},
                {"kind": "reserve", "subject": "reserve", "message": "short"},
                {"kind": "combined", "subject": "combined", "message": "below 1"},
            ]
        }
    }
    kinds = [a.kind for a in alerts_for(_run(), report, None, None)]
    assert kinds == ["shortfall", "shortfall", "threshold"]
    previous = _run(btc="1.10")
    assert [a.kind for a in alerts_for(_run(btc="1.04"), {}, previous, Decimal("0.05"))] == [
        "drift"
    ]
    assert alerts_for(_run(btc="1.06"), {}, previous, Decimal("0.05")) == []
    assert alerts_for(_run(btc="1.04"), {}, previous, None) == []


def test_webhook_retries_after_500_then_delivers() -> None:
    receiver = WebhookReceiver([500, 503])
    slept: list[float] = []  # float-ok: seconds
    try:
        hook = Webhook(receiver.url, timeout=5, retries=3, backoff=0.5, sleep=slept.append)
        run = _run("failed", None, "boom")
        doc = payload(run, alerts_for(run, None, None, None), exchange="X", database="db")
        delivery = hook.send(doc)
    finally:
        receiver.close()
    assert delivery.delivered and delivery.attempts == 3
    assert slept == [0.5, 1.0]  # exponential backoff
    assert receiver.received == [doc]
    assert doc["format"] == "por-alert-v1" and doc["alerts"][0]["kind"] == "failure"


def test_webhook_gives_up_and_does_not_retry_a_4xx() -> None:
    receiver = WebhookReceiver([400])
    try:
        delivery = Webhook(receiver.url, retries=3, sleep=lambda _: None).send({"a": 1})
    finally:
        receiver.close()
    assert not delivery.delivered and delivery.attempts == 1 and delivery.status == 400
    down = Webhook("http://127.0.0.1:9/none", timeout=1, retries=2, sleep=lambda _: None)
    result = down.send({"a": 1})
    assert not result.delivered and result.attempts == 3
    with pytest.raises(InputError):
        Webhook("file:///etc/passwd")
