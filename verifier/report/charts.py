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
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Context, Decimal, localcontext
from typing import Any

from markupsafe import Markup

from verifier.reconcile.numbers import EXACT
from verifier.report.figures import component_credit, decimal_or_none, money, pct

_GEOMETRY = Context(prec=28, rounding=ROUND_FLOOR)
"""Chart lengths and shares: 28 digits, rounded down (display only, never a verdict)."""
PALETTE = ("#1565c0", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#ad1457", "#5d4037")
CLASS_COLOURS = {"cold": "#1565c0", "hot": "#ef6c00", "other": "#6a1b9a", "custodial": "#757575"}
OK = "#2e7d32"
BAD = "#c62828"
OWED = "#9aa0a6"
COLOURS = (*PALETTE, *CLASS_COLOURS.values(), OK, BAD, OWED, "#9e9e9e")
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


# ----------------------------------------------------------------------------- axes

_TICKS = Context(prec=100, rounding=ROUND_FLOOR)
"""Tick arithmetic: wide enough that round values of 28-digit figures stay exact."""
_UNITS = ((10**12, "tn"), (10**9, "bn"), (10**6, "M"), (10**3, "k"))


def _floor(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


def round_ticks(low: Decimal, high: Decimal, most: int = 6) -> list[Decimal]:
    """Axis values a round step apart (1, 2 or 5 × 10^k) from at or below `low` to at or
    above `high`: the smallest such step that needs at most `most` ticks (so 3 to 6 for
    the default; 0.95..1.03 gives 94%, 96%, ... 104%). A reader reads 95% at a glance,
    not 95.12%, so an axis ends at round values rather than at the data's extremes."""
    low, high = min(low, high), max(low, high)
    with localcontext(_TICKS):
        if high == low:
            # one value: a span around it (0 gets 0..1)
            high = low + (abs(low) or Decimal(1))
        exponent = (high - low).adjusted() - 1
        while True:
            for digit in (1, 2, 5):
                step = Decimal(digit).scaleb(exponent)
                first, last = _floor(low / step), -_floor(-high / step)
                if last - first + 1 <= most:
                    return [step * i for i in range(first, last + 1)]
            exponent += 1


def _plain(value: Decimal) -> str:
    """A round value without trailing zeros or an exponent (2, 1.5, 100, 0.05)."""
    with localcontext(_TICKS):
        return format(value.normalize(), "f") if value else "0"


def amount_label(value: Decimal) -> str:
    """A round axis value compactly: 2bn, 1.5bn, 500M, 20k, 0 (no forced decimal, so round
    steps read as round)."""
    with localcontext(_TICKS):
        for size, suffix in _UNITS:
            if abs(value) >= size:
                return f"{_plain(value / size)}{suffix}"
    return _plain(value)


def percent_label(ratio: Decimal) -> str:
    """A round ratio as a percentage without trailing zeros: 0.95 -> 95%, 1.005 -> 100.5%."""
    with localcontext(_TICKS):
        return f"{_plain(ratio * 100)}%"


def _value(pair: Any) -> Decimal | None:
    return decimal_or_none(pair.get("value")) if isinstance(pair, Mapping) else None


def _svg(height: int, label: str, title: str | None = None) -> Markup:
    """The opening tag of a chart `height` pixels tall and as wide as the page."""
    return Markup(
        '<svg class="chart" width="100%" height="{h}" role="img" aria-label="{a}">'
        "<title>{t}</title>"
    ).format(h=height, a=label, t=title or label)


def _x_axis(y: int, ticks: Sequence[Decimal], title: str) -> list[Markup]:
    """A value axis along the bottom: a tick at each round value (`round_ticks`), labelled
    compactly (2bn, 1.5M), and its title; the chart's bars run from 0 to the last tick."""
    parts = [Markup('<line x1="0" y1="{y}" x2="100%" y2="{y}" stroke="{c}"/>').format(y=y, c=_AXIS)]
    scale = ticks[-1]
    for i, tick in enumerate(ticks):
        x = _p(tick - ticks[0], scale - ticks[0])
        anchor = "start" if i == 0 else "end" if i == len(ticks) - 1 else "middle"
        parts.append(
            Markup(
                '<line x1="{x}" y1="{y}" x2="{x}" y2="{y2}" stroke="{c}"/>'
                '<text x="{x}" y="{ty}" font-size="12" text-anchor="{a}">{t}</text>'
            ).format(x=x, y=y, y2=y + 5, ty=y + 18, a=anchor, c=_AXIS, t=amount_label(tick))
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
    reach = max([biggest_owed, *(min(h, 2 * biggest_owed) for h in held)]) or Decimal(1)
    ticks = round_ticks(Decimal(0), reach)
    scale = ticks[-1]  # the axis ends at a round value at or above the longest bar
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
    parts.extend(_x_axis(axis_y, ticks, f"value ({currency})" if currency else "value"))
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


NONE_COLOUR = "#9e9e9e"
"""The wallets that name no vendor."""


def vendor_chart(by_vendor: Sequence[Any]) -> tuple[Markup, list[tuple[str, str]]]:
    """One 100% bar: the value of customer holdings by vendor (the report's
    ``concentration.by_vendor``, largest first; wallets naming none in grey); (svg, legend
    with each vendor's value and share)."""
    rows = [r for r in by_vendor if isinstance(r, Mapping)]
    values = [(r, decimal_or_none(r.get("value")) or Decimal(0)) for r in rows]
    with localcontext(EXACT):
        whole = sum((v for _, v in values), Decimal(0))
    if whole <= 0:
        return Markup('<p class="note">No customer holdings with a price.</p>'), []
    colours = [
        NONE_COLOUR if r.get("vendor") is None else PALETTE[i % len(PALETTE)]
        for i, (r, _) in enumerate(values)
    ]
    svg = _bar(
        "Customer holdings by wallet vendor",
        "Customer holdings by wallet vendor",
        [(v, colour) for (_, v), colour in zip(values, colours, strict=True)],
        whole,
    )
    legend = [
        (colour, f"{r.get('vendor') or r.get('name')}: {pct(r.get('share'))} ({money(str(v))})")
        for (r, v), colour in zip(values, colours, strict=True)
    ]
    return svg, legend


# ----------------------------------------------------------------------------- over time

_LINE_H = 256
_PLOT_TOP, _PLOT_BOTTOM = 36, 200
_SERIES = PALETTE
_FAILED = BAD
_CLEAR = 18
"""Pixels a value label keeps from the 100% line's label (11 px text and its halo)."""
_ROW = 13
"""Pixels between the baselines of two end-of-line labels nudged apart."""
_MINUTE, _DAY = 60, 86400
_TIME_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200)
_DAY_STEPS = (1, 2, 3, 7, 14, 28, 56, 91, 182, 364, 728, 1820, 3640)


def _seconds(iso: str) -> Decimal:
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    whole = calendar.timegm(moment.utctimetuple())
    return Decimal(whole) + Decimal(moment.microsecond) / 1_000_000


def _n(value: Decimal) -> str:
    with localcontext(_GEOMETRY):
        return format(value.quantize(Decimal("0.1")), "f")


def _utc(seconds: Decimal, form: str) -> str:
    return datetime.fromtimestamp(_floor(seconds), UTC).strftime(form)


def time_ticks(t0: Decimal, t1: Decimal) -> tuple[list[tuple[Decimal, str]], str]:
    """The date axis of runs from `t0` to `t1` (seconds since the epoch, UTC): ticks at round
    times, each label once, and the axis caption, which names the first and last run's ISO
    dates once. The labels are as fine as the span needs: HH:MM:SS under ten minutes, HH:MM
    under a day, MM-DD under a year, YYYY-MM beyond; at most 5 (4 for long labels,
    which would crowd a phone). Runs closer than any round step get their own times."""
    span = t1 - t0
    steps: tuple[int, ...]
    if span < 10 * _MINUTE:
        form, steps = "%H:%M:%S", _TIME_STEPS
    elif span < _DAY:
        form, steps = "%H:%M", tuple(s for s in _TIME_STEPS if s >= _MINUTE)
    else:
        form = "%m-%d" if span < 300 * _DAY else "%Y-%m"  # steps of 91 days and more
        steps = tuple(d * _DAY for d in _DAY_STEPS)
    most = 5 if len(_utc(t0, form)) <= 5 else 4
    ticks: list[Decimal] = []
    for step in steps:
        first, last = -_floor(-t0 / step), _floor(t1 / step)
        if last - first + 1 <= most:
            ticks = [Decimal(step * i) for i in range(first, last + 1)]
            break
    if len(ticks) < 2:
        ticks = [t0, t1] if t1 > t0 else [t0]
    labelled: dict[str, Decimal] = {}
    for tick in ticks:
        labelled.setdefault(_utc(tick, form), tick)  # two runs in one second: one label
    first_day, last_day = _utc(t0, "%Y-%m-%d"), _utc(t1, "%Y-%m-%d")
    dates = first_day if first_day == last_day else f"{first_day} to {last_day}"
    return [(tick, text) for text, tick in labelled.items()], f"run started (UTC), {dates}"


def end_label_rows(
    ends: Sequence[Decimal], top: int = 12, bottom: int = _PLOT_BOTTOM - 2, gap: int = _ROW
) -> list[Decimal]:
    """Baselines for the labels at the ends of lines wanting `ends` (pixels, down the page),
    at least `gap` apart: labels that would touch form a stack centred where they want to
    be (equal lines get one label each, in the order given, the first on top), kept
    between `top` and `bottom`."""
    stacks: list[tuple[list[int], Decimal]] = []  # (members top-down, first baseline)
    for i in sorted(range(len(ends)), key=lambda i: (ends[i], i)):
        members, first = [i], ends[i]
        # merge with the stack above while they touch, re-centring the merged stack
        while stacks and stacks[-1][1] + len(stacks[-1][0]) * gap > first:
            members = stacks.pop()[0] + members
            first = sum((ends[m] - k * gap for k, m in enumerate(members)), Decimal(0))
            first /= len(members)
        stacks.append((members, first))
    rows = [Decimal(0)] * len(ends)
    for members, wanted in stacks:
        first = max(Decimal(top), min(wanted, Decimal(bottom - (len(members) - 1) * gap)))
        for k, m in enumerate(members):
            rows[m] = first + k * gap
    return rows


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
    round values labelled on the left (percentages, or compact amounts in `unit`) with a
    gridline each, round times along the bottom, the 100% line on a coverage chart, each
    line's name at its end, `failed` runs ((time, id)) as red vertical lines. Returns (svg,
    legend items); the legend goes below the chart."""
    if not times:
        return Markup(""), []
    seconds = [_seconds(t) for t in times]
    t0, t1 = min(seconds), max(seconds)
    span = (t1 - t0) or Decimal(1)
    values = [v for points in series.values() for _, v in points if v.is_finite()]
    if percent:
        # coverage moves by a few percent around 100%: an axis from 0 would flatten it, so
        # the axis spans the values and 100% with an eighth of that span (at least 1%) spare
        lowest, highest = min([*values, Decimal(1)]), max([*values, Decimal(1)])
        spare = max((highest - lowest) / 8, Decimal("0.01"))
        ticks = round_ticks(max(Decimal(0), lowest - spare), highest + spare)
    else:
        ticks = round_ticks(min([*values, Decimal(0)]), max(values, default=Decimal(1)))
    low, high = ticks[0], ticks[-1]
    plot = Decimal(_PLOT_BOTTOM - _PLOT_TOP)

    def x(t: Decimal) -> Decimal:  # 1..99 (% of the width): points clear of the edges
        with localcontext(_GEOMETRY):
            return 1 + (t - t0) / span * 98

    def y(v: Decimal) -> Decimal:
        with localcontext(_GEOMETRY):
            return _PLOT_BOTTOM - (v - low) / (high - low) * plot

    parts = [
        _svg(_LINE_H, title),
        Markup('<text x="0" y="12" font-size="12" font-weight="600">{}</text>').format(unit),
    ]
    labels = _value_axis(ticks, y, percent)  # drawn last, on top of the lines
    parts.extend(labels[0])
    parts.extend(_time_axis(t0, t1, x))
    for when, run_id in failed:
        parts.append(
            Markup(
                '<line class="failed" x1="{x}%" y1="{t}" x2="{x}%" y2="{b}" stroke="{c}" '
                'stroke-width="2"><title>run {id} failed</title></line>'
            ).format(x=_n(x(_seconds(when))), t=_PLOT_TOP, b=_PLOT_BOTTOM, c=_FAILED, id=run_id)
        )
    lines, ends, legend = _lines(series, x, y, percent, unit)
    parts.extend(lines)
    parts.extend(labels[1])
    parts.extend(ends)
    if failed:
        legend.append((_FAILED, "failed run (red vertical line)"))
    parts.append(Markup("</svg>"))
    return Markup("\n").join(parts), legend


def _value_axis(
    ticks: Sequence[Decimal], y: Callable[[Decimal], Decimal], percent: bool
) -> tuple[list[Markup], list[Markup]]:
    """The value axis of a line chart: (gridlines, labels), a gridline and a label at each
    round value and on a coverage chart the dashed 100% line, labelled in red; a value
    whose label would touch the 100% label gives way to it."""
    hundred = percent and ticks[0] <= 1 <= ticks[-1]
    lines: list[Markup] = []
    labels: list[Markup] = []
    for tick in ticks:
        if hundred and tick != 1 and abs(y(tick) - y(Decimal(1))) < _CLEAR:
            continue
        if hundred and tick == 1:
            continue  # drawn below as the 100% line
        lines.append(
            Markup('<line x1="0" y1="{y}" x2="100%" y2="{y}" stroke="#e0e0e0"/>').format(
                y=_n(y(tick))
            )
        )
        labels.append(
            Markup('<text x="0" y="{ty}" font-size="11" fill="{c}" {h}>{t}</text>').format(
                ty=_n(y(tick) - 3),
                c=_AXIS,
                h=_HALO,
                t=percent_label(tick) if percent else amount_label(tick),
            )
        )
    if hundred:
        # the line coverage must stay above, labelled on the axis like the other values
        lines.append(
            Markup(
                '<line x1="0" y1="{y}" x2="100%" y2="{y}" stroke="{c}" stroke-dasharray="6 4"/>'
            ).format(y=_n(y(Decimal(1))), c=_FAILED)
        )
        labels.append(
            Markup(
                '<text x="0" y="{ty}" font-size="11" font-weight="600" fill="{c}" {h}>100%</text>'
            ).format(ty=_n(y(Decimal(1)) - 3), c=_FAILED, h=_HALO)
        )
    lines.append(
        Markup('<line x1="0" y1="{b}" x2="100%" y2="{b}" stroke="{c}"/>').format(
            b=_PLOT_BOTTOM, c=_AXIS
        )
    )
    return lines, labels


def _time_axis(t0: Decimal, t1: Decimal, x: Callable[[Decimal], Decimal]) -> list[Markup]:
    """The date axis under a line chart: `time_ticks` at their places (a label near an
    edge grows inwards, so it is never cut off) and the caption with the dates."""
    ticks, caption = time_ticks(t0, t1)
    parts = []
    for tick, text in ticks:
        at = x(tick)
        anchor = "start" if at < 9 else "end" if at > 91 else "middle"
        parts.append(
            Markup(
                '<line x1="{x}%" y1="{b}" x2="{x}%" y2="{b2}" stroke="{c}"/>'
                '<text x="{x}%" y="{ty}" font-size="11" text-anchor="{a}">{t}</text>'
            ).format(
                x=_n(at),
                b=_PLOT_BOTTOM,
                b2=_PLOT_BOTTOM + 4,
                c=_AXIS,
                ty=_PLOT_BOTTOM + 17,
                a=anchor,
                t=text,
            )
        )
    parts.append(
        Markup('<text x="50%" y="{}" font-size="12" text-anchor="middle">{}</text>').format(
            _PLOT_BOTTOM + 40, caption
        )
    )
    return parts


def _lines(
    series: Mapping[str, Sequence[tuple[str, Decimal]]],
    x: Callable[[Decimal], Decimal],
    y: Callable[[Decimal], Decimal],
    percent: bool,
    unit: str,
) -> tuple[list[Markup], list[Markup], list[tuple[str, str]]]:
    """The lines, their points and their names: (a nested SVG of the lines, the names at
    the lines' ends, legend items). Lines with equal values would hide each other, so the
    points of a line drawn earlier are larger (equal points show as rings of every colour)
    and the names at equal ends are stacked rather than drawn on top of each other."""
    # the lines: a nested SVG stretched to the chart's width (1000 units = 100%), strokes
    # and points keeping their size in pixels
    parts = [
        Markup(
            '<svg x="0" y="0" width="100%" height="{h}" viewBox="0 0 1000 {h}" '
            'preserveAspectRatio="none" overflow="visible">'
        ).format(h=_LINE_H)
    ]
    legend = []
    named = sorted((name, points) for name, points in series.items() if points)
    for i, (name, points) in enumerate(named):
        colour = _SERIES[i % len(_SERIES)]
        coords = [(_n(x(_seconds(t)) * 10), _n(y(v))) for t, v in points]
        if len(points) > 1:
            parts.append(
                Markup(
                    '<polyline fill="none" stroke="{}" stroke-width="2" '
                    'vector-effect="non-scaling-stroke" points="{}"/>'
                ).format(colour, " ".join(f"{px},{py}" for px, py in coords))
            )
        size = 8 + 4 * min(2, len(named) - 1 - i)
        for (px, py), (t, v) in zip(coords, points, strict=True):
            shown = pct(v) if percent else f"{money(str(v))} {unit}"
            parts.append(
                Markup(
                    '<path d="M{} {}h0" stroke="{}" stroke-width="{}" stroke-linecap="round" '
                    'vector-effect="non-scaling-stroke"><title>{} {}: {}</title></path>'
                ).format(px, py, colour, size, name, t, shown)
            )
        legend.append((colour, name))
    parts.append(Markup("</svg>"))
    # each name on its line, left of the last point (clear of it), in the line's colour: it
    # reads as belonging to that line and its halo keeps the line from crossing it
    last = [(x(_seconds(points[-1][0])), y(points[-1][1]) + 4) for _, points in named]
    ends: list[Markup] = []
    for at in sorted({at for at, _ in last}):
        group = [i for i, (where, _) in enumerate(last) if where == at]
        rows = end_label_rows([last[i][1] for i in group])
        for i, row in zip(group, rows, strict=True):
            ends.append(
                Markup(
                    '<text class="line-end" x="{x}%" dx="-12" y="{y}" font-size="11" '
                    'font-weight="600" text-anchor="end" fill="{c}" {h}>{t}</text>'
                ).format(x=_n(at), y=_n(row), c=_SERIES[i % len(_SERIES)], h=_HALO, t=named[i][0])
            )
    return parts, ends, legend
