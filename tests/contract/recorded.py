"""Loopback HTTP servers that replay the synthetic recorded replies in fixtures/recorded/.

`CoreReplay` answers Bitcoin Core JSON-RPC (single calls and batches) by matching method +
params; `EsploraReplay` answers Esplora REST GETs by path. Both run an aiohttp server on a
free 127.0.0.1 port, record what they were asked, and load a base file plus variant files
(a variant's replies replace the base's for the same key).

Numbers are read as `Decimal` and written back digit for digit, never through float.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiohttp import web
from suite import Scenario

from chains.base import BlockRef, Chain

RECORDED = Path(__file__).resolve().parents[2] / "fixtures" / "recorded"
CORE_DIR = RECORDED / "core"
ESPLORA_DIR = RECORDED / "esplora"


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)


def dumps(obj: Any) -> str:
    """JSON text with every Decimal written exactly as parsed."""
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{dumps(v)}" for k, v in obj.items()) + "}"
    if isinstance(obj, list):
        return "[" + ",".join(dumps(v) for v in obj) + "]"
    return json.dumps(obj)


def _key(method: str, params: Any) -> str:
    return dumps([method, params])


def load_scenario(path: Path) -> Scenario:
    """The `scenario` block of a base file: network, pinned block, expected balances."""
    raw = load(path)["scenario"]
    pinned = BlockRef(Chain.BITCOIN, raw["network"], raw["pinned"]["height"], raw["pinned"]["hash"])
    expected = {address: raw["expected"][address] for address in raw["addresses"]}
    return Scenario(raw["network"], pinned, expected, raw)


def fast(**extra: Any) -> dict[str, Any]:
    """Adapter keywords for tests: short timeout and backoff (the closed-port test allows 5 s)."""
    return {"timeout": 5.0, "retries": 2, "backoff": 0.01, **extra}  # float-ok: seconds


class _Replay:
    def __init__(self) -> None:
        self.url = ""
        self.calls: list[str] = []

    async def handle(self, request: web.Request) -> web.Response:
        raise NotImplementedError

    @asynccontextmanager
    async def running(self) -> AsyncIterator[_Replay]:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        try:
            yield self
        finally:
            await runner.cleanup()


class CoreReplay(_Replay):
    """Bitcoin Core JSON-RPC from `core/regtest-150.json` plus `variant-<name>.json` files."""

    def __init__(self, *variants: str, base: str = "regtest-150.json") -> None:
        super().__init__()
        doc = load(CORE_DIR / base)
        self.cookie = doc["cookie"]
        self.replies: dict[str, dict[str, Any]] = {}
        for path in [CORE_DIR / base, *(CORE_DIR / f"variant-{v}.json" for v in variants)]:
            for exchange in load(path)["exchanges"]:
                self.replies[_key(exchange["method"], exchange["params"])] = exchange
        self.methods: list[str] = []

    def _answer(self, call: Any) -> dict[str, Any]:
        method, params, ident = call.get("method"), call.get("params", []), call.get("id")
        self.methods.append(method)
        self.calls.append(_key(method, params))
        exchange = self.replies.get(_key(method, params))
        if exchange is None:
            return {
                "result": None,
                "error": {"code": -32601, "message": f"no recorded reply for {method} {params}"},
                "id": ident,
            }
        if "error" in exchange:
            return {"result": None, "error": exchange["error"], "id": ident}
        return {"result": exchange["result"], "error": None, "id": ident}

    async def handle(self, request: web.Request) -> web.Response:
        from chains.rpc import basic_auth

        name, _, secret = self.cookie.partition(":")
        if request.headers.get("Authorization") != basic_auth(name, secret):
            return web.Response(status=401, text="")
        body = json.loads(await request.text(), parse_float=Decimal)
        if isinstance(body, list):  # a batch: HTTP 200, one reply per call
            return web.Response(
                text=dumps([self._answer(c) for c in body]), content_type="application/json"
            )
        reply = self._answer(body)
        # Core answers a failed single call with HTTP 500 (404 for an unknown method)
        status = 200 if reply["error"] is None else 500
        return web.Response(status=status, text=dumps(reply), content_type="application/json")


_ZERO_STATS = {
    "funded_txo_count": 0,
    "funded_txo_sum": 0,
    "spent_txo_count": 0,
    "spent_txo_sum": 0,
    "tx_count": 0,
}


class EsploraReplay(_Replay):
    """Esplora REST from `esplora/regtest-160.json` plus `variant-<name>.json` files."""

    def __init__(self, *variants: str, base: str = "regtest-160.json") -> None:
        super().__init__()
        self.routes: dict[str, Any] = {}
        for path in [
            ESPLORA_DIR / base,
            *(ESPLORA_DIR / f"variant-{v}.json" for v in variants),
        ]:
            self.routes.update(load(path)["routes"])
        self._served: dict[str, int] = {}

    def _route(self, path: str) -> Any:
        if path in self.routes:
            route = self.routes[path]
            if "replies" in route:  # a sequence: one per request, the last one repeating
                n = self._served.get(path, 0)
                self._served[path] = n + 1
                return route["replies"][min(n, len(route["replies"]) - 1)]
            return route
        parts = path.strip("/").split("/")
        # as Esplora answers for any valid address that never had a transaction
        if len(parts) == 2 and parts[0] == "address":
            return {
                "json": {
                    "address": parts[1],
                    "chain_stats": _ZERO_STATS,
                    "mempool_stats": _ZERO_STATS,
                }
            }
        if len(parts) in (4, 5) and parts[0] == "address" and parts[2:4] == ["txs", "chain"]:
            return {"json": []}
        if parts[0] == "block-height":
            return {"status": 404, "text": "Block not found"}
        return {"status": 404, "text": "Not Found"}

    async def handle(self, request: web.Request) -> web.Response:
        if request.method != "GET":
            return web.Response(status=405, text="Method Not Allowed")
        self.calls.append(request.path)
        route = self._route(request.path)
        status = route.get("status", 200)
        if "json" in route:
            return web.Response(
                status=status, text=dumps(route["json"]), content_type="application/json"
            )
        return web.Response(status=status, text=route["text"], content_type="text/plain")
