"""`por publish` (verifier/site/publish.py) and `por serve` (verifier/site/serve.py) without a browser.

The site: every file the manifest lists, hashed; no inclusion proof copied in; strict CSP, no
inline script or style, nothing external; hostile strings escaped; the root document
embedded in the proof page equal to root.json; refusals (a tampered attestation, a root.json
or report of another attestation, an output directory in the way); atomic replacement.
The server: security headers on every reply, read-only, only manifest files, no proof
endpoint, the JSON API and the pluggable history.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner

from verifier.base.errors import InputError, InvalidProof, NotFound
from verifier.cli.site import publish, serve
from verifier.site.files import CSP, META_CSP, read_manifest
from verifier.site.publish import build_site
from verifier.site.serve import SECURITY_HEADERS, create_app

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "_site_builder_unit", ROOT / "tests" / "browser" / "site_builder.py"
)
assert _spec is not None and _spec.loader is not None
builder = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(builder)

EVIL = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def attestation(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    work = tmp_path_factory.mktemp("att")
    att_dir, proofs = builder.make_attestation_dir(work)
    # a proof lying next to the attestation must never reach the site
    (att_dir / "proof-acct-00000000.json").write_text(json.dumps(proofs["acct-00000000"]))
    return att_dir, proofs


@pytest.fixture(scope="module")
def site(
    attestation: tuple[Path, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    out = tmp_path_factory.mktemp("site") / "site"
    build_site(attestation[0], out, generated_at="2026-11-21T02:00:00Z")
    return out


def _copy_attestation(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


# ----------------------------------------------------------------------------- publish


def test_site_files_and_manifest(site: Path, attestation: tuple[Path, dict[str, Any]]) -> None:
    manifest = read_manifest(site)
    names = set(manifest["files"])
    assert names == {
        "index.html",
        "verify.html",
        "root.json",
        "attestation.json",
        "report.json",
        "assets/style.css",
        "assets/verify.js",
        "assets/check-page.js",
        "assets/verify-page.js",
    }
    on_disk = {str(p.relative_to(site)) for p in site.rglob("*") if p.is_file()}
    assert on_disk == names | {"site.json"}
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((site / name).read_bytes()).hexdigest() == digest
    # published byte for byte
    for name in ("attestation.json", "root.json", "report.json"):
        assert (site / name).read_bytes() == (attestation[0] / name).read_bytes()
    assert manifest["commitment"] == json.loads((site / "root.json").read_text())["commitment"]
    assert manifest["generated_at"] == "2026-11-21T02:00:00Z"
    assert not any("proof" in n for n in on_disk)
    assert not any(p.name.startswith(".") for p in site.parent.iterdir())  # no temp dirs left


def test_pages_are_self_contained_and_strict(site: Path) -> None:
    for page in ("index.html", "verify.html"):
        text = (site / page).read_text()
        assert f'content="{META_CSP}"' in text  # the policy's quotes as written
        assert "style=" not in text
        assert "<style" not in text
        for tag in re.findall(r"<script\b[^>]*>", text):
            assert 'src="assets/' in tag or 'type="application/json"' in tag, tag
        for url in re.findall(r'(?:src|href)="([^"]+)"', text):
            assert url == "data:," or not re.match(r"[a-z]+:|//", url), url
        assert '<meta name="viewport"' in text
        assert EVIL not in text
    for asset in (
        "assets/style.css",
        "assets/verify.js",
        "assets/check-page.js",
        "assets/verify-page.js",
    ):
        text = (site / asset).read_text()
        assert "http://" not in text and "https://" not in text
        assert "fetch(" not in text and "XMLHttpRequest" not in text
        assert "@import" not in text and "url(" not in text


def test_index_shows_the_summary(site: Path, attestation: tuple[Path, dict[str, Any]]) -> None:
    text = (site / "index.html").read_text()
    root = json.loads((site / "root.json").read_text())
    for needle in (
        "Coverage per asset",
        "<svg",
        "Liability reserve",
        "Reserve statement (off-chain)",
        "Pinned blocks",
        "0f" * 32,
        "Wallets and ownership",
        "What this proves and what it does not",
        'href="root.json" download',
        root["commitment"],
        'href="verify.html"',
        "Example &lt;b&gt;Exchange&lt;/b&gt;",
        "trust &lt;script&gt;x&lt;/script&gt;",
    ):
        assert needle in text, needle


def test_verify_page_embeds_the_published_root(site: Path) -> None:
    text = (site / "verify.html").read_text()
    match = re.search(
        r'<script type="application/json" id="por-published-root">(.*?)</script>', text, re.S
    )
    assert match
    assert json.loads(match.group(1)) == json.loads((site / "root.json").read_text())
    assert "Nothing is uploaded" in text
    assert 'id="proof-file"' in text and 'id="proof-text"' in text


def test_without_a_report(tmp_path: Path) -> None:
    att_dir, _ = builder.make_attestation_dir(tmp_path / "w", with_report=False)
    result = build_site(att_dir, tmp_path / "site")
    assert "report.json" not in result.files
    text = (tmp_path / "site" / "index.html").read_text()
    assert "not checked here" in text  # ownership as signed, not as verified
    assert "What this proves and what it does not" in text


def test_refuses_a_tampered_attestation(
    attestation: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    src = _copy_attestation(attestation[0], tmp_path / "a")
    doc = json.loads((src / "attestation.json").read_text())
    doc["exchange"] = "Someone Else"
    (src / "attestation.json").write_text(json.dumps(doc))
    with pytest.raises(InvalidProof):
        build_site(src, tmp_path / "site")
    assert not (tmp_path / "site").exists()


def test_refuses_a_root_of_another_attestation(
    attestation: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    src = _copy_attestation(attestation[0], tmp_path / "a")
    root = json.loads((src / "root.json").read_text())
    root["root"]["sums"][0] = str(int(root["root"]["sums"][0]) + 1)
    (src / "root.json").write_text(json.dumps(root))
    with pytest.raises(InputError, match=r"root\.json"):
        build_site(src, tmp_path / "site")


def test_refuses_a_report_of_another_attestation(
    attestation: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    src = _copy_attestation(attestation[0], tmp_path / "a")
    report = json.loads((src / "report.json").read_text())
    report["attestation"]["commitment"] = "00" * 32
    (src / "report.json").write_text(json.dumps(report))
    with pytest.raises(InputError, match="another attestation"):
        build_site(src, tmp_path / "site")


def test_missing_attestation(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        build_site(tmp_path / "nothing", tmp_path / "site")


def test_replaces_an_earlier_site_but_not_other_directories(
    attestation: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    out = tmp_path / "site"
    build_site(attestation[0], out)
    (out / "stale.txt").write_text("old")
    build_site(attestation[0], out)  # an earlier site: replaced as a whole
    assert not (out / "stale.txt").exists()
    other = tmp_path / "docs"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="--force"):
        build_site(attestation[0], other)
    assert (other / "keep.txt").read_text() == "mine"
    build_site(attestation[0], other, force=True)
    assert (other / "index.html").exists() and not (other / "keep.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["docs", "site"]


def test_publish_command(attestation: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    out = tmp_path / "site"
    result = CliRunner().invoke(
        publish, [str(attestation[0]), "--out", str(out), "--json"], standalone_mode=False
    )
    assert result.exception is None, result.output
    assert result.return_value == 0
    doc = json.loads(result.output)
    assert doc["attestation_id"] == "site-test-2026-11"
    assert (out / "verify.html").exists()
    help_text = CliRunner().invoke(serve, ["--help"]).output
    assert "--port" in help_text and "/api/root" in help_text


# ----------------------------------------------------------------------------- serve


async def _client(site_dir: Path, **kwargs: Any) -> TestClient[Any, Any]:
    client: TestClient[Any, Any] = TestClient(TestServer(create_app(site_dir, **kwargs)))
    await client.start_server()
    return client


def _secure(headers: Any) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert headers[name] == value, name
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in CSP and "'unsafe-eval'" not in CSP


async def test_serves_pages_with_security_headers(site: Path) -> None:
    client = await _client(site)
    try:
        for path, kind in (
            ("/", "text/html"),
            ("/index.html", "text/html"),
            ("/verify.html", "text/html"),
            ("/assets/verify.js", "text/javascript"),
            ("/assets/style.css", "text/css"),
            ("/root.json", "application/json"),
            ("/site.json", "application/json"),
        ):
            resp = await client.get(path)
            assert resp.status == 200, path
            assert resp.headers["Content-Type"].startswith(kind), path
            _secure(resp.headers)
            if kind in {"text/html", "application/json"}:
                assert resp.headers["Cache-Control"] == "no-store", path
            else:
                assert resp.headers["Cache-Control"] == "no-cache", path
        body = await (await client.get("/verify.html")).read()
        assert body == (site / "verify.html").read_bytes()
    finally:
        await client.close()


async def test_json_api(site: Path) -> None:
    client = await _client(site)
    try:
        for name in ("root", "attestation", "report"):
            resp = await client.get(f"/api/{name}")
            assert resp.status == 200
            _secure(resp.headers)
            assert resp.headers["Cache-Control"] == "no-store"
            assert await resp.read() == (site / f"{name}.json").read_bytes()
        index = await (await client.get("/api")).json()
        assert index["commitment"] == json.loads((site / "root.json").read_text())["commitment"]
        resp = await client.get("/api/history")
        assert resp.status == 404
        assert await resp.json() == {"error": "no database configured"}
        _secure(resp.headers)
    finally:
        await client.close()


async def test_history_is_pluggable(site: Path) -> None:
    rows = [{"attestation_id": "a", "covered": True}]

    async def provider() -> Any:
        return rows

    for history in (lambda: rows, provider):
        client = await _client(site, history=history)
        try:
            resp = await client.get("/api/history")
            assert resp.status == 200
            assert await resp.json() == rows
        finally:
            await client.close()


async def test_read_only_and_no_proofs(
    site: Path, attestation: tuple[Path, dict[str, Any]]
) -> None:
    # a proof file dropped into the served directory is not in the manifest: never served
    (site / "proof-acct-00000000.json").write_text(json.dumps(attestation[1]["acct-00000000"]))
    client = await _client(site)
    try:
        for path in (
            "/proof-acct-00000000.json",
            "/api/proof",
            "/api/proof/acct-00000000",
            "/api/proofs",
            "/%2e%2e/etc/passwd",
            "/assets/",
            "/nothing.html",
        ):
            resp = await client.get(path)
            assert resp.status == 404, path
            _secure(resp.headers)
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            resp = await client.request(method, "/api/root", data=b"{}")
            assert resp.status == 405, method
            _secure(resp.headers)
            assert resp.headers["Cache-Control"] == "no-store"
        resp = await client.post("/verify.html", data=json.dumps(attestation[1]["acct-00000000"]))
        assert resp.status == 405
        resp = await client.get("/", data=b"x" * 10)
        assert resp.status == 400
    finally:
        await client.close()
        (site / "proof-acct-00000000.json").unlink()


async def test_report_endpoint_404_without_a_report(tmp_path: Path) -> None:
    att_dir, _ = builder.make_attestation_dir(tmp_path / "w", with_report=False)
    build_site(att_dir, tmp_path / "site")
    client = await _client(tmp_path / "site")
    try:
        resp = await client.get("/api/report")
        assert resp.status == 404
        assert "report.json" in (await resp.json())["error"]
    finally:
        await client.close()


def test_serve_refuses_a_modified_site(site: Path, tmp_path: Path) -> None:
    copy = tmp_path / "site"
    shutil.copytree(site, copy)
    (copy / "assets" / "verify.js").write_text("/* changed */")
    with pytest.raises(InputError, match="differs from the site manifest"):
        create_app(copy)
    with pytest.raises(NotFound):
        create_app(tmp_path / "no-site")
