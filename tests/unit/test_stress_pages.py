"""The scenarios as pages: `render_stress_html` (verifier/stress/html.py) shows every field of a
``por-stress-v1`` document, escaped and formatted by the pages' one rule; `por publish --stress`
(verifier/site/stress.py, pages.py, publish.py) publishes the document and a Scenarios page
only for the site's own report, refusing a hostile document with exit 3.

The document is fixtures/stress/hand-made.json, written by hand to the contract of
docs/stress.md (two scenarios, one made whole and one not, and a sweep)."""

from __future__ import annotations

import copy
import html as html_lib
import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest

from verifier.base.errors import InputError, UsageError
from verifier.cli.main import main
from verifier.site.files import read_manifest
from verifier.site.publish import build_site
from verifier.stress.html import render_stress_html, stress_view

ROOT = Path(__file__).resolve().parents[2]
DOC_PATH = ROOT / "fixtures" / "stress" / "hand-made.json"
EVIL = "<script>alert(1)</script>"
_spec = importlib.util.spec_from_file_location(
    "_site_builder_stress", ROOT / "tests" / "browser" / "site_builder.py"
)
assert _spec is not None and _spec.loader is not None
builder = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(builder)


def _doc() -> dict[str, Any]:
    return json.loads(DOC_PATH.read_text())


def _text(html: str) -> str:
    """The page's text, tags removed and whitespace collapsed."""
    return html_lib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


# ----------------------------------------------------------------------------- the page


def test_page_shows_every_field_of_the_document() -> None:
    html = render_stress_html(_doc())
    text = _text(html)
    # header and verdict
    assert "Incident scenarios: Demo Exchange KK" in text
    assert "sha256:3a79ae6aef4a3864724f13a9b7ebd0721d9ab0b690a9cced696cd82fde0e6d2c" in text
    assert "Customers not made whole in 1 of 2 scenarios" in text
    # what a scenario is (the document's own note)
    assert "A scenario is a model of one event, not a prediction" in text
    assert "It does not model the exchange's other debts" in text
    # scenario 1: made whole at once, the hot wallet of vaultsoft
    assert "Every customer made whole · paid at once" in text
    assert "loss: vendor vaultsoft, class hot, largest, share 1, peril hack, event e1" in text
    assert "506.50762796" in text  # BTC lost, whole units
    assert "7,597,614,419.40" in text  # its value, rounded down to 2 places
    assert "422.08968998" in text  # bought back by cash
    assert "101.00% → 100.00%" in text
    assert "bcrt1qd40gy8s8r2sascvpp526auhdnvcgj7e2zjx0g9" in text
    assert "hot wallet on bitcoin vendor vaultsoft" in text
    # scenario 2: uncovered, 90 days, every payer in order
    assert "Not made whole: 35,753,544,377.64 JPY uncovered" in text
    assert "Time to pay: 90 days (the insurance pays after its 90-day claim period)" in text
    assert "65,006.44432299" in text  # uncovered ETH, 8 places rounded down
    assert "→ 52.10%" in text  # coverage after, floored
    for payer in ("ETH surplus", "Cyber policy", "Parent guarantee"):
        assert payer in text
    assert "deductible 100,000,000 applied" in text
    assert "20,000,000,000.00" in text
    # base units exactly, behind the toggle
    assert "65,006,444,322,998,912,224,617" in text
    assert "135,719,204,063,745,141,174,654" in text
    # the sweep, weakest first, both lists
    assert "Weakest points (sweep, peril hack)" in text
    assert text.index("cold-safe") < text.index("bitcoin.wallets[0]")
    assert "SignCo Ltd" in text and "absorbs 50.00%" in text
    assert "35,746,455,622.35" in text


def test_document_strings_are_escaped() -> None:
    doc = _doc()
    doc["exchange"] = EVIL
    doc["scenarios"][0]["title"] = EVIL
    doc["scenarios"][0]["description"] = EVIL
    doc["scenarios"][0]["payers"][1]["name"] = EVIL
    doc["scenarios"][0]["wallets_lost"][0]["label"] = EVIL
    doc["scenarios"][0]["shocks"][0]["vendor"] = EVIL
    doc["sweep"]["wallets"][0]["label"] = EVIL
    html = render_stress_html(doc)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # the page is self-contained: the policy forbids anything fetched
    assert "default-src 'none'" in html
    assert "<link" not in html and "src=" not in html


def test_default_note_when_the_document_has_none() -> None:
    doc = _doc()
    del doc["statement_note"]
    assert "a model of one event, not a prediction" in _text(render_stress_html(doc))


def test_all_made_whole_and_sweep_only() -> None:
    doc = _doc()
    doc["scenarios"] = doc["scenarios"][:1]
    assert "Every customer made whole in the one scenario" in _text(render_stress_html(doc))
    doc["scenarios"] = []
    doc["sweep"]["wallets"] = doc["sweep"]["wallets"] * 5  # 15 entries: the chart shows 12
    text = _text(render_stress_html(doc))
    assert "No scenario evaluated: the sweep only" in text
    assert "The chart shows the weakest 12; the table lists all 15." in text


def test_asset_chart_splits_the_loss_by_hand() -> None:
    """BTC in the made-whole scenario: surplus 8,441,793,798 units of a loss of
    50,650,762,796 absorb 7,597,614,419.4 × 8441793798/50650762796 = 1,266,269,069.7; the
    reserve buys back the rest, 6,331,345,349.7; nothing uncovered."""
    from verifier.stress.html import _asset_segments

    btc = _doc()["scenarios"][0]["assets"][0]
    (surplus, _), (reserve, _), (uncovered, _) = _asset_segments(btc)
    assert str(surplus) == "1266269069.7"
    assert str(reserve) == "6331345349.7"
    assert uncovered == 0


def test_a_hostile_shape_renders_what_it_can() -> None:
    doc: dict[str, Any] = {"stress": "por-stress-v1", "scenarios": [{"assets": "x"}, 3]}
    view = stress_view(doc)
    assert len(view["scenarios"]) == 1
    assert "No asset loses value" in render_stress_html(doc)


# ----------------------------------------------------------------------------- the site


@pytest.fixture(scope="module")
def attestation(tmp_path_factory: pytest.TempPathFactory) -> Path:
    att_dir, _ = builder.make_attestation_dir(tmp_path_factory.mktemp("att"))
    return att_dir


def _stress_for(att_dir: Path, tmp: Path, **change: Any) -> Path:
    report = json.loads((att_dir / "report.json").read_text())
    doc = _doc()
    doc["report_id"] = report["report_id"]
    doc.update(change)
    path = tmp / "stress.json"
    path.write_text(json.dumps(doc))
    return path


def test_publish_with_stress_adds_the_scenarios_page(attestation: Path, tmp_path: Path) -> None:
    stress = _stress_for(attestation, tmp_path)
    out = tmp_path / "site"
    result = build_site(attestation, out, stress=stress)
    assert {"scenarios.html", "stress.json"} <= set(result.files)
    assert (out / "stress.json").read_bytes() == stress.read_bytes()
    manifest = read_manifest(out)
    assert "scenarios.html" in manifest["files"]
    page = (out / "scenarios.html").read_text()
    assert "a model of one event, not a prediction" in page
    assert 'href="scenarios.html" aria-current="page"' in page
    assert 'href="assets/style.css"' in page and "<style>" not in page  # the site's CSP
    for name in ("index.html", "verify.html"):
        assert 'href="scenarios.html"' in (out / name).read_text()
    assert "stress.json" in (out / "index.html").read_text()  # in the downloads


def test_publish_without_stress_has_no_scenarios(attestation: Path, tmp_path: Path) -> None:
    result = build_site(attestation, tmp_path / "site")
    assert "scenarios.html" not in result.files
    assert "scenarios.html" not in (tmp_path / "site" / "index.html").read_text()


def test_publish_refuses_another_reports_scenarios(
    attestation: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stress = _stress_for(attestation, tmp_path, report_id="sha256:" + "0" * 64)
    with pytest.raises(InputError, match="another report") as caught:
        build_site(attestation, tmp_path / "site", stress=stress)
    assert caught.value.exit_code == 3
    assert not (tmp_path / "site").exists()
    rc = main(["publish", str(attestation), "--out", str(tmp_path / "s"), "--stress", str(stress)])
    assert rc == 3
    err = capsys.readouterr().err
    assert "report_id" in err and "Traceback" not in err


def test_publish_refuses_scenarios_without_a_report(tmp_path: Path) -> None:
    att_dir, _ = builder.make_attestation_dir(tmp_path / "w", with_report=False)
    path = tmp_path / "stress.json"
    path.write_text(json.dumps(_doc()))
    with pytest.raises(InputError, match="no report"):
        build_site(att_dir, tmp_path / "site", stress=path)


def test_publish_refuses_the_scenarios_file_as_output(attestation: Path, tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    stress = _stress_for(attestation, tmp_path / "in")
    with pytest.raises(UsageError):
        build_site(attestation, tmp_path / "in", stress=stress, force=True)
    assert stress.exists()


def _hostile(doc: dict[str, Any]) -> list[tuple[str, Any]]:
    s0 = doc["scenarios"][0]
    return [
        ("stress", lambda: doc.__setitem__("stress", "por-stress-v2")),
        ("scenarios[0].made_whole", lambda: s0.__setitem__("made_whole", "yes")),
        ("scenarios[0].uncovered_value", lambda: s0.__setitem__("uncovered_value", "NaN")),
        ("scenarios[0].uncovered_value", lambda: s0.__setitem__("uncovered_value", "1e999")),
        (
            "scenarios[0].assets[0].loss_units",
            lambda: s0["assets"][0].__setitem__("loss_units", "-5"),
        ),
        (
            "scenarios[0].assets[0].loss_units",
            lambda: s0["assets"][0].__setitem__("loss_units", "9" * 81),
        ),
        ("scenarios[0].assets[0].decimals", lambda: s0["assets"][0].__setitem__("decimals", 10**9)),
        ("scenarios[0].payers[0].kind", lambda: s0["payers"][0].__setitem__("kind", "magic")),
        ("scenarios[0].payers[0].paid", lambda: s0["payers"][0].__setitem__("paid", 12)),
        ("scenarios[0].assets", lambda: s0.__delitem__("assets")),
        ("report_id", lambda: doc.__setitem__("report_id", None)),
        ("sweep.wallets[0].value", lambda: doc["sweep"]["wallets"][0].__setitem__("value", [])),
    ]


@pytest.mark.parametrize("case", range(12))
def test_publish_refuses_a_hostile_document(attestation: Path, tmp_path: Path, case: int) -> None:
    good = json.loads(_stress_for(attestation, tmp_path).read_text())
    doc = copy.deepcopy(good)
    key, spoil = _hostile(doc)[case]
    spoil()
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError) as caught:
        build_site(attestation, tmp_path / "site", stress=path)
    assert caught.value.exit_code == 3
    assert key in str(caught.value), str(caught.value)
    assert not (tmp_path / "site").exists()


@pytest.mark.parametrize(
    "data",
    [b"", b"[]", b'{"stress": "por-stress-v1", "stress": "x"}', b'{"a": 1.5}', b"[" * 100000],
)
def test_publish_refuses_malformed_json(attestation: Path, tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(data)
    with pytest.raises(InputError):
        build_site(attestation, tmp_path / "site", stress=path)


# ----------------------------------------------------------------------------- the engine's own


def test_real_engine_document_validates_and_renders(tmp_path: Path) -> None:
    """A document from S2's engine (verifier/stress) on the demo report: the site's schema
    accepts it and the page shows its figures (BTC hot wallet lost: 506.50762796 BTC)."""
    from verifier.site.stress import StressDocument
    from verifier.stress.base import stress_base
    from verifier.stress.document import stress_document
    from verifier.stress.engine import evaluate_all
    from verifier.stress.scenario import load_scenarios
    from verifier.stress.sweep import sweep

    scenarios = tmp_path / "scenarios.toml"
    scenarios.write_text(
        '[[scenarios]]\nid = "hot-btc"\ntitle = "BTC hot wallet lost"\ndescription = "x"\n'
        '[[scenarios.shocks]]\nkind = "loss"\nlabel = "hot"\nchain = "bitcoin"\n'
    )
    report = json.loads((ROOT / "tests" / "browser" / "demo-report.json").read_text())
    base = stress_base(report, None, source="demo-report.json")
    result = evaluate_all(base, load_scenarios(scenarios).scenarios)
    doc = json.loads(
        json.dumps(stress_document(result, sweep(base), generated_at="2026-12-05T00:00:00Z"))
    )
    StressDocument.model_validate(doc)
    text = _text(render_stress_html(doc))
    assert "BTC hot wallet lost" in text
    assert "506.50762796" in text
    assert "a model of one event, not a prediction" in text
