"""`por serve`: serve a published attestation site, plus a small read-only JSON API.

Where it sits: beside verifier/site/publish.py. `create_app` returns an aiohttp application that
serves the files a site's manifest (``site.json``, written by `por publish`) lists, and:

- ``GET /api/root``: the root document (``root.json``, `por-mst-v1`);
- ``GET /api/attestation``: the signed attestation;
- ``GET /api/report``: the latest report (404 when the site has none);
- ``GET /api/history``: the reconciliation history, from a pluggable provider (a callable
  returning JSON, sync or async); 404 ``no database configured`` when none is given.

`run` (and `start_server`, which tests use) listens with a guarded HTTP protocol, stops
cleanly on SIGTERM or Ctrl-C, and with ``--metrics-port`` also serves ``/metrics`` and
``/healthz`` on a port of their own (verifier/history/metrics.py: the site's port stays public,
the metrics one is for the operator's Prometheus).

Invariants: read-only (GET and HEAD only; a request with a body is refused); only files the
manifest lists are served, read once at start-up, never through a symbolic link nor from
outside the site directory (`verifier.site.files.read_site_file`), so no proof file placed in the
directory is ever reachable, and there is no endpoint that returns anyone's proof; every
response — including the 400 aiohttp writes for a request it cannot parse, which bypasses
middlewares — carries a strict Content-Security-Policy and the other security headers; a
client has `HEAD_TIMEOUT` seconds from the first byte of a request head to its end
(slowloris), whatever aiohttp version is installed; HTML and API replies are
``Cache-Control: no-store`` (the proof page handles customers' data, even though it never
sends it), static assets ``no-cache``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import json
import logging
import mimetypes
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from http import HTTPStatus
from pathlib import Path
from typing import Any

from aiohttp import web

from verifier.base import safejson
from verifier.base.errors import InputError, PorError
from verifier.base.redact import mask_text
from verifier.site.files import CSP, MANIFEST, read_input, read_manifest, read_site_file

HistoryProvider = Callable[[], Any | Awaitable[Any]]
"""Returns the history as a JSON-able value (e.g. a list of past reports' summaries), or
``bytes`` of a JSON document to send as they are."""

SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}
HEAD_TIMEOUT = 10.0
"""Seconds a client may take from the first byte of a request head to its blank line."""
KEEPALIVE_TIMEOUT = 15.0
"""Seconds an idle keep-alive connection stays open."""
MAX_SITE_BYTES = 256 * 1024 * 1024
"""Most bytes of files a site may hold (all are kept in memory)."""

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
}
_API_FILES = {"root": "root.json", "attestation": "attestation.json", "report": "report.json"}

SITE_KEY = web.AppKey("site", dict)
HISTORY_KEY = web.AppKey("history", object)

_log = logging.getLogger("verifier.site.serve")


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _secure(response: web.StreamResponse) -> None:
    response.headers.update(SECURITY_HEADERS)
    if "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"


@web.middleware
async def _security(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    if request.method not in {"GET", "HEAD"}:
        response: web.StreamResponse = _error(405, "read-only: only GET and HEAD")
        response.headers["Allow"] = "GET, HEAD"
    elif request.can_read_body:
        response = _error(400, "this server accepts no request bodies")
    else:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            response = _error(exc.status, exc.reason)
    _secure(response)
    return response


def _load_site(site_dir: Path) -> dict[str, Any]:
    """Read every file the manifest lists into memory (a site is small), checking hashes.

    Every file is read with `read_site_file`: a symbolic link, or a path resolving outside
    the site directory, is refused even when the manifest lists it.
    """
    manifest = read_manifest(site_dir)
    files: dict[str, bytes] = {}
    total = 0
    for name, digest in manifest["files"].items():
        data = read_site_file(site_dir, name)
        total += len(data)
        if total > MAX_SITE_BYTES:
            raise InputError(f"the site holds more than {MAX_SITE_BYTES} bytes", file=str(site_dir))
        if hashlib.sha256(data).hexdigest() != digest:
            raise InputError("content differs from the site manifest", file=str(site_dir / name))
        files[name] = data
    files[MANIFEST] = read_site_file(site_dir, MANIFEST)
    return {"dir": site_dir, "manifest": manifest, "files": files}


def _file_response(name: str, data: bytes) -> web.Response:
    suffix = Path(name).suffix
    content_type = _TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    response = web.Response(body=data)
    response.headers["Content-Type"] = content_type
    response.headers["Cache-Control"] = "no-store" if suffix in {".html", ".json"} else "no-cache"
    return response


async def _static(request: web.Request) -> web.Response:
    site = request.app[SITE_KEY]
    name = request.match_info.get("path", "") or "index.html"
    if name.endswith("/"):
        name += "index.html"
    data = site["files"].get(name)
    if data is None:
        return _error(404, "not found")
    return _file_response(name, data)


async def _api_file(request: web.Request) -> web.Response:
    site = request.app[SITE_KEY]
    name = _API_FILES[request.match_info["name"]]
    data = site["files"].get(name)
    if data is None:
        return _error(404, f"this site publishes no {name}")
    return _file_response(name, data)


async def _api_index(request: web.Request) -> web.Response:
    manifest = request.app[SITE_KEY]["manifest"]
    return web.json_response(
        {
            "attestation_id": manifest.get("attestation_id"),
            "commitment": manifest.get("commitment"),
            "generated_at": manifest.get("generated_at"),
            "endpoints": ["/api/root", "/api/attestation", "/api/report", "/api/history"],
        }
    )


async def _api_history(request: web.Request) -> web.Response:
    provider = request.app[HISTORY_KEY]
    if provider is None:
        return _error(404, "no database configured")
    assert callable(provider)
    try:
        value = provider()
        if inspect.isawaitable(value):
            value = await value
    except PorError as exc:
        # the message may name a file or database: the operator sees it, the client not
        _log.warning("por serve: /api/history: %s", mask_text(exc.message))
        return _error(503, "the history is not available")
    if isinstance(value, bytes):
        return _file_response("history.json", value)
    return web.json_response(value, dumps=lambda v: json.dumps(v, default=str))


def history_file(path: Path) -> HistoryProvider:
    """A provider serving a JSON file, re-read on each request; checked once now.

    Raises
    ------
    InputError
        The file cannot be read or is not acceptable JSON (bounded nesting and numbers).
    """

    def provider() -> bytes:
        data = read_input(path, what="history file")
        safejson.loads(data, source=str(path), parse_float=Decimal, what="history file")
        return data

    provider()
    return provider


def create_app(site_dir: Path, *, history: HistoryProvider | None = None) -> web.Application:
    """The aiohttp application serving `site_dir` (a site from `por publish`).

    Parameters
    ----------
    site_dir
        The site directory; its ``site.json`` lists the files served. They are read once,
        at start-up, and checked against the manifest's SHA-256.
    history
        Optional provider for ``/api/history``: a callable (sync or async) returning a
        JSON-able value. Without one the endpoint answers 404 ``no database configured``.

    Returns
    -------
    web.Application

    Raises
    ------
    NotFound, InputError
        `site_dir` holds no site, its manifest is not acceptable, or a file it lists is
        missing, differs, is a symbolic link or lies outside the directory.
    """
    site = _load_site(site_dir)
    app = web.Application(middlewares=[_security], client_max_size=1024)
    app[SITE_KEY] = site
    app[HISTORY_KEY] = history
    app.router.add_get("/api", _api_index)
    app.router.add_get("/api/history", _api_history)
    app.router.add_get("/api/{name:root|attestation|report}", _api_file)
    app.router.add_get("/{path:.*}", _static)
    return app


# ----------------------------------------------------------------------------- the protocol


def _head_end(buffer: bytes) -> int:
    """Index just past the blank line ending a request head in `buffer`, or -1."""
    ends = [i + len(mark) for mark in (b"\r\n\r\n", b"\n\n") if (i := buffer.find(mark)) >= 0]
    return min(ends) if ends else -1


class _GuardedHandler(web.RequestHandler):
    """aiohttp's HTTP protocol with a deadline on request heads and secure error replies.

    A connection is cut (aborted) when a request head is still incomplete `head_timeout`
    seconds after its first byte, or after the connection opened (slowloris); the bytes are
    only watched for the blank line, aiohttp parses them. Errors aiohttp answers itself
    (a request it cannot parse; an exception in a handler) carry the security headers and a
    fixed JSON body that echoes nothing of the request.
    """

    def __init__(
        self,
        manager: web.Server,
        *,
        head_timeout: float,  # float-ok: seconds
        **kwargs: Any,
    ) -> None:
        super().__init__(manager, **kwargs)
        self._head_timeout = head_timeout
        self._head_deadline: asyncio.TimerHandle | None = None
        self._head_tail = b""
        self._head_transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._head_transport = transport
        self._arm()
        super().connection_made(transport)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm()
        self._head_transport = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._watch(data)
        super().data_received(data)

    def _arm(self) -> None:
        self._head_tail = b""
        if self._head_deadline is None:
            loop = asyncio.get_running_loop()
            self._head_deadline = loop.call_later(self._head_timeout, self._expire)

    def _disarm(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _watch(self, data: bytes) -> None:
        while data:
            if self._head_deadline is None:
                self._arm()  # the first byte of the next request head
            buffer = self._head_tail + data
            end = _head_end(buffer)
            if end < 0:
                self._head_tail = buffer[-3:]
                return
            self._disarm()
            data = buffer[end:]

    def _expire(self) -> None:
        self._head_deadline = None
        transport = self._head_transport
        if transport is not None and isinstance(transport, asyncio.WriteTransport):
            transport.abort()

    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:
            raise ConnectionError("response already started; cannot send an error")
        if status >= 500:
            name = type(exc).__name__ if exc is not None else "error"
            _log.warning("por serve: %s answering %s (%s)", status, request.path, name)
        try:
            phrase = HTTPStatus(status).phrase.lower()
        except ValueError:
            phrase = "error"
        response = _error(status, phrase)
        _secure(response)
        response.force_close()
        return response


def _one_line_logging() -> None:
    """aiohttp logs errors with tracebacks; `por` prints one line (tracebacks with POR_DEBUG)."""
    if os.environ.get("POR_DEBUG") or _log.handlers:
        return

    class _OneLine(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            text = mask_text(record.getMessage())
            if record.exc_info and record.exc_info[1] is not None:
                text += f" ({type(record.exc_info[1]).__name__})"
            return text

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLine())
    for logger in (_log, logging.getLogger("aiohttp")):
        logger.addHandler(handler)
        logger.propagate = False


@dataclass
class Listening:
    """A running server (`start_server`): its port, and how to stop it."""

    port: int
    runner: web.AppRunner
    server: asyncio.Server

    async def close(self) -> None:
        """Stop listening, close the connections, run the app's cleanup."""
        self.server.close()
        await self.runner.cleanup()


async def start_server(
    app: web.Application,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    head_timeout: float = HEAD_TIMEOUT,  # float-ok: seconds
    keepalive_timeout: float = KEEPALIVE_TIMEOUT,  # float-ok: seconds
) -> Listening:
    """Listen on `host`:`port` (0: a free port) with the guarded protocol.

    Raises
    ------
    PorError
        The address cannot be listened on (exit 4).
    """
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    manager = runner.server
    assert manager is not None
    loop = asyncio.get_running_loop()

    def protocol() -> _GuardedHandler:
        return _GuardedHandler(
            manager,
            loop=loop,
            head_timeout=head_timeout,
            keepalive_timeout=keepalive_timeout,
            access_log=None,
            logger=logging.getLogger("aiohttp.server"),
        )

    try:
        server = await loop.create_server(protocol, host, port, reuse_address=True)
    except (OSError, OverflowError) as exc:
        await runner.cleanup()
        reason = getattr(exc, "strerror", None) or str(exc)
        raise PorError(f"cannot listen on {host}:{port} ({reason})") from None
    bound = server.sockets[0].getsockname()[1] if server.sockets else port
    return Listening(port=int(bound), runner=runner, server=server)


@dataclass(frozen=True)
class MetricsEndpoint:
    """Where `run` serves ``/metrics`` and ``/healthz`` (`--metrics-port`), and what: `source`
    gets the site's (exchange, attestation) labels and returns the snapshot to show."""

    host: str
    port: int
    source: Callable[[tuple[str, str]], Any]


def site_labels(app: web.Application) -> tuple[str, str]:
    """The (exchange, attestation) a served site attests, for metric labels ("" unknown)."""
    site = app[SITE_KEY]
    attestation = site["manifest"].get("attestation_id")
    exchange: object = None
    data = site["files"].get("attestation.json")
    if data is not None:
        try:
            document = safejson.loads(data, source="attestation.json")
        except PorError:
            document = None
        if isinstance(document, dict):
            exchange = document.get("exchange")
    return (
        exchange if isinstance(exchange, str) else "",
        attestation if isinstance(attestation, str) else "",
    )


def run(
    site_dir: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    history: HistoryProvider | None = None,
    print_fn: Callable[[str], None] | None = None,
    metrics: MetricsEndpoint | None = None,
    on_metrics: Callable[[str], None] | None = None,
) -> None:
    """Serve `site_dir` until SIGTERM or Ctrl-C; `print_fn` gets the URL once listening.
    With `metrics`, ``/metrics`` and ``/healthz`` (200 while the site is served) listen
    first (`on_metrics` gets their URL then, before `print_fn` is called): a port that
    cannot be listened on is a `PorError` (exit 4) naming it."""
    app = create_app(site_dir, history=history)
    _one_line_logging()
    serving = False
    endpoint = None
    if metrics is not None:
        from verifier.history.metrics import MetricsServer, registry

        labels = site_labels(app)
        endpoint = MetricsServer(
            registry(lambda: metrics.source(labels)),
            lambda: (serving, "ok" if serving else "the site is not being served"),
            metrics.host,
            metrics.port,
        )
        from verifier.base.console import err

        err.print(f"por: metrics on {endpoint.url} (health: /healthz)", markup=False)
        if on_metrics is not None:
            on_metrics(endpoint.url)

    async def serve() -> None:
        nonlocal serving
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            # not in the main thread (tests): Ctrl-C still ends asyncio.run
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, stop.set)
        listening = await start_server(app, host=host, port=port)
        try:
            serving = True
            if print_fn is not None:
                shown = f"[{host}]" if ":" in host else host
                print_fn(f"http://{shown}:{listening.port}/")
            await stop.wait()
        finally:
            serving = False
            await listening.close()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        return
    finally:
        if endpoint is not None:
            endpoint.close()


__all__ = [
    "HEAD_TIMEOUT",
    "SECURITY_HEADERS",
    "HistoryProvider",
    "Listening",
    "MetricsEndpoint",
    "create_app",
    "history_file",
    "run",
    "site_labels",
    "start_server",
]
