"""The one retry policy (chains.retry): which failures are retried, the exact backoff, one
WARNING record per retry, and what giving up raises -- alone, through JsonRpc against a
real aiohttp server that warms up (RPC -28) or stays busy (HTTP 503), and through the alert
webhook against a real receiver."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import sys
import threading
import urllib.error
from collections.abc import AsyncIterator, Callable
from email.message import Message
from pathlib import Path
from typing import Any, NoReturn

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from chains.retry import (
    RetryPolicy,
    TransientStatus,
    classify_http,
    classify_webhook,
    unavailable,
)
from chains.rpc import JsonRpc
from verifier.base.errors import MalformedReply, NodeUnavailable, RpcError
from verifier.history.alerts import Delivery, Webhook

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from postgres_fixtures import WebhookReceiver

LOG = logging.getLogger("tests.retry")


def _response_error(status: int) -> aiohttp.ClientResponseError:
    return aiohttp.ClientResponseError(None, (), status=status)  # type: ignore[arg-type]


def _http_error(code: int) -> urllib.error.HTTPError:
    return urllib.error.HTTPError("http://hook", code, "x", Message(), None)


@pytest.mark.parametrize(
    ("exc", "reason", "transient"),
    [
        (aiohttp.ClientConnectionError(), "ClientConnectionError", True),
        (aiohttp.ServerDisconnectedError(), "ServerDisconnectedError", True),
        (aiohttp.ClientPayloadError(), "ClientPayloadError", True),
        (TimeoutError(), "TimeoutError", True),
        (TransientStatus(503, b"busy"), "HTTP 503", True),
        (_response_error(502), "HTTP 502", True),
        (_response_error(504), "HTTP 504", True),
        (_response_error(500), "HTTP 500", False),
        (_response_error(429), "HTTP 429", False),
        (RpcError("bcoin getblockcount: Loading", code=-28), "warming up (RPC -28)", True),
    ],
)
def test_http_rules(exc: BaseException, reason: str, transient: bool) -> None:
    failure = classify_http(exc)
    assert failure is not None
    assert (failure.reason, failure.transient) == (reason, transient)


@pytest.mark.parametrize(
    "exc",
    [RpcError("x", code=-5), RpcError("x"), MalformedReply("x"), ValueError("x"), KeyError("x")],
)
def test_http_rules_leave_other_errors_alone(exc: BaseException) -> None:
    assert classify_http(exc) is None


@pytest.mark.parametrize(
    ("exc", "reason", "transient"),
    [
        (_http_error(500), "HTTP 500", True),
        (_http_error(503), "HTTP 503", True),
        (_http_error(429), "HTTP 429", True),
        (_http_error(400), "HTTP 400", False),
        (_http_error(404), "HTTP 404", False),
        (urllib.error.URLError("Connection refused"), "Connection refused", True),
        (TimeoutError("timed out"), "timed out", True),
    ],
)
def test_webhook_rules(exc: BaseException, reason: str, transient: bool) -> None:
    failure = classify_webhook(exc)
    assert failure is not None
    assert (failure.reason, failure.transient) == (reason, transient)


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits asked of asyncio.sleep (none really waited)."""
    waits: list[float] = []
    real_sleep = asyncio.sleep

    async def record(delay: float, result: Any = None) -> Any:
        waits.append(delay)
        return await real_sleep(0, result)

    monkeypatch.setattr(asyncio, "sleep", record)
    return waits


def _failing(
    errors: list[BaseException], result: str = "ok"
) -> tuple[Callable[..., Any], list[int]]:
    """An attempt raising `errors` in turn, then returning `result`; and its call count."""
    calls: list[int] = []

    async def attempt() -> str:
        calls.append(1)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return result

    return attempt, calls


async def test_transient_failures_are_retried_with_exponential_backoff(
    slept: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="tests.retry")
    policy = RetryPolicy(retries=3, backoff=0.25, node="bcoin", log=LOG)
    attempt, calls = _failing([TimeoutError(), TransientStatus(503, b""), TimeoutError()])
    assert await policy.run(attempt, subject="bcoin at http://x/") == "ok"
    assert len(calls) == 4
    assert slept == [0.25, 0.5, 1.0]
    records = [r for r in caplog.records if r.name == "tests.retry"]
    assert [r.levelno for r in records] == [logging.WARNING] * 3
    assert [r.getMessage() for r in records] == [
        "bcoin at http://x/: TimeoutError; retry 1 of 3 in 0.25 s",
        "bcoin at http://x/: HTTP 503; retry 2 of 3 in 0.5 s",
        "bcoin at http://x/: TimeoutError; retry 3 of 3 in 1 s",
    ]
    assert [getattr(r, "attempt", None) for r in records] == [1, 2, 3]
    assert [getattr(r, "backoff_seconds", None) for r in records] == [0.25, 0.5, 1.0]
    assert {getattr(r, "node", None) for r in records} == {"bcoin"}


async def test_giving_up_raises_the_typed_error_after_every_attempt(slept: list[float]) -> None:
    policy = RetryPolicy(retries=2, backoff=0.01, node="bcoin", log=LOG)
    attempt, calls = _failing([TimeoutError()] * 5)
    with pytest.raises(NodeUnavailable) as caught:
        await policy.run(attempt, subject="s", give_up=unavailable("bcoin at x"))
    assert str(caught.value.message) == "bcoin at x failed (TimeoutError) after 3 attempts"
    assert isinstance(caught.value.__cause__, TimeoutError)
    assert len(calls) == 3 and len(slept) == 2


async def test_without_give_up_the_last_error_is_raised_unchanged(slept: list[float]) -> None:
    warming = RpcError("bcoin getinfo: Loading block index", code=-28)
    attempt, calls = _failing([warming] * 5)
    with pytest.raises(RpcError) as caught:
        await RetryPolicy(1, 0.01, "bcoin", LOG).run(attempt, subject="s")
    assert caught.value is warming and len(calls) == 2


async def test_a_final_failure_is_not_retried_and_says_one_attempt(
    slept: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="tests.retry")
    attempt, calls = _failing([_response_error(500)])
    with pytest.raises(NodeUnavailable, match=r"failed \(HTTP 500\) after 1 attempt$"):
        await RetryPolicy(3, 0.01, "ethereum", LOG).run(
            attempt, subject="s", give_up=unavailable("ethereum node at x")
        )
    assert len(calls) == 1 and slept == []
    assert not [r for r in caplog.records if r.name == "tests.retry"]


async def test_an_error_the_rules_do_not_name_propagates_at_once(slept: list[float]) -> None:
    seen: list[int] = []

    def give_up(exc: BaseException, failure: object, attempts: int) -> NoReturn:
        seen.append(attempts)
        raise AssertionError("not for an unnamed error")

    attempt, calls = _failing([MalformedReply("bad shape")])
    with pytest.raises(MalformedReply, match="bad shape"):
        await RetryPolicy(3, 0.01, "n", LOG).run(attempt, subject="s", give_up=give_up)
    assert len(calls) == 1 and slept == [] and seen == []


async def test_zero_retries_is_one_attempt(slept: list[float]) -> None:
    attempt, calls = _failing([TimeoutError()])
    with pytest.raises(NodeUnavailable, match=r"after 1 attempt$"):
        await RetryPolicy(0, 0.01, "n", LOG).run(attempt, subject="s", give_up=unavailable("n"))
    assert len(calls) == 1 and slept == []


def test_the_synchronous_loop_waits_with_the_given_sleep() -> None:
    waits: list[float] = []
    policy = RetryPolicy(retries=3, backoff=0.5, node="webhook", log=LOG, sleep=waits.append)
    calls: list[int] = []

    def attempt() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise _http_error(503)
        return "delivered"

    assert policy.run_sync(attempt, subject="webhook", classify=classify_webhook) == "delivered"
    assert waits == [0.5, 1.0] and len(calls) == 3


# ----------------------------------------------------------------- through JsonRpc, a real server


@pytest.fixture
async def node() -> AsyncIterator[tuple[list[Any], str]]:
    """A JSON-RPC server answering from a script: each item is (HTTP status, JSON body); the
    last one is repeated. Returns the script (to fill) and the URL."""
    script: list[Any] = []
    asked: list[int] = []

    async def answer(request: web.Request) -> web.Response:
        body = await request.json()
        status, reply = script[min(len(asked), len(script) - 1)]
        asked.append(1)
        if isinstance(reply, dict):
            reply = {**reply, "id": body["id"]}
        return web.Response(status=status, text=json.dumps(reply))

    app = web.Application()
    app.router.add_post("/", answer)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield script, str(server.make_url("/"))
    finally:
        await server.close()


WARMING = {"result": None, "error": {"code": -28, "message": "Loading block index..."}}


async def test_a_warming_node_is_asked_again_until_it_answers(
    node: tuple[list[Any], str], caplog: pytest.LogCaptureFixture
) -> None:
    script, url = node
    script += [(500, WARMING), (500, WARMING), (200, {"result": 7, "error": None})]
    caplog.set_level(logging.DEBUG, logger="chains.rpc")
    async with JsonRpc(url, retries=3, backoff=0.001, name="bcoin") as rpc:
        assert await rpc.call("getblockcount") == 7
        assert rpc.requests == 3
    records = [r for r in caplog.records if r.name == "chains.rpc"]
    assert [getattr(r, "attempt", None) for r in records] == [1, 2]
    assert all(
        "bcoin getblockcount: warming up (RPC -28); retry" in r.getMessage() for r in records
    )


async def test_a_node_that_keeps_warming_up_raises_its_rpc_error(
    node: tuple[list[Any], str],
) -> None:
    script, url = node
    script += [(500, WARMING)]
    async with JsonRpc(url, retries=2, backoff=0.001, name="bcoin") as rpc:
        with pytest.raises(RpcError, match="Loading block index") as caught:
            await rpc.call("getblockcount")
        assert caught.value.code == -28 and rpc.requests == 3


async def test_a_json_answer_still_503_after_the_retries_is_read_as_any_other(
    node: tuple[list[Any], str],
) -> None:
    # the last answer of a busy node is decoded, not replaced by a give-up message: a JSON
    # error in it says more than "HTTP 503"
    script, url = node
    script += [(503, {"result": None, "error": {"code": -1, "message": "overloaded"}})]
    async with JsonRpc(url, retries=1, backoff=0.001, name="bitcoind") as rpc:
        with pytest.raises(RpcError, match="bitcoind getblockcount: overloaded"):
            await rpc.call("getblockcount")
        assert rpc.requests == 2


# ------------------------------------------------------------------ the webhook, a real receiver


def test_webhook_retries_are_warnings_with_the_url_masked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver = WebhookReceiver([503, 429, 503, 503])
    secret = "tok3nInTheQuery0123456789"
    slept: list[float] = []  # float-ok: seconds
    caplog.set_level(logging.DEBUG, logger="verifier.history.alerts")
    try:
        hook = Webhook(f"{receiver.url}?token={secret}", retries=2, backoff=0.5, sleep=slept.append)
        delivery = hook.send({"a": 1})
    finally:
        receiver.close()
    # three attempts, all refused transiently: the last answer is what the delivery reports
    assert delivery == Delivery(False, 3, 503, "HTTP 503")
    assert receiver.attempts == 3 and slept == [0.5, 1.0]
    records = [r for r in caplog.records if r.name == "verifier.history.alerts"]
    assert [r.levelno for r in records] == [logging.WARNING] * 2
    assert [getattr(r, "attempt", None) for r in records] == [1, 2]
    assert {getattr(r, "node", None) for r in records} == {"webhook"}
    assert "HTTP 503; retry 1 of 2 in 0.5 s" in records[0].getMessage()
    assert "HTTP 429; retry 2 of 2 in 1 s" in records[1].getMessage()
    for record in records:
        assert secret not in record.getMessage() and "token=***" in record.getMessage()


def test_a_garbled_webhook_answer_is_retried_not_a_traceback() -> None:
    # a receiver (or a proxy restarting) that answers no HTTP at all, then hangs up
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        port = listener.getsockname()[1]

        def garble() -> None:
            for _ in range(2):
                conn, _ = listener.accept()
                with conn:
                    conn.recv(65536)
                    conn.sendall(b"this is not HTTP\r\n\r\n")

        thread = threading.Thread(target=garble, daemon=True)
        thread.start()
        hook = Webhook(f"http://127.0.0.1:{port}/hook", timeout=5, retries=1, sleep=lambda _: None)
        delivery = hook.send({"a": 1})
        thread.join(10)
    assert not delivery.delivered and delivery.attempts == 2 and delivery.status is None
    assert delivery.error == "BadStatusLine"
