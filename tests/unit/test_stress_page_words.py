"""The scenarios pages say what their figures mean (issue 14, a second outside tester):

- "Wallets lost" and the loss table disagreed when own coins were lost: the pages now show
  the terminal's "not customer backing" line, and the exact amounts give own_loss_units;
- an insurance payer "available 0.00, paid 0.00, not stated" now says why — the deductible
  against the covered loss, or the limit left — in the engine's notes, the HTML and the
  terminal (which used to leave a policy that paid nothing out);
- the banner reads "in the one scenario", and events are words, not "scenario: peril hack,
  wallets 1".

Hand figures (tests/unit/stress_fixture.py, JPY): ETH at 100; one policy, deductible 2,000,
limit 20,000 per occurrence; cash 5,000. 10% of the hot ETH = 10 ETH = 1,000 covered, within
the deductible: nothing to claim (cash pays it). Half the cold ETH = 45,000 covered, less
2,000 = 43,000, capped at the limit left 20,000. The hot BTC wallet made mixed: 10 BTC of
which 2 BTC the exchange's own; lost whole: 8 BTC customer backing, 2 BTC own.
"""

from __future__ import annotations

import io
import re
import sys
from html import unescape
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stress_fixture import BTC, report, scenario, statement

from verifier.base.console import PorConsole
from verifier.stress.base import stress_base
from verifier.stress.document import stress_document
from verifier.stress.engine import evaluate_all
from verifier.stress.html import render_stress_html, stress_view
from verifier.stress.terminal import render_stress

LOSS = '[[scenarios.shocks]]\nkind = "loss"\n{}\n'


def _doc(shocks: str, *, mixed: bool = False) -> dict[str, Any]:
    doc = report()
    if mixed:
        hot = doc["wallets"][1]
        hot.update(
            segregation="mixed",
            customer_units={"BTC": str(8 * BTC)},
            own_units={"BTC": str(2 * BTC)},
            counted_as="customer backing; declared own coins: own buffer",
        )
    base = stress_base(doc, statement(), source="report.json")
    return stress_document(evaluate_all(base, [scenario(shocks)]), generated_at="t")


def _terminal(doc: dict[str, Any]) -> str:
    console = PorConsole(file=io.StringIO(), width=80, highlight=False, soft_wrap=True)
    render_stress(doc, console)
    return " ".join(console.file.getvalue().split())  # type: ignore[attr-defined]


def _text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def _policy(doc: dict[str, Any]) -> dict[str, Any]:
    return next(p for p in doc["scenarios"][0]["payers"] if p["kind"] == "insurance")


def test_a_loss_within_the_deductible_says_so_everywhere() -> None:
    doc = _doc(LOSS.format('wallet = "ethereum.wallets[1]"\nshare = "0.1"'))
    policy = _policy(doc)
    assert (policy["paid"], policy["claims"]) == (
        "0",
        [{"event": "scenario", "covered": "1000", "claim": "0"}],
    )
    why = (
        "the whole scenario: the covered loss 1,000.00 JPY is within the deductible "
        "2,000.00: nothing to claim"
    )
    assert policy["notes"] == [why]
    assert f"insurance crime: paid 0.00 of 0.00 JPY ({why})" in _terminal(doc)
    row = next(r for r in stress_view(doc)["scenarios"][0]["payers"] if r[1][1] == "insurance")
    assert row[3:] == ["0.00", "pays nothing", [why]]
    assert why in _text(render_stress_html(doc))


def test_a_claim_capped_by_the_limit_says_so() -> None:
    doc = _doc(LOSS.format('wallet = "ethereum.wallets[0]"\nshare = "0.5"'))
    assert _policy(doc)["notes"] == [
        "the whole scenario: covered loss 45,000.00 JPY less the deductible 2,000.00, "
        "capped at the per-occurrence limit left 20,000.00: claims 20,000.00"
    ]


def test_a_policy_that_pays_nothing_is_listed_in_the_terminal() -> None:
    shocks = LOSS.format('wallet = "ethereum.wallets[1]"\nshare = "0.1"')
    shocks += '[[scenarios.shocks]]\nkind = "insurer_default"\npolicy = "crime"\npays = "none"\n'
    text = _terminal(_doc(shocks))
    assert "insurance crime: paid 0.00 of 0.00 JPY (the insurer does not pay (scenario))" in text


def test_own_coins_lost_are_explained_beside_the_loss_table() -> None:
    doc = _doc(LOSS.format('wallet = "bitcoin.wallets[1]"'), mixed=True)
    btc = doc["scenarios"][0]["assets"][0]
    assert (btc["loss_units"], btc["own_loss_units"]) == (str(8 * BTC), str(2 * BTC))
    line = (
        "not customer backing (owed to no customer; no payer pays it): BTC 2.00000000 in "
        "hot (the exchange's own coins beside customers')"
    )
    assert line in _terminal(doc)
    page = _text(render_stress_html(doc))
    assert line in page
    assert "BTC own coins lost (backed no customer) (decimals 8) 200,000,000" in page
    assert "BTC 10.00000000" in page  # the wallet lost whole, as "Wallets lost" shows it


def test_banner_and_events_in_words() -> None:
    doc = _doc(LOSS.format('wallet = "ethereum.wallets[1]"\nshare = "0.1"'))
    page = _text(render_stress_html(doc))
    assert "Every customer made whole in the one scenario" in page
    assert "in all 1 scenario" not in page
    assert "One event (the whole scenario): peril hack, 1 address hit." in page
    assert "Events: scenario" not in page
    two = dict(doc, scenarios=doc["scenarios"] * 2)
    assert "Every customer made whole in all 2 scenarios" in _text(render_stress_html(two))
    assert "1 of 1 scenario: every customer made whole" in _terminal(doc)
