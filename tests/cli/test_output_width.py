"""Text output into a pipe: no figure cut or split, lines within 80 columns (or a lone
unbreakable value), and the verdict last (verifier/base/console.py width policy).

The report rendered is the demo's (`por reconcile` draws it with `render_terminal`): built
here from the committed demo report when present, and always from a synthetic report with
wide figures (wei amounts of 25 digits, a long address-like reason) so the test does not
depend on a previous `make demo`.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from rich.table import Table

from verifier.base.console import PorConsole, columns_width, print_table, table_lines
from verifier.report.terminal import render_terminal

REPO = Path(__file__).resolve().parents[2]
DEMO_REPORT = REPO / "demo-out" / "attestation" / "report.json"
HASH = "2854667be2848b247acb2653006533dd955d79606d07392cbf4b12574c9b7f9b"


@pytest.fixture(autouse=True)
def _no_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)  # tests/cli/conftest.py sets a huge one


def synthetic_report() -> dict[str, Any]:
    def amount(units: str, text: str) -> dict[str, str]:
        return {"base_units": units, "amount": text, "value": "1"}

    wei = amount("135719204063745141174654000", "135719204.063745141174654")
    return {
        "exchange": "Wide Figures KK",
        "report_id": "sha256:" + HASH,
        "generated_at": "2026-12-05T00:36:12Z",
        "currency": "JPY",
        "attestation": {"id": "wide-2026-11"},
        "chains": [
            {"chain": "bitcoin", "network": "regtest", "height": 501, "block_hash": HASH},
            {"chain": "ethereum", "network": "31337", "height": 5, "block_hash": HASH[::-1]},
        ],
        "assets": [
            {
                "code": "ETH",
                "liabilities": wei,
                "by_class": {"cold": wei, "hot": amount("1", "0.000000000000000001")},
                "unproven": amount("84417937994600000", "0.0844179379946"),
                "custodial": amount("0", "0"),
                "own_buffer": wei,
                "coverage_ratio": "0.9912345678901234567890123",
                "threshold": "1",
                "covered": False,
                "shortfall": amount("1191234567890123456789012", "1191234.567890123456789012"),
            }
        ],
        "totals": {"cold_share": "0.953", "value_by_class": {"cold": "230037766824.70"}},
        "combined": {
            "ratio": "0.99",
            "threshold": "1",
            "capped_holdings_value": "238985610453.72",
            "eligible_reserve": "6260226600.94",
            "liabilities_value": "248985610453.72",
        },
        "reserve": {
            "pack": {"id": "jp-fsa-2026", "version": "2026.0-ph1", "currency": "JPY"},
            "required": {"amount": "5520453201.8964376", "formula": "R = 5520453201.8964376"},
            "eligible": {
                "total": "6260226600.94",
                "components": [
                    {"name": "liability reserve trust", "kind": "cash", "amount": "3500000000"}
                ],
            },
            "met": True,
            "surplus": "739773399.05",
            "checks": [
                {
                    "check": "coverage:ETH",
                    "value": "0.9912345678901234567890123",
                    "limit": "1",
                    "status": "PROP",
                    "passed": False,
                    "reason": "held 135719204.063745141174654 of 136910438.631635264631443 ETH",
                }
            ],
        },
        "verdict": {
            "exit_code": 1,
            "breaches": [{"message": "ETH coverage 99.12% is below 100%: short 1191234.5678"}],
        },
        "warnings": ["prices are 3 days old"],
        "statement": {"does_not_prove": ["This is a point-in-time check, not an audit."]},
    }


def reports() -> list[dict[str, Any]]:
    found = [synthetic_report()]
    if DEMO_REPORT.is_file():
        found.append(json.loads(DEMO_REPORT.read_text()))
    return found


def piped(render: Any) -> str:
    """What `render(console)` writes into a pipe (not a terminal, COLUMNS unset)."""
    buffer = io.StringIO()
    console = PorConsole(file=buffer, highlight=False, soft_wrap=True)
    assert not console.is_terminal and console.width == 80
    render(console)
    return buffer.getvalue()


def amounts(report: dict[str, Any]) -> set[str]:
    """Every amount string of the report that the text shows: per asset, the liabilities,
    the proven holdings by class, the excluded (unproven, uncounted custodial) holdings, the
    own buffer and the shortfall."""
    found: set[str] = set()
    for asset in report["assets"]:
        pairs = [asset.get("liabilities"), asset.get("own_buffer"), asset.get("shortfall")]
        pairs += list((asset.get("by_class") or {}).values())
        for kind in ("unproven", "custodial"):
            pair = asset.get(kind) or {}
            if pair.get("base_units", "0") != "0" and not asset.get(f"{kind}_counted"):
                pairs.append(pair)
        found |= {pair["amount"] for pair in pairs if pair}
    assert len(found) >= 4
    return found


@pytest.mark.parametrize("report", reports(), ids=lambda r: r["exchange"])
def test_report_in_a_pipe_keeps_every_figure_whole(report: dict[str, Any]) -> None:
    text = piped(lambda console: render_terminal(report, console))
    assert "…" not in text  # rich's ellipsis: something was cropped
    tokens = set(re.split(r"[\s;,()]+", text))
    for figure in amounts(report):
        assert figure in tokens, f"{figure} is not whole in the text"
    for pin in report["chains"]:
        assert pin["block_hash"] in tokens
    for line in text.splitlines():
        if len(line) > 80:
            # only an unbreakable value may overflow, and then alone on its line
            assert " " not in line.strip(), line


@pytest.mark.parametrize("report", reports(), ids=lambda r: r["exchange"])
def test_verdict_is_the_last_line(report: dict[str, Any]) -> None:
    text = piped(lambda console: render_terminal(report, console))
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines[-1].startswith("VERDICT")
    assert sum(line.startswith("VERDICT") for line in lines) == 1
    if report["verdict"]["exit_code"] != 0:  # the breaches are listed above it
        assert "Breaches:" in lines and lines.index("Breaches:") < len(lines) - 1


def test_columns_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    assert columns_width() == 200
    console = PorConsole(file=io.StringIO())
    assert console.width == 200
    monkeypatch.setenv("COLUMNS", "banana")
    assert PorConsole(file=io.StringIO()).width == 80


def test_a_table_that_fits_stays_a_table() -> None:
    table = Table(title="totals")
    table.add_column("asset")
    table.add_column("total", justify="right")
    table.add_row("BTC", "8,441.79379946")
    text = piped(lambda console: print_table(console, table))
    assert "┃" in text and "8,441.79379946" in text


def test_a_wide_table_becomes_a_list_and_unbreakable_values_stand_alone() -> None:
    table = Table(title="wallets")
    for column in ("wallet", "address", "balance", "ownership"):
        table.add_column(column)
    address = "bcrt1q" + "x" * 90  # longer than any line
    table.add_row("cold", address, "123456789012345678901234567890", "proven by a\nsignature")
    lines = table_lines(table, 80)
    assert lines == [
        "wallets",
        "- wallet: cold",
        "  address:",
        f"    {address}",
        "  balance: 123456789012345678901234567890",
        "  ownership: proven by a; signature",
    ]
    text = piped(lambda console: print_table(console, table))
    assert text.splitlines() == lines


def test_history_and_reserve_renderers_use_the_policy() -> None:
    """The other renderers that draw tables go through print_table (a wide history table
    becomes a list in a pipe)."""
    from decimal import Decimal

    from verifier.history.records import Coverage, RunRecord
    from verifier.history.view import render_table

    coverage = {
        code: Coverage(
            asset=code,
            decimals=18,
            liabilities=10**26,
            shortfall=0,
            holdings=10**26,
            ratio=Decimal("1.0123456789"),
            threshold=Decimal(1),
            covered=True,
        )
        for code in ("BTC", "ETH", "USDT", "USDC", "DAI", "SOL")
    }
    run = RunRecord(
        id=7,
        started_at="2026-12-05T00:36:12.000Z",
        finished_at="2026-12-05T00:36:13.000Z",
        status="ok",
        exit_code=0,
        error=None,
        duration_ms=1000,
        tool_version="0",
        config_hash=None,
        report_id=None,
        currency="JPY",
        combined_ratio=Decimal("1.02"),
        reserve_required=Decimal("5520453201.89"),
        reserve_eligible=Decimal("6260226600.94"),
        reserve_met=True,
        coverage=coverage,
    )
    text = piped(lambda console: render_table([run], console))
    assert "…" not in text
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "- run: 7" in text
