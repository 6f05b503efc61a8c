"""The coverage report as one self-contained HTML file.

Where it sits: beside verifier/report.py, at the end of the flow. `render_html` turns a
``por-report-v1`` document (docs/report.md) into a single HTML page: inline CSS, charts as
inline SVG drawn here, no script, font, style sheet or image fetched from anywhere (a
Content-Security-Policy of ``default-src 'none'`` makes the browser refuse any that slip
in). The page reads well on a phone (viewport meta, fluid layout, tables that scroll
sideways). `render_html` is pure; `write_html` is the one function with I/O and writes the
file atomically (a temporary file in the same directory, then a rename).

Invariants: every string that comes from the document is HTML-escaped (wallet labels,
addresses, reasons, price sources and rule-pack texts are user input); chart geometry is
computed with `Decimal`, never floats.
"""

from __future__ import annotations

import contextlib
import html
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from decimal import ROUND_FLOOR, Context, Decimal, localcontext
from pathlib import Path
from typing import Any

from verifier.errors import StoreError
from verifier.reconcile import EXACT
from verifier.report import component_credit, money, percent

_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_PALETTE = ("#1565c0", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#ad1457", "#5d4037")
_CLASS_COLOURS = {"cold": "#1565c0", "hot": "#ef6c00", "other": "#6a1b9a", "custodial": "#757575"}
_GEOMETRY = Context(prec=28, rounding=ROUND_FLOOR)
"""Chart lengths and shares: 28 digits, rounded down (display only, never a verdict)."""
_OK = "#2e7d32"
_BAD = "#c62828"

_CSS = """
:root{--fg:#1b1b1b;--muted:#5f6368;--line:#dadce0;--ok:#2e7d32;--bad:#c62828;--bg:#fff}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:var(--fg);background:var(--bg)}
main{max-width:980px;margin:0 auto;padding:16px}
h1{font-size:1.5em;margin:.2em 0}
h2{font-size:1.2em;margin:1.6em 0 .4em;border-bottom:1px solid var(--line);padding-bottom:.2em}
.meta{color:var(--muted);font-size:.9em;word-break:break-all}
.verdict{padding:12px 16px;border-radius:8px;color:#fff;font-weight:600;margin:12px 0}
.verdict.ok{background:var(--ok);color:#fff}.verdict.bad{background:var(--bad);color:#fff}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;width:100%;font-size:.9em}
th,td{border-bottom:1px solid var(--line);padding:6px 8px;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;word-break:break-all}
.ok{color:var(--ok)}.bad{color:var(--bad);font-weight:600}
svg{width:100%;height:auto;display:block;max-width:760px}
.legend{list-style:none;padding:0;margin:.4em 0;display:flex;flex-wrap:wrap;gap:6px 16px}
.sw{display:inline-block;width:.9em;height:.9em;border-radius:2px;margin-right:4px;
vertical-align:-1px}
.note{color:var(--muted);font-size:.9em}
@media (max-width:600px){body{font-size:14px}main{padding:10px}th,td{padding:4px 5px}}
"""


def esc(value: Any) -> str:
    """HTML-escape any value shown on the page (``None`` shows as empty)."""
    return html.escape("" if value is None else str(value), quote=True)


def _dec(value: Any) -> Decimal | None:
    if isinstance(value, str) and _DECIMAL.fullmatch(value):
        return Decimal(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return None


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


# ----------------------------------------------------------------------------- charts


def coverage_chart(assets: Sequence[Mapping[str, Any]]) -> str:
    """Horizontal bars of coverage per asset, with the 100% line and each minimum."""
    rows = [a for a in assets if isinstance(a, Mapping)]
    if not rows:
        return '<p class="note">No assets.</p>'
    label_w, bar_w, text_w, row_h = 90, 440, 110, 30
    width = label_w + bar_w + text_w
    ratios = [r for r in (_dec(a.get("coverage_ratio")) for a in rows) if r is not None]
    scale = max([Decimal("1.25"), *(min(r, Decimal(2)) for r in ratios)])
    height = row_h * len(rows) + 26
    one = label_w + _scaled(Decimal(1), scale, bar_w)
    parts = [
        f'<svg viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="Coverage ratio per asset"><title>Coverage ratio per asset</title>'
    ]
    for i, a in enumerate(rows):
        y = i * row_h + 4
        ratio = _dec(a.get("coverage_ratio"))
        colour = _OK if a.get("covered") else _BAD
        parts.append(
            f'<text x="0" y="{y + 17}" font-size="13" font-weight="600">{esc(a.get("code"))}</text>'
        )
        parts.append(
            f'<rect x="{label_w}" y="{y + 3}" width="{bar_w}" height="20" fill="#f1f3f4"/>'
        )
        if ratio is None:
            parts.append(
                f'<text x="{label_w + 6}" y="{y + 17}" font-size="12" fill="#5f6368">'
                f"{esc(a.get('coverage_note') or 'n/a')}</text>"
            )
            continue
        bar = _scaled(ratio, scale, bar_w)
        parts.append(
            f'<rect x="{label_w}" y="{y + 3}" width="{_n(bar)}" height="20" fill="{colour}"/>'
        )
        threshold = _dec(a.get("threshold"))
        if threshold is not None and threshold != 1:
            tx = label_w + _scaled(threshold, scale, bar_w)
            parts.append(
                f'<line x1="{_n(tx)}" y1="{y}" x2="{_n(tx)}" y2="{y + 26}" '
                f'stroke="#000" stroke-width="2"/>'
            )
        suffix = " \u25b6" if ratio > scale else ""
        parts.append(
            f'<text x="{label_w + bar_w + 6}" y="{y + 17}" font-size="13" fill="{colour}">'
            f"{esc(percent(a.get('coverage_ratio')))}{suffix}</text>"
        )
    bottom = row_h * len(rows) + 4
    parts.append(
        f'<line x1="{_n(one)}" y1="0" x2="{_n(one)}" y2="{bottom}" stroke="#1b1b1b" '
        f'stroke-dasharray="4 3" stroke-width="1.5"/>'
    )
    parts.append(
        f'<text x="{_n(one)}" y="{bottom + 16}" font-size="12" text-anchor="middle">100%</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _legend(items: Sequence[tuple[str, str, str]]) -> str:
    """(colour, label, value) triples as an HTML legend (labels escaped)."""
    cells = "".join(
        f'<li><span class="sw" style="background:{colour}"></span>{esc(label)}: {esc(value)}</li>'
        for colour, label, value in items
    )
    return f'<ul class="legend">{cells}</ul>'


def reserve_chart(reserve: Mapping[str, Any]) -> str:
    """A stacked bar of the eligible reserve by component against the required reserve."""
    required = _dec((reserve.get("required") or {}).get("amount")) or Decimal(0)
    eligible = reserve.get("eligible") or {}
    total = _dec(eligible.get("total")) or Decimal(0)
    components = [c for c in eligible.get("components") or [] if isinstance(c, Mapping)]
    credits = [(c, _dec(component_credit(c)) or Decimal(0)) for c in components]
    with localcontext(EXACT):
        stacked = sum((credit for _, credit in credits), Decimal(0))
    scale = max(required, total, stacked)
    width, bar_w, left = 600, 560, 20
    parts = [
        f'<svg viewBox="0 0 {width} 96" role="img" aria-label="Eligible reserve by component '
        f'against the required reserve"><title>Eligible reserve against required</title>',
        f'<rect x="{left}" y="24" width="{bar_w}" height="32" fill="#f1f3f4"/>',
    ]
    x = Decimal(left)
    legend = []
    for i, (component, credit) in enumerate(credits):
        colour = _PALETTE[i % len(_PALETTE)]
        w = _scaled(credit, scale, bar_w)
        if w > 0:
            parts.append(
                f'<rect x="{_n(x)}" y="24" width="{_n(w)}" height="32" fill="{colour}" '
                f'stroke="#fff" stroke-width="1"/>'
            )
        x += w
        legend.append((colour, str(component.get("name", "?")), money(component_credit(component))))
    rx = left + _scaled(required, scale, bar_w)
    parts.append(
        f'<line x1="{_n(rx)}" y1="10" x2="{_n(rx)}" y2="70" stroke="{_BAD}" stroke-width="2.5"/>'
    )
    anchor = "end" if rx > width / 2 else "start"
    parts.append(
        f'<text x="{_n(rx)}" y="86" font-size="12" text-anchor="{anchor}" fill="{_BAD}">'
        f"required {esc(money((reserve.get('required') or {}).get('amount')))}</text>"
    )
    ex = left + _scaled(total, scale, bar_w)
    anchor = "end" if ex > width / 2 else "start"
    parts.append(
        f'<text x="{_n(ex)}" y="18" font-size="12" text-anchor="{anchor}">'
        f"eligible {esc(money(eligible.get('total')))}</text>"
    )
    parts.append("</svg>")
    note = ""
    if stacked != total:
        note = (
            f'<p class="note">The components add up to {esc(money(str(stacked)))}; the rule '
            f"pack's eligible total is {esc(money(eligible.get('total')))} (caps such as the "
            "insurance share apply to the total).</p>"
        )
    return "".join(parts) + _legend(legend) + note


def split_chart(value_by_class: Mapping[str, Any], count_custodial: bool) -> str:
    """One 100% bar: value of proven customer holdings by wallet class."""
    classes = ["cold", "hot", "other"] + (["custodial"] if count_custodial else [])
    values = [(name, _dec(value_by_class.get(name)) or Decimal(0)) for name in classes]
    with localcontext(EXACT):
        whole = sum((v for _, v in values), Decimal(0))
    if whole <= 0:
        return '<p class="note">No proven customer holdings with a price.</p>'
    bar_w, left = 560, 20
    parts = [
        '<svg viewBox="0 0 600 48" role="img" aria-label="Customer holdings by wallet class">'
        "<title>Customer holdings by wallet class</title>"
    ]
    x = Decimal(left)
    legend = []
    for name, value in values:
        w = _scaled(value, whole, bar_w)
        if w > 0:
            parts.append(
                f'<rect x="{_n(x)}" y="8" width="{_n(w)}" height="32" '
                f'fill="{_CLASS_COLOURS[name]}"/>'
            )
        x += w
        with localcontext(_GEOMETRY):
            share = format(value / whole, "f")
        legend.append((_CLASS_COLOURS[name], name, f"{percent(share)} ({money(str(value))})"))
    parts.append("</svg>")
    return "".join(parts) + _legend(legend)


# ----------------------------------------------------------------------------- page sections


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], numeric: set[int]) -> str:
    """A table from pre-escaped cells; `numeric` columns are right-aligned."""
    th = "".join(
        f'<th class="n">{h}</th>' if i in numeric else f"<th>{h}</th>" for i, h in enumerate(head)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{cell}</td>' if i in numeric else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    table = f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"
    return f'<div class="scroll">{table}</div>'


def _amount(pair: Any) -> str:
    return esc(pair.get("amount")) if isinstance(pair, Mapping) else ""


def _assets_section(doc: Mapping[str, Any]) -> str:
    rows = []
    for a in doc.get("assets") or []:
        by_class = a.get("by_class") or {}
        status = (
            '<span class="ok">covered</span>'
            if a.get("covered")
            else '<span class="bad">breach</span>'
        )
        ratio = a.get("coverage_ratio")
        rows.append(
            [
                esc(a.get("code")),
                _amount(a.get("liabilities")),
                _amount(by_class.get("cold")),
                _amount(by_class.get("hot")),
                _amount(by_class.get("other")),
                _amount(a.get("unproven")),
                _amount(a.get("custodial")),
                _amount(a.get("own_buffer")),
                esc(percent(ratio) if ratio is not None else a.get("coverage_note") or "n/a"),
                esc(percent(a.get("threshold"))),
                _amount(a.get("shortfall")),
                esc(percent(a.get("cold_share"))),
                status,
            ]
        )
    head = [
        "asset",
        "liabilities",
        "proven cold",
        "proven hot",
        "proven other",
        "unproven",
        "custodial",
        "own buffer",
        "coverage",
        "minimum",
        "shortfall",
        "cold share",
        "status",
    ]
    return _table(head, rows, set(range(1, 12)))


def _reserve_section(doc: Mapping[str, Any]) -> str:
    reserve = doc.get("reserve")
    if not isinstance(reserve, Mapping):
        return '<p class="note">No reserve rule pack was evaluated.</p>'
    pack = reserve.get("pack") or {}
    required = reserve.get("required") or {}
    eligible = reserve.get("eligible") or {}
    out = [
        f"<p>Rule pack <b>{esc(pack.get('id'))}</b> {esc(pack.get('version'))} "
        f"{esc(pack.get('name'))} ({esc(pack.get('currency'))})</p>",
        reserve_chart(reserve),
    ]
    if required.get("formula"):
        out.append(f'<p class="note mono">required = {esc(required.get("formula"))}</p>')
    rows = []
    for c in eligible.get("components") or []:
        if not isinstance(c, Mapping):
            continue
        gates = [
            f"{esc(g.get('gate'))}: {esc(g.get('reason'))}"
            for g in c.get("gates") or []
            if isinstance(g, Mapping) and g.get("passed") is False
        ]
        rows.append(
            [
                esc(c.get("name")),
                esc(c.get("kind")),
                esc(money(_s(c.get("amount")))),
                esc(money(component_credit(c))),
                f'<span class="bad">{"<br>".join(gates)}</span>' if gates else "",
            ]
        )
    rows.append(["<b>eligible total</b>", "", "", esc(money(_s(eligible.get("total")))), ""])
    rows.append(["<b>required</b>", "", "", esc(money(_s(required.get("amount")))), ""])
    if reserve.get("met"):
        rows.append(
            ['<span class="ok">surplus</span>', "", "", esc(money(_s(reserve.get("surplus")))), ""]
        )
    else:
        rows.append(
            [
                '<span class="bad">shortfall</span>',
                "",
                "",
                esc(money(_s(reserve.get("shortfall")))),
                "",
            ]
        )
    out.append(_table(["component", "kind", "amount", "eligible", "failed gates"], rows, {2, 3}))
    checks = [c for c in reserve.get("checks") or [] if isinstance(c, Mapping)]
    if checks:
        out.append("<h3>Rule-pack checks</h3>")
        out.append(
            _table(
                ["check", "value", "limit", "status", "result", "reason"],
                [
                    [
                        esc(c.get("check")),
                        esc(c.get("value")),
                        esc(c.get("limit")),
                        esc(c.get("status")),
                        '<span class="ok">pass</span>'
                        if c.get("passed")
                        else '<span class="bad">FAIL</span>',
                        esc(c.get("reason")),
                    ]
                    for c in checks
                ],
                set(),
            )
        )
    return "".join(out)


def _s(value: Any) -> str | None:
    return None if value is None else str(value)


def _wallets_section(doc: Mapping[str, Any]) -> str:
    rows = []
    for w in doc.get("wallets") or []:
        if not isinstance(w, Mapping):
            continue
        ownership = w.get("ownership") or {}
        status = str(ownership.get("status", ""))
        balances = w.get("balances") or {}
        shown = "<br>".join(
            f"{esc(code)} {_amount(pair)}" for code, pair in sorted(balances.items())
        )
        cls = {"proven": "ok", "custodial": "note"}.get(status, "bad")
        rows.append(
            [
                esc(w.get("label")),
                esc(w.get("chain")),
                esc(w.get("class")),
                esc(w.get("attribution")),
                f'<span class="mono">{esc(w.get("address"))}</span>',
                shown,
                f'<span class="{cls}">{esc(status)}</span> {esc(ownership.get("scheme") or "")}',
                esc(ownership.get("reason")),
                esc(w.get("counted_as")),
            ]
        )
    head = [
        "label",
        "chain",
        "class",
        "attribution",
        "address",
        "balance",
        "ownership",
        "reason",
        "counted as",
    ]
    return _table(head, rows, set())


def render_html(report_doc: Mapping[str, Any]) -> str:
    """One self-contained HTML page for a ``por-report-v1`` document.

    Parameters
    ----------
    report_doc
        A document from `verifier.report.build_report` (or read back from its JSON).

    Returns
    -------
    str
        The page: inline CSS and SVG only, nothing loaded from elsewhere, every
        document string escaped.
    """
    doc = report_doc
    attestation = doc.get("attestation") or {}
    verdict = doc.get("verdict") or {}
    totals = doc.get("totals") or {}
    combined = doc.get("combined") or {}
    settings = doc.get("settings") or {}
    currency = esc(doc.get("currency"))
    ok = verdict.get("exit_code") == 0
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'\">",
        '<meta name="referrer" content="no-referrer">',
        f"<title>Proof of reserves: {esc(doc.get('exchange'))} "
        f"{esc(attestation.get('id'))}</title>",
        f"<style>{_CSS}</style></head><body><main>",
        f"<h1>Proof of reserves: {esc(doc.get('exchange'))}</h1>",
        f'<p class="meta">attestation {esc(attestation.get("id"))} · as of '
        f"{esc(attestation.get('as_of'))} · report {esc(doc.get('report_id'))} · generated "
        f"{esc(doc.get('generated_at'))} · {esc(doc.get('report'))}</p>",
    ]
    if ok:
        out.append('<div class="verdict ok">Covered: every check passed (exit 0)</div>')
    else:
        out.append(
            f'<div class="verdict bad">Not covered (exit {esc(verdict.get("exit_code"))})</div>'
        )
        breaches = "".join(
            f"<li>{esc(b.get('message'))}</li>" for b in verdict.get("breaches") or []
        )
        out.append(f"<ul>{breaches}</ul>")
    out.append(
        '<p class="note">A point-in-time check at the pinned blocks below, not an audit. '
        'See "What this proves and what it does not" at the end.</p>'
    )
    out.append("<h2>Coverage per asset</h2>")
    out.append(
        '<p class="note">Proven customer holdings / liabilities, per asset; a surplus in one '
        "asset never offsets a shortfall in another. Dashed line: 100%.</p>"
    )
    out.append(coverage_chart(doc.get("assets") or []))
    out.append(_assets_section(doc))
    out.append("<h2>Customer holdings by wallet class (value)</h2>")
    out.append(
        split_chart(totals.get("value_by_class") or {}, bool(settings.get("count_custodial")))
    )
    out.append(f'<p class="note">Cold share: {esc(percent(totals.get("cold_share")))}.</p>')
    out.append(f"<h2>Liability reserve ({currency})</h2>")
    out.append(_reserve_section(doc))
    out.append(f"<h2>Combined coverage ({currency})</h2>")
    capped = esc(money(combined.get("capped_holdings_value")))
    reserve = esc(money(combined.get("eligible_reserve")))
    owed = esc(money(combined.get("liabilities_value")))
    out.append(
        f"<p><b>{esc(percent(combined.get('ratio')))}</b> (minimum "
        f"{esc(percent(combined.get('threshold')))}) = ({capped} holdings capped at "
        f"liabilities per asset + {reserve} eligible reserve) / {owed} liabilities</p>"
    )
    out.append("<h2>Pinned blocks</h2>")
    out.append(
        _table(
            ["chain", "network", "height", "block hash"],
            [
                [
                    esc(c.get("chain")),
                    esc(c.get("network")),
                    esc(c.get("height")),
                    f'<span class="mono">{esc(c.get("block_hash"))}</span>',
                ]
                for c in doc.get("chains") or []
                if isinstance(c, Mapping)
            ],
            {2},
        )
    )
    out.append("<h2>Wallets and ownership</h2>")
    out.append(_wallets_section(doc))
    out.append("<h2>Prices</h2>")
    prices = doc.get("prices") or {}
    out.append(
        _table(
            ["asset", "price", "currency", "source", "time"],
            [
                [
                    esc(code),
                    esc(p.get("value")),
                    esc(p.get("currency")),
                    esc(p.get("source")),
                    esc(p.get("time")),
                ]
                for code, p in sorted(prices.items())
                if isinstance(p, Mapping)
            ],
            {1},
        )
    )
    out.append("<h2>Inputs (SHA-256)</h2>")
    hashes = doc.get("input_hashes") or {}
    out.append(
        _table(
            ["input", "sha256"],
            [
                [esc(name), f'<span class="mono">{esc(h)}</span>']
                for name, h in sorted(hashes.items())
            ],
            set(),
        )
    )
    if attestation.get("commitment"):
        out.append(
            f'<p class="meta">liabilities commitment {esc(attestation.get("commitment"))}</p>'
        )
    warnings = doc.get("warnings") or []
    if warnings:
        out.append(
            "<h2>Warnings</h2><ul>" + "".join(f"<li>{esc(w)}</li>" for w in warnings) + "</ul>"
        )
    stmt = doc.get("statement") or {}
    out.append("<h2>What this proves and what it does not</h2>")
    out.append(
        "<h3>A pass proves</h3><ul>"
        + "".join(f"<li>{esc(s)}</li>" for s in stmt.get("proves") or [])
        + "</ul>"
    )
    out.append(
        "<h3>It does not prove</h3><ul>"
        + "".join(f"<li>{esc(s)}</li>" for s in stmt.get("does_not_prove") or [])
        + "</ul>"
    )
    out.append("</main></body></html>\n")
    return "\n".join(out)


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
