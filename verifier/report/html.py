"""The coverage report as one self-contained HTML page, and what every page shares.

Where it sits: beside verifier/report/document.py, at the end of the flow. `render_html` turns a
``por-report-v1`` document (docs/report.md) into a single HTML page from the Jinja2 templates
in verifier/report/templates (one base layout and one style sheet, shared with the history page
and the published site): the style sheet inline, charts as inline SVG, no script,
font, style sheet or image fetched from anywhere (a Content-Security-Policy of
``default-src 'none'`` makes the browser refuse any that slip in). `render_html` is pure;
`write_html` is the one function with I/O and writes the file atomically.

What a reader sees: amounts in whole units with thousands separators (base units only behind
a details toggle and in the JSON), values in the report's currency, every coverage figure with
two decimals rounded down (`pct`: never covered on the page when it is not), the required
reserve as a table of its terms, the decimals in a rule-pack check's reason rounded for
reading (verifier/report/figures.py); the charts are verifier/report/charts.py.

Invariants: templates autoescape, so every string from the document is HTML-escaped (wallet
labels, addresses, reasons, price sources and rule-pack texts are user input); every figure
uses `Decimal`, never floats.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, localcontext
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

from verifier.base.atomic import write_atomic
from verifier.base.errors import StoreError
from verifier.reconcile.numbers import EXACT
from verifier.report.charts import (
    coverage_chart,
    coverage_legend,
    reserve_chart,
    split_chart,
    vendor_chart,
)
from verifier.report.figures import (
    component_credit,
    decimal_or_none,
    largest_vendor,
    mixed_wallet_rows,
    money,
    number,
    pct,
    readable_text,
    units,
)

REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'"


# ----------------------------------------------------------------------------- templates


@cache
def environment() -> jinja2.Environment:
    """The Jinja2 environment of every page: autoescape on, templates from the package."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("verifier.report", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


@cache
def stylesheet() -> str:
    """The one style sheet of the report, the history page and the site."""
    return (
        resources.files("verifier.report")
        .joinpath("templates", "style.css")
        .read_text(encoding="utf-8")
    )


def render_page(template: str, **context: Any) -> str:
    """`template` with the shared layout; a self-contained page unless `stylesheet` is given."""
    context.setdefault("css", Markup(stylesheet()))  # noqa: S704 - our packaged file, no input
    context.setdefault("stylesheet", None)
    context.setdefault("scripts", ())
    # The policy is our own constant: shown with its quotes as written (no " or < in it).
    context["csp"] = Markup(str(escape(context["csp"])).replace("&#39;", "'"))  # noqa: S704
    return environment().get_template(template).render(**context)


# ----------------------------------------------------------------------------- figures


def esc(value: Any) -> Markup:
    """HTML-escape any value shown on the page (``None`` shows as empty)."""
    return escape("" if value is None else str(value))


def _value(pair: Any) -> Decimal | None:
    return decimal_or_none(pair.get("value")) if isinstance(pair, Mapping) else None


def _amount(pair: Any, decimals: Any) -> str:
    return units(pair.get("amount"), decimals) if isinstance(pair, Mapping) else ""


def _base(pair: Any) -> str:
    return number(pair.get("base_units")) if isinstance(pair, Mapping) else ""


def _status(good: bool, yes: str, no: str) -> Markup:
    if good:
        return Markup('<span class="ok">{}</span>').format(yes)
    return Markup('<span class="bad">{}</span>').format(no)


# ----------------------------------------------------------------------------- the view


def _obj(value: Any) -> Mapping[str, Any]:
    """`value` if it is an object, else empty (a signed report may have any shape)."""
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _s(value: Any) -> str | None:
    return None if value is None else str(value)


def _asset_rows(doc: Mapping[str, Any]) -> dict[str, list[list[Any]]]:
    main, by_class, other, base = [], [], [], []
    for a in _list(doc.get("assets")):
        if not isinstance(a, Mapping):
            continue
        d = a.get("decimals")
        split = _obj(a.get("by_class"))
        ratio = a.get("coverage_ratio")
        main.append(
            [
                a.get("code"),
                _amount(a.get("liabilities"), d),
                _amount(a.get("holdings"), d),
                pct(ratio) if ratio is not None else a.get("coverage_note") or "n/a",
                pct(a.get("threshold")),
                _amount(a.get("shortfall"), d),
                _status(bool(a.get("covered")), "covered", "breach"),
            ]
        )
        by_class.append(
            [
                a.get("code"),
                *(_amount(split.get(c), d) for c in ("cold", "hot", "other")),
                pct(a.get("cold_share")),
            ]
        )
        other.append(
            [
                a.get("code"),
                _amount(a.get("unproven"), d),
                _amount(a.get("custodial"), d),
                _amount(a.get("own_buffer"), d),
            ]
        )
        base.append(
            [
                a.get("code"),
                "" if d is None else d,
                _base(a.get("liabilities")),
                _base(a.get("holdings")),
                _base(a.get("shortfall")),
            ]
        )
    return {"asset_rows": main, "class_rows": by_class, "other_rows": other, "base_rows": base}


def _check_figure(
    check: Mapping[str, Any], key: str, ratios: Mapping[str, Any], decimals: Mapping[str, Any]
) -> str:
    """A rule-pack check's value or limit for reading: coverage and shares as percentages
    (a coverage value from the asset's own ratio, so it rounds the one way), an own-buffer
    amount in whole units, anything else as given."""
    name = str(check.get("check") or "")
    value = check.get(key)
    kind, _, code = name.partition(":")
    if kind == "coverage":
        return pct(ratios.get(code, value) if key == "value" else value)
    if name.endswith("share"):
        return pct(value)
    if kind == "own_buffer":
        return units(value, decimals.get(code))
    return "" if value is None else str(value)


def _reserve_view(doc: Mapping[str, Any]) -> dict[str, Any] | None:
    reserve = doc.get("reserve")
    if not isinstance(reserve, Mapping):
        return None
    pack = _obj(reserve.get("pack"))
    required = _obj(reserve.get("required"))
    eligible = _obj(reserve.get("eligible"))
    chart, legend, note = reserve_chart(reserve)
    found = required.get("terms")
    terms: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    term_rows = [[name, money(_s(value))] for name, value in terms.items()]
    summed = [d for d in (decimal_or_none(v) for v in terms.values()) if d is not None]
    term_totals = []
    if term_rows and len(summed) == len(term_rows):
        with localcontext(EXACT):
            term_totals.append(["sum of the terms", money(str(sum(summed, Decimal(0))))])
    if term_rows:
        term_totals.append(
            ["required (after multiplier, floor and cap)", money(_s(required.get("amount")))]
        )
    components = []
    for c in _list(eligible.get("components")):
        if not isinstance(c, Mapping):
            continue
        failed = [
            f"{g.get('gate')}: {g.get('reason')}"
            for g in _list(c.get("gates"))
            if isinstance(g, Mapping) and g.get("passed") is False
        ]
        gates = (
            Markup('<span class="bad">{}</span>').format(Markup("<br>").join(failed))
            if failed
            else ""
        )
        components.append(
            [
                c.get("name"),
                c.get("kind"),
                money(_s(c.get("amount"))),
                money(component_credit(c)),
                gates,
            ]
        )
    met = bool(reserve.get("met"))
    totals = [
        ["eligible total", "", "", money(_s(eligible.get("total"))), ""],
        ["required", "", "", money(_s(required.get("amount"))), ""],
        [
            _status(met, "surplus", "shortfall"),
            "",
            "",
            money(_s(reserve.get("surplus" if met else "shortfall"))),
            "",
        ],
    ]
    ratios: dict[str, Any] = {
        str(a.get("code")): a.get("coverage_ratio")
        for a in _list(doc.get("assets"))
        if isinstance(a, Mapping)
    }
    decimals: dict[str, Any] = {
        str(a.get("code")): a.get("decimals")
        for a in _list(doc.get("assets"))
        if isinstance(a, Mapping)
    }
    checks = [
        [
            c.get("check"),
            _check_figure(c, "value", ratios, decimals),
            _check_figure(c, "limit", ratios, decimals),
            c.get("status"),
            _status(bool(c.get("passed")), "pass", "FAIL"),
            readable_text(c.get("reason")),
        ]
        for c in _list(reserve.get("checks"))
        if isinstance(c, Mapping)
    ]
    return {
        "pack_id": pack.get("id"),
        "pack_version": pack.get("version"),
        "pack_name": pack.get("name"),
        "pack_currency": pack.get("currency"),
        "chart": chart,
        "legend": legend,
        "note": note,
        "terms": term_rows,
        "term_totals": term_totals,
        "formula": readable_text(required.get("formula")),
        "components": components,
        "totals": totals,
        "checks": checks,
    }


def _metadata_lines(w: Mapping[str, Any]) -> list[str]:
    """The attribution cell: the attribution, then (when declared) the segregation, vendor,
    custodian and signing, one per line."""
    lines = [str(w.get("attribution") or "")]
    if w.get("segregation") not in (None, w.get("attribution")):
        lines.append(f"segregation: {w.get('segregation')}")
    for key in ("vendor", "custodian", "signing"):
        if w.get(key):
            lines.append(f"{key}: {w.get(key)}")
    return lines


def _wallet_rows(doc: Mapping[str, Any]) -> list[list[Any]]:
    # str(): a signed report may carry any JSON as a code, and a list is no dictionary key
    decimals = {
        str(a.get("code")): a.get("decimals")
        for a in _list(doc.get("assets"))
        if isinstance(a, Mapping)
    }
    rows = []
    for w in _list(doc.get("wallets")):
        if not isinstance(w, Mapping):
            continue
        ownership = _obj(w.get("ownership"))
        status = str(ownership.get("status", ""))
        balances = _obj(w.get("balances"))
        shown = Markup("<br>").join(
            f"{code} {_amount(pair, decimals.get(code))}" for code, pair in sorted(balances.items())
        )
        cls = {"proven": "ok", "custodial": "note"}.get(status, "bad")
        rows.append(
            [
                w.get("label"),
                w.get("chain"),
                w.get("class"),
                _metadata_lines(w),
                Markup('<span class="mono">{}</span>').format(w.get("address")),
                shown,
                Markup('<span class="{}">{}</span> {}').format(
                    cls, status, ownership.get("scheme") or ""
                ),
                ownership.get("reason"),
                w.get("counted_as"),
            ]
        )
    return rows


def _concentration_view(doc: Mapping[str, Any]) -> dict[str, Any] | None:
    """The concentration section: the vendor bar, a row per vendor and per custodian, the
    largest wallet and the mixed wallets (None: a report from before wallet metadata)."""
    conc = doc.get("concentration")
    if not isinstance(conc, Mapping):
        return None
    by_vendor = [r for r in _list(conc.get("by_vendor")) if isinstance(r, Mapping)]
    chart, chart_legend = vendor_chart(by_vendor)
    vendors = []
    for r in by_vendor:
        named = r.get("vendor") is not None
        notified = r.get("notified")
        vendors.append(
            [
                r.get("vendor") or r.get("name"),
                r.get("name") if named else "",
                r.get("kind") or "",
                (notified or Markup('<span class="bad">not notified</span>')) if named else "",
                money(_s(r.get("value"))),
                pct(r.get("share")),
                ", ".join(str(w) for w in _list(r.get("wallets"))),
            ]
        )
    custodians = [
        [
            r.get("custodian"),
            money(_s(r.get("value"))),
            pct(r.get("share")),
            ", ".join(str(w) for w in _list(r.get("wallets"))),
        ]
        for r in _list(conc.get("by_custodian"))
        if isinstance(r, Mapping)
    ]
    largest = _obj(conc.get("largest_wallet"))
    return {
        "chart": chart,
        "legend": chart_legend,
        "vendors": vendors,
        "custodians": custodians,
        "largest": None
        if not largest
        else f"{largest.get('wallet')} ({largest.get('label') or 'no label'}): "
        f"{money(_s(largest.get('value')))} ({pct(largest.get('share'))})",
        "mixed": [str(w) for w in _list(conc.get("mixed_wallets"))],
        "mixed_rows": mixed_wallet_rows(doc),
        "largest_vendor": largest_vendor(conc),
        "total": money(_s(conc.get("total"))),
    }


def block_rows(chains: Any) -> list[list[Any]]:
    return [
        [
            c.get("chain"),
            c.get("network"),
            number(c.get("height")),
            Markup('<span class="mono">{}</span>').format(c.get("block_hash")),
        ]
        for c in _list(chains)
        if isinstance(c, Mapping)
    ]


def price_rows(prices: Any) -> list[list[Any]]:
    return [
        [code, number(p.get("value")), p.get("currency"), p.get("source"), p.get("time")]
        for code, p in sorted(_obj(prices).items())
        if isinstance(p, Mapping)
    ]


def report_view(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Everything the report's sections show, formatted for reading (see the module doc)."""
    attestation = _obj(doc.get("attestation"))
    verdict = _obj(doc.get("verdict"))
    totals = _obj(doc.get("totals"))
    combined = _obj(doc.get("combined"))
    settings = _obj(doc.get("settings"))
    currency = str(doc.get("currency") or combined.get("currency") or "")
    assets = [a for a in _list(doc.get("assets")) if isinstance(a, Mapping)]
    split, split_legend = split_chart(
        _obj(totals.get("value_by_class")), bool(settings.get("count_custodial"))
    )
    statement = _obj(doc.get("statement"))
    return {
        "exchange": doc.get("exchange"),
        "attestation_id": attestation.get("id"),
        "as_of": attestation.get("as_of"),
        "commitment": attestation.get("commitment"),
        "report_id": doc.get("report_id"),
        "generated_at": doc.get("generated_at"),
        "format": doc.get("report"),
        "currency": currency,
        "ok": verdict.get("exit_code") == 0,
        "show_exit": True,
        "exit_code": verdict.get("exit_code"),
        "breaches": [
            b.get("message") for b in _list(verdict.get("breaches")) if isinstance(b, Mapping)
        ],
        "coverage_chart": coverage_chart(assets, currency),
        "coverage_legend": coverage_legend(assets),
        **_asset_rows(doc),
        "split_chart": split,
        "split_legend": split_legend,
        "cold_share": pct(totals.get("cold_share")),
        "reserve": _reserve_view(doc),
        "combined": {
            "ratio": pct(combined.get("ratio")),
            "threshold": pct(combined.get("threshold")),
            "rows": [
                [
                    "customer holdings, capped at liabilities per asset",
                    money(_s(combined.get("capped_holdings_value"))),
                ],
                ["+ eligible reserve", money(_s(combined.get("eligible_reserve")))],
                ["÷ customer liabilities", money(_s(combined.get("liabilities_value")))],
            ],
            "totals": [["= combined coverage", pct(combined.get("ratio"))]],
        },
        "concentration": _concentration_view(doc),
        "blocks": block_rows(doc.get("chains")),
        "wallets": _wallet_rows(doc),
        "prices": price_rows(doc.get("prices")),
        "hashes": [
            [name, Markup('<span class="mono">{}</span>').format(h)]
            for name, h in sorted(_obj(doc.get("input_hashes")).items())
        ],
        "warnings": _list(doc.get("warnings")),
        "proves": _list(statement.get("proves")),
        "does_not_prove": _list(statement.get("does_not_prove")),
    }


def render_html(report_doc: Mapping[str, Any]) -> str:
    """One self-contained HTML page for a ``por-report-v1`` document.

    Parameters
    ----------
    report_doc
        A document from `verifier.report.document.build_report` (or read back from its JSON).

    Returns
    -------
    str
        The page: inline CSS and SVG only, nothing loaded from elsewhere, every
        document string escaped.
    """
    view = report_view(report_doc)
    title = f"Proof of reserves: {view['exchange'] or ''} {view['attestation_id'] or ''}"
    return render_page("report.html", v=view, title=title.strip(), csp=REPORT_CSP)


def write_html(path: Path | str, html_text: str) -> None:
    """Write `html_text` to `path` atomically: a temporary file beside it, then a rename.

    Parameters
    ----------
    path
        Where the page goes; its directory is created if needed.
    html_text
        The page, from `render_html`.

    Raises
    ------
    StoreError
        The file could not be written (the previous file, if any, is left as it was).
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot write {target}: {exc}") from exc
    write_atomic(
        target,
        html_text.encode("utf-8"),
        error=lambda exc: StoreError(f"cannot write {target}: {exc}"),
    )


_SECTIONS = (
    '{% import "report_sections.html" as s %}{% for name in names %}{{ s[name](v) }}\n{% endfor %}'
)


def render_sections(report_doc: Mapping[str, Any], *names: str) -> Markup:
    """Some of the report's sections (``coverage``, ``holdings``, ``reserve``, ``combined``,
    ``wallets``) as HTML, for a page that shows them in its own layout (the site)."""
    view = report_view(report_doc)
    view["show_exit"] = False
    template = environment().from_string(_SECTIONS)
    return Markup(template.render(v=view, names=names))  # noqa: S704 - autoescaped render


def table_html(
    head: Sequence[Any], rows: Sequence[Sequence[Any]], numeric: Sequence[int] = ()
) -> Markup:
    """A table in the pages' one style (plain cells are escaped; Markup cells kept)."""
    template = environment().from_string(
        '{% from "macros.html" import table %}{{ table(head, rows, numeric=numeric) }}'
    )
    return Markup(template.render(head=head, rows=rows, numeric=tuple(numeric)))  # noqa: S704
