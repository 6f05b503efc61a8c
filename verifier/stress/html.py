"""A ``por-stress-v1`` document as pages people read: the stand-alone scenarios page and the
scenarios section of the customer site.

Where it sits: after the stress engine (verifier/stress/engine.py, document.py), beside the
coverage report's page (verifier/report/html.py), whose layout, style sheet, table macros and
chart helpers it reuses. `render_stress_html` is the page `por stress --html` and `por demo`
write; `stress_view` and `render_stress_page` serve the site (verifier/site/pages.py), which
renders the same sections in its own layout. Templates: verifier/stress/templates/, searched
before verifier/report/templates/ (so ``base.html``, ``site.html`` and ``macros.html`` are the
report's).

What a reader sees: what a scenario is (a model of one event, not a prediction) and what it
leaves out; per scenario the verdict (every customer made whole or not), the time to pay, the
shocks as read, a chart of each asset's loss split into what its own surplus absorbs, what
the reserve buys back and what stays uncovered, the payers in order, the wallets lost; then
the sweep as ranked bars (weakest first). Amounts in whole units and money through
verifier/report/figures.py (rounded down), coverage by the one percentage rule.

Invariants: pure (no I/O); templates autoescape, so every string of the document (labels,
titles, descriptions: operator input) is escaped; every figure is `Decimal` or an integer,
never a float; a document of an unexpected shape renders what it can rather than raising
(the site validates the document before it gets here).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, localcontext
from functools import cache
from typing import Any

import jinja2
from markupsafe import Markup, escape

from attestations.proofs import format_units
from verifier.base.console import plural
from verifier.reconcile.numbers import EXACT
from verifier.report.charts import BAD, OK, PALETTE, round_ticks
from verifier.report.charts import _p as share_of_width
from verifier.report.charts import _svg as chart_open
from verifier.report.charts import _x_axis as value_axis
from verifier.report.figures import decimal_or_none, money, number, pct, units
from verifier.report.html import REPORT_CSP, stylesheet
from verifier.stress.terminal import not_backing_lines, payer_reasons

STRESS_FORMAT = "por-stress-v1"
DEFAULT_NOTE = (
    "A scenario is a model of one event, not a prediction: it asks what would happen to the "
    "customers if these wallets were lost or these prices moved, against the holdings and the "
    "reserve of one reconciliation.",
    "It leaves out what it is not told: other debts of the exchange, a run on withdrawals, "
    "legal and recovery delays, and whether an insurer or a guarantor pays in fact; it takes "
    "the reserve statement's terms as written.",
)
"""Shown when a document carries no ``statement_note`` of its own."""

PAYER_COLOURS = {
    "surplus": OK,
    "cash": PALETTE[0],
    "insurance": PALETTE[2],
    "guarantee": PALETTE[4],
}
RESERVE_COLOUR = PALETTE[0]
UNCOVERED_COLOUR = BAD
_ROW_H = 44
_BASE_FIGURES = (
    ("liabilities", "liabilities"),
    ("holdings before", "holdings_before"),
    ("lost (customer backing)", "loss_units"),
    ("own coins lost (backed no customer)", "own_loss_units"),
    ("bought back", "paid_units"),
    ("uncovered", "uncovered_units"),
)
_MAX_SWEEP_BARS = 12
"""The sweep chart draws the weakest entries; its table lists them all."""


# ----------------------------------------------------------------------------- templates


@cache
def environment() -> jinja2.Environment:
    """Our templates first, then the report's (the shared layout and macros)."""
    return jinja2.Environment(
        loader=jinja2.ChoiceLoader(
            [
                jinja2.PackageLoader("verifier.stress", "templates"),
                jinja2.PackageLoader("verifier.report", "templates"),
            ]
        ),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def render_stress_page(template: str, **context: Any) -> str:
    """`template` in the shared layout, as verifier/report/html.py `render_page` does it: a
    self-contained page unless `stylesheet` (a link) is given."""
    context.setdefault("css", Markup(stylesheet()))  # noqa: S704 - our packaged file
    context.setdefault("stylesheet", None)
    context.setdefault("scripts", ())
    # the policy is our own constant: shown with its quotes as written
    context["csp"] = Markup(str(escape(context["csp"])).replace("&#39;", "'"))  # noqa: S704
    return environment().get_template(template).render(**context)


# ----------------------------------------------------------------------------- shapes


def _obj(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _maps(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in _list(value) if isinstance(v, Mapping)]


def _int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return None


def _dec(value: Any) -> Decimal:
    return decimal_or_none(value) or Decimal(0)


def _base(value: Any, decimals: Any) -> str:
    """Base units (an integer string) in whole units for reading."""
    n, d = _int(value), _int(decimals)
    if n is None or d is None or not 0 <= d <= 80:
        return "" if value is None else str(value)
    return units(format_units(n, d), d)


def _status(good: bool, yes: str, no: str) -> Markup:
    return Markup('<span class="{}">{}</span>').format("ok" if good else "bad", yes if good else no)


def _days(value: Any) -> str:
    days = _int(value)
    if days is None:
        return "not stated"
    return "at once" if days == 0 else f"{days} day" + ("" if days == 1 else "s")


# ----------------------------------------------------------------------------- charts


def _stacked_rows(
    rows: Sequence[tuple[str, str, Sequence[tuple[Decimal, str]]]], title: str, axis: str
) -> Markup:
    """One labelled stacked bar per row on a shared value axis (label left above the bar,
    a figure right). Horizontal positions are shares of the width, so text keeps its size
    at every width (verifier/report/charts.py explains why)."""
    if not rows:
        return Markup("")
    with localcontext(EXACT):
        reach = max((sum((v for v, _ in segs), Decimal(0)) for _, _, segs in rows))
    ticks = round_ticks(Decimal(0), reach or Decimal(1))
    scale = ticks[-1]
    axis_y = 4 + _ROW_H * len(rows) + 4
    parts = [chart_open(axis_y + 42, title)]
    for i, (label, figure, segments) in enumerate(rows):
        y = 4 + i * _ROW_H
        parts.append(
            Markup(
                '<text x="0" y="{y}" font-size="14" font-weight="600">{l}</text>'
                '<text x="100%" y="{y}" font-size="13" text-anchor="end">{f}</text>'
            ).format(y=y + 15, l=label, f=figure)
        )
        x = Decimal(0)
        for amount, colour in segments:
            if amount > 0:
                parts.append(
                    Markup(
                        '<rect x="{}" y="{}" width="{}" height="16" fill="{}" stroke="#fff" '
                        'stroke-width="1"/>'
                    ).format(
                        share_of_width(x, scale), y + 21, share_of_width(amount, scale), colour
                    )
                )
            with localcontext(EXACT):
                x += amount
    parts.extend(value_axis(axis_y, ticks, axis))
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def _asset_segments(a: Mapping[str, Any]) -> list[tuple[Decimal, str]]:
    """An asset's loss value split into what its own surplus absorbs, what the reserve buys
    back and what stays uncovered (the surplus part from units: the gap starts where the
    surplus ends)."""
    loss_units = _int(a.get("loss_units")) or 0
    loss_value = _dec(a.get("loss_value"))
    uncovered = _dec(a.get("uncovered_value"))
    surplus_units = _int(a.get("surplus_units"))  # the engine's, else from the figures
    if surplus_units is None:
        surplus_units = (_int(a.get("holdings_before")) or 0) - (_int(a.get("liabilities")) or 0)
    absorbed = min(loss_units, max(0, surplus_units))
    with localcontext(EXACT):
        by_surplus = loss_value * absorbed / loss_units if loss_units > 0 else Decimal(0)
        by_reserve = max(Decimal(0), loss_value - by_surplus - uncovered)
    return [(by_surplus, OK), (by_reserve, RESERVE_COLOUR), (uncovered, UNCOVERED_COLOUR)]


def _asset_chart(s: Mapping[str, Any], currency: str) -> Markup:
    rows = []
    for a in _maps(s.get("assets")):
        segments = _asset_segments(a)
        if not any(v > 0 for v, _ in segments):
            continue
        figure = (
            "made whole" if a.get("made_whole") else f"uncovered {money(a.get('uncovered_value'))}"
        )
        rows.append((str(a.get("code")), figure, segments))
    if not rows:
        return Markup('<p class="note">No asset loses value in this scenario.</p>')
    return _stacked_rows(
        rows,
        f"Loss per asset and what covers it, value in {currency}",
        f"loss value ({currency})",
    )


def _payer_chart(s: Mapping[str, Any], currency: str) -> tuple[Markup, list[tuple[str, str]]]:
    """One bar: the loss as paid by each payer, in order, then what stays uncovered."""
    segments, legend = [], []
    for p in _maps(s.get("payers")):
        paid = _dec(p.get("paid"))
        if paid <= 0:
            continue
        colour = PAYER_COLOURS.get(str(p.get("kind")), PALETTE[6])
        segments.append((paid, colour))
        legend.append((colour, f"{p.get('name')} ({p.get('kind')}): {money(p.get('paid'))}"))
    uncovered = _dec(s.get("uncovered_value"))
    if uncovered > 0:
        segments.append((uncovered, UNCOVERED_COLOUR))
        legend.append((UNCOVERED_COLOUR, f"uncovered: {money(s.get('uncovered_value'))}"))
    if not segments:
        return Markup(""), []
    title = f"What pays the loss, in order, value in {currency}"
    return _stacked_rows([("all assets", "", segments)], title, f"value ({currency})"), legend


def _sweep_chart(entries: Sequence[Mapping[str, Any]], currency: str) -> Markup:
    rows = [
        (
            str(e.get("label") or e.get("name") or e.get("key") or e.get("vendor")),
            f"absorbs {pct(e.get('absorbable_share'))}",
            [
                (_dec(e.get("absorbable_value")), OK),
                (max(Decimal(0), _dec(e.get("value")) - _dec(e.get("absorbable_value"))), BAD),
            ],
        )
        for e in entries[:_MAX_SWEEP_BARS]
    ]
    return _stacked_rows(
        rows, f"The largest loss the reserve absorbs in full, value in {currency}", currency
    )


# ----------------------------------------------------------------------------- the view


def _shock_text(shock: Mapping[str, Any]) -> str:
    """A shock as read: its kind, then every other key and value (``loss: vendor vaultsoft,
    class hot, largest, share 1``)."""
    terms = []
    for key, value in shock.items():
        if key == "kind" or value is None:
            continue
        if value is True:
            terms.append(str(key))
        elif value is not False:
            terms.append(f"{key} {value}")
    return f"{shock.get('kind', 'shock')}: {', '.join(terms)}" if terms else str(shock.get("kind"))


def _asset_rows(s: Mapping[str, Any]) -> dict[str, list[list[Any]]]:
    """Per asset: the loss and its outcome; the prices when a shock moved one; the base
    units behind a toggle."""
    rows: list[list[Any]] = []
    prices: list[list[Any]] = []
    base: list[list[Any]] = []
    for a in _maps(s.get("assets")):
        d = a.get("decimals")
        before, after = a.get("price_before"), a.get("price_after")
        if before != after:
            prices.append([a.get("code"), number(before), number(after)])
        rows.append(
            [
                a.get("code"),
                # units, then their value on a second line: eight numeric columns of
                # 30-digit figures do not fit a page
                [_base(a.get("loss_units"), d), money(a.get("loss_value"))],
                _base(a.get("paid_units"), d),
                [_base(a.get("uncovered_units"), d), money(a.get("uncovered_value"))],
                [pct(a.get("coverage_before")), f"→ {pct(a.get('coverage_after'))}"],
                _status(bool(a.get("made_whole")), "made whole", "short"),
            ]
        )
        # one row per figure: five 30-digit columns side by side are wider than any page
        base.extend(
            [a.get("code"), f"{name} (decimals {d})", number(a.get(key))]
            for name, key in _BASE_FIGURES
        )
    return {"asset_rows": rows, "price_rows": prices, "base_rows": base}


def _reasons(p: Mapping[str, Any], currency: str) -> list[str]:
    """The terminal's reasons (notes, each claim's figures), or the notes as they are when
    the payer's shape is not the engine's."""
    try:
        return payer_reasons(p, currency)
    except (ArithmeticError, TypeError, ValueError, AttributeError):
        return [str(n) for n in _list(p.get("notes"))]


def _pays(p: Mapping[str, Any]) -> str:
    """When the payer pays: "pays nothing" when it paid nothing (its period says nothing
    then), else its period ("period not stated" when the statement gives none)."""
    if _dec(p.get("paid")) <= 0:
        return "pays nothing"
    days = _days(p.get("days"))
    return "period not stated" if days == "not stated" else days


def _payer_rows(s: Mapping[str, Any], currency: str) -> list[list[Any]]:
    return [
        [
            p.get("order"),
            [str(p.get("name")), str(p.get("kind"))],
            money(p.get("available")),
            money(p.get("paid")),
            _pays(p),
            _reasons(p, currency),
        ]
        for p in _maps(s.get("payers"))
    ]


def _not_backing(s: Mapping[str, Any]) -> list[str]:
    """The terminal's "not customer backing" lines (own, custodial, unproven losses the loss
    table leaves out): why "Wallets lost" shows more than "lost"."""
    try:
        return not_backing_lines(s)
    except (ArithmeticError, KeyError, TypeError, ValueError, AttributeError):
        return []


def _wallet_rows(s: Mapping[str, Any]) -> list[list[Any]]:
    decimals = {str(a.get("code")): a.get("decimals") for a in _maps(s.get("assets"))}
    rows = []
    for w in _maps(s.get("wallets_lost")):
        where = [f"{w.get('class')} wallet on {w.get('chain')}"]
        where += [f"{k} {w.get(k)}" for k in ("vendor", "custodian") if w.get(k)]
        rows.append(
            [
                w.get("label") or w.get("wallet"),
                where,
                Markup('<span class="mono">{}</span>').format(w.get("address") or ""),
                f"{w.get('asset')} {_base(w.get('units'), decimals.get(str(w.get('asset'))))}",
                pct(w.get("share")),
            ]
        )
    return rows


def _event_text(event: Mapping[str, Any]) -> str:
    """An event in words: "One event (the whole scenario): a hack, 1 address hit"."""
    name = event.get("id") or event.get("event")
    shown = "One event (the whole scenario)" if name == "scenario" else f"Event {name}"
    perils = [str(p) for p in _list(event.get("perils"))]
    terms = []
    if perils:
        terms.append(("peril " if len(perils) == 1 else "perils ") + ", ".join(perils))
    hit = _int(event.get("wallets"))
    if hit is not None:
        terms.append(f"{plural(hit, 'address', 'addresses')} hit")
    return f"{shown}: {', '.join(terms)}" if terms else shown


def _note_rest(shown: str, note: Any) -> str | None:
    """The time-to-pay note without the period already shown beside it: "at once (surplus
    and cash)" beside "at once" is "surplus and cash" (never "at once (at once (…))")."""
    if not isinstance(note, str) or not note:
        return None
    if note.startswith(shown):
        rest = note[len(shown) :].strip()
        if rest.startswith("(") and ")" in rest:
            inner, _, tail = rest[1:].partition(")")
            rest = inner + tail
        return rest.lstrip("; ").strip() or None
    return note


def scenario_view(s: Mapping[str, Any], currency: str) -> dict[str, Any]:
    """One scenario, every figure formatted for reading."""
    payer_chart, payer_legend = _payer_chart(s, currency)
    made_whole = s.get("made_whole") is True
    return {
        "id": s.get("id"),
        "title": s.get("title") or s.get("id"),
        "description": s.get("description"),
        "made_whole": made_whole,
        "uncovered": money(s.get("uncovered_value")),
        "time_to_pay": _days(s.get("time_to_pay_days")),
        "time_to_pay_note": _note_rest(_days(s.get("time_to_pay_days")), s.get("time_to_pay_note")),
        "shocks": [_shock_text(k) for k in _maps(s.get("shocks"))],
        "events": [_event_text(e) for e in _maps(s.get("events"))],
        "asset_chart": _asset_chart(s, currency),
        "asset_legend": [
            (OK, "absorbed by the asset's own surplus"),
            (RESERVE_COLOUR, "bought back by the reserve"),
            (UNCOVERED_COLOUR, "uncovered"),
        ],
        **_asset_rows(s),
        "payer_chart": payer_chart,
        "payer_legend": payer_legend,
        "payers": _payer_rows(s, currency),
        "not_backing": _not_backing(s),
        "wallets": _wallet_rows(s),
    }


def _sweep_view(sweep: Any, currency: str) -> dict[str, Any] | None:
    if not isinstance(sweep, Mapping):
        return None

    def rows(entries: list[Mapping[str, Any]], key: str, name: str) -> list[list[Any]]:
        return [
            [
                i,
                e.get(name) or e.get(key),
                e.get(key),
                money(e.get("value")),
                pct(e.get("absorbable_share")),
                money(e.get("absorbable_value")),
                _status(e.get("fully_absorbed") is True, "absorbed in full", "not in full"),
            ]
            for i, e in enumerate(entries, start=1)
        ]

    wallets, vendors = _maps(sweep.get("wallets")), _maps(sweep.get("vendors"))
    return {
        "peril": sweep.get("peril"),
        "wallet_chart": _sweep_chart(wallets, currency),
        "vendor_chart": _sweep_chart(vendors, currency),
        "wallets": rows(wallets, "key", "label"),
        "vendors": rows(vendors, "vendor", "name"),
        "more_wallets": max(0, len(wallets) - _MAX_SWEEP_BARS),
        "more_vendors": max(0, len(vendors) - _MAX_SWEEP_BARS),
        "legend": [(OK, "absorbed in full"), (BAD, "beyond the reserve")],
    }


def stress_view(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Everything the scenarios page and the site's section show, formatted for reading."""
    currency = str(doc.get("currency") or "")
    note = doc.get("statement_note")
    notes = [str(n) for n in _list(note)] if isinstance(note, list) else [str(note)] if note else []
    scenarios = [scenario_view(s, currency) for s in _maps(doc.get("scenarios"))]
    short = [s for s in scenarios if not s["made_whole"]]
    return {
        "format": doc.get("stress"),
        "exchange": doc.get("exchange"),
        "report_id": doc.get("report_id"),
        "as_of": doc.get("as_of"),
        "generated_at": doc.get("generated_at"),
        "currency": currency,
        "notes": notes or list(DEFAULT_NOTE),
        "scenarios": scenarios,
        "short": len(short),
        "sweep": _sweep_view(doc.get("sweep"), currency),
    }


def render_stress_html(doc: Mapping[str, Any]) -> str:
    """One self-contained HTML page for a ``por-stress-v1`` document (inline CSS and SVG,
    nothing fetched, every document string escaped)."""
    view = stress_view(doc)
    title = f"Incident scenarios: {view['exchange'] or ''}".strip()
    return render_stress_page("stress.html", v=view, title=title, csp=REPORT_CSP)
