"""verifier.report.document and verifier.report.html: the por-report-v1 document and its renderings.

The document must round-trip through JSON, hold no float, list exactly the keys that
docs/report.md documents, and carry the statement of what the check does not prove. The
HTML page must load nothing from anywhere, escape every string from the document and
contain its three SVG charts.
"""

from __future__ import annotations

import importlib.util
import json
import re
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from verifier.base.errors import InputError, StoreError
from verifier.reconcile.coverage import reconcile
from verifier.reconcile.values import OwnBufferRule, Thresholds
from verifier.report.document import REPORT_FORMAT, build_report
from verifier.report.html import render_html, write_html
from verifier.report.terminal import render_terminal

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "_reconcile_cases", Path(__file__).with_name("test_reconcile.py")
)
assert _spec is not None and _spec.loader is not None
cases = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cases)

SAT, WEI = 10**8, 10**18
EVIL = "<script>alert(1)</script>"
HASHES = {
    "por.toml": "11" * 32,
    "prices": "22" * 32,
    "statement": "33" * 32,
    "pack": "44" * 32,
    "root.json": "55" * 32,
}


def sample_reconciliation(*, covered: bool = False, with_reserve: bool = True) -> Any:
    eth_held = 5 * WEI if covered else 4 * WEI
    snap = cases.mixed_snapshot()
    snap["chains"].append(
        cases.chain(
            "ethereum",
            {"ETH": 18, "USDT": 6},
            cases.address(
                EVIL,
                {"ETH": eth_held, "USDT": 10**6},
                cls="hot",
                addr="0x" + "1" * 40,
                wallet="ethereum.wallets[0]",
            ),
        )
    )
    # wallet metadata (issue 14): a named vendor, a custodian and a signing scheme, all
    # rendered as text (EVIL checks the escaping)
    snap["chains"][-1]["addresses"][0].update(vendor="vaultsoft", custodian=EVIL, signing="MPC")
    snap["vendors"] = {
        "vaultsoft": {"name": EVIL, "kind": "wallet-software", "notified": "2026-01-15"}
    }
    evaluation = cases.evaluation(
        "100000" if not covered else "1",
        [("cash", "trust [red]x[/red]", "50000"), ("insurance", f"policy {EVIL}", "30000")],
        checks=[
            {
                "check": "non-cold share",
                "passed": covered,
                "value": "0.07",
                "limit": "0.05",
                "status": "LAW",
                "reason": f"too hot {EVIL}",
            }
        ],
    )
    evaluation["eligible"]["components"][1]["gates"] = [
        {"gate": "notice", "passed": False, "reason": "60 days' notice < 90"}
    ]
    owed = {"BTC": (8, (7 if covered else 10) * SAT), "ETH": (18, 5 * WEI)}
    return reconcile(
        owed,
        snap,
        {k: v for k, v in cases.PRICES.items() if k != "USDT"},
        evaluation if with_reserve else None,
        thresholds=Thresholds(per_asset={"ETH": Decimal("1")}),
        own_buffer=OwnBufferRule(),
    )


def sample_report(**kwargs: Any) -> dict[str, Any]:
    return build_report(
        sample_reconciliation(**kwargs),
        generated_at="2026-11-21T01:00:00Z",
        input_hashes=HASHES,
    )


# ----------------------------------------------------------------------------- the document


def walk(value: Any) -> Any:
    if isinstance(value, dict):
        for v in value.values():
            yield from walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from walk(v)
    else:
        yield value


def test_report_round_trips_through_json_and_holds_no_float() -> None:
    doc = sample_report()
    assert json.loads(json.dumps(doc)) == doc
    assert not any(isinstance(v, (float, Decimal)) for v in walk(doc))
    assert doc["report"] == REPORT_FORMAT
    assert doc["verdict"]["exit_code"] == 1
    assert doc["input_hashes"] == dict(sorted(HASHES.items()))
    assert [c["height"] for c in doc["chains"]] == [160, 160]
    assert doc["rule_pack"] == {
        "id": "test-pack",
        "version": "1",
        "name": "Test",
        "currency": "USD",
    }


def test_report_figures_are_exact_strings() -> None:
    doc = sample_report()
    btc = doc["assets"][0]
    assert btc["liabilities"] == {"base_units": "1000000000", "amount": "10", "value": "500000"}
    assert btc["coverage_ratio"] == "0.7"
    assert btc["shortfall"]["amount"] == "3"
    usdt = doc["assets"][2]
    assert usdt["code"] == "USDT" and usdt["price"] is None
    assert usdt["coverage_ratio"] is None and usdt["coverage_note"] == "no liabilities"
    assert usdt["holdings"]["value"] is None
    assert doc["combined"]["numerator"] == "442000"
    assert doc["reserve_inputs"]["unpriced_assets"] == ["USDT"]


def test_report_id_is_content_derived_unless_given() -> None:
    rec = sample_reconciliation()
    one = build_report(rec, generated_at="t1", input_hashes=HASHES)
    again = build_report(rec, generated_at="t1", input_hashes=HASHES)
    later = build_report(rec, generated_at="t2", input_hashes=HASHES)
    assert one["report_id"] == again["report_id"]
    assert one["report_id"].startswith("sha256:") and len(one["report_id"]) == 7 + 64
    assert later["report_id"] != one["report_id"]
    assert (
        build_report(rec, generated_at="t", input_hashes={}, report_id="r-1")["report_id"] == "r-1"
    )


def test_bad_input_hash_is_rejected() -> None:
    with pytest.raises(InputError, match="SHA-256"):
        build_report(sample_reconciliation(), generated_at="t", input_hashes={"por.toml": "XYZ"})


def test_statement_says_what_is_not_proven() -> None:
    doc = sample_report()
    text = " ".join(doc["statement"]["does_not_prove"])
    for phrase in (
        "point-in-time",
        "not an audit",
        "PCAOB",
        "SEC",
        "pinned blocks only",
        "not exclusive control",
        "completeness is not proven",
        "fixture at 2026-11-21T00:00:00Z",
    ):
        assert phrase in text
    assert doc["statement"]["proves"]


# ----------------------------------------------------------------------------- schema vs docs

TYPES = {
    "string": str,
    "integer": int,
    "boolean": bool,
    "object": dict,
    "list": list,
    "list of strings": list,
    "amount triple": dict,
    "null": type(None),
}


def documented() -> dict[str, str]:
    """path -> type column of every row of the field table in docs/report.md."""
    rows = {}
    for line in (ROOT / "docs" / "report.md").read_text(encoding="utf-8").splitlines():
        match = re.match(r"\| `([^`]+)` \| ([^|]+(?:\\\|[^|]+)*) \|", line)
        if match:
            rows[match.group(1)] = match.group(2).replace("\\|", "|").strip()
    return rows


DYNAMIC = {
    "input_hashes": "<name>",
    "prices": "<code>",
    "settings.thresholds.per_asset": "<code>",
    "wallets[].balances": "<code>",
    "wallets[].customer_units": "<code>",
    "wallets[].own_units": "<code>",
}
"""Objects whose keys are data, and the placeholder docs/report.md writes for them."""
LEAF_OBJECTS = {"reserve"}  # another module's document: its top-level keys are documented


def paths(value: Any, prefix: str = "") -> dict[str, Any]:
    """Every path of the document, in the notation of docs/report.md, with a sample value."""
    out: dict[str, Any] = {}
    if isinstance(value, dict):
        if set(value) == {"base_units", "amount", "value"}:
            return out  # an amount triple is one documented field
        for key, child in value.items():
            name = DYNAMIC.get(prefix, key)
            path = f"{prefix}.{name}" if prefix else name
            out.setdefault(path, child)
            if prefix not in LEAF_OBJECTS:
                for sub, sample in paths(child, path).items():
                    out.setdefault(sub, sample)
    elif isinstance(value, list):
        for child in value:
            for sub, sample in paths(child, f"{prefix}[]").items():
                out.setdefault(sub, sample)
    return out


def test_report_keys_match_the_documented_schema() -> None:
    doc = sample_report()
    found = paths(doc)
    docs = documented()
    assert set(found) == set(docs), (
        f"undocumented: {sorted(set(found) - set(docs))}; "
        f"documented but absent: {sorted(set(docs) - set(found))}"
    )
    for path, sample in found.items():
        allowed = tuple(TYPES[t.strip()] for t in docs[path].split("|") if t.strip() in TYPES)
        assert allowed, f"{path}: no known type in {docs[path]!r}"
        if bool in allowed or not isinstance(sample, bool):
            assert isinstance(sample, allowed), f"{path}: {sample!r} is not {docs[path]}"


def test_nullable_fields_are_documented_as_nullable() -> None:
    doc = build_report(
        sample_reconciliation(with_reserve=False), generated_at="t", input_hashes=HASHES
    )
    assert doc["reserve"] is None and doc["rule_pack"] is None
    assert doc["verdict"]["reserve_met"] is None
    docs = documented()
    for path in ("reserve", "rule_pack", "verdict.reserve_met"):
        assert "null" in docs[path]


# ----------------------------------------------------------------------------- terminal


def terminal(doc: dict[str, Any]) -> str:
    console = Console(record=True, width=220, color_system=None)
    render_terminal(doc, console)
    return console.export_text()


def test_terminal_shows_coverage_reserve_checks_and_verdict() -> None:
    text = terminal(sample_report())
    assert "Coverage per asset" in text
    assert "BREACH" in text
    assert "notice: 60 days' notice < 90" in text  # the failed gate, with its reason
    assert "trust [red]x[/red]" in text  # user text is not rich markup
    assert "non-cold share" in text and "FAIL" in text
    assert "SHORTFALL" in text and "20,000.00" in text
    assert "NOT COVERED (exit 1)" in text
    assert "short by 3 BTC" in text
    assert "not an audit" in text


def test_terminal_covered_verdict() -> None:
    doc = sample_report(covered=True)
    assert doc["verdict"]["exit_code"] == 0, doc["verdict"]
    text = terminal(doc)
    assert "COVERED (exit 0)" in text and "BREACH" not in text


# ----------------------------------------------------------------------------- HTML


class _Balance(HTMLParser):
    VOID = frozenset({"meta", "br", "rect", "line", "link", "img", "input", "hr"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pass

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


def test_html_loads_nothing_from_anywhere() -> None:
    page = render_html(sample_report())
    assert "http://" not in page and "https://" not in page
    assert not re.search(r"(?i)\b(src|href|xlink:href)\s*=", page)
    assert "@import" not in page and "url(" not in page
    assert "<script" not in page and "<link" not in page and "<img" not in page
    assert "default-src 'none'" in page


def test_html_escapes_user_strings() -> None:
    page = render_html(sample_report())
    assert EVIL not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "policy &lt;script&gt;" in page  # a reserve component's name
    assert "too hot &lt;script&gt;" in page  # a check's reason


def test_html_has_the_charts_and_sections_and_fits_a_phone() -> None:
    page = render_html(sample_report())
    assert page.count("<svg") == 4  # coverage, class split, reserve, vendors (issue 14)
    assert "Customer holdings by wallet vendor" in page
    assert 'aria-label="Proven holdings against liabilities per asset' in page
    assert "Eligible reserve against required" in page
    assert "Customer holdings by wallet class" in page
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "@media (max-width:600px)" in page
    for section in (
        "Pinned blocks",
        "Wallets and ownership",
        "What this proves and what it does not",
    ):
        assert section in page
    assert "ab" * 32 in page  # the pinned block hash
    assert "excluded: unproven" in page
    checker = _Balance()
    checker.feed(page)
    assert checker.errors == [] and checker.stack == []


def test_html_from_json_is_the_same_page() -> None:
    doc = sample_report()
    assert render_html(json.loads(json.dumps(doc))) == render_html(doc)


def test_html_without_reserve() -> None:
    page = render_html(
        build_report(sample_reconciliation(with_reserve=False), generated_at="t", input_hashes={})
    )
    assert "No reserve rule pack was evaluated." in page
    assert page.count("<svg") == 3  # coverage, class split, vendors (no reserve chart)


def test_write_html_is_atomic(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    target.write_text("old", encoding="utf-8")
    page = render_html(sample_report())
    write_html(target, page)
    assert target.read_text(encoding="utf-8") == page
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_write_html_failure_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    with pytest.raises(StoreError):
        write_html(blocker / "report.html", "<p>x</p>")
    assert list(tmp_path.iterdir()) == [blocker]


def test_huge_over_coverage_renders() -> None:
    snap = cases.snapshot(
        cases.chain("ethereum", {"ETH": 18}, cases.address("w", {"ETH": 2**130}, cls="hot"))
    )
    rec = reconcile({"ETH": (18, 1)}, snap, cases.PRICES)
    doc = build_report(rec, generated_at="t", input_hashes={})
    ratio = doc["assets"][0]["coverage_ratio"]
    assert "E" not in ratio and ratio.startswith("1361129467683753853853498429")
    assert int(ratio) <= 2**130  # 28 significant digits, rounded down
    assert "COVERED (exit 0)" in terminal(doc)
    assert "\u25b6" in render_html(doc)  # the bar runs off the chart's scale


def test_verdict_banner_text_is_readable_on_its_colour() -> None:
    from verifier.report.html import render_html

    page = render_html({"verdict": {"exit_code": 0, "breaches": []}})
    # the banner's own rule must set a text colour, or the generic .ok colour (the same green
    # as the banner) wins and the verdict is invisible
    assert ".verdict.ok{background:var(--ok);color:#fff}" in page
