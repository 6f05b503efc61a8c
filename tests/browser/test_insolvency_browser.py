"""The site's "Insolvency distribution" page in headless Chromium (`por publish --plan`).

A site is published from a real attestation (tests/browser/site_builder.py) with a real plan:
the sample liabilities (fixtures/liabilities/sample.csv) → `por insolvency claims` → `por
insolvency plan` (policy mixed: BTC short, ETH in surplus, USDT topped up in USD) → each
customer's bundle (`por insolvency proof`). In the page a customer pastes or chooses their
bundle: a genuine one shows their claim and distribution per asset, the rule as applied, and
every check passed, the same figures as `por insolvency verify`; a tampered one fails naming
the check. At 390 and 1280 px the page must not scroll sideways; screenshots are saved to
$POR_ARTIFACTS/insolvency (or a temporary directory) and their paths printed.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import site_builder as builder
from chromium_fixtures import need_chromium
from page_checks import WIDTHS, artefacts_dir, assert_fits, open_page, serve_directory

from tests.cli.insolvency_world import ACCOUNTS, MIXED, make_world
from verifier.cli.main import main
from verifier.insolvency.verify import verify_bundle
from verifier.site.publish import build_site

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ESTATE = MIXED.replace('policy = "mixed"\n', 'policy = "mixed"\nexchange = "Example Exchange"\n')
BOXES = "table, .scroll, td, th, dd, pre, .result, p, li"


def _por(*args: Any) -> None:
    assert main([str(a) for a in args]) == 0, args


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    need_chromium()
    work = tmp_path_factory.mktemp("insolvency-site")
    for name in ("sample.csv", "assets.toml"):
        shutil.copy(ROOT / "fixtures" / "liabilities" / name, work / name)
    _por(
        "liabilities", "build", work / "sample.csv", "--assets", work / "assets.toml",
        "--attestation-id", "example-2025-06", "--out", work / "tree",
        "--as-of", "2025-06-30T00:00:00Z", "--workers", "1",
    )  # fmt: skip
    made = make_world(_por, work / "tree", work, ESTATE)
    bundles = {a: json.loads((made["bundles"] / f"{a}.json").read_text()) for a in ACCOUNTS}
    att_dir, _ = builder.make_attestation_dir(work / "att")
    build_site(att_dir, work / "site", plan=work / "P" / "plan.json")
    plan = json.loads((work / "P" / "plan.json").read_text())
    return {"site": work / "site", "plan": plan, "bundles": bundles}


@pytest.fixture(scope="module")
def base_url(world: dict[str, Any]) -> Iterator[str]:
    with serve_directory(world["site"]) as url:
        yield url


@pytest.fixture(scope="session")
def artefacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return artefacts_dir(tmp_path_factory, "insolvency", "insolvency-shots")


def _open(browser: Any, url: str, width: int) -> tuple[Any, Any, list[str]]:
    context, page, errors = open_page(browser, url, width)
    page.wait_for_selector("body[data-ready=true]", state="attached")
    return context, page, errors


def _paste(page: Any, bundle: Any) -> str:
    page.fill("#bundle-text", json.dumps(bundle, indent=2))
    page.click("#verify-button")
    page.wait_for_selector('#result[data-state]:not([data-state="busy"])', state="attached")
    state: str = page.eval_on_selector("#result", "e => e.dataset.state")
    return state


def _fits(page: Any, width: int, what: str) -> None:
    assert_fits(page, width, what, BOXES)


def test_the_site_publishes_the_plan_and_the_page(world: dict[str, Any]) -> None:
    site = world["site"]
    assert json.loads((site / "plan.json").read_text()) == world["plan"]
    manifest = json.loads((site / "site.json").read_text())
    for name in (
        "insolvency.html",
        "plan.json",
        "assets/insolvency.js",
        "assets/insolvency-page.js",
    ):
        assert name in manifest["files"], name
    index = (site / "index.html").read_text()
    assert 'href="insolvency.html"' in index


@pytest.mark.parametrize("width_name", sorted(WIDTHS))
def test_a_customer_checks_their_distribution(
    browser: Any, base_url: str, world: dict[str, Any], artefacts: Path, width_name: str
) -> None:
    width = WIDTHS[width_name]
    context, page, errors = _open(browser, f"{base_url}/insolvency.html", width)
    try:
        _fits(page, width, "the empty page")
        page.screenshot(path=str(artefacts / f"insolvency-{width}.png"), full_page=True)
        for account in ACCOUNTS:
            bundle = world["bundles"][account]
            assert _paste(page, bundle) == "valid", page.inner_text("#result")
            assert page.inner_text("#account") == account
            expected = verify_bundle(bundle, world["plan"])
            assert expected.valid
            checks = page.eval_on_selector_all(
                "#checks li", "items => items.map(i => [i.dataset.check, i.dataset.ok])"
            )
            assert checks == [[c.name, "true"] for c in expected.checks]
            rows = page.eval_on_selector_all(
                "#result tbody tr", "rows => rows.map(r => r.cells[0].textContent)"
            )
            assert rows == sorted(expected.distribution)
            if account == "alice":
                _fits(page, width, "alice's distribution")
                page.screenshot(
                    path=str(artefacts / f"insolvency-valid-{width}.png"), full_page=True
                )
                rule = page.inner_text("#rule-applied")
                assert "BTC: floor(150000000 × 1500000000 / 2250000001) = 99999999 + 1" in rule
        print(f"screenshots: {artefacts}")
        assert errors == []
    finally:
        context.close()


@pytest.mark.parametrize("width_name", sorted(WIDTHS))
def test_a_tampered_bundle_fails_naming_the_check(
    browser: Any, base_url: str, world: dict[str, Any], artefacts: Path, width_name: str
) -> None:
    width = WIDTHS[width_name]
    context, page, errors = _open(browser, f"{base_url}/insolvency.html", width)
    try:
        bundle = json.loads(json.dumps(world["bundles"]["erin"]))
        balances = bundle["distribution"]["leaves"][0]["balances"]
        balances[0] = str(int(balances[0]) + 1)  # one more satoshi
        assert _paste(page, bundle) == "invalid"
        verdict = page.inner_text("#verdict")
        assert "distribution proof" in verdict
        assert "root hash" in page.inner_text("#failed-check")
        failed = page.eval_on_selector_all(
            '#checks li[data-ok="false"]', "items => items.map(i => i.dataset.check)"
        )
        assert failed == verify_bundle(bundle, world["plan"]).failed
        _fits(page, width, "a failed check")
        page.screenshot(path=str(artefacts / f"insolvency-invalid-{width}.png"), full_page=True)
        # a bundle for another plan
        other = dict(world["bundles"]["bob"], plan_id="sha256:" + "0" * 64)
        assert _paste(page, other) == "invalid"
        assert "bundle" in page.inner_text("#verdict")
        assert _paste(page, "not json") == "invalid"
        assert errors == []
    finally:
        context.close()
