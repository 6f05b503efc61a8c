"""HTTP JSON and JSON-RPC for the adapters: timeouts, retries, batching, typed errors.

Where it sits: under the Bitcoin adapters (Core RPC, bcoin REST/RPC, Esplora REST). Every
request has a timeout; transient failures (connection refused or reset, timeouts, HTTP
502/503/504, RPC -28 "warming up") are retried with exponential backoff; everything else
raises a typed error at once. Numbers in replies are parsed as `Decimal`, never float.
Concurrency is bounded by a semaphore; a JSON-RPC batch is one HTTP request per chunk.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, Self

import aiohttp

from verifier.errors import InputError, MalformedReply, NodeUnavailable, RpcError

TRANSIENT_STATUS = frozenset({502, 503, 504})
RPC_WARMING_UP = -28


def basic_auth(user: str, password: str) -> str:
    """The Authorization header value for HTTP basic auth (aiohttp's helper is deprecated)."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def auth_from_sources(
    *,
    cookie_file: Path | None = None,
    user: str | None = None,
    password_file: Path | None = None,
    password_env: str | None = None,
) -> str | None:
    """Credentials from a cookie file, a password file or an environment variable — never argv.

    Core's `.cookie` holds `__cookie__:<hex>`; a password file holds the password alone.
    """
    if cookie_file is not None:
        try:
            text = cookie_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise InputError(
                f"cannot read the cookie file ({exc.strerror})", file=str(cookie_file)
            ) from None
        name, sep, secret = text.partition(":")
        if not sep:
            raise InputError("cookie file is not user:password", file=str(cookie_file))
        return basic_auth(name, secret)
    password = None
    if password_file is not None:
        try:
            password = password_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise InputError(
                f"cannot read the password file ({exc.strerror})", file=str(password_file)
            ) from None
    elif password_env is not None:
        password = os.environ.get(password_env)
        if password is None:
            raise InputError("environment variable is not set", key=password_env)
    if password is None:
        return None
    return basic_auth(user or "", password)


class HttpJson:
    """A JSON-over-HTTP client for one base URL, with the policy above."""

    def __init__(
        self,
        base_url: str,
        *,
        authorization: str | None = None,
        timeout: float = 30.0,  # float-ok: seconds
        retries: int = 3,
        backoff: float = 0.2,  # float-ok: seconds
        concurrency: int = 8,
        name: str = "node",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.name = name
        self._headers = {"Content-Type": "application/json"}
        if authorization:
            self._headers["Authorization"] = authorization
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._retries = retries
        self._backoff = backoff
        self._gate = asyncio.Semaphore(concurrency)
        self._session: aiohttp.ClientSession | None = None
        self.requests = 0
        """HTTP requests sent (for benchmarks and reports)."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout,
                headers=self._headers,
                connector=aiohttp.TCPConnector(limit=32),
            )
        return self._session

    async def request(self, method: str, path: str, body: Any = None) -> Any:
        """Send one request (retrying transient failures) and decode the JSON reply."""
        url = f"{self.base_url}{path}"
        data = None if body is None else json.dumps(body)
        attempt = 0
        while True:
            attempt += 1
            try:
                async with self._gate:
                    self.requests += 1
                    async with self._client().request(method, url, data=data) as reply:
                        text = await reply.text()
                        status = reply.status
            except (aiohttp.ClientConnectionError, TimeoutError) as exc:
                if attempt <= self._retries:
                    await asyncio.sleep(self._backoff * 2 ** (attempt - 1))
                    continue
                raise NodeUnavailable(
                    f"{self.name} at {self.base_url} did not answer "
                    f"({type(exc).__name__}) after {attempt} attempts"
                ) from exc
            if status in TRANSIENT_STATUS and attempt <= self._retries:
                await asyncio.sleep(self._backoff * 2 ** (attempt - 1))
                continue
            if status in {401, 403}:
                raise NodeUnavailable(
                    f"{self.name} at {self.base_url} refused the credentials (HTTP {status})"
                )
            return self._decode(text, status, path)

    def _decode(self, text: str, status: int, path: str) -> Any:
        try:
            return json.loads(text, parse_float=Decimal)
        except ValueError:
            if status >= 400:
                raise NodeUnavailable(
                    f"{self.name} answered HTTP {status} to {path}: {text[:200]!r}"
                ) from None
            raise MalformedReply(
                f"{self.name} sent a reply to {path} that is not JSON: {text[:200]!r}"
            ) from None

    async def get(self, path: str) -> Any:
        return await self.request("GET", path)

    async def post(self, path: str, body: Any) -> Any:
        return await self.request("POST", path, body)


class JsonRpc(HttpJson):
    """JSON-RPC 1.0/2.0 as Bitcoin Core and bcoin speak it, with batches."""

    def __init__(self, url: str, *, max_batch: int = 500, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self._max_batch = max_batch
        self._ids = 0

    def _next_id(self) -> int:
        self._ids += 1
        return self._ids

    async def call(self, method: str, *params: Any) -> Any:
        """One call; retried while the node warms up (-28)."""
        attempt = 0
        while True:
            attempt += 1
            reply = await self.post(
                "",
                {"jsonrpc": "1.0", "id": self._next_id(), "method": method, "params": list(params)},
            )
            try:
                return self._result(reply, method)
            except RpcError as exc:
                if exc.code == RPC_WARMING_UP and attempt <= self._retries:
                    await asyncio.sleep(self._backoff * 2 ** (attempt - 1))
                    continue
                raise

    async def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Many calls as JSON-RPC batches (one HTTP request per `max_batch` calls), in order."""
        chunks = [calls[i : i + self._max_batch] for i in range(0, len(calls), self._max_batch)]
        results = await asyncio.gather(*(self._batch_chunk(chunk) for chunk in chunks))
        return [item for chunk in results for item in chunk]

    async def _batch_chunk(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        requests = [
            {"jsonrpc": "1.0", "id": self._next_id(), "method": m, "params": list(p)}
            for m, p in calls
        ]
        reply = await self.post("", requests)
        if not isinstance(reply, list) or len(reply) != len(requests):
            raise MalformedReply(f"{self.name}: a batch of {len(requests)} got {reply!r:.200}")
        by_id = {}
        for item in reply:
            if not isinstance(item, Mapping) or "id" not in item:
                raise MalformedReply(f"{self.name}: batch item without id: {item!r:.200}")
            by_id[item["id"]] = item
        out = []
        for request in requests:
            if request["id"] not in by_id:
                raise MalformedReply(f"{self.name}: no reply to batch id {request['id']}")
            out.append(self._result(by_id[request["id"]], str(request["method"])))
        return out

    def _result(self, reply: Any, method: str) -> Any:
        if not isinstance(reply, Mapping):
            raise MalformedReply(f"{self.name}: reply to {method} is not an object")
        error = reply.get("error")
        if error:
            if isinstance(error, Mapping):
                code = error.get("code")
                raise RpcError(
                    f"{self.name} {method}: {error.get('message')}",
                    code=int(code) if isinstance(code, int) else None,
                )
            raise RpcError(f"{self.name} {method}: {error}")
        if "result" not in reply:
            raise MalformedReply(f"{self.name}: reply to {method} has no result")
        return reply["result"]
