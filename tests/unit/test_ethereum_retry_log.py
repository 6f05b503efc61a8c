"""The Ethereum adapter's retries are log records, as chains.rpc's are: each names the
attempt, the backoff and the node by its masked URL (an API key in the URL never shows)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from chains.ethereum import EthereumAdapter
from verifier.base.errors import NodeUnavailable

SECRET = "k3yInTheUrl0123456789abcdef"


@pytest.fixture
async def busy() -> AsyncIterator[tuple[list[str], str]]:
    """A node that answers every request HTTP 503 (transient: retried)."""
    asked: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        asked.append(request.path)
        return web.Response(status=503, text="busy")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield asked, str(server.make_url("/")).rstrip("/")
    finally:
        await server.close()


async def test_each_retry_is_a_warning_with_attempt_backoff_and_masked_url(
    busy: tuple[list[str], str], caplog: pytest.LogCaptureFixture
) -> None:
    asked, url = busy
    caplog.set_level(logging.DEBUG, logger="chains.ethereum")
    adapter = EthereumAdapter(f"{url}/v3/{SECRET}", 31337, retries=2, backoff=0.001)
    async with adapter:
        with pytest.raises(NodeUnavailable, match="after 3 attempt"):
            await adapter.tip()
    records = [r for r in caplog.records if r.name == "chains.ethereum"]
    assert len(asked) == 3
    assert [r.levelno for r in records] == [logging.WARNING, logging.WARNING]
    assert [getattr(r, "attempt", None) for r in records] == [1, 2]
    assert [getattr(r, "backoff_seconds", None) for r in records] == [0.001, 0.002]  # float-ok: s
    for record in records:
        text = record.getMessage()
        assert "HTTP 503" in text and "retry" in text and url.split("//")[1] in text
        assert SECRET not in text


async def test_no_retry_no_record(
    busy: tuple[list[str], str], caplog: pytest.LogCaptureFixture
) -> None:
    asked, url = busy
    caplog.set_level(logging.DEBUG, logger="chains.ethereum")
    async with EthereumAdapter(url, 31337, retries=0) as adapter:
        with pytest.raises(NodeUnavailable):
            await adapter.tip()
    assert len(asked) == 1
    assert not [r for r in caplog.records if r.name == "chains.ethereum"]
