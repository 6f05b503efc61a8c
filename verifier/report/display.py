"""How the report shows a figure to a person: percentages, money, a reserve component's credit.

Where it sits: under the three readers of a ``por-report-v1`` document — the terminal
(verifier/report/terminal.py), the HTML page (verifier/report/html.py) and the customer
site (verifier/site/publish.py) — so each shows a figure by the same rule.

Invariants: shown figures are rounded toward zero (`DISPLAY`), so a shown ratio never
overstates coverage; the document is another module's data, so anything that is not a
decimal string is shown as it is rather than guessed at; never a float.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, localcontext
from typing import Any

from verifier.reconcile.numbers import DISPLAY, percent_of

_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def percent(ratio: str | None) -> str:
    """A ratio string as a percentage rounded toward zero (``"0.998"`` -> ``"99.8%"``).

    None shows as ``n/a``; anything that is not a decimal string is shown as it is.
    """
    if ratio is None:
        return "n/a"
    if not _DECIMAL.fullmatch(ratio):
        return ratio
    return percent_of(Decimal(ratio))


def money(value: str | None, places: int = 2) -> str:
    """A decimal string for display: thousands separators, `places` decimals (floored).

    Anything that is not a decimal string (the evaluation is another module's data) is
    shown as it is rather than guessed at.
    """
    if value is None:
        return "n/a"
    if not _DECIMAL.fullmatch(value):
        return value
    with localcontext(DISPLAY):
        shown = Decimal(value).quantize(Decimal(1).scaleb(-places))
    return f"{shown:,}"


def component_credit(component: Mapping[str, Any]) -> str:
    """The amount a reserve component contributes: its ``eligible`` amount, or (when
    ``eligible`` is a yes/no) its ``amount`` if eligible and 0 if not."""
    eligible = component.get("eligible")
    if isinstance(eligible, bool):
        return str(component.get("amount", "0")) if eligible else "0"
    if eligible is None:
        return "0"
    return str(eligible)
