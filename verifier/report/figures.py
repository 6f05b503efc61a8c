"""Figures as the pages show them: coverage percentages, whole-unit amounts, axis labels and
the numbers inside a rule-pack check's reason.

Where it sits: under the pages people read — the HTML report (verifier/report/html.py), its
charts (verifier/report/charts.py), the history page (verifier/history/view.py) and the
site (verifier/site/pages.py) — so each page shows a figure by the same rule. The JSON keeps
every figure exact; these are for reading only.

Invariants: shown figures are rounded down (a shown coverage never overstates the real one:
1.00999 shows as 100.99%, 0.99999 as 99.99%, never 100%); the arithmetic is `Decimal` in an
explicit context, never a float; anything that is not a number is shown as it is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import ROUND_FLOOR, Context, Decimal, localcontext
from typing import Any

from verifier.reconcile.numbers import percent_of

_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_SHOWN = Context(prec=1000, rounding=ROUND_FLOOR)
"""Figures for reading: wide enough for any stored value, rounded down."""
MAX_PLACES = 8
"""Whole-unit amounts show at most this many decimals (rounded down); exact ones are in the
base-units table and the JSON."""
_LARGE = Decimal(10**6)
_NUMBER_IN_TEXT = re.compile(r"(?<![\w.])([0-9]+)\.([0-9]+)(?![\w-]|\.\w)")
"""A decimal standing alone in a sentence (not part of a version, id or pack name such as
``2026.0-ph1``); a full stop after it ends the sentence."""


def decimal_or_none(value: Any) -> Decimal | None:
    """`value` as a Decimal when it is one, an int or a decimal string; else None."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, str) and _DECIMAL.fullmatch(value):
        return Decimal(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return None


def pct(ratio: Any) -> str:
    """A ratio as a percentage by the one coverage rule (`percent_of`: two decimals,
    rounded down; ``1.00999`` -> ``100.99%``, ``0.99999`` -> ``99.99%``).
    None is ``n/a``; anything that is not a number is shown as it is."""
    value = decimal_or_none(ratio)
    if value is None:
        return "n/a" if ratio is None else str(ratio)
    return percent_of(value)


def money(value: Any, places: int = 2) -> str:
    """A value in the reporting currency: thousands separators, `places` decimals, rounded
    down. Anything that is not a decimal (the evaluation is another module's data) is shown
    as it is rather than guessed at."""
    if value is None:
        return "n/a"
    number_ = decimal_or_none(value)
    if number_ is None:
        return str(value)
    with localcontext(_SHOWN):
        shown = number_.quantize(Decimal(1).scaleb(-places))
    return f"{shown:,f}"


def component_credit(component: Mapping[str, Any]) -> str:
    """The amount a reserve component contributes: its ``eligible`` amount, or (when
    ``eligible`` is a yes/no) its ``amount`` if eligible and 0 if not."""
    eligible = component.get("eligible")
    if isinstance(eligible, bool):
        return str(component.get("amount", "0")) if eligible else "0"
    if eligible is None:
        return "0"
    return str(eligible)


def units(amount: Any, decimals: Any = MAX_PLACES) -> str:
    """A whole-unit amount for reading: thousands separators, at most 8 decimals (fewer when
    the asset has fewer), rounded down; zero is ``0``."""
    value = decimal_or_none(amount)
    if value is None:
        return "" if amount is None else str(amount)
    if value == 0:
        return "0"
    places = min(int(decimals), MAX_PLACES) if isinstance(decimals, int) else MAX_PLACES
    with localcontext(_SHOWN):
        shown = value.quantize(Decimal(1).scaleb(-places))
    return f"{shown:,f}"


def number(value: Any) -> str:
    """A decimal as given, with thousands separators (a price keeps its digits)."""
    d = decimal_or_none(value)
    if d is None:
        return "" if value is None else str(value)
    return f"{d:,f}"


def compact(value: Decimal) -> str:
    """An axis label: 1 decimal and k / M / bn / tn (``126626906991.9`` -> ``126.6bn``)."""
    for size, suffix in ((10**12, "tn"), (10**9, "bn"), (10**6, "M"), (10**3, "k")):
        if abs(value) >= size:
            with localcontext(_SHOWN):
                return f"{(value / size).quantize(Decimal('0.1'))}{suffix}"
    with localcontext(_SHOWN):
        return str(value.quantize(Decimal(1)))


def _readable_number(whole: str, fraction: str) -> str:
    value = Decimal(f"{whole}.{fraction}")
    # a money value (millions of yen) needs no more than 2 decimals to be read; a crypto
    # amount keeps up to 8, as the amount columns show it
    places = min(len(fraction), 2 if value >= _LARGE else MAX_PLACES)
    with localcontext(_SHOWN):
        return f"{value.quantize(Decimal(1).scaleb(-places)):,f}"


def readable_text(text: Any) -> str:
    """A sentence from the document (a rule-pack check's reason) with every decimal in it
    shown for reading: thousands separators, at most 8 decimals, at most 2 from a million
    up, rounded down (``hot + other 11337699733.3376431058423 of ...`` ->
    ``hot + other 11,337,699,733.33 of ...``). Whole numbers and words are left alone."""
    if text is None:
        return ""
    return _NUMBER_IN_TEXT.sub(lambda m: _readable_number(m.group(1), m.group(2)), str(text))


def base_units(value: Any, decimals: Any) -> str:
    """An integer of base units (a document's string) in whole units for reading, by
    `units`' rule (``80479936``, 8 -> ``0.80479936``); not an integer: shown as it is."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        return "" if value is None else str(value)
    if not re.fullmatch(r"-?[0-9]{1,80}", str(value)):
        return str(value)
    places = decimals if isinstance(decimals, int) and 0 <= decimals <= 80 else 0
    with localcontext(_SHOWN):
        return units(Decimal(int(value)).scaleb(-places), places)


def mixed_wallet_rows(doc: Mapping[str, Any]) -> list[list[str]]:
    """A row per asset of each mixed wallet (segregation ``mixed``, or named in
    ``concentration.mixed_wallets``): wallet key, label, asset, customer coins, the
    exchange's own coins — in whole units, from the report's ``customer_units`` and
    ``own_units`` (a mixed wallet's own coins back no customer)."""
    conc = doc.get("concentration")
    named = conc.get("mixed_wallets") if isinstance(conc, Mapping) else None
    mixed = {str(w) for w in named} if isinstance(named, list) else set()
    assets = doc.get("assets")
    decimals = {
        str(a.get("code")): a.get("decimals")
        for a in (assets if isinstance(assets, list) else [])
        if isinstance(a, Mapping)
    }
    rows: list[list[str]] = []
    wallets = doc.get("wallets")
    for w in wallets if isinstance(wallets, list) else []:
        if not isinstance(w, Mapping):
            continue
        if w.get("segregation") != "mixed" and str(w.get("wallet")) not in mixed:
            continue
        customer, own = w.get("customer_units"), w.get("own_units")
        customer = customer if isinstance(customer, Mapping) else {}
        own = own if isinstance(own, Mapping) else {}
        for code in sorted({*map(str, customer), *map(str, own)}):
            places = decimals.get(code)
            rows.append(
                [
                    str(w.get("wallet") or ""),
                    str(w.get("label") or ""),
                    code,
                    base_units(customer.get(code, "0"), places),
                    base_units(own.get(code, "0"), places),
                ]
            )
    return rows


def largest_vendor(conc: Any, currency: str = "") -> str | None:
    """``concentration.largest_vendor`` in words: the vendor id, its name (from
    ``by_vendor``), its value (followed by `currency` when given) and its share (None: no
    vendor declared)."""
    if not isinstance(conc, Mapping) or not isinstance(conc.get("largest_vendor"), Mapping):
        return None
    top = conc["largest_vendor"]
    vendor = top.get("vendor")
    if vendor is None:
        return None
    by_vendor = conc.get("by_vendor")
    name = next(
        (
            r.get("name")
            for r in (by_vendor if isinstance(by_vendor, list) else [])
            if isinstance(r, Mapping) and r.get("vendor") == vendor
        ),
        None,
    )
    named = f"{vendor} ({name})" if name and name != vendor else str(vendor)
    value = f"{money(top.get('value'))} {currency}".rstrip()
    return f"{readable_text(named)}: {value} ({pct(top.get('share'))})"
