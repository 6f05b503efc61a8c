"""The pages' charts as inline SVG: coverage per asset, the reserve, the wallet-class split,
and lines over time (the history page).

Where it sits: under verifier/report/html.py (the report and the site's summary) and
verifier/history/view.py (the history page); it draws figures already in the documents.

How the charts stay readable at every width: an SVG with a ``viewBox`` is scaled as a whole,
so its text shrinks with the page (12 px text in a 720-unit chart is 6 px on a 390 px
phone). These charts have no ``viewBox``: horizontal positions are percentages of the
chart's width and vertical ones are pixels, so text keeps its size in CSS pixels on a phone
and on a desktop while bars and lines stretch. Lines over time are drawn in a nested,
stretched SVG whose strokes keep their width (``vector-effect="non-scaling-stroke"``); their
points are round caps of zero-length strokes, which stay round when stretched. Legends are
HTML below each chart (verifier/report/templates/macros.html), clear of the lines.

Invariants: every coordinate and share is `Decimal` (never a float), rounded down for
display only; every string is escaped (`markupsafe`); no ``style`` attribute (the site's
Content-Security-Policy forbids inline style).
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Context, Decimal, localcontext
from typing import Any

from markupsafe import Markup

from verifier.reconcile.numbers import EXACT
from verifier.report.figures import compact, component_credit, decimal_or_none, money, pct

_GEOMETRY = Context(prec=28, rounding=ROUND_FLOOR)
"""Chart lengths and shares: 28 digits, rounded down (display only, never a verdict)."""
PALETTE = ("#1565c0", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#ad1457", "#5d4037")
CLASS_COLOURS = {"cold": "#1565c0", "hot": "#ef6c00", "other": "#6a1b9a", "custodial": "#757575"}
OK = "#2e7d32"
BAD = "#c62828"
OWED = "#9aa0a6"
COLOURS = (*PALETTE, *CLASS_COLOURS.values(), OK, BAD, OWED)
"""Every colour a legend may name; style.css has a swatch class for each (c-1565c0, ...)."""
_AXIS = "#5f6368"
_HALO = Markup('paint-order="stroke" stroke="#fff" stroke-width="3" stroke-linejoin="round"')
"""Text drawn over lines gets a white outline, so a line never runs through a label."""


def _p(part: Decimal, whole: Decimal) -> str:
    """`part` of `whole` as a percentage of the chart's width, clamped to 0..100."""
    if whole <= 0:
        return "0%"
    with localcontext(_GEOMETRY):
        share = max(Decimal(0), min(Decimal(100), part / whole * 100))
        return f"{format(share.quantize(Decimal('0.01')), 'f')}%"


def _value(pair: Any) -> Decimal | None:
    return decimal_or_none(pair.get("value")) if isinstance(pair, Mapping) else None


def _svg(height: int, label: str, title: str | None = None) -> Markup:
    """The opening tag of a chart `height` pixels tall and as wide as the page."""
    return Markup(
        '<svg class="chart" width="100%" height="{h}" role="img" aria-label="{a}">'
        "<title>{t}</title>"
    ).format(h=height, a=label, t=title or label)


def _x_axis(y: int, scale: Decimal, title: str) -> list[Markup]:
    """A value axis along the bottom: five ticks labelled compactly (31.9bn), and its title."""
    parts = [Markup('<line x1="0" y1="{y}" x2="100%" y2="{y}" stroke="{c}"/>').format(y=y, c=_AXIS)]
    for step in range(5):
        x = f"{step * 25}%"
        anchor = "start" if step == 0 else "end" if step == 4 else "middle"
        parts.append(
            Markup(
                '<line x1="{x}" y1="{y}" x2="{x}" y2="{y2}" stroke="{c}"/>'
                '<text x="{x}" y="{ty}" font-size="12" text-anchor="{a}">{t}</text>'
            ).format(x=x, y=y, y2=y + 5, ty=y + 18, a=anchor, c=_AXIS, t=compact(scale * step / 4))
        )
    parts.append(
        Markup('<text x="50%" y="{}" font-size="12" text-anchor="middle">{}</text>').format(
            y + 34, title
        )
    )
    return parts


def coverage_chart(assets: Sequence[Mapping[str, Any]], currency: str = "") -> Markup:
    """Per asset, the value of proven holdings against the value of liabilities on one
    labelled value axis; the asset above its bars on the left, its coverage on the right (an
    asset without a price shows its note)."""
    rows = [a for a in assets if isinstance(a, Mapping)]
    if not rows:
        return Markup('<p class="note">No assets.</p>')
    row_h, top = 56, 4
    owed = [v for v in (_value(a.get("liabilities")) for a in rows) if v is not None]
    held = [v for v in (_value(a.get("holdings")) for a in rows) if v is not None]
    biggest_owed = max(owed, default=Decimal(0))
    # an asset held at many times its liabilities would squash every other bar: the scale
    # stops at twice the largest liability and a longer bar ends in an arrow
    scale = max([biggest_owed, *(min(h, 2 * biggest_owed) for h in held)]) or Decimal(1)
    axis_y = top + row_h * len(rows) + 4
    title = f"Proven holdings against liabilities per asset, value in {currency}".strip()
    parts = [_svg(axis_y + 42, title)]
    for i, a in enumerate(rows):
        y = top + i * row_h
        parts.append(
            Markup('<text x="0" y="{}" font-size="14" font-weight="600">{}</text>').format(
                y + 15, a.get("code")
            )
        )
        liabilities, holdings = _value(a.get("liabilities")), _value(a.get("holdings"))
        if liabilities is None or holdings is None:
            parts.append(
                Markup('<text x="0" y="{}" font-size="13" fill="{}">{}</text>').format(
                    y + 36, _AXIS, a.get("coverage_note") or "no price: no value to draw"
                )
            )
            continue
        colour = OK if a.get("covered") else BAD
        for offset, amount, fill in ((21, liabilities, OWED), (35, holdings, colour)):
            parts.append(
                Markup('<rect x="0" y="{}" width="{}" height="12" fill="{}"/>').format(
                    y + offset, _p(amount, scale), fill
                )
            )
        suffix = " \u25b6" if holdings > scale else ""
        parts.append(
            Markup(
                '<text x="100%" y="{}" font-size="14" text-anchor="end" fill="{}">{}{}</text>'
            ).format(y + 15, colour, pct(a.get("coverage_ratio")), suffix)
        )
    parts.extend(_x_axis(axis_y, scale, f"value ({currency})" if currency else "value"))
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def coverage_legend(assets: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """The coverage chart's legend: only the colours its bars use (no "short" entry when
    every asset is covered), in the order the bars are drawn."""
    drawn = [
        a
        for a in assets
        if isinstance(a, Mapping)
        and _value(a.get("liabilities")) is not None
        and _value(a.get("holdings")) is not None
    ]
    if not drawn:
        return []
    legend = [(OWED, "customer liabilities")]
    if any(a.get("covered") for a in drawn):
        legend.append((OK, "proven holdings (covered)"))
    if any(not a.get("covered") for a in drawn):
        legend.append((BAD, "proven holdings (short)"))
    return legend


def _bar(
    label: str,
    title: str,
    segments: Sequence[tuple[Decimal, str]],
    whole: Decimal,
    marks: Sequence[Decimal] = (),
) -> Markup:
    """One horizontal bar of coloured `segments` out of `whole`, red marks at `marks`."""
    parts = [
        _svg(60, label, title),
        Markup('<rect x="0" y="14" width="100%" height="32" fill="#f1f3f4"/>'),
    ]
    x = Decimal(0)
    for amount, colour in segments:
        if amount > 0 and whole > 0:
            parts.append(
                Markup(
                    '<rect x="{}" y="14" width="{}" height="32" fill="{}" stroke="#fff" '
                    'stroke-width="1"/>'
                ).format(_p(x, whole), _p(amount, whole), colour)
            )
        x += amount
    for mark in marks:
        parts.append(
            Markup('<line x1="{x}" y1="4" x2="{x}" y2="56" stroke="{c}" stroke-width="3"/>').format(
                x=_p(mark, whole), c=BAD
            )
        )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def _obj(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def reserve_chart(reserve: Mapping[str, Any]) -> tuple[Markup, list[tuple[str, str]], str]:
    """A stacked bar of the eligible reserve by component, the required reserve as a red
    mark; returns (svg, legend items, note)."""
    required = decimal_or_none(_obj(reserve.get("required")).get("amount")) or Decimal(0)
    eligible = _obj(reserve.get("eligible"))
    total = decimal_or_none(eligible.get("total")) or Decimal(0)
    found = eligible.get("components")
    components = [c for c in found if isinstance(c, Mapping)] if isinstance(found, list) else []
    credits = [(c, decimal_or_none(component_credit(c)) or Decimal(0)) for c in components]
    with localcontext(EXACT):
        stacked = sum((credit for _, credit in credits), Decimal(0))
    scale = max(required, total, stacked)
    segments = [(credit, PALETTE[i % len(PALETTE)]) for i, (_, credit) in enumerate(credits)]
    svg = _bar(
        "Eligible reserve by component against the required reserve",
        "Eligible reserve against required",
        segments,
        scale,
        [required],
    )
    legend = [
        (PALETTE[i % len(PALETTE)], f"{c.get('name', '?')}: {money(component_credit(c))}")
        for i, (c, _) in enumerate(credits)
    ]
    legend.append((BAD, f"required (red mark): {money(str(required))}"))
    note = ""
    if stacked != total:
        given = eligible.get("total")
        note = (
            f"The components add up to {money(str(stacked))}; the rule pack's eligible total "
            f"is {money(None if given is None else str(given))} (caps such as the insurance "
            "share apply to the total)."
        )
    return svg, legend, note


def split_chart(
    value_by_class: Mapping[str, Any], count_custodial: bool
) -> tuple[Markup, list[tuple[str, str]]]:
    """One 100% bar: value of proven customer holdings by wallet class; (svg, legend)."""
    classes = ["cold", "hot", "other"] + (["custodial"] if count_custodial else [])
    values = [(name, decimal_or_none(value_by_class.get(name)) or Decimal(0)) for name in classes]
    with localcontext(EXACT):
        whole = sum((v for _, v in values), Decimal(0))
    if whole <= 0:
        return Markup('<p class="note">No proven customer holdings with a price.</p>'), []
    svg = _bar(
        "Customer holdings by wallet class",
        "Customer holdings by wallet class",
        [(v, CLASS_COLOURS[name]) for name, v in values],
        whole,
    )
    legend = []
    for name, value in values:
        with localcontext(_GEOMETRY):
            share = value / whole
        legend.append((CLASS_COLOURS[name], f"{name}: {pct(share)} ({money(str(value))})"))
    return svg, legend


# ----------------------------------------------------------------------------- over time

_LINE_H = 256
_PLOT_TOP, _PLOT_BOTTOM = 36, 200
_SERIES = PALETTE
_FAILED = BAD


def _seconds(iso: str) -> Decimal:
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    whole = calendar.timegm(moment.utctimetuple())
    return Decimal(whole) + Decimal(moment.microsecond) / 1_000_000


def _n(value: Decimal) -> str:
    with localcontext(_GEOMETRY):
        return format(value.quantize(Decimal("0.1")), "f")


def line_chart(
    title: str,
    times: Sequence[str],
    series: Mapping[str, Sequence[tuple[str, Decimal]]],
    *,
    percent: bool,
    unit: str,
    failed: Sequence[tuple[str, Any]] = (),
) -> tuple[Markup, list[tuple[str, str]]]:
    """Lines over time: `series` (name -> [(ISO time, value)]) over the span of `times`,
    values labelled on the left (percentages, or compact amounts in `unit`), dates along
    the bottom, the 100% line on a coverage chart, `failed` runs ((time, id)) as red
    vertical lines. Returns (svg, legend items); the legend goes below the chart."""
    if not times:
        return Markup(""), []
    seconds = [_seconds(t) for t in times]
    t0, t1 = min(seconds), max(seconds)
    span = (t1 - t0) or Decimal(1)
    values = [v for points in series.values() for _, v in points]
    low = min([*values, Decimal(0)]) if values else Decimal(0)
    high = max(values) if values else Decimal(1)
    if percent:
        # coverage moves by a few percent around 100%: an axis from 0 would flatten it
        low = max(Decimal(0), min([*values, Decimal(1)]) - Decimal("0.05"))
        high = max([*values, Decimal(1)]) + Decimal("0.02")
    if high == low:
        high = low + 1
    plot = Decimal(_PLOT_BOTTOM - _PLOT_TOP)

    def x(t: Decimal) -> Decimal:  # 1..99 (% of the width): points clear of the edges
        with localcontext(_GEOMETRY):
            return 1 + (t - t0) / span * 98

    def y(v: Decimal) -> str:
        with localcontext(_GEOMETRY):
            return _n(_PLOT_BOTTOM - (v - low) / (high - low) * plot)

    def label(v: Decimal) -> str:
        return pct(v) if percent else compact(v)

    parts = [
        _svg(_LINE_H, title),
        Markup('<text x="0" y="12" font-size="12" font-weight="600">{}</text>').format(unit),
    ]
    hundred = percent and low < 1 <= high
    labels: list[Markup] = []  # value labels go on top of the lines, drawn last
    for v in (low, (low + high) / 2, high):
        if hundred and abs(Decimal(y(v)) - Decimal(y(Decimal(1)))) < 14:
            continue  # its label would sit on the 100% line's
        parts.append(
            Markup('<line x1="0" y1="{y}" x2="100%" y2="{y}" stroke="#e0e0e0"/>').format(y=y(v))
        )
        labels.append(
            Markup('<text x="0" y="{ty}" font-size="11" fill="{c}" {h}>{t}</text>').format(
                ty=_n(Decimal(y(v)) - 3), c=_AXIS, h=_HALO, t=label(v)
            )
        )
    if hundred:
        # the line coverage must stay above, labelled on the axis like the other values
        parts.append(
            Markup(
                '<line x1="0" y1="{y}" x2="100%" y2="{y}" stroke="{c}" stroke-dasharray="6 4"/>'
            ).format(y=y(Decimal(1)), c=_FAILED)
        )
        labels.append(
            Markup(
                '<text x="0" y="{ty}" font-size="11" font-weight="600" fill="{c}" {h}>100%</text>'
            ).format(ty=_n(Decimal(y(Decimal(1))) - 3), c=_FAILED, h=_HALO)
        )
    parts.append(
        Markup('<line x1="0" y1="{b}" x2="100%" y2="{b}" stroke="{c}"/>').format(
            b=_PLOT_BOTTOM, c=_AXIS
        )
    )
    ticks = sorted({t0, t1, *([(t0 + t1) / 2] if t1 > t0 else [])})
    for tick in ticks:
        anchor = "start" if tick == t0 and t1 > t0 else "end" if tick == t1 else "middle"
        if t1 == t0:
            anchor = "middle"
        parts.append(
            Markup(
                '<line x1="{x}%" y1="{b}" x2="{x}%" y2="{b2}" stroke="{c}"/>'
                '<text x="{tx}" y="{ty}" font-size="11" text-anchor="{a}">{t}</text>'
            ).format(
                x=_n(x(tick)),
                b=_PLOT_BOTTOM,
                b2=_PLOT_BOTTOM + 4,
                c=_AXIS,
                tx="0" if anchor == "start" else "100%" if anchor == "end" else "50%",
                ty=_PLOT_BOTTOM + 17,
                a=anchor,
                t=datetime.fromtimestamp(int(tick), UTC).strftime("%Y-%m-%d %H:%M"),
            )
        )
    parts.append(
        Markup(
            '<text x="50%" y="{}" font-size="12" text-anchor="middle">run started (UTC)</text>'
        ).format(_PLOT_BOTTOM + 40)
    )
    for when, run_id in failed:
        parts.append(
            Markup(
                '<line class="failed" x1="{x}%" y1="{t}" x2="{x}%" y2="{b}" stroke="{c}" '
                'stroke-width="2"><title>run {id} failed</title></line>'
            ).format(x=_n(x(_seconds(when))), t=_PLOT_TOP, b=_PLOT_BOTTOM, c=_FAILED, id=run_id)
        )
    # the lines: a nested SVG stretched to the chart's width (1000 units = 100%), strokes
    # and points keeping their size in pixels
    parts.append(
        Markup(
            '<svg x="0" y="0" width="100%" height="{h}" viewBox="0 0 1000 {h}" '
            'preserveAspectRatio="none" overflow="visible">'
        ).format(h=_LINE_H)
    )
    legend = []
    for i, (name, points) in enumerate(sorted(series.items())):
        colour = _SERIES[i % len(_SERIES)]
        coords = [(_n(x(_seconds(t)) * 10), y(v)) for t, v in points]
        if len(points) > 1:
            parts.append(
                Markup(
                    '<polyline fill="none" stroke="{}" stroke-width="2" '
                    'vector-effect="non-scaling-stroke" points="{}"/>'
                ).format(colour, " ".join(f"{px},{py}" for px, py in coords))
            )
        for (px, py), (t, v) in zip(coords, points, strict=True):
            shown = pct(v) if percent else f"{money(str(v))} {unit}"
            parts.append(
                Markup(
                    '<path d="M{} {}h0" stroke="{}" stroke-width="8" stroke-linecap="round" '
                    'vector-effect="non-scaling-stroke"><title>{} {}: {}</title></path>'
                ).format(px, py, colour, name, t, shown)
            )
        legend.append((colour, name))
    parts.append(Markup("</svg>"))
    parts.extend(labels)
    if failed:
        legend.append((_FAILED, "failed run (red vertical line)"))
    parts.append(Markup("</svg>"))
    return Markup("\n").join(parts), legend
