"""`por publish` and `por serve` against hostile files, directories and clients (issue 10).

Publish: a site shows only what the attestation signs (an edited figure in report.json or
root.json is refused, naming the file and the field; an unsigned report is refused; a
signed report with odd field types is refused, never a crash); `--out` never deletes an
input, key or secret, with or without `--force`; every file publish reads is bounded JSON.
Serve: no symbolic link and nothing outside the site directory is served, even when the
manifest lists it; a junk manifest is refused; on a real server on 127.0.0.1, request
heads sent byte by byte are cut off, and the 400 aiohttp writes for a request it cannot
parse carries the security headers.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import json
import os
import select
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attestations.document.files import write_attestation
from attestations.document.sign import sign_attestation
from verifier.base.errors import InputError, NotFound, PorError, UsageError
from verifier.cli.main import main
from verifier.report.figures import pct as percent
from verifier.site import serve as serve_module
from verifier.site.files import read_manifest
from verifier.site.publish import build_site
from verifier.site.serve import SECURITY_HEADERS, Listening, create_app, history_file, start_server

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "_site_builder_hostile", ROOT / "tests" / "browser" / "site_builder.py"
)
assert _spec is not None and _spec.loader is not None
builder = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(builder)


@pytest.fixture(autouse=True)
def _wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100000")  # one message, one line


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The layout of `por demo`: keys/, liabilities/tree/ (with its secret), attestation/."""
    base = tmp_path_factory.mktemp("hostile")
    builder.make_attestation_dir(base)
    keys = base / "keys"
    keys.mkdir(mode=0o700)
    key = keys / "attest.key"
    key.write_bytes(b"-----BEGIN PRIVATE KEY-----\nnot a real key\n-----END PRIVATE KEY-----\n")
    key.chmod(0o600)
    return base


@pytest.fixture(scope="module")
def clean_site(work: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("clean") / "site"
    build_site(work / "attestation", out)
    return out


def _copy(work: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(work / "attestation", tmp_path / "att"))


def _por(capsys: pytest.CaptureFixture[str], *args: Any) -> tuple[int, str]:
    capsys.readouterr()
    rc = main([str(a) for a in args])
    captured = capsys.readouterr()
    err = " ".join(captured.err.split())
    assert "Traceback" not in captured.err + captured.out
    assert "internal error" not in err, err
    return rc, err


def _resign(att_dir: Path, change: Any) -> None:
    """Re-sign attestation.json after `change(doc)` (with the builder's test key)."""
    doc = json.loads((att_dir / "attestation.json").read_text())
    doc.pop("signature")
    change(doc)
    write_attestation(att_dir, sign_attestation(doc, builder.KEY))


# ----------------------------------------------------------------------------- signed content


def _set(doc: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    target: Any = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("combined", "ratio"), "9.99", "combined.ratio"),
        (("assets", 0, "coverage_ratio"), "5", "assets[0].coverage_ratio"),
        (("verdict", "exit_code"), 0, "verdict.exit_code"),
        (("wallets", 0, "label"), "someone else's", "wallets[0].label"),
        # the same JSON value to Python's ==, not the same document: 0 is not false
        (("settings", "count_custodial"), 0, "settings.count_custodial"),
        (("statement", "proves"), ["everything"], "statement.proves[0]"),
        (("extra",), "added", "extra"),
    ],
)
def test_an_edited_report_figure_is_refused(
    work: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    path: tuple[Any, ...],
    value: Any,
    field: str,
) -> None:
    att = _copy(work, tmp_path)
    report = json.loads((att / "report.json").read_text())
    if path == ("verdict", "exit_code"):
        value = 1 - report["verdict"]["exit_code"]
    _set(report, path, value)
    (att / "report.json").write_text(json.dumps(report, indent=2))
    with pytest.raises(InputError) as caught:
        build_site(att, tmp_path / "site")
    assert caught.value.file == str(att / "report.json")
    assert caught.value.key == field
    rc, err = _por(capsys, "publish", att, "--out", tmp_path / "site")
    assert rc == 3
    assert "report.json" in err and field in err and "signed" in err
    assert not (tmp_path / "site").exists()


def test_a_removed_report_field_is_refused(work: Path, tmp_path: Path) -> None:
    att = _copy(work, tmp_path)
    report = json.loads((att / "report.json").read_text())
    del report["combined"]["threshold"]
    (att / "report.json").write_text(json.dumps(report))
    with pytest.raises(InputError, match=r"combined\.threshold"):
        build_site(att, tmp_path / "site")


def test_a_duplicate_key_cannot_hide_an_edit(work: Path, tmp_path: Path) -> None:
    # Python keeps the last duplicate (the signed value), other readers the first one
    att = _copy(work, tmp_path)
    text = (att / "report.json").read_text()
    signed = json.loads(text)["combined"]["ratio"]
    text = text.replace(f'"ratio": "{signed}"', f'"ratio": "9.99", "ratio": "{signed}"', 1)
    (att / "report.json").write_text(text)
    with pytest.raises(InputError, match="twice"):
        build_site(att, tmp_path / "site")


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda r: r["root"]["sums"].__setitem__(1, "1"), "root.sums[1]"),
        (lambda r: r.__setitem__("as_of", "2030-01-01T00:00:00Z"), "as_of"),
        (lambda r: r["assets"][0].__setitem__("code", "XBT"), "assets[0].code"),
        (lambda r: r.__setitem__("note", "x"), "note"),
    ],
)
def test_an_edited_root_document_is_refused(
    work: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], edit: Any, field: str
) -> None:
    att = _copy(work, tmp_path)
    root = json.loads((att / "root.json").read_text())
    edit(root)
    (att / "root.json").write_text(json.dumps(root))
    with pytest.raises(InputError) as caught:
        build_site(att, tmp_path / "site")
    assert caught.value.file == str(att / "root.json") and caught.value.key == field
    rc, err = _por(capsys, "publish", att, "--out", tmp_path / "site")
    assert rc == 3 and "root.json" in err


def test_the_same_documents_laid_out_differently_publish(work: Path, tmp_path: Path) -> None:
    att = _copy(work, tmp_path)
    for name in ("root.json", "report.json"):
        doc = json.loads((att / name).read_text())
        (att / name).write_text(json.dumps(doc, sort_keys=True, separators=(",", ":")))
    result = build_site(att, tmp_path / "site")
    assert "report.json" in result.files


def test_an_unsigned_report_is_refused(tmp_path: Path) -> None:
    att, _ = builder.make_attestation_dir(tmp_path / "w", with_report=False)
    report = builder._sample_report()
    report["attestation"] = {
        "commitment": json.loads((att / "root.json").read_text())["commitment"]
    }
    (att / "report.json").write_text(json.dumps(report))
    with pytest.raises(InputError, match="not signed") as caught:
        build_site(att, tmp_path / "site")
    assert caught.value.file == str(att / "report.json")


def test_the_signed_report_is_shown_without_report_json(
    work: Path, tmp_path: Path, clean_site: Path
) -> None:
    att = _copy(work, tmp_path)
    signed = json.loads((att / "attestation.json").read_text())["report"]
    (att / "report.json").unlink()
    build_site(att, tmp_path / "site")
    assert json.loads((tmp_path / "site" / "report.json").read_text()) == signed
    assert (tmp_path / "site" / "index.html").read_text() == (clean_site / "index.html").read_text()


def test_an_unedited_attestation_publishes_its_signed_figures(work: Path, clean_site: Path) -> None:
    signed = json.loads((work / "attestation" / "attestation.json").read_text())["report"]
    for name in ("attestation.json", "root.json", "report.json"):
        assert (clean_site / name).read_bytes() == (work / "attestation" / name).read_bytes()
    assert json.loads((clean_site / "report.json").read_text()) == signed
    assert (
        f"<b>{percent(signed['combined']['ratio'])}</b>" in (clean_site / "index.html").read_text()
    )


_JSON_LEAF = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.text(max_size=8)
    | st.text(alphabet="0123456789", min_size=1, max_size=1200)
)
_JSON = st.recursive(
    _JSON_LEAF,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for n, item in enumerate(value):
            out += _paths(item, (*prefix, n))
    return out


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_a_signed_report_of_any_shape_never_crashes(work: Path, data: st.DataObject) -> None:
    """Anyone can sign (verification pins no key by default): a signed report whose fields
    have other types is published or refused with an InputError, never a crash."""
    report = json.loads((work / "attestation" / "report.json").read_text())
    paths = _paths(report)
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths))
        try:
            _set(report, path, data.draw(_JSON))
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed the parent
    with tempfile.TemporaryDirectory() as tmp:
        att = Path(shutil.copytree(work / "attestation", Path(tmp) / "att"))
        (att / "report.json").unlink()
        _resign(att, lambda doc: doc.__setitem__("report", report))
        try:
            build_site(att, Path(tmp) / "site")
        except PorError as exc:
            assert exc.exit_code == 3, exc
            assert "unexpected type or value" not in str(exc), exc  # named, not the backstop


# ----------------------------------------------------------------------------- bounded JSON

_HOSTILE = {
    "deep": b"[" * 100_000 + b"]" * 100_000,
    "huge integer": b'{"a": ' + b"9" * 5000 + b"}",
    "invalid UTF-8": b'{"a": "\xff\xfe"}',
    "truncated": b'{"format": "por',
    "NaN": b'{"a": NaN}',
}


@pytest.mark.parametrize("name", ["attestation.json", "root.json", "report.json"])
@pytest.mark.parametrize("kind", sorted(_HOSTILE))
def test_hostile_json_in_an_input_is_exit_3_naming_it(
    work: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, kind: str
) -> None:
    att = _copy(work, tmp_path)
    (att / name).write_bytes(_HOSTILE[kind])
    rc, err = _por(capsys, "publish", att, "--out", tmp_path / "site")
    assert rc == 3, err
    assert name in err
    assert not (tmp_path / "site").exists()


def test_a_fifo_input_is_refused_without_blocking(work: Path, tmp_path: Path) -> None:
    att = _copy(work, tmp_path)
    (att / "report.json").unlink()
    os.mkfifo(att / "report.json")
    with pytest.raises(InputError, match="not a regular file"):
        build_site(att, tmp_path / "site")


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.sampled_from(["attestation.json", "root.json", "report.json"]),
    cut=st.integers(0, 30_000),
    flips=st.lists(st.tuples(st.integers(0, 30_000), st.integers(0, 255)), max_size=3),
)
def test_mutated_inputs_exit_0_or_3(
    work: Path, capsys: pytest.CaptureFixture[str], name: str, cut: int, flips: list[Any]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        att = Path(shutil.copytree(work / "attestation", Path(tmp) / "att"))
        data = bytearray((att / name).read_bytes())
        for at, byte in flips:
            data[at % len(data)] = byte
        (att / name).write_bytes(bytes(data[: max(cut, 1)] if cut < len(data) else data))
        rc, _ = _por(capsys, "publish", att, "--out", Path(tmp) / "site")
        assert rc in (0, 3)


# ----------------------------------------------------------------------------- --out


def test_out_holding_the_attestation_and_its_keys_is_refused_even_with_force(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = sorted(str(p) for p in work.rglob("*"))
    rc, err = _por(capsys, "publish", work / "attestation", "--out", work, "--force")
    assert rc == 2
    assert "attestation" in err and str(work) in err
    assert sorted(str(p) for p in work.rglob("*")) == before
    assert (work / "keys" / "attest.key").exists()
    assert (work / "liabilities" / "tree" / "secret.key").exists()


def test_out_inside_the_attestation_is_refused(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for out in (work / "attestation", work / "attestation" / "site"):
        rc, err = _por(capsys, "publish", work / "attestation", "--out", out, "--force")
        assert rc == 2, out
        assert "attestation" in err
    assert not (work / "attestation" / "site").exists()
    assert (work / "attestation" / "attestation.json").exists()


@pytest.mark.parametrize(
    ("where", "what"),
    [("liabilities", "tree secret"), ("keys", "signing key")],
)
def test_out_holding_a_key_or_secret_is_refused_even_with_force(
    work: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str, what: str
) -> None:
    out = Path(shutil.copytree(work / where, tmp_path / "out", symlinks=True))
    before = sorted(str(p) for p in out.rglob("*"))
    rc, err = _por(capsys, "publish", work / "attestation", "--out", out, "--force")
    assert rc == 2
    assert what in err
    assert sorted(str(p) for p in out.rglob("*")) == before


def test_out_holding_the_target_of_a_linked_input_is_refused(
    work: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    att = _copy(work, tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (att / "report.json").rename(elsewhere / "report.json")
    (att / "report.json").symlink_to(elsewhere / "report.json")
    rc, err = _por(capsys, "publish", att, "--out", elsewhere, "--force")
    assert rc == 2 and "report" in err
    assert (elsewhere / "report.json").exists()


def test_force_still_replaces_a_plain_directory(work: Path, tmp_path: Path) -> None:
    out = tmp_path / "docs"
    out.mkdir()
    (out / "old.txt").write_text("public")
    with pytest.raises(InputError, match="--force"):
        build_site(work / "attestation", out)
    build_site(work / "attestation", out, force=True)
    assert (out / "index.html").exists() and not (out / "old.txt").exists()
    with pytest.raises(UsageError):
        build_site(work / "attestation", work / "attestation" / "x")


# ----------------------------------------------------------------------------- serve: files


def _site_copy(clean_site: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(clean_site, tmp_path / "site"))


def test_serve_refuses_a_linked_file_even_with_the_right_hash(
    clean_site: Path, tmp_path: Path
) -> None:
    site = _site_copy(clean_site, tmp_path)
    outside = tmp_path / "outside.js"
    shutil.copy(site / "assets" / "verify.js", outside)
    (site / "assets" / "verify.js").unlink()
    (site / "assets" / "verify.js").symlink_to(outside)
    with pytest.raises(InputError, match="symbolic link") as caught:
        create_app(site)
    assert "verify.js" in str(caught.value)


def test_serve_refuses_a_linked_directory(clean_site: Path, tmp_path: Path) -> None:
    site = _site_copy(clean_site, tmp_path)
    shutil.move(site / "assets", tmp_path / "assets-elsewhere")
    (site / "assets").symlink_to(tmp_path / "assets-elsewhere")
    with pytest.raises(InputError, match="symbolic link"):
        create_app(site)


def test_serve_refuses_a_linked_manifest(clean_site: Path, tmp_path: Path) -> None:
    site = _site_copy(clean_site, tmp_path)
    shutil.move(site / "site.json", tmp_path / "site.json")
    (site / "site.json").symlink_to(tmp_path / "site.json")
    with pytest.raises(InputError, match="symbolic link"):
        create_app(site)


def test_serve_refuses_manifest_names_outside_the_site(clean_site: Path, tmp_path: Path) -> None:
    site = _site_copy(clean_site, tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("private")
    digest = hashlib.sha256(secret.read_bytes()).hexdigest()
    for name in ("../secret.txt", str(secret), "assets/../../secret.txt", ".hidden", "a//b"):
        manifest = json.loads((clean_site / "site.json").read_text())
        manifest["files"][name] = digest
        (site / "site.json").write_text(json.dumps(manifest))
        with pytest.raises(InputError, match="plain relative name"):
            create_app(site)


_JUNK_MANIFESTS = {
    "not JSON": b"{",
    "deep": b"[" * 100_000 + b"]" * 100_000,
    "huge integer": b'{"format": "por-site-v1", "files": {}, "n": ' + b"9" * 5000 + b"}",
    "invalid UTF-8": b'{"format": "por-site-v1\xff"}',
    "a list": b"[]",
    "files a list": b'{"format": "por-site-v1", "files": ["index.html"]}',
    "no digest": b'{"format": "por-site-v1", "files": {"index.html": 5}}',
    "another format": b'{"format": "something", "files": {}}',
}


@pytest.mark.parametrize("kind", sorted(_JUNK_MANIFESTS))
def test_serve_refuses_a_junk_manifest_with_exit_3(
    clean_site: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
) -> None:
    site = _site_copy(clean_site, tmp_path)
    (site / "site.json").write_bytes(_JUNK_MANIFESTS[kind])

    async def never(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a refused site must never be served")

    monkeypatch.setattr(serve_module, "start_server", never)
    rc, err = _por(capsys, "serve", site, "--port", "0")
    assert rc == 3, err
    assert "site.json" in err


def test_serve_without_a_manifest_is_exit_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(NotFound):
        read_manifest(tmp_path / "empty")
    rc, err = _por(capsys, "serve", tmp_path / "empty", "--port", "0")
    assert rc == 3 and "site.json" in err


def test_a_hostile_history_file_is_exit_3(
    clean_site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = tmp_path / "history.json"
    history.write_bytes(b"[" * 100_000 + b"]" * 100_000)
    rc, err = _por(capsys, "serve", clean_site, "--history-file", history, "--port", "0")
    assert rc == 3 and "history.json" in err


# ----------------------------------------------------------------------------- serve: live


class _Live:
    """`start_server` in a thread with its own event loop, on 127.0.0.1:<free port>."""

    def __init__(self, site: Path, head_timeout: float, **options: Any) -> None:
        self.app = create_app(site, **options)
        self.head_timeout = head_timeout
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.listening: Listening | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.listening = self.loop.run_until_complete(
            start_server(self.app, host="127.0.0.1", port=0, head_timeout=self.head_timeout)
        )
        self.ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self.listening.close())
        self.loop.close()

    @property
    def port(self) -> int:
        assert self.listening is not None
        return self.listening.port

    def __enter__(self) -> _Live:
        self.thread.start()
        assert self.ready.wait(30)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)


@pytest.fixture
def live(clean_site: Path) -> Iterator[_Live]:
    with _Live(clean_site, head_timeout=1.0) as server:
        yield server


def _exchange(port: int, raw: bytes) -> tuple[str, dict[str, str], bytes]:
    """Send `raw`, read until the server closes (errors close the connection)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(raw)
        reply = b""
        for _ in range(10_000):
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return lines[0], headers, body


@pytest.mark.parametrize(
    "raw",
    [
        b"GET / HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n",
        b"\x00\x01<script>alert(1)</script>\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        b"GET /<script> HTTP/9.9\r\n\r\n",
    ],
)
def test_parser_errors_carry_the_security_headers(live: _Live, raw: bytes) -> None:
    status, headers, body = _exchange(live.port, raw)
    assert status.split()[1] == "400", status
    for name, value in SECURITY_HEADERS.items():
        assert headers.get(name.lower()) == value, name
    assert headers.get("cache-control") == "no-store"
    assert json.loads(body) == {"error": "bad request"}  # nothing of the request echoed


def test_a_well_formed_request_still_works(live: _Live) -> None:
    status, headers, body = _exchange(
        live.port, b"GET /api HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert status.split()[1] == "200"
    assert headers["content-security-policy"] == SECURITY_HEADERS["Content-Security-Policy"]
    assert "commitment" in json.loads(body)


def _closed(sock: socket.socket) -> bool:
    readable, _, _ = select.select([sock], [], [], 0.1)
    if not readable:
        return False
    try:
        return sock.recv(1) == b""
    except OSError:
        return True


def test_a_slow_request_head_is_cut_off(live: _Live) -> None:
    # the deadline is 1 s; bytes trickle at ~10 per second for up to ~60 s: the loop ends
    # long before that only if the server closes the connection
    with socket.create_connection(("127.0.0.1", live.port), timeout=30) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        cut = False
        for _ in range(600):
            try:
                sock.sendall(b"a")
            except OSError:
                cut = True
                break
            if _closed(sock):
                cut = True
                break
        assert cut, "a request head sent byte by byte was never cut off"


def test_a_silent_connection_is_cut_off(live: _Live) -> None:
    with socket.create_connection(("127.0.0.1", live.port), timeout=30) as sock:
        assert any(_closed(sock) for _ in range(600)), "an idle connection was never closed"


def test_the_second_request_head_has_a_deadline_too(live: _Live) -> None:
    with socket.create_connection(("127.0.0.1", live.port), timeout=30) as sock:
        sock.sendall(b"GET /api HTTP/1.1\r\nHost: x\r\n\r\nGET /api HTTP/1.1\r\nX-Slow: ")
        cut = False
        for _ in range(600):
            try:
                sock.sendall(b"a")
            except OSError:
                cut = True
                break
            readable, _, _ = select.select([sock], [], [], 0.1)
            if readable:
                try:
                    if sock.recv(65536) == b"":
                        cut = True
                        break
                except OSError:
                    cut = True
                    break
        assert cut


def test_files_are_served_from_memory_not_re_read(clean_site: Path, tmp_path: Path) -> None:
    site = _site_copy(clean_site, tmp_path)
    with _Live(site, head_timeout=5.0) as server:
        (site / "index.html").unlink()
        (site / "index.html").symlink_to("/etc/passwd")
        _, _, body = _exchange(
            server.port, b"GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
    assert body == (clean_site / "index.html").read_bytes()


def test_a_port_in_use_is_exit_4(clean_site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        rc, err = _por(capsys, "serve", clean_site, "--port", port)
    assert rc == 4 and "cannot listen" in err


def _secure(headers: dict[str, str]) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert headers.get(name.lower()) == value, name


def test_a_history_file_is_served_as_written_and_rechecked(
    clean_site: Path, tmp_path: Path
) -> None:
    path = tmp_path / "history.json"
    path.write_bytes(b'[{"ratio": 1.25, "n": 3}]\n')
    get = b"GET /api/history HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    with _Live(clean_site, head_timeout=5.0, history=history_file(path)) as server:
        status, headers, body = _exchange(server.port, get)
        assert status.split()[1] == "200" and body == path.read_bytes()
        path.write_bytes(b"[" * 100_000 + b"]" * 100_000)
        status, headers, body = _exchange(server.port, get)
    assert status.split()[1] == "503"
    _secure(headers)
    assert json.loads(body) == {"error": "the history is not available"}


def test_a_crashing_history_provider_is_a_secure_500(clean_site: Path) -> None:
    def broken() -> Any:
        raise RuntimeError("boom /secret/path")

    get = b"GET /api/history HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    with _Live(clean_site, head_timeout=5.0, history=broken) as server:
        status, headers, body = _exchange(server.port, get)
    assert status.split()[1] == "500"
    _secure(headers)
    assert json.loads(body) == {"error": "internal server error"}
