"""The por-stress-v1 document in the terminal: per scenario a short table and a verdict.

Where it sits: beside verifier/stress/document.py; `por stress` (verifier/cli/stress.py)
prints with it when --json is not given. It reads only the document, shows every figure by
the one display rule (verifier/report/figures.py) and fits 80 columns off a terminal:
`print_table` turns a table that does not fit into ``label: value`` lines.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

from attestations.proofs import format_units
from verifier.base.console import plural, print_table, print_wrapped
from verifier.report.figures import money, pct, units
from verifier.stress.engine import event_label


def _whole(units_text: str, decimals: int) -> str:
    return units(format_units(int(units_text), decimals), decimals)


def _paid_by(scenario: Mapping[str, Any]) -> str:
    used = [p for p in scenario["payers"] if Decimal(p["paid"]) > 0]
    return (
        ", ".join(f"{p['kind']} {p['name']}" if p["kind"] != "surplus" else "surplus" for p in used)
        or "nothing"
    )


def scenario_table(scenario: Mapping[str, Any], currency: str) -> Table:
    """Asset, loss, uncovered and coverage after, for every asset the scenario touches."""
    table = Table(title=f"{scenario['id']}: {scenario['title']}", title_justify="left")
    for header in ("asset", "loss", f"loss {currency}", "uncovered", "coverage after"):
        table.add_column(header, justify="left" if header == "asset" else "right")
    for a in scenario["assets"]:
        touched = (
            a["loss_units"] != "0"
            or a["uncovered_units"] != "0"
            or (a["price_after"] != a["price_before"])
        )
        if not touched:
            continue
        table.add_row(
            a["code"],
            _whole(a["loss_units"], a["decimals"]),
            money(a["loss_value"]),
            _whole(a["uncovered_units"], a["decimals"]),
            pct(a["coverage_after"]),
        )
    return table


def not_backing_lines(scenario: Mapping[str, Any]) -> list[str]:
    """Losses that back no customer — the exchange's own units (an own buffer, a mixed
    wallet's own coins) and wallets the report did not count (custodial, unproven) — which
    the loss table leaves out; and, when the own units lost break the rule pack's own-buffer
    rule (Japan's same-type own coins), that it would fail."""
    decimals = {a["code"]: a["decimals"] for a in scenario["assets"]}
    parts = []
    for w in scenario["wallets_lost"]:
        rest = int(w["units"]) - int(w["customer_units"])
        if rest > 0:
            why = w.get("counted_as") or "not counted"
            if int(w["customer_units"]) > 0 and int(w.get("own_units") or 0) >= rest:
                why = "the exchange's own coins beside customers'"  # a mixed wallet
            amount = _whole(str(rest), decimals.get(w["asset"], 0))
            parts.append(f"{w['asset']} {amount} in {w['label']} ({why})")
    out = []
    if parts:
        out.append(
            "not customer backing (owed to no customer; no payer pays it): " + "; ".join(parts)
        )
    for a in scenario["assets"]:
        if a.get("own_buffer_met_after") is False:
            left = max(0, int(a["own_buffer_units"]) - int(a["own_loss_units"]))
            out.append(
                f"own buffer drained: {a['code']} {_whole(str(left), a['decimals'])} of own "
                f"coins left against {_whole(a['own_buffer_required_units'], a['decimals'])} "
                "of customer coins outside cold storage: the own-buffer rule (Japan's "
                "same-type own coins) would fail"
            )
    return out


def payer_reasons(payer: Mapping[str, Any], currency: str) -> list[str]:
    """A payer's notes, and for a policy its claims in figures (``event scenario: covered
    96,575,923.80, claims 0.00``) unless a note already explains each; for a payer that
    pays nothing and says nothing else, that it has nothing to pay with. Shared with the
    pages (verifier/stress/html.py)."""
    notes = [str(n) for n in payer.get("notes") or []]
    claims = [c for c in payer.get("claims") or [] if isinstance(c, Mapping)]
    for c in claims:
        label = event_label(str(c.get("event")))
        if not any(n.startswith(f"{label}:") for n in notes):
            notes.append(
                f"{label}: covered loss {money(c.get('covered'))} {currency}, "
                f"claims {money(c.get('claim'))}"
            )
    if not notes and Decimal(str(payer.get("paid") or 0)) <= 0:
        if payer.get("kind") == "insurance" and not claims:
            notes.append("no loss to claim for")
        elif Decimal(str(payer.get("available") or 0)) <= 0:
            notes.append("nothing available to pay")
    return notes


def verdict_line(scenario: Mapping[str, Any], currency: str) -> str:
    """One line: made whole (and how fast), or the uncovered value."""
    when = scenario["time_to_pay_note"]
    if scenario["made_whole"]:
        return f"{scenario['id']}: every customer made whole; paid by {_paid_by(scenario)}; {when}"
    short = [
        f"{a['code']} {_whole(a['uncovered_units'], a['decimals'])}"
        for a in scenario["assets"]
        if a["uncovered_units"] != "0"
    ]
    return (
        f"{scenario['id']}: NOT made whole: {money(scenario['uncovered_value'])} {currency} "
        f"uncovered ({', '.join(short)}); paid by {_paid_by(scenario)}"
    )


def render_stress(doc: Mapping[str, Any], console: Console) -> None:
    """The whole document: the note, each scenario, the sweep, the warnings."""
    currency = doc["currency"]
    print_wrapped(
        console,
        f"{doc['exchange']} — scenarios against report {doc['report_id']} (as of {doc['as_of']})",
    )
    for scenario in doc["scenarios"]:
        console.print()
        print_table(console, scenario_table(scenario, currency))
        for payer in scenario["payers"]:
            # a policy or guarantee that pays nothing is listed too, with why
            if Decimal(payer["paid"]) > 0 or payer["notes"] or payer["kind"] != "surplus":
                line = (
                    f"{payer['order']}. {payer['kind']} {payer['name']}: paid "
                    f"{money(payer['paid'])} of {money(payer['available'])} {currency}"
                )
                reasons = payer_reasons(payer, currency)
                if reasons:
                    line += f" ({'; '.join(reasons)})"
                print_wrapped(console, line, indent="  ", subsequent="     ")
        for line in not_backing_lines(scenario):
            print_wrapped(console, line, indent="  ", subsequent="    ")
        print_wrapped(console, verdict_line(scenario, currency))
    sweep = doc.get("sweep")
    if sweep:
        console.print()
        for kind, key, label in (("wallets", "key", "label"), ("vendors", "vendor", "name")):
            table = Table(
                title=f"Sweep ({sweep['peril']}): {kind}, weakest first", title_justify="left"
            )
            for header in (kind[:-1], "value", "absorbed", f"absorbed {currency}"):
                table.add_column(header, justify="left" if header == kind[:-1] else "right")
            for e in sweep[kind]:
                table.add_row(
                    f"{e[label]} ({e[key]})",
                    money(e["value"]),
                    pct(e["absorbable_share"]),
                    money(e["absorbable_value"]),
                )
            if sweep[kind]:
                print_table(console, table)
    for warning in doc.get("warnings", []):
        print_wrapped(console, f"warning: {warning}")
    print_wrapped(console, doc["statement_note"])
    made = [s for s in doc["scenarios"] if s["made_whole"]]
    if doc["scenarios"]:
        print_wrapped(
            console,
            f"{len(made)} of {plural(len(doc['scenarios']), 'scenario')}: every "
            f"customer made whole"
            + ("" if len(made) == len(doc["scenarios"]) else " — SHORTFALL UNDER STRESS"),
        )
