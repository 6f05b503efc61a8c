"""The report's concentration section shows what issue 14 asks for, in the terminal and the
HTML page (a second outside tester found both missing): each mixed wallet's own and customer
coins per asset (the JSON's ``wallets[].customer_units`` / ``own_units``), the largest
vendor (``concentration.largest_vendor``), and headings over the vendor and custodian tables
(at 390 px a table is a stack of cards whose header row is hidden, so the custodian cards
could not be told from the vendor cards).

Hand figures: the world of tests/unit/test_wallet_metadata.py — the hot wallet (vendor
vaultsoft, mixed) holds 2 BTC, 1 BTC of it declared own: customer 1.00000000, own
1.00000000; signco holds 200,000 of 280,000 USD of customer holdings = 71.42% (5/7 floored).
"""

from __future__ import annotations

import importlib.util
import io
import re
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from verifier.reconcile.coverage import reconcile
from verifier.report.document import build_report
from verifier.report.figures import base_units, largest_vendor, mixed_wallet_rows
from verifier.report.html import render_html
from verifier.report.terminal import render_terminal

_spec = importlib.util.spec_from_file_location(
    "_wallet_metadata_views", Path(__file__).with_name("test_wallet_metadata.py")
)
assert _spec is not None and _spec.loader is not None
meta = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(meta)


def _doc(**world: Any) -> dict[str, Any]:
    return build_report(
        reconcile(meta.OWED, meta.world(**world), meta.PRICES), generated_at="t", input_hashes={}
    )


def _terminal(doc: dict[str, Any]) -> str:
    console = Console(file=io.StringIO(), width=80, color_system=None)
    render_terminal(doc, console)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(text, str)
    return text


def test_mixed_wallet_rows_by_hand() -> None:
    assert mixed_wallet_rows(_doc()) == [["wallets.hot", "hot", "BTC", "1.00000000", "1.00000000"]]
    quarter = _doc(own_btc=25_000_000)  # 0.25 BTC own of 2
    assert mixed_wallet_rows(quarter)[0][3:] == ["1.75000000", "0.25000000"]


def test_largest_vendor_by_hand() -> None:
    conc = _doc()["concentration"]
    assert largest_vendor(conc, "USD") == "signco (SignCo): 200,000.00 USD (71.42%)"
    assert largest_vendor({"largest_vendor": None}) is None


def test_terminal_shows_the_split_and_the_largest_vendor() -> None:
    text = _terminal(_doc())
    assert "Largest vendor: signco (SignCo): 200,000.00 USD (71.42%)" in text
    row = next(line for line in text.splitlines() if "wallets.hot" in line and "BTC" in line)
    assert re.search(r"hot\s.*BTC\s.*1\.00000000\s.*1\.00000000", row), row
    assert "Mixed wallets: customer and own coins" in text


def test_html_shows_the_split_the_largest_vendor_and_table_headings() -> None:
    page = render_html(_doc())
    section = page[
        page.index("<h2>Concentration") : page.index("<h2>", page.index("<h2>Concentration") + 4)
    ]
    assert "Largest vendor: signco (SignCo): 200,000.00 (71.42%)." in section
    # every table of the section has a heading above it: its cards keep a name at 390 px
    headings = re.findall(r"<h3>([^<]+)</h3>\s*<div class=\"scroll\"><table", section)
    assert headings == ["By vendor", "By custodian"], headings
    assert section.index("<h3>By custodian</h3>") < section.index('data-label="custodian"')
    mixed = section[section.index("Mixed wallets: own and customer coins") :]
    cells = re.findall(r'data-label="([^"]+)"[^>]*><span>([^<]*)</span>', mixed)
    assert cells[:5] == [
        ("wallet", "wallets.hot"),
        ("label", "hot"),
        ("asset", "BTC"),
        ("customer coins", "1.00000000"),
        ("own coins", "1.00000000"),
    ]


def test_no_mixed_wallet_no_split_table() -> None:
    doc = _doc(own_btc=0)
    for w in doc["wallets"]:
        w["segregation"] = "customer" if w["segregation"] == "mixed" else w["segregation"]
    doc["concentration"]["mixed_wallets"] = []
    assert mixed_wallet_rows(doc) == []
    assert "Mixed wallets" not in render_html(doc) and "Mixed wallets" not in _terminal(doc)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(
    wallets=st.lists(
        st.fixed_dictionaries(
            {"wallet": _json, "segregation": st.sampled_from(["mixed", "own", 3, None])},
            optional={"customer_units": _json, "own_units": _json, "label": _json},
        ),
        max_size=3,
    ),
    assets=_json,
    conc=_json,
)
def test_a_signed_report_of_any_shape_never_breaks_the_helpers(
    wallets: list[Any], assets: Any, conc: Any
) -> None:
    """A report is JSON from anywhere (a verifier renders other exchanges' reports): the
    helpers show what they cannot read as it is, and never raise."""
    doc = {"wallets": wallets, "assets": assets, "concentration": conc}
    for row in mixed_wallet_rows(doc):
        assert len(row) == 5 and all(isinstance(cell, str) for cell in row)
    largest_vendor(conc)
    largest_vendor({"largest_vendor": {"vendor": "v", "value": "1"}, "by_vendor": conc})


def test_base_units_exact_for_reading() -> None:
    assert base_units("80479936", 8) == "0.80479936"
    assert base_units("106549751555228689027", 18) == "106.54975155"  # at most 8, floored
    assert base_units("12", None) == "12" and base_units("x1", 8) == "x1"
