"""The coverage report as one self-contained HTML page, and what every page shares.

Where it sits: beside verifier/report/document.py, at the end of the flow. `render_html` turns a
``por-report-v1`` document (docs/report.md) into a single HTML page from the Jinja2 templates
in verifier/report/templates (one base layout and one style sheet, shared with the history page
and the published site): the style sheet inline, charts as inline SVG drawn here, no script,
font, style sheet or image fetched from anywhere (a Content-Security-Policy of
``default-src 'none'`` makes the browser refuse any that slip in). `render_html` is pure;
`write_html` is the one function with I/O and writes the file atomically.

What a reader sees: amounts in whole units with thousands separators (base units only behind
a details toggle and in the JSON), values in the report's currency, every coverage figure with
two decimals rounded down (`pct`: never covered on the page when it is not), the required
reserve as a table of its terms.

Invariants: templates autoescape, so every string from the document is HTML-escaped (wallet
labels, addresses, reasons, price sources and rule-pack texts are user input); the SVG drawn
here escapes with `markupsafe.escape`; chart geometry and every figure use `Decimal`, never
floats.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from decimal import ROUND_FLOOR, Context, Decimal, localcontext
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

from verifier.base.errors import StoreError
from verifier.reconcile.coverage import EXACT
from verifier.report.document import component_credit, money

_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_PALETTE = ("#1565c0", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#ad1457", "#5d4037")
_CLASS_COLOURS = {"cold": "#1565c0", "hot": "#ef6c00", "other": "#6a1b9a", "custodial": "#757575"}
_GEOMETRY = Context(prec=28, rounding=ROUND_FLOOR)
"""Chart lengths and shares: 28 digits, rounded down (display only, never a verdict)."""
_SHOWN = Context(prec=1000, rounding=ROUND_FLOOR)
"""Figures for reading: wide enough for any stored value, rounded down."""
_OK = "#2e7d32"
_BAD = "#c62828"
_OWED = "#9aa0a6"
_MAX_PLACES = 8
"""Whole-unit amounts show at most this many decimals (rounded down); exact ones are in the
base-units table and the JSON."""
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


def _dec(value: Any) -> Decimal | None:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, str) and _DECIMAL.fullmatch(value):
        return Decimal(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return None


def pct(ratio: Any) -> str:
    """A ratio as a percentage with two decimals, rounded down: the one rule for every
    coverage figure on every page (``1.00999`` -> ``100.99%``, ``0.99999`` -> ``99.99%``).
    None is ``n/a``; anything that is not a number is shown as it is."""
    value = _dec(ratio)
    if value is None:
        return "n/a" if ratio is None else str(ratio)
    with localcontext(_SHOWN):
        shown = (value * 100).quantize(Decimal("0.01"))
    return f"{shown:,}%"


def units(amount: Any, decimals: Any = _MAX_PLACES) -> str:
    """A whole-unit amount for reading: thousands separators, at most 8 decimals (fewer when
    the asset has fewer), rounded down; zero is ``0``."""
    value = _dec(amount)
    if value is None:
        return "" if amount is None else str(amount)
    if value == 0:
        return "0"
    places = min(int(decimals), _MAX_PLACES) if isinstance(decimals, int) else _MAX_PLACES
    with localcontext(_SHOWN):
        shown = value.quantize(Decimal(1).scaleb(-places))
    return f"{shown:,}"


def number(value: Any) -> str:
    """A decimal as given, with thousands separators (a price keeps its digits)."""
    d = _dec(value)
    if d is None:
        return "" if value is None else str(value)
    return f"{d:,}"


def compact(value: Decimal) -> str:
    """An axis label: 1 decimal and k / M / bn / tn (``126626906991.9`` -> ``126.6bn``)."""
    for size, suffix in ((10**12, "tn"), (10**9, "bn"), (10**6, "M"), (10**3, "k")):
        if abs(value) >= size:
            with localcontext(_SHOWN):
                return f"{(value / size).quantize(Decimal('0.1'))}{suffix}"
    with localcontext(_SHOWN):
        return str(value.quantize(Decimal(1)))


def _n(value: Decimal) -> str:
    """An SVG coordinate: one decimal place, plain notation."""
    with localcontext(_GEOMETRY):
        shown = value.quantize(Decimal("0.1"))
    return format(shown, "f")


def _scaled(part: Decimal, whole: Decimal, width: int) -> Decimal:
    """`part` of `whole` as a length out of `width` (clamped to 0..width)."""
    if whole <= 0:
        return Decimal(0)
    with localcontext(_GEOMETRY):
        return max(Decimal(0), min(Decimal(width), part / whole * width))


def _value(pair: Any) -> Decimal | None:
    return _dec(pair.get("value")) if isinstance(pair, Mapping) else None


def _amount(pair: Any, decimals: Any) -> str:
    return units(pair.get("amount"), decimals) if isinstance(pair, Mapping) else ""


def _base(pair: Any) -> str:
    return number(pair.get("base_units")) if isinstance(pair, Mapping) else ""


def _status(good: bool, yes: str, no: str) -> Markup:
    if good:
        return Markup('<span class="ok">{}</span>').format(yes)
    return Markup('<span class="bad">{}</span>').format(no)


# ----------------------------------------------------------------------------- charts


def coverage_chart(assets: Sequence[Mapping[str, Any]], currency: str = "") -> Markup:
    """Per asset, the value of proven holdings against the value of liabilities, on one
    labelled axis; the coverage percentage beside each pair (an asset without a price shows
    its note)."""
    rows = [a for a in assets if isinstance(a, Mapping)]
    if not rows:
        return Markup('<p class="note">No assets.</p>')
    label_w, bar_w, text_w, row_h, top = 64, 470, 96, 44, 8
    width = label_w + bar_w + text_w
    owed = [v for v in (_value(a.get("liabilities")) for a in rows) if v is not None]
    held = [v for v in (_value(a.get("holdings")) for a in rows) if v is not None]
    biggest_owed = max(owed, default=Decimal(0))
    scale = max([biggest_owed, *(min(h, 2 * biggest_owed) for h in held)]) or Decimal(1)
    axis_y = top + row_h * len(rows)
    height = axis_y + 40
    title = f"Proven holdings against liabilities per asset, value in {currency}".strip()
    parts = [
        Markup('<svg viewBox="0 0 {} {}" role="img" aria-label="{}"><title>{}</title>').format(
            width, height, title, title
        )
    ]
    for i, a in enumerate(rows):
        y = top + i * row_h
        parts.append(
            Markup('<text x="0" y="{}" font-size="14" font-weight="600">{}</text>').format(
                y + 22, a.get("code")
            )
        )
        liabilities, holdings = _value(a.get("liabilities")), _value(a.get("holdings"))
        if liabilities is None or holdings is None:
            parts.append(
                Markup('<text x="{}" y="{}" font-size="13" fill="#5f6368">{}</text>').format(
                    label_w, y + 22, a.get("coverage_note") or "no price: no value to draw"
                )
            )
            continue
        colour = _OK if a.get("covered") else _BAD
        for offset, amount, fill in ((4, liabilities, _OWED), (20, holdings, colour)):
            parts.append(
                Markup('<rect x="{}" y="{}" width="{}" height="14" fill="{}"/>').format(
                    label_w, y + offset, _n(_scaled(amount, scale, bar_w)), fill
                )
            )
        suffix = " \u25b6" if holdings > scale else ""
        parts.append(
            Markup('<text x="{}" y="{}" font-size="14" fill="{}">{}{}</text>').format(
                label_w + bar_w + 8, y + 22, colour, pct(a.get("coverage_ratio")), suffix
            )
        )
    parts.append(
        Markup('<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#5f6368"/>').format(
            label_w, axis_y, label_w + bar_w, axis_y
        )
    )
    for step in range(5):
        x = label_w + _scaled(scale * step / 4, scale, bar_w)
        anchor = "start" if step == 0 else "end" if step == 4 else "middle"
        parts.append(
            Markup(
                '<line x1="{x}" y1="{y}" x2="{x}" y2="{y2}" stroke="#5f6368"/>'
                '<text x="{x}" y="{ty}" font-size="12" text-anchor="{a}">{t}</text>'
            ).format(
                x=_n(x),
                y=axis_y,
                y2=axis_y + 5,
                ty=axis_y + 18,
                a=anchor,
                t=compact(scale * step / 4),
            )
        )
    parts.append(
        Markup('<text x="{}" y="{}" font-size="12" text-anchor="middle">value ({})</text>').format(
            label_w + bar_w // 2, axis_y + 35, currency
        )
    )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def _bar(
    segments: Sequence[tuple[Decimal, str]], whole: Decimal, marks: Sequence[Decimal] = ()
) -> Markup:
    """One horizontal bar of coloured `segments` out of `whole`, red marks at `marks`."""
    bar_w, left = 560, 20
    parts = [
        Markup('<rect x="{}" y="14" width="{}" height="32" fill="#f1f3f4"/>').format(left, bar_w)
    ]
    x = Decimal(left)
    for amount, colour in segments:
        w = _scaled(amount, whole, bar_w)
        if w > 0:
            parts.append(
                Markup(
                    '<rect x="{}" y="14" width="{}" height="32" fill="{}" stroke="#fff" '
                    'stroke-width="1"/>'
                ).format(_n(x), _n(w), colour)
            )
        x += w
    for mark in marks:
        mx = left + _scaled(mark, whole, bar_w)
        parts.append(
            Markup('<line x1="{x}" y1="4" x2="{x}" y2="56" stroke="{c}" stroke-width="3"/>').format(
                x=_n(mx), c=_BAD
            )
        )
    return Markup("").join(parts)


def reserve_chart(reserve: Mapping[str, Any]) -> tuple[Markup, list[tuple[str, str]], str]:
    """A stacked bar of the eligible reserve by component, the required reserve as a red
    mark; returns (svg, legend items, note)."""
    required = _dec(_obj(reserve.get("required")).get("amount")) or Decimal(0)
    eligible = _obj(reserve.get("eligible"))
    total = _dec(eligible.get("total")) or Decimal(0)
    components = [c for c in _list(eligible.get("components")) if isinstance(c, Mapping)]
    credits = [(c, _dec(component_credit(c)) or Decimal(0)) for c in components]
    with localcontext(EXACT):
        stacked = sum((credit for _, credit in credits), Decimal(0))
    scale = max(required, total, stacked)
    segments = [(credit, _PALETTE[i % len(_PALETTE)]) for i, (_, credit) in enumerate(credits)]
    svg = (
        Markup(
            '<svg viewBox="0 0 600 60" role="img" aria-label="Eligible reserve by component '
            'against the required reserve"><title>Eligible reserve against required</title>'
        )
        + _bar(segments, scale, [required])
        + Markup("</svg>")
    )
    legend = [
        (_PALETTE[i % len(_PALETTE)], f"{c.get('name', '?')}: {money(component_credit(c))}")
        for i, (c, _) in enumerate(credits)
    ]
    legend.append((_BAD, f"required (red mark): {money(_s(required))}"))
    note = ""
    if stacked != total:
        note = (
            f"The components add up to {money(str(stacked))}; the rule pack's eligible total "
            f"is {money(_s(eligible.get('total')))} (caps such as the insurance share apply to "
            "the total)."
        )
    return svg, legend, note


def split_chart(
    value_by_class: Mapping[str, Any], count_custodial: bool
) -> tuple[Markup, list[tuple[str, str]]]:
    """One 100% bar: value of proven customer holdings by wallet class; (svg, legend)."""
    classes = ["cold", "hot", "other"] + (["custodial"] if count_custodial else [])
    values = [(name, _dec(value_by_class.get(name)) or Decimal(0)) for name in classes]
    with localcontext(EXACT):
        whole = sum((v for _, v in values), Decimal(0))
    if whole <= 0:
        return Markup('<p class="note">No proven customer holdings with a price.</p>'), []
    svg = (
        Markup(
            '<svg viewBox="0 0 600 60" role="img" aria-label="Customer holdings by wallet class">'
            "<title>Customer holdings by wallet class</title>"
        )
        + _bar([(v, _CLASS_COLOURS[name]) for name, v in values], whole)
        + Markup("</svg>")
    )
    legend = []
    for name, value in values:
        with localcontext(_GEOMETRY):
            share = value / whole
        legend.append((_CLASS_COLOURS[name], f"{name}: {pct(share)} ({money(str(value))})"))
    return svg, legend


# ----------------------------------------------------------------------------- the view


def _obj(value: Any) -> Mapping[str, Any]:
    """`value` if it is an object, else empty (a signed report may have any shape)."""
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _s(value: Any) -> str | None:
    return None if value is None else str(value)


def _asset_rows(doc: Mapping[str, Any]) -> dict[str, list[list[Any]]]:
    main, by_class, base = [], [], []
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
                _amount(a.get("unproven"), d),
                _amount(a.get("custodial"), d),
                _amount(a.get("own_buffer"), d),
                pct(a.get("cold_share")),
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
    return {"asset_rows": main, "class_rows": by_class, "base_rows": base}


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
    summed = [d for d in (_dec(v) for v in terms.values()) if d is not None]
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
            c.get("reason"),
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
        "formula": required.get("formula"),
        "components": components,
        "totals": totals,
        "checks": checks,
    }


def _wallet_rows(doc: Mapping[str, Any]) -> list[list[Any]]:
    decimals = {
        a.get("code"): a.get("decimals") for a in _list(doc.get("assets")) if isinstance(a, Mapping)
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
                w.get("attribution"),
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
        "coverage_legend": [
            (_OWED, "customer liabilities"),
            (_OK, "proven holdings (covered)"),
            (_BAD, "proven holdings (short)"),
        ],
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
        fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise StoreError(f"cannot write {target}: {exc}") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(html_text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise StoreError(f"cannot write {target}: {exc}") from exc


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
