"""One evaluation's inputs, and conversion of amounts into the reporting currency.

Where it sits: built once by `verifier.reserve.rules.evaluate` and handed to each step
(verifier/reserve/required.py, verifier/reserve/components.py, verifier/reserve/insurance.py,
verifier/reserve/checks.py), so each reads the pack, the statement, the holdings and the day
the same way and converts with the same ``[fx]`` rates.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from verifier.base.errors import InputError
from verifier.reserve.money import ZERO, fmt_decimal, round_down, round_up
from verifier.reserve.pack import RulePack
from verifier.reserve.positions import ReserveInputs
from verifier.reserve.results import Gate
from verifier.reserve.statement_model import ReserveStatement


class Context:
    """One evaluation's pack, statement, holdings and day."""

    def __init__(
        self, pack: RulePack, statement: ReserveStatement, inputs: ReserveInputs, as_of: date
    ) -> None:
        self.pack, self.statement, self.inputs, self.as_of = pack, statement, inputs, as_of
        self.values = inputs.client_value_by_class
        """Customer value per wallet class (every class present), reporting currency."""

    def pack_amount(self, name: str) -> Decimal | None:
        """A pack amount (floor, cap, a minimum) in the reporting currency, rounded up.

        Raises
        ------
        InputError
            When the pack states it in a currency the statement gives no ``[fx]`` rate for.
        """
        value = self.pack.decimal(name)
        if value is None:
            return None
        rate = self.statement.rate(self.pack.currency)
        if rate is None:
            raise InputError(
                f"the pack {self.pack.id} states {name} in {self.pack.currency}: "
                f"give its rate in [fx] ({self.pack.currency} = <{self.statement.currency} "
                "per unit>)",
                file=self.statement.path,
                key="fx",
            )
        return round_up(value * rate)

    def convert(self, amount: Decimal, currency: str) -> tuple[Decimal, Gate]:
        """A reserve component's amount in the reporting currency, rounded down, and the
        "currency" gate (failed, and zero, when ``[fx]`` has no rate for `currency`)."""
        statement = self.statement
        rate = statement.rate(currency)
        if rate is None:
            return ZERO, Gate(
                "currency",
                False,
                f"{currency} {fmt_decimal(amount)} has no [fx] rate into {statement.currency}",
            )
        if currency == statement.currency:
            return amount, Gate("currency", True, currency)
        return round_down(amount * rate), Gate(
            "currency",
            True,
            f"{currency} {fmt_decimal(amount)} at {fmt_decimal(rate)} {statement.currency}",
        )
