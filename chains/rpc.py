"""HTTP JSON and JSON-RPC for the adapters: timeouts, retries, batching, bounded replies.

Where it sits: under the Bitcoin adapters (Core RPC, bcoin REST/RPC, Esplora REST); the
Ethereum adapter shares its reply reader (`read_body`, `decode_reply`) and URL check
(`url_problem`). Every request has a timeout; transient failures (connection refused or
reset, timeouts, a truncated body, HTTP 502/503/504, RPC -28 "warming up") are retried with
exponential backoff by the one policy of `chains.retry`; everything else raises a typed
error at once. A reply is read up to
`max_reply_bytes` (checked against Content-Length first, then counted while it streams)
and decoded by `verifier.base.safejson` (bounded nesting and integers, numbers with a fraction
as `Decimal`, never float). Node URLs may carry credentials or API keys: messages show them
only through `verifier.base.redact.mask_url`. Concurrency is bounded by a semaphore; a JSON-RPC
batch is one HTTP request per chunk.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import reprlib
import stat
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from chains.base import DEFAULT_MAX_REPLY_BYTES, MAX_BLOCK_TIME, BlockRef
from chains.retry import TRANSIENT_STATUS, Failure, RetryPolicy, TransientStatus, unavailable
from chains.retry import gave_up as gave_up  # noqa: PLC0414 - re-exported: its old home
from verifier.base import safejson
from verifier.base.console import plural
from verifier.base.errors import InputError, MalformedReply, NodeUnavailable, RpcError
from verifier.base.logs import register_secret
from verifier.base.redact import mask_text, mask_url

log = logging.getLogger(__name__)

MAX_SECRET_FILE_BYTES = 8192
"""A password or URL file is one short line; anything longer is not one."""
_READ_CHUNK = 1 << 16


class ReplyTooLarge(MalformedReply):
    """A node reply over the cap (`max_reply_bytes`): refused while it is read (exit 4)."""


def url_problem(url: str) -> str | None:
    """Why `url` cannot be a node endpoint, or None if it can.

    An endpoint is http:// or https:// with a host and, if given, a port 1..65535, and has
    no spaces or control characters. The reason never quotes the URL (it may hold a key).
    """
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        return "contains spaces or control characters"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        if "IPv6" in str(exc):
            return "is not a valid URL (its host has an unclosed '[')"
        if "Port" in str(exc) or "port" in str(exc):
            return "has a port that is not a number from 1 to 65535"
        return "is not a valid URL"
    if parts.scheme.lower() not in {"http", "https"}:
        scheme = f"{parts.scheme}:" if parts.scheme else "no scheme"
        return f"must be an http:// or https:// URL (not {scheme})"
    if not parts.hostname:
        return "has no host"
    if port is not None and not 1 <= port <= 65535:
        return "has a port that is not a number from 1 to 65535"
    return None


def join_path(base_url: str, path: str) -> str:
    """`path` appended to the base URL's path, its query (an API key: ``?key=…``) kept last."""
    if not path:
        return base_url
    parts = urlsplit(base_url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + path))


def has_credentials(url: str) -> bool:
    """True if `url` carries a user name or password (``http://user:pass@host``)."""
    try:
        return "@" in urlsplit(url).netloc
    except ValueError:
        return "@" in url


def check_endpoint(url: str, *, authorization: str | None = None) -> None:
    """Refuse a URL an adapter cannot use (`InputError`, exit 3), before any request.

    Credentials both in the URL and as a header would make aiohttp refuse every request
    (it cannot send both), so that is refused here, once, with the reason.
    """
    problem = url_problem(url)
    if problem is not None:
        raise InputError(f"the node URL {problem}", key="url", value=mask_url(url))
    if authorization and has_credentials(url):
        raise InputError(
            "the node URL carries credentials and a password or cookie is configured too; "
            "give them one way",
            key="url",
            value=mask_url(url),
        )


async def read_body(reply: aiohttp.ClientResponse, limit: int, what: str) -> bytes:
    """The reply's body, at most `limit` bytes; `ReplyTooLarge` as soon as it is more.

    Content-Length is checked first (nothing read); the body is then counted chunk by chunk
    as it arrives (after any content decoding), so neither a lying header nor a compressed
    bomb gets more than `limit` plus one chunk into memory.
    """
    declared = reply.content_length
    if declared is not None and declared > limit:
        raise ReplyTooLarge(
            f"{what}: the reply announces {plural(declared, 'byte')}, over the cap of {limit} "
            "(max_reply_bytes)"
        )
    body = bytearray()
    async for chunk in reply.content.iter_chunked(_READ_CHUNK):
        body += chunk
        if len(body) > limit:
            raise ReplyTooLarge(
                f"{what}: the reply is over the cap of {plural(limit, 'byte')} (max_reply_bytes)"
            )
    return bytes(body)


def decode_reply(body: bytes | str, *, source: str) -> Any:
    """A node's JSON reply, decoded with `verifier.base.safejson` (numbers with a fraction as
    `Decimal`); a reply it refuses (too deep, a huge integer, not JSON, not UTF-8) is the
    node's fault, so `MalformedReply` (exit 4), not the `InputError` a file would get."""
    try:
        return safejson.loads(body, source=source, parse_float=Decimal, what="the reply")
    except InputError as exc:
        raise MalformedReply(exc.message) from None


def short(text: object, limit: int = 200) -> str:
    """A node-supplied text cut to `limit` characters, URLs in it masked (for messages)."""
    shown = mask_text(str(text)[: limit * 4])
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


_PEEK = reprlib.Repr()  # attributes, not keywords: Python 3.11 has no Repr(**limits)
_PEEK.maxlevel, _PEEK.maxdict, _PEEK.maxlist = 3, 4, 4
_PEEK.maxstring = _PEEK.maxother = _PEEK.maxlong = 60


def peek(value: object) -> str:
    """A short repr of a decoded reply for a message: bounded however large `value` is."""
    return short(_PEEK.repr(value))


def header_time(header: object, block: BlockRef, call: str) -> BlockRef:
    """`block` with the time of its `getblockheader` reply (Bitcoin Core and bcoin share the
    shape), which must name the same block; anything else is a MalformedReply naming `call`."""
    if not isinstance(header, Mapping):
        raise MalformedReply(f"{call}: {peek(header)}")
    if header.get("hash") != block.hash or header.get("height") != block.height:
        raise MalformedReply(
            f"{call} {block.hash} describes block "
            f"{peek(header.get('height'))} {peek(header.get('hash'))}"
        )
    time = header.get("time")
    if isinstance(time, bool) or not isinstance(time, int) or not 0 <= time <= MAX_BLOCK_TIME:
        raise MalformedReply(f"{call} {block.hash}: time {peek(time)}")
    return BlockRef(block.chain, block.network, block.height, block.hash, time)


def basic_auth(user: str, password: str) -> str:
    """The Authorization header value for HTTP basic auth (aiohttp's helper is deprecated)."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def _read_small_file(path: Path, what: str) -> tuple[bytes, int]:
    """(the first `MAX_SECRET_FILE_BYTES` + 1 bytes of a regular file, its mode).

    Opened without blocking and checked to be a regular file before reading: a FIFO, a
    device such as /dev/zero or a directory named by mistake would otherwise hang or
    exhaust memory. The file opened is the file checked (no race on the name).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise InputError(f"cannot read the {what} ({exc.strerror})", file=str(path)) from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise InputError(f"the {what} is not a regular file", file=str(path))
    with os.fdopen(fd, "rb") as handle:
        try:
            data = handle.read(MAX_SECRET_FILE_BYTES + 1)
        except OSError as exc:
            raise InputError(f"cannot read the {what} ({exc.strerror})", file=str(path)) from None
    if len(data) > MAX_SECRET_FILE_BYTES:
        raise InputError(f"the {what} is larger than {MAX_SECRET_FILE_BYTES} bytes", file=str(path))
    return data, stat.S_IMODE(info.st_mode)


def read_secret_file(path: Path, what: str) -> str:
    """The one-line secret in `path` (a password or a node URL), stripped.

    Refused (`InputError`, exit 3) when others than the owner and group can read or write
    it, when it is not a regular file, is empty, longer than a line or not UTF-8. Messages
    name the file, never its content.
    """
    data, mode = _read_small_file(path, what)
    if mode & 0o007:
        raise InputError(
            f"the {what} is accessible by others (mode {mode:04o}); chmod 600 (or 640) it",
            file=str(path),
        )
    try:
        text = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise InputError(f"the {what} is not UTF-8 text", file=str(path)) from None
    if not text:
        raise InputError(f"the {what} is empty", file=str(path))
    if "\n" in text or "\r" in text:
        raise InputError(f"the {what} has more than one line", file=str(path))
    register_secret(text)  # never in a log record from now on, whatever the level
    return text


def auth_from_sources(
    *,
    cookie_file: Path | None = None,
    user: str | None = None,
    password_file: Path | None = None,
    password_env: str | None = None,
) -> str | None:
    """Credentials from a cookie file, a password file or an environment variable — never argv.

    Core's `.cookie` holds `__cookie__:<hex>`; a password file holds the password alone and
    must not be accessible by others (`read_secret_file`).
    """
    if cookie_file is not None:
        # Core writes its cookie with the process umask: its mode is not checked
        data, _ = _read_small_file(cookie_file, "cookie file")
        try:
            text = data.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise InputError("the cookie file is not UTF-8 text", file=str(cookie_file)) from None
        name, sep, secret = text.partition(":")
        if not sep:
            raise InputError("cookie file is not user:password", file=str(cookie_file))
        register_secret(secret)
        cookie = basic_auth(name, secret)
        register_secret(cookie.removeprefix("Basic "))
        return cookie
    password = None
    if password_file is not None:
        password = read_secret_file(password_file, "password file")
    elif password_env is not None:
        password = os.environ.get(password_env)
        if password is None:
            raise InputError("environment variable is not set", key=password_env)
    if password is None:
        return None
    register_secret(password)
    header = basic_auth(user or "", password)
    register_secret(header.removeprefix("Basic "))  # the header's base64 gives it away too
    return header


class HttpJson:
    """A JSON-over-HTTP client for one base URL, with the policy above.

    Parameters
    ----------
    base_url
        http:// or https:// (checked: `check_endpoint`); credentials in it are never shown.
    authorization
        The Authorization header value, or None (not together with credentials in the URL).
    timeout, retries, backoff, concurrency
        Seconds per request (> 0); retries of a transient failure, after `backoff`,
        2 x `backoff`, ... seconds; requests in flight (>= 1).
    max_reply_bytes
        The largest reply body read (`read_body`).
    name
        What the node is, in messages ("bitcoind", "bcoin", "esplora").
    """

    def __init__(
        self,
        base_url: str,
        *,
        authorization: str | None = None,
        timeout: float = 30.0,  # float-ok: seconds
        retries: int = 3,
        backoff: float = 0.2,  # float-ok: seconds
        concurrency: int = 8,
        max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
        name: str = "node",
    ) -> None:
        check_endpoint(base_url, authorization=authorization)
        # zero would mean "no timeout" to aiohttp and a gate nobody passes: both hang
        if not timeout > 0:
            raise InputError("the timeout must be positive", key="timeout", value=str(timeout))
        if concurrency < 1:
            raise InputError(
                "concurrency must be at least 1", key="concurrency", value=str(concurrency)
            )
        if max_reply_bytes < 1:
            raise InputError(
                "max_reply_bytes must be positive",
                key="max_reply_bytes",
                value=str(max_reply_bytes),
            )
        self.base_url = base_url.rstrip("/")
        self.shown_url = mask_url(self.base_url)
        """The base URL as messages show it (credentials and key-like parts masked)."""
        self.name = name
        self._headers = {"Content-Type": "application/json"}
        if authorization:
            self._headers["Authorization"] = authorization
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._policy = RetryPolicy(retries=retries, backoff=backoff, node=name, log=log)
        self._max_reply = max_reply_bytes
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
        """Send one request (retrying transient failures: `chains.retry`) and decode the
        JSON reply."""
        url = join_path(self.base_url, path)
        where = f"{self.name} at {self.shown_url}"
        data = None if body is None else json.dumps(body)

        async def attempt() -> tuple[int, bytes]:
            try:
                async with self._gate:
                    self.requests += 1
                    async with self._client().request(method, url, data=data) as reply:
                        status = reply.status
                        raw = await read_body(reply, self._max_reply, f"{where}{path}")
            except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, TimeoutError):
                raise  # transient: the policy retries them
            except aiohttp.ClientError as exc:
                # anything else aiohttp refuses (an URL it cannot use, a bad reply head)
                raise NodeUnavailable(
                    f"{where}: the request failed ({type(exc).__name__}: {short(exc)})"
                ) from exc
            if status in TRANSIENT_STATUS:
                raise TransientStatus(status, raw)
            return status, raw

        give_up = unavailable(where)

        def last_answer(exc: BaseException, failure: Failure, attempts: int) -> tuple[int, bytes]:
            # a node still answering 503 after the retries: its answer is read as any other
            if isinstance(exc, TransientStatus):
                return exc.status, exc.body
            give_up(exc, failure, attempts)

        status, raw = await self._policy.run(attempt, subject=f"{where}{path}", give_up=last_answer)
        if status in {401, 403}:
            raise NodeUnavailable(f"{where} refused the credentials (HTTP {status})")
        return self._decode(raw, status, path)

    def _decode(self, raw: bytes, status: int, path: str) -> Any:
        try:
            return decode_reply(raw, source=f"{self.name} at {self.shown_url}{path}")
        except MalformedReply:
            if status >= 400:
                snippet = raw[:200].decode("utf-8", "replace")
                raise NodeUnavailable(
                    f"{self.name} answered HTTP {status} to {path or '/'}: {short(repr(snippet))}"
                ) from None
            raise

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
        """One call; retried while the node warms up (-28), then that `RpcError` raised."""

        async def attempt() -> Any:
            reply = await self.post(
                "",
                {"jsonrpc": "1.0", "id": self._next_id(), "method": method, "params": list(params)},
            )
            return self._result(reply, method)

        return await self._policy.run(attempt, subject=f"{self.name} {method}")

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
            raise MalformedReply(
                f"{self.name}: a batch of {plural(len(requests), 'request')} got {peek(reply)}"
            )
        by_id: dict[int, Mapping[str, Any]] = {}
        for item in reply:
            # an id of another type (a list is not even hashable) answers none of ours
            ident = item.get("id") if isinstance(item, Mapping) else None
            if isinstance(ident, bool) or not isinstance(ident, int):
                raise MalformedReply(f"{self.name}: batch item without an id: {peek(item)}")
            by_id[ident] = item
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
                    f"{self.name} {method}: {short(error.get('message'))}",
                    code=code if isinstance(code, int) and not isinstance(code, bool) else None,
                )
            raise RpcError(f"{self.name} {method}: {peek(error)}")
        if "result" not in reply:
            raise MalformedReply(f"{self.name}: reply to {method} has no result")
        return reply["result"]
