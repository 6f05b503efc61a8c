"""End to end in headless Chromium: the published site, and a customer checking their proof.

A real attestation (tree built by the tool, signed document, report) is published with
`build_site` and served by `por serve`'s aiohttp app on a free loopback port; Playwright
drives Debian's /usr/bin/chromium. The tests open the site, verify valid proofs (pasted,
chosen, dropped, by keyboard only), reject tampered ones (balance, sibling, commitment) and
a proof for another attestation, check the verdicts against the Python verifier, and record
every request after load: there must be none. Screenshots go to $POR_ARTIFACTS (or a
temporary directory), named after the test.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import site_builder as builder
from aiohttp import web
from chromium_fixtures import need_chromium

from attestations.proofs import parse_proof, parse_root_document, verify_proof
from verifier.base.errors import InvalidProof
from verifier.report.figures import units
from verifier.site.publish import build_site
from verifier.site.serve import create_app

pytestmark = pytest.mark.browser

HERE = Path(__file__).resolve().parent


class _Server:
    """The aiohttp app in a thread with its own event loop, on 127.0.0.1:<free port>."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.port = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        runner = web.AppRunner(self.app, access_log=None)
        self.loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = runner.addresses[0][1]
        self.ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(runner.cleanup())
        self.loop.close()

    def __enter__(self) -> _Server:
        self.thread.start()
        assert self.ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    need_chromium()
    work = tmp_path_factory.mktemp("browser")
    att_dir, proofs = builder.make_attestation_dir(work / "main")
    _, other_proofs = builder.make_attestation_dir(work / "other", "another-attestation-2026-10")
    build_site(att_dir, work / "site")
    root = json.loads((work / "site" / "root.json").read_text())
    return {
        "site": work / "site",
        "root": root,
        "proofs": proofs,
        "other": next(iter(other_proofs.values())),
        "work": work,
    }


@pytest.fixture(scope="module")
def base_url(published: dict[str, Any]) -> Iterator[str]:
    with _Server(create_app(published["site"])) as server:
        yield f"http://127.0.0.1:{server.port}"


@pytest.fixture(scope="session")
def artefacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    env = os.environ.get("POR_ARTIFACTS")
    path = Path(env) / "screenshots" if env else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


class Page:
    """A page plus what it did: requests after load, console errors, CSP reports."""

    def __init__(self, browser: Any, url: str, base: str, **context: Any) -> None:
        self.context = browser.new_context(**context)
        self.page = self.context.new_page()
        self.base = base
        self.all_requests: list[str] = []
        self.after_load: list[str] = []
        self.errors: list[str] = []
        self.loaded = False
        self.page.on("request", self._request)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.goto(url, wait_until="load")
        self.page.wait_for_load_state("networkidle")
        self.loaded = True

    def _request(self, request: Any) -> None:
        self.all_requests.append(request.url)
        if self.loaded:
            self.after_load.append(request.url)

    def _console(self, message: Any) -> None:
        if message.type in {"error", "warning"}:
            self.errors.append(message.text)

    def close(self) -> None:
        self.context.close()

    def check_quiet(self) -> None:
        assert self.after_load == [], self.after_load
        assert all(u.startswith(self.base + "/") for u in self.all_requests), self.all_requests
        assert self.errors == [], self.errors


def py_verdict(proof: Any, root: Any) -> dict[str, Any]:
    try:
        verified = verify_proof(parse_proof(proof), published_root=parse_root_document(root))
    except InvalidProof as exc:
        return {"valid": False, "check": exc.check}
    return {"valid": True, "balances": verified.balances_whole()}


def verify_by_paste(p: Page, proof: Any) -> str:
    p.page.fill("#proof-text", json.dumps(proof, indent=2))
    p.page.click("#verify-button")
    p.page.wait_for_selector('#result[data-state]:not([data-state="busy"])', state="attached")
    state: str = p.page.eval_on_selector("#result", "e => e.dataset.state")
    return state


def shown_balances(p: Page, proof: Any) -> dict[str, str]:
    """The exact balances, from the table behind the "Exact balances" toggle; the table on
    show must hold the same amounts rounded down to 8 decimals (figures.py `units`)."""
    exact = p.page.eval_on_selector_all(
        "table.exact tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
    )
    shown = p.page.eval_on_selector_all(
        "table.balances tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.innerText))"
    )
    decimals = {a["code"]: a["decimals"] for a in proof["assets"]}
    assert [len(r) for r in shown] == [2] * len(exact)  # no base-unit column on show
    for (code, whole, base), (code2, readable) in zip(exact, shown, strict=True):
        assert code == code2
        assert Decimal(whole) == Decimal(base).scaleb(-decimals[code])
        assert readable == f"{units(whole, decimals[code])} {code}", (readable, whole)
    return {code: whole for code, whole, _ in exact}


# ----------------------------------------------------------------------------- tests


def test_summary_page(browser: Any, base_url: str, artefacts: Path) -> None:
    p = Page(browser, base_url + "/", base_url)
    try:
        page = p.page
        assert "Proof of reserves" in page.title()
        assert page.locator("h1").inner_text().startswith("Proof of reserves: Example <b>Exchange")
        for heading in (
            "Coverage per asset",
            "Pinned blocks",
            "Wallets and ownership",
            "What this proves and what it does not",
        ):
            assert page.get_by_role("heading", name=heading).count() == 1, heading
        assert page.locator("svg").count() >= 2
        assert page.eval_on_selector(".sw", "e => getComputedStyle(e).backgroundColor") not in {
            "",
            "rgba(0, 0, 0, 0)",
        }  # legend colours come from the style sheet, not inline styles
        assert page.evaluate("() => window.__xss === undefined")
        page.screenshot(path=str(artefacts / "summary-desktop.png"), full_page=True)
        # root.json link downloads the published root document
        with page.expect_download() as download:
            page.click('a[href="root.json"]')
        saved = artefacts.parent / "root-download.json"
        download.value.save_as(saved)
        assert json.loads(saved.read_text())["commitment"] == page.inner_text("#commitment")
        p.after_load.clear()  # the download is a request the user asked for
        p.check_quiet()
    finally:
        p.close()


def test_valid_proof_pasted(
    browser: Any, base_url: str, published: dict[str, Any], artefacts: Path
) -> None:
    p = Page(browser, base_url + "/verify.html", base_url)
    try:
        for account, proof in published["proofs"].items():
            assert len(proof["leaves"]) == 2  # split into two leaves
            state = verify_by_paste(p, proof)
            assert state == "valid", p.page.inner_text("#result")
            expected = py_verdict(proof, published["root"])
            assert expected["valid"]
            assert shown_balances(p, proof) == expected["balances"]
            assert account in p.page.inner_text("#result")
            assert p.page.evaluate("() => document.activeElement.id") == "result"
        p.page.screenshot(path=str(artefacts / "verify-valid.png"), full_page=True)
        p.check_quiet()
    finally:
        p.close()


def _tampered(proof: dict[str, Any]) -> dict[str, dict[str, Any]]:
    balance = copy.deepcopy(proof)
    balance["leaves"][0]["balances"][0] = str(int(balance["leaves"][0]["balances"][0]) + 1)
    sibling = copy.deepcopy(proof)
    sums = sibling["leaves"][0]["path"][0]["sums"]
    sums[1] = str(int(sums[1]) + 1)
    sibling_hash = copy.deepcopy(proof)
    h = sibling_hash["leaves"][0]["path"][2]["hash"]
    sibling_hash["leaves"][0]["path"][2]["hash"] = ("1" if h[0] == "0" else "0") + h[1:]
    commitment = copy.deepcopy(proof)
    commitment["commitment"] = "00" * 32
    root_sum = copy.deepcopy(proof)
    root_sum["root"]["sums"][0] = str(int(root_sum["root"]["sums"][0]) + 1)
    short = copy.deepcopy(proof)
    short["leaves"][0]["path"].pop()
    return {
        "balance": balance,
        "sibling-sum": sibling,
        "sibling-hash": sibling_hash,
        "commitment": commitment,
        "root-sum": root_sum,
        "path-short": short,
    }


def test_tampered_proofs_rejected(
    browser: Any, base_url: str, published: dict[str, Any], artefacts: Path
) -> None:
    proof = next(iter(published["proofs"].values()))
    p = Page(browser, base_url + "/verify.html", base_url)
    try:
        for name, bad in _tampered(proof).items():
            expected = py_verdict(bad, published["root"])
            assert not expected["valid"]
            state = verify_by_paste(p, bad)
            assert state == "invalid", (name, p.page.inner_text("#result"))
            verdict = p.page.inner_text("#verdict")
            assert verdict == f"Invalid proof: the {expected['check']} check failed", name
            assert p.page.inner_text("#failed-check").startswith(expected["check"] + ":")
            p.page.screenshot(path=str(artefacts / f"verify-tampered-{name}.png"), full_page=True)
        assert verify_by_paste(p, "not json {") == "invalid"
        p.page.fill("#proof-text", "{not json")
        p.page.click("#verify-button")
        p.page.wait_for_selector('#result[data-state="invalid"]', state="attached")
        assert "json check failed" in p.page.inner_text("#verdict")
        p.check_quiet()
    finally:
        p.close()


def test_proof_for_another_attestation(
    browser: Any, base_url: str, published: dict[str, Any], artefacts: Path
) -> None:
    p = Page(browser, base_url + "/verify.html", base_url)
    try:
        other = published["other"]
        assert py_verdict(other, published["root"]) == {
            "valid": False,
            "check": "published commitment",
        }
        assert verify_by_paste(p, other) == "other"
        text = p.page.inner_text("#result")
        assert "This proof is for another attestation" in text
        assert "another-attestation-2026-10" in text
        assert published["root"]["attestation_id"] in text
        p.page.screenshot(path=str(artefacts / "verify-other-attestation.png"), full_page=True)
        p.check_quiet()
    finally:
        p.close()


def test_file_chosen_and_dropped(browser: Any, base_url: str, published: dict[str, Any]) -> None:
    proof = next(iter(published["proofs"].values()))
    path = published["work"] / "proof-file.json"
    path.write_text(json.dumps(proof))
    p = Page(browser, base_url + "/verify.html", base_url)
    try:
        p.page.set_input_files("#proof-file", str(path))
        p.page.wait_for_selector('#result[data-state="valid"]', state="attached")
        p.page.click("#clear-button")
        assert p.page.input_value("#proof-text") == ""
        # drag and drop: a DataTransfer holding the file, dropped on the drop zone
        p.page.evaluate(
            """text => {
                const dt = new DataTransfer();
                dt.items.add(new File([text], "proof.json", {type: "application/json"}));
                const zone = document.getElementById("drop");
                zone.dispatchEvent(new DragEvent("dragover", {dataTransfer: dt, bubbles: true}));
                zone.dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true}));
            }""",
            json.dumps(proof),
        )
        p.page.wait_for_selector('#result[data-state="valid"]', state="attached")
        assert json.loads(p.page.input_value("#proof-text")) == proof
        p.check_quiet()
    finally:
        p.close()


def test_keyboard_only(browser: Any, base_url: str, published: dict[str, Any]) -> None:
    proof = next(iter(published["proofs"].values()))
    p = Page(browser, base_url + "/verify.html", base_url)
    try:
        page = p.page
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.className") == "skip"
        for _ in range(20):
            page.keyboard.press("Tab")
            if page.evaluate("() => document.activeElement.id") == "proof-text":
                break
        else:
            raise AssertionError("the proof text area cannot be reached with Tab")
        page.keyboard.insert_text(json.dumps(proof))
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.id") == "verify-button"
        page.keyboard.press("Enter")
        page.wait_for_selector('#result[data-state="valid"]', state="attached")
        assert page.evaluate("() => document.activeElement.id") == "result"
        p.check_quiet()
    finally:
        p.close()


def test_phone_layout(
    browser: Any, base_url: str, published: dict[str, Any], artefacts: Path
) -> None:
    phone = {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
    }
    for page_name in ("index.html", "verify.html"):
        p = Page(browser, f"{base_url}/{page_name}", base_url, **phone)
        try:
            if page_name == "verify.html":
                assert verify_by_paste(p, next(iter(published["proofs"].values()))) == "valid"
            width = p.page.evaluate("() => document.documentElement.scrollWidth")
            assert width <= 390, f"{page_name} scrolls sideways on a phone ({width}px)"
            p.page.screenshot(
                path=str(artefacts / f"phone-{page_name.removesuffix('.html')}.png"),
                full_page=True,
            )
            p.check_quiet()
        finally:
            p.close()


def test_csp_blocks_injected_script_and_connections(browser: Any, base_url: str) -> None:
    """The policy is in force: inline script does not run, fetch is refused."""
    p = Page(browser, base_url + "/verify.html", base_url)
    try:
        ran = p.page.evaluate(
            """() => {
                const s = document.createElement("script");
                s.textContent = "window.__injected = true";
                document.body.appendChild(s);
                return window.__injected === true;
            }"""
        )
        assert ran is False
        refused = p.page.evaluate("() => fetch('/api/root').then(() => false, () => true)")
        assert refused is True
        assert p.after_load == []  # blocked before it left the page
    finally:
        p.close()
