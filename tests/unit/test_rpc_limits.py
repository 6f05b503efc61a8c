"""Node replies under hostile servers: a cap on size, bounded decoding, secrets masked.

A tiny aiohttp server on 127.0.0.1 answers every request with one prepared reply: a body
over the configured cap (announced in Content-Length, streamed without one, or gzip that
inflates past it), JSON nested 100,000 levels deep, an integer of thousands of digits, a
batch item whose id is a list. Every adapter (JSON-RPC for Core and bcoin, Esplora REST,
Ethereum) must refuse each with a `ChainError` (exit 4) and never buffer a body past the
cap. URLs carrying a key are shown masked in every error and log record.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import queue
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from chains.bitcoin_bcoin import BcoinAdapter
from chains.bitcoin_core import CoreAdapter
from chains.esplora import EsploraAdapter
from chains.ethereum import EthereumAdapter
from chains.rpc import HttpJson, JsonRpc, ReplyTooLarge, basic_auth, check_endpoint, url_problem
from verifier.base.errors import (
    EXIT_INFRA,
    ChainError,
    InputError,
    MalformedReply,
    NodeUnavailable,
)
from verifier.cli.main import main

CAP = 4096
"""The reply cap the tests configure: small, so an oversized reply is cheap to send."""
SECRET = "s3cr3tAPIkey0123456789abcdef"


@dataclass
class Reply:
    """What the server answers to every request."""

    body: bytes = b"{}"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    chunked: bool = False
    """Stream the body in pieces without a Content-Length."""
    endless: bool = False
    """Stream 64 KiB pieces until the client hangs up (counts what was sent)."""
    sent: int = 0
    asked: list[str] = field(default_factory=list)
    """Path and query of every request."""


@pytest.fixture
async def server() -> AsyncIterator[tuple[Reply, str]]:
    reply = Reply()

    async def answer(request: web.Request) -> web.StreamResponse:
        await request.read()
        reply.asked.append(request.path_qs)
        if not (reply.chunked or reply.endless):
            return web.Response(body=reply.body, status=reply.status, headers=reply.headers)
        response = web.StreamResponse(status=reply.status, headers=reply.headers)
        response.enable_chunked_encoding()
        await response.prepare(request)
        piece = b" " * 65536 if reply.endless else reply.body[:1000]
        try:
            for _ in range(1 << 20 if reply.endless else 1):
                await response.write(piece)
                reply.sent += len(piece)
            if not reply.endless:
                await response.write(reply.body[1000:])
            await response.write_eof()
        except (ConnectionError, RuntimeError):
            pass  # the client hung up: what we want
        return response

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    test_server = TestServer(app, host="127.0.0.1")
    await test_server.start_server()
    try:
        yield reply, str(test_server.make_url("/")).rstrip("/")
    finally:
        await test_server.close()


AdapterCall = Callable[..., Awaitable[Any]]


async def _core(url: str, cap: int = CAP) -> Any:
    async with CoreAdapter(url, network="regtest", retries=0, max_reply_bytes=cap) as a:
        return await a.tip()


async def _bcoin(url: str, cap: int = CAP) -> Any:
    async with BcoinAdapter(url, network="regtest", retries=0, max_reply_bytes=cap) as a:
        return await a.tip()


async def _esplora(url: str, cap: int = CAP) -> Any:
    async with EsploraAdapter(url, network="regtest", retries=0, max_reply_bytes=cap) as a:
        return await a.tip()


async def _ethereum(url: str, cap: int = CAP) -> Any:
    async with EthereumAdapter(url, 31337, retries=0, max_reply_bytes=cap) as a:
        return await a.tip()


async def _esplora_json(url: str, cap: int = CAP) -> Any:
    # a JSON path of Esplora (the tip hash is plain text)
    async with EsploraAdapter(url, network="regtest", retries=0, max_reply_bytes=cap) as a:
        return await a._json("/block/" + "ab" * 32)


ADAPTERS: dict[str, AdapterCall] = {
    "core": _core,
    "bcoin": _bcoin,
    "esplora": _esplora,
    "ethereum": _ethereum,
}
JSON_ADAPTERS: dict[str, AdapterCall] = {**ADAPTERS, "esplora": _esplora_json}

BIG = b'{"result": "' + b"x" * (CAP * 4) + b'", "error": null, "id": 1}'


@pytest.mark.parametrize("name", ADAPTERS)
async def test_a_reply_announced_over_the_cap_is_refused(server: Any, name: str) -> None:
    reply, url = server
    reply.body = BIG
    with pytest.raises(ReplyTooLarge, match="announces") as info:
        await ADAPTERS[name](url)
    assert info.value.exit_code == EXIT_INFRA and str(CAP) in info.value.message


@pytest.mark.parametrize("name", ADAPTERS)
async def test_a_streamed_reply_over_the_cap_is_refused(server: Any, name: str) -> None:
    reply, url = server
    reply.body, reply.chunked = BIG, True
    with pytest.raises(ReplyTooLarge, match="over the cap"):
        await ADAPTERS[name](url)


@pytest.mark.parametrize("name", ["core", "ethereum"])
async def test_a_compressed_bomb_is_counted_inflated(server: Any, name: str) -> None:
    reply, url = server
    reply.body = gzip.compress(BIG * 50)  # about 1 KiB on the wire
    reply.headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    assert len(reply.body) < CAP
    with pytest.raises(ReplyTooLarge, match="over the cap"):
        await ADAPTERS[name](url)


async def test_an_endless_reply_stops_at_the_cap(server: Any) -> None:
    """The reader hangs up after the cap: the server gets to send only what fits in the
    socket buffers, not the gigabytes it would (a 2 GiB reply once cost 7 GB of memory)."""
    reply, url = server
    reply.endless = True
    async with HttpJson(url, retries=0, max_reply_bytes=1 << 20) as http:
        with pytest.raises(ReplyTooLarge):
            await http.get("/")
    assert reply.sent < 1 << 30


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="nested"),
        pytest.param(b'{"result": ' + b"9" * 5000 + b', "error": null, "id": 1}', id="digits"),
        pytest.param(b'{"result": 1e999999, "error": null, "id": 1}', id="exponent"),
        pytest.param(b'{"result": NaN, "error": null, "id": 1}', id="nan"),
        pytest.param(b'{"result": "\xff\xfe", "error": null, "id": 1}', id="utf8"),
        pytest.param(b"<html>not json</html>", id="not-json"),
    ],
)
@pytest.mark.parametrize("name", JSON_ADAPTERS)
async def test_hostile_json_is_a_malformed_reply(server: Any, name: str, body: bytes) -> None:
    reply, url = server
    reply.body = body
    # a cap with room for the body: the decoding is what must refuse it
    with pytest.raises(MalformedReply) as info:
        await JSON_ADAPTERS[name](url, cap=1 << 20)
    assert info.value.exit_code == EXIT_INFRA
    assert not isinstance(info.value, InputError)


async def test_a_nested_reply_is_named(server: Any) -> None:
    reply, url = server
    reply.body = b"[" * 100_000 + b"]" * 100_000
    async with JsonRpc(url, retries=0, name="bitcoind") as rpc:
        with pytest.raises(MalformedReply, match="nested more than 200 levels"):
            await rpc.call("getblockchaininfo")


@pytest.mark.parametrize(
    "items",
    [
        [{"id": [1], "result": 1, "error": None}],
        [{"id": {"a": 1}, "result": 1, "error": None}],
        [{"id": True, "result": 1, "error": None}],
        [7],
    ],
)
async def test_batch_items_with_odd_ids_are_malformed(server: Any, items: list[Any]) -> None:
    reply, url = server
    reply.body = json.dumps(items).encode()
    async with JsonRpc(url, retries=0) as rpc:
        with pytest.raises(MalformedReply):
            await rpc.batch([("getblockhash", [1])])
    async with EthereumAdapter(url, 1, retries=0) as eth:
        reply.body = json.dumps(items * 3).encode()
        with pytest.raises(MalformedReply):
            await eth.tip()


async def test_a_huge_rpc_error_message_is_cut(server: Any) -> None:
    reply, url = server
    reply.body = json.dumps({"id": 1, "result": None, "error": {"code": -1, "message": "m" * 3000}})
    reply.body = reply.body.encode() if isinstance(reply.body, str) else reply.body
    async with JsonRpc(url, retries=0) as rpc:
        with pytest.raises(ChainError) as info:
            await rpc.call("getblockchaininfo")
    assert len(info.value.message) < 400


async def test_the_cap_is_the_configured_one(server: Any) -> None:
    reply, url = server
    reply.body = b'{"result": "' + b"x" * 3000 + b'", "error": null, "id": 1}'
    async with JsonRpc(url, retries=0, max_reply_bytes=CAP) as rpc:
        assert await rpc.call("x") == "x" * 3000
    async with JsonRpc(url, retries=0, max_reply_bytes=2048) as rpc:
        with pytest.raises(ReplyTooLarge):
            await rpc.call("x")


# ---------------------------------------------------------------------- secrets in URLs


def _client_logs(caplog: pytest.LogCaptureFixture) -> str:
    """Every log record but the fake node's own access log (a real node logs its URLs)."""
    return "\n".join(
        record.getMessage()
        for record in caplog.records
        if not record.name.startswith(("aiohttp.access", "aiohttp.server", "aiohttp.web"))
    )


def _secret_url(url: str) -> str:
    host = url.removeprefix("http://")
    return f"http://por:{SECRET}@{host}/v3/{SECRET}?apikey={SECRET}"


@pytest.mark.parametrize("status", [200, 404, 500, 503])
@pytest.mark.parametrize("name", ADAPTERS)
async def test_errors_never_show_the_secret(
    server: Any, name: str, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    reply, url = server
    reply.status, reply.body = status, b"<html>busy</html>"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ChainError) as info:
        await ADAPTERS[name](_secret_url(url))
    assert SECRET not in str(info.value) and SECRET not in json.dumps(info.value.to_json())
    assert SECRET not in _client_logs(caplog)


@pytest.mark.parametrize("name", ADAPTERS)
async def test_an_unreachable_node_never_shows_the_secret(
    name: str, caplog: pytest.LogCaptureFixture
) -> None:
    from chains.nodes.base import free_port

    caplog.set_level(logging.DEBUG)
    with pytest.raises(NodeUnavailable) as info:
        await ADAPTERS[name](_secret_url(f"http://127.0.0.1:{free_port()}"))
    assert "127.0.0.1" in str(info.value)
    assert SECRET not in str(info.value) and SECRET not in _client_logs(caplog)


@pytest.mark.parametrize(
    "url",
    ["http://[::1", "file:///etc/passwd", "ftp://h/", "http://", "http://h:99999", "http://h:0"],
)
def test_adapters_refuse_unusable_urls_before_any_request(url: str) -> None:
    assert url_problem(url) is not None
    for make in (
        lambda: HttpJson(url),
        lambda: EthereumAdapter(url, 1),
        lambda: EsploraAdapter(url, network="regtest"),
        lambda: BcoinAdapter(url, network="regtest"),
        lambda: CoreAdapter(url, network="regtest"),
    ):
        with pytest.raises(InputError, match="node URL"):
            make()


def test_credentials_in_the_url_and_a_header_are_refused() -> None:
    url = f"http://por:{SECRET}@127.0.0.1:1"
    with pytest.raises(InputError, match="one way") as info:
        check_endpoint(url, authorization=basic_auth("por", "x"))
    assert SECRET not in str(info.value)
    check_endpoint(url)  # alone they are fine: aiohttp sends them as basic auth


@pytest.mark.parametrize("setting", [{"timeout": 0}, {"timeout": -1}, {"concurrency": 0}])
def test_settings_that_would_hang_are_refused(setting: dict[str, int]) -> None:
    with pytest.raises(InputError):
        HttpJson("http://127.0.0.1:1", **setting)  # type: ignore[arg-type]
    with pytest.raises(InputError):
        EthereumAdapter("http://127.0.0.1:1", 1, **setting)  # type: ignore[arg-type]


async def test_a_key_in_the_query_stays_in_the_query(server: Any) -> None:
    """An Esplora or bcoin URL with ``?key=…``: paths go before the query, not after it."""
    reply, url = server
    reply.body = b'"ok"'
    async with HttpJson(f"{url}/api/?key={SECRET}", retries=0) as http:
        assert await http.get("/blocks/tip/hash") == "ok"
        assert await http.get("") == "ok"
    assert reply.asked == [f"/api/blocks/tip/hash?key={SECRET}", f"/api/?key={SECRET}"]


# ---------------------------------------------------------------------- end to end


@pytest.fixture
def threaded_server() -> Iterator[tuple[Reply, str]]:
    """The same server in a thread of its own: `por` runs its own event loop."""
    reply = Reply()
    ready: queue.Queue[str] = queue.Queue()
    loop = asyncio.new_event_loop()

    async def answer(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=reply.body, status=reply.status)

    async def start() -> web.AppRunner:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", answer)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        ready.put(f"http://127.0.0.1:{port}")
        return runner

    def serve() -> None:
        asyncio.set_event_loop(loop)
        runner = loop.run_until_complete(start())
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield reply, ready.get(timeout=30)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)


@pytest.fixture
def por(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("COLUMNS", "100000")

    def run(*args: object) -> tuple[int, str, str]:
        capsys.readouterr()
        rc = main([str(a) for a in args])
        captured = capsys.readouterr()
        return rc, captured.out, " ".join(captured.err.split())

    return run


CONFIG = """
[exchange]
name = "Example Exchange"
attestation_id = "exch-2026-11"

[ethereum]
url = "{url}"
chain_id = 31337
timeout = 5
max_reply_bytes = {cap}
"""


def test_snapshot_refuses_an_oversized_reply_with_the_configured_cap(
    threaded_server: tuple[Reply, str], tmp_path: Path, por: Any
) -> None:
    """`max_reply_bytes` in por.toml reaches the adapter: exit 4, one line, no traceback."""
    reply, url = threaded_server
    reply.body = BIG
    config = tmp_path / "por.toml"
    config.write_text(CONFIG.format(url=url, cap=CAP))
    rc, out, err = por("snapshot", "--config", config, "--json")
    assert rc == 4, err
    assert json.loads(out)["error"] == "ReplyTooLarge"
    assert f"over the cap of {CAP}" in err and "Traceback" not in err


def test_snapshot_masks_the_key_of_a_failing_node(
    threaded_server: tuple[Reply, str],
    tmp_path: Path,
    por: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    reply, url = threaded_server
    reply.status, reply.body = 500, b"internal error"
    config = tmp_path / "por.toml"
    config.write_text(CONFIG.format(url=_secret_url(url), cap=CAP))
    caplog.set_level(logging.DEBUG)
    rc, out, err = por("snapshot", "--config", config, "--json")
    assert rc == 4, err
    assert json.loads(out)["exit_code"] == 4
    for where in (out, err, _client_logs(caplog)):
        assert SECRET not in where
