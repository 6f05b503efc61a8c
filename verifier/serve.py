"""`por serve`: serve a published attestation site, plus a small read-only JSON API.

Where it sits: beside verifier/site.py. `create_app` returns an aiohttp application that
serves the files a site's manifest (``site.json``, written by `por publish`) lists, and:

- ``GET /api/root``: the root document (``root.json``, `por-mst-v1`);
- ``GET /api/attestation``: the signed attestation;
- ``GET /api/report``: the latest report (404 when the site has none);
- ``GET /api/history``: the reconciliation history, from a pluggable provider (a callable
  returning JSON, sync or async); 404 ``no database configured`` when none is given.

Invariants: read-only (GET and HEAD only; a request with a body is refused); only files the
manifest lists are served, so no proof file placed in the directory is ever reachable, and
there is no endpoint that returns anyone's proof; every response carries a strict
Content-Security-Policy and the other security headers; HTML and API replies are
``Cache-Control: no-store`` (the proof page handles customers' data, even though it never
sends it), static assets ``no-cache``.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import mimetypes
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from verifier.errors import InputError, PorError
from verifier.site import CSP, MANIFEST, read_manifest

HistoryProvider = Callable[[], Any | Awaitable[Any]]
"""Returns the history as a JSON-able value (e.g. a list of past reports' summaries)."""

SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
}
_API_FILES = {"root": "root.json", "attestation": "attestation.json", "report": "report.json"}

SITE_KEY = web.AppKey("site", dict)
HISTORY_KEY = web.AppKey("history", object)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


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
    response.headers.update(SECURITY_HEADERS)
    if "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"
    return response


def _load_site(site_dir: Path) -> dict[str, Any]:
    """Read every file the manifest lists into memory (a site is small), checking hashes."""
    manifest = read_manifest(site_dir)
    files: dict[str, bytes] = {}
    for name, digest in manifest["files"].items():
        parts = Path(name).parts
        if Path(name).is_absolute() or ".." in parts or not parts:
            continue
        data = (site_dir / name).read_bytes()
        if hashlib.sha256(data).hexdigest() != digest:
            raise ValueError(f"{name}: content differs from the site manifest")
        files[name] = data
    files[MANIFEST] = (site_dir / MANIFEST).read_bytes()
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
    value = provider()
    if inspect.isawaitable(value):
        value = await value
    return web.json_response(value, dumps=lambda v: json.dumps(v, default=str))


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
        `site_dir` holds no site.
    """
    try:
        site = _load_site(site_dir)
    except PorError:
        raise
    except OSError as exc:
        raise InputError(f"cannot read the site ({exc.strerror})", file=str(site_dir)) from None
    except ValueError as exc:
        raise InputError(str(exc), file=str(site_dir)) from None
    app = web.Application(middlewares=[_security], client_max_size=1024)
    app[SITE_KEY] = site
    app[HISTORY_KEY] = history
    app.router.add_get("/api", _api_index)
    app.router.add_get("/api/history", _api_history)
    app.router.add_get("/api/{name:root|attestation|report}", _api_file)
    app.router.add_get("/{path:.*}", _static)
    return app


def run(
    site_dir: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    history: HistoryProvider | None = None,
    print_fn: Callable[[str], None] | None = None,
) -> None:
    """Serve `site_dir` until interrupted (Ctrl-C)."""
    app = create_app(site_dir, history=history)
    web.run_app(app, host=host, port=port, print=print_fn, access_log=None)


__all__ = ["SECURITY_HEADERS", "HistoryProvider", "create_app", "run"]
