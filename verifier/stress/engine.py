"""The stress engine: one scenario's shocks against the base, and who pays the loss.

Where it sits: the pure core of verifier/stress/. It takes a `StressBase`
(verifier/stress/base.py) and a `Scenario` (verifier/stress/scenario.py) and returns a
`ScenarioResult`; verifier/stress/document.py writes it out, verifier/stress/sweep.py calls
`settle` many times. The model is docs/stress.md; in short:

1. Price and depeg shocks set each asset's price (and a statement ``[fx]`` rate of the same
   code) after the event; every value below is at the prices after.
2. Loss shocks take ``floor(balance × share)`` of each selected balance (shocks asking more
   than a balance holds are scaled down pro rata to it, whatever their order); only the part
   that counts as customer backing reduces an asset's holdings (own units lost are reported).
3. Per asset, ``gap = max(0, liabilities − (holdings − loss))`` base units: the asset's own
   surplus absorbs its own loss first, never another asset's.
4. Money pays the gaps, payer by payer: eligible cash (less frozen shares), insurance policy
   by policy (per event: covered loss less the deductible, within the limit left), on-demand
   guarantees. Each payer's money goes to the remaining gaps in proportion to their values
   and buys back ``floor(money_a / price_a × 10**decimals)`` base units, never more than a gap.

Invariants (tests/unit/test_stress_properties.py): uncovered units are never negative; a
payer never pays more than it has; an asset's surplus never fills another asset's gap; the
uncovered value never falls when a loss grows; a per-occurrence limit holds per event, an
aggregate limit over the scenario. Every figure is an int or an exact Decimal (EXACT).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from fractions import Fraction

from verifier.base.errors import InputError
from verifier.reconcile.numbers import EXACT, floor_ratio, unit_value
from verifier.report.figures import money
from verifier.reserve.money import fmt_decimal, money_context, round_down
from verifier.reserve.statement_model import InsurancePolicy
from verifier.stress.base import AssetBase, StressBase, WalletBase
from verifier.stress.scenario import DEFAULT_PERIL, Scenario, Shock

ZERO = Decimal(0)
ONE_EVENT = "scenario"
"""The event of a loss shock that names none: the whole scenario is one occurrence."""


@dataclass(frozen=True, slots=True)
class Loss:
    """One balance lost, or part of it."""

    wallet: WalletBase
    asset: str
    units: int
    """Base units lost of the whole balance."""
    customer_units: int
    """Of which counted customer backing: these reduce the asset's holdings."""
    own_units: int
    """Of which the exchange's own units: owed to no customer."""
    share: Decimal
    peril: str = DEFAULT_PERIL
    event: str = ONE_EVENT


@dataclass(frozen=True, slots=True)
class Shocked:
    """The market and the payers after a scenario's non-loss shocks."""

    prices: Mapping[str, Decimal | None]
    fx: Mapping[str, Decimal]
    frozen: Mapping[str, Decimal] = field(default_factory=dict)
    """Cash name -> share frozen (0..1)."""
    insurer_delay: Mapping[str, int | None] = field(default_factory=dict)
    """Policy name -> days late, or None: pays nothing."""
    guarantee_default: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class AssetResult:
    """One asset after the scenario."""

    code: str
    decimals: int
    liabilities: int
    holdings_before: int
    loss_units: int
    """Customer backing lost."""
    own_loss_units: int
    price_before: Decimal | None
    price_after: Decimal | None
    surplus_units: int
    """Units of the asset's own surplus that absorbed its loss."""
    paid_units: int
    """Units bought back with money (cash, insurance, guarantees)."""
    uncovered_units: int
    own_buffer: tuple[int, int] | None = None
    """The own-buffer rule's (own units, units it must match) in the report (`AssetBase`)."""

    @property
    def own_buffer_met_after(self) -> bool | None:
        """Whether the own-buffer rule still holds once the own units lost are gone (None:
        the pack has no such rule for the asset)."""
        if self.own_buffer is None:
            return None
        own, required = self.own_buffer
        return own - self.own_loss_units >= required

    def value(self, units: int) -> Decimal | None:
        """`units` of this asset at the price after the scenario (None: unpriced)."""
        if self.price_after is None:
            return None
        return unit_value(units, self.decimals, self.price_after)

    @property
    def holdings_after(self) -> int:
        """Holdings after the loss and the buy-backs."""
        return self.holdings_before - self.loss_units + self.paid_units

    @property
    def coverage_before(self) -> Decimal | None:
        return floor_ratio(self.holdings_before, self.liabilities)

    @property
    def coverage_after(self) -> Decimal | None:
        return floor_ratio(self.holdings_after, self.liabilities)

    @property
    def made_whole(self) -> bool:
        return self.uncovered_units == 0


@dataclass(frozen=True, slots=True)
class Payer:
    """One source of money (or an asset's own surplus) and what it paid."""

    order: int
    kind: str
    """``surplus``, ``cash``, ``insurance`` or ``guarantee``."""
    name: str
    available: Decimal
    """Reporting currency it could pay in this scenario."""
    paid: Decimal
    """Reporting currency it paid (≤ available)."""
    currency: str
    days: int | None
    """Days until it pays (None: not stated)."""
    notes: tuple[str, ...] = ()
    claims: tuple[tuple[str, Decimal, Decimal], ...] = ()
    """Insurance: (event, covered loss, claim) per event."""


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    """One scenario evaluated."""

    scenario: Scenario
    assets: tuple[AssetResult, ...]
    payers: tuple[Payer, ...]
    losses: tuple[Loss, ...]
    events: tuple[str, ...]
    time_to_pay_days: int | None
    time_to_pay_note: str
    notes: tuple[str, ...] = ()

    @property
    def made_whole(self) -> bool:
        """Every asset made whole: no customer is left short."""
        return all(a.made_whole for a in self.assets)

    @property
    def uncovered_value(self) -> Decimal:
        """Σ uncovered units at the prices after (per asset, never netted)."""
        with localcontext(EXACT):
            return sum((a.value(a.uncovered_units) or ZERO for a in self.assets), ZERO)


@dataclass(frozen=True, slots=True)
class StressResult:
    """Every scenario of a file evaluated against one base."""

    base: StressBase
    results: tuple[ScenarioResult, ...]

    @property
    def made_whole(self) -> bool:
        return all(r.made_whole for r in self.results)


# ----------------------------------------------------------------------------- shocks


def _fail(shock: Shock, message: str, value: object = None) -> InputError:
    return InputError(
        message, file=shock.file, key=shock.key, value=None if value is None else str(value)
    )


def _new_price(shock: Shock, before: Decimal) -> Decimal:
    """The price after a price or depeg shock: absolute, or ``before × (1 + change)``."""
    price = shock.get("price")
    if price is not None:
        after = Decimal(price)
    else:
        with localcontext(EXACT):
            after = before * (1 + Decimal(shock.get("change")))
    if after <= 0:  # the file check refuses change <= -1 and price <= 0; a price of 0 before
        from verifier.stress.scenario import NOT_WORTHLESS

        raise _fail(shock, NOT_WORTHLESS.format(what="leaves a price of zero"), after)
    return after


def shocked_market(base: StressBase, scenario: Scenario) -> Shocked:
    """Prices, rates, frozen cash and defaulting insurers after the scenario's shocks.

    Raises
    ------
    InputError
        A shock names an asset, cash, policy or guarantee the base does not have.
    """
    prices: dict[str, Decimal | None] = {a.code: a.price for a in base.assets}
    fx = dict(base.fx)
    frozen: dict[str, Decimal] = {}
    delay: dict[str, int | None] = {}
    defaulted: set[str] = set()
    for shock in scenario.shocks:
        if shock.kind in ("price", "depeg"):
            code, hit = shock.get("asset"), False
            if prices.get(code) is not None:
                prices[code], hit = _new_price(shock, prices[code]), True  # type: ignore[arg-type]
            if code in fx:
                fx[code], hit = _new_price(shock, fx[code]), True
            if not hit:
                raise _fail(shock, "no priced asset or statement [fx] currency of this code", code)
        elif shock.kind == "cash_frozen":
            names = [
                c.name
                for c in base.cash
                if shock.get("cash") in (None, c.name) and shock.get("holder") in (None, c.holder)
            ]
            if not names:
                raise _fail(
                    shock, "no counted cash matches", shock.get("cash") or shock.get("holder")
                )
            for name in names:
                with localcontext(EXACT):
                    frozen[name] = min(
                        Decimal(1), frozen.get(name, ZERO) + shock.get("share", Decimal(1))
                    )
        elif shock.kind == "insurer_default":
            names = [
                p.name
                for p in base.policies
                if shock.get("policy") in (None, p.name)
                and shock.get("insurer") in (None, p.insurer)
            ]
            if not names and (shock.get("policy") or shock.get("insurer")):
                raise _fail(
                    shock,
                    "no insurance policy matches",
                    shock.get("policy") or shock.get("insurer"),
                )
            for name in names:
                delay[name] = None if shock.get("pays") == "none" else int(shock.get("delay_days"))
        elif shock.kind == "guarantee_default":
            names = [
                g.name
                for g in base.guarantees
                if shock.get("guarantee") in (None, g.name)
                and shock.get("issuer") in (None, g.issuer)
            ]
            if not names:
                raise _fail(
                    shock, "no guarantee matches", shock.get("guarantee") or shock.get("issuer")
                )
            defaulted.update(names)
    return Shocked(prices, fx, frozen, delay, frozenset(defaulted))


# ----------------------------------------------------------------------------- losses


_SELECTOR_ATTRS = {
    "label": "label",
    "wallet": "key",
    "address": "address",
    "chain": "chain",
    "vendor": "vendor",
    "custodian": "custodian",
    "class": "wallet_class",
}


def _matches(wallet: WalletBase, shock: Shock) -> bool:
    for name, attr in _SELECTOR_ATTRS.items():
        wanted = shock.get(name)
        if wanted is not None and getattr(wallet, attr) != wanted:
            return False
    asset = shock.get("asset")
    return asset is None or wallet.balances.get(asset, 0) > 0


def _value(
    base: StressBase, wallets: Sequence[WalletBase], prices: Mapping[str, Decimal | None]
) -> Decimal:
    total = ZERO
    with localcontext(EXACT):
        for w in wallets:
            for code, units in w.balances.items():
                a, price = base.asset(code), prices.get(code)
                if a is not None and price is not None:
                    total += unit_value(units, a.decimals, price)
    return total


def selected_wallets(base: StressBase, shock: Shock) -> list[WalletBase]:
    """The addresses a loss shock selects (``largest``: the one por.toml wallet of highest
    value at the report's prices, every address of it); exit 3 when none matches."""
    found = [
        w for w in base.wallets if _matches(w, shock) and not w.counted_as.startswith("duplicate")
    ]
    if not found:
        wanted = ", ".join(
            f"{name}={shock.get(name)!r}" for name in (*_SELECTOR_ATTRS, "asset") if shock.get(name)
        )
        raise _fail(
            shock, "selects no wallet (a scenario that loses nothing would mislead)", wanted
        )
    if shock.get("largest"):
        prices = {a.code: a.price for a in base.assets}
        groups: dict[str, list[WalletBase]] = {}
        for w in found:
            groups.setdefault(w.key, []).append(w)
        best = max(groups.values(), key=lambda ws: _value(base, ws, prices))  # first of equals
        return best
    return found


def _floor_money(value: Fraction) -> Decimal:
    """`value` rounded down to 1e-8 (a pro-rata share may not terminate)."""
    return Decimal(int(value * 10**8)).scaleb(-8)


def _floor_share(units: int, share: Decimal) -> int:
    """floor(units × share), exactly."""
    return int(Fraction(units) * Fraction(share))


def _pro_rata(full: int, asks: Sequence[tuple[int, tuple[object, ...]]]) -> list[int]:
    """What each request on one balance of `full` base units takes.

    `asks` holds (units asked, tie key) per request. When they ask for no more than `full`,
    each takes what it asked. Otherwise they are scaled down pro rata so that together they
    take exactly `full`: each ``floor(full × ask / Σ asks)``, and the units the floors leave
    go one each to the largest remainders (ties: the larger ask, then the tie key — the
    shock's content, never its place in the file), so the result does not depend on the
    order of the shocks.
    """
    total = sum(ask for ask, _ in asks)
    if total <= full:
        return [ask for ask, _ in asks]
    takes = [full * ask // total for ask, _ in asks]
    left = full - sum(takes)
    order = sorted(
        range(len(asks)),
        key=lambda i: (-(full * asks[i][0] % total), -asks[i][0], asks[i][1]),
    )
    for i in order[:left]:
        takes[i] += 1
    return takes


def _tie_key(shock: Shock) -> tuple[object, ...]:
    """A shock's content as a sort key (its peril and event first; never its position)."""
    fields = sorted((k, str(v)) for k, v in shock.as_json().items())
    return (shock.get("peril", DEFAULT_PERIL), shock.get("event", ONE_EVENT), tuple(fields))


def resolve_losses(base: StressBase, scenario: Scenario) -> list[Loss]:
    """Every balance the scenario's loss shocks take, independent of the shocks' order.

    Each shock asks ``floor(part × share)`` of each part of a selected balance (the whole
    balance, its customer backing, its own units). When the shocks on one balance ask for
    more than a part holds, they are scaled down pro rata to exactly that part
    (`_pro_rata`): a balance hit twice never loses more than it holds, and no shock is
    served first because it comes first in the file. The losses are listed in file order.
    """
    asks: dict[tuple[int, str], list[tuple[int, Shock]]] = {}
    index = {id(w): i for i, w in enumerate(base.wallets)}
    hits: list[tuple[int, Shock, WalletBase, str]] = []  # (position, shock, wallet, asset)
    for shock in scenario.shocks:
        if shock.kind != "loss":
            continue
        for w in selected_wallets(base, shock):
            for code, units in w.balances.items():
                if shock.get("asset") not in (None, code) or units == 0:
                    continue
                at = (index[id(w)], code)
                asks.setdefault(at, []).append((len(hits), shock))
                hits.append((len(hits), shock, w, code))
    taken: dict[int, list[int]] = {}
    for (wi, code), requests in asks.items():
        w = base.wallets[wi]
        parts = (w.balances[code], w.customer.get(code, 0), w.own.get(code, 0))
        per_part = [
            _pro_rata(
                full,
                [
                    (_floor_share(full, Decimal(s.get("share", Decimal(1)))), _tie_key(s))
                    for _, s in requests
                ],
            )
            for full in parts
        ]
        for n, (position, _) in enumerate(requests):
            taken[position] = [takes[n] for takes in per_part]
    return [
        Loss(
            wallet=w,
            asset=code,
            units=taken[position][0],
            customer_units=taken[position][1],
            own_units=taken[position][2],
            share=Decimal(shock.get("share", Decimal(1))),
            peril=shock.get("peril", DEFAULT_PERIL),
            event=shock.get("event", ONE_EVENT),
        )
        for position, shock, w, code in hits
    ]


# ----------------------------------------------------------------------------- payers


def _scaled(value: Decimal, after: Decimal, before: Decimal) -> Decimal:
    """value × after / before, rounded down to 1e-8 (a quotient may not terminate)."""
    with money_context():
        return round_down(value * after / before)


def _cash_available(base: StressBase, market: Shocked) -> list[tuple[str, str, Decimal, list[str]]]:
    """(name, currency, available, notes) of each counted cash deposit after the shocks."""
    out = []
    for c in base.cash:
        notes: list[str] = []
        with localcontext(EXACT):
            value = c.eligible
            before, after = base.fx.get(c.currency), market.fx.get(c.currency)
            if c.currency != base.currency and before and after is not None and after != before:
                # a shocked currency: the stated amount at the new rate (a partly eligible
                # deposit: its eligible value scaled, rounded down to 1e-8)
                value = (
                    c.amount * after
                    if c.eligible == c.amount * before
                    else _scaled(value, after, before)
                )
                notes.append(f"{c.currency} at {fmt_decimal(after)} (was {fmt_decimal(before)})")
            share = market.frozen.get(c.name, ZERO)
            if share:
                notes.append(f"{fmt_decimal(share * 100)}% frozen")
                value = value * (1 - share)
        out.append((c.name, c.currency, value, notes))
    return out


def _class_share(
    policy: InsurancePolicy, wallet_class: str, peril: str
) -> tuple[Decimal, str | None]:
    """The share of a loss in `wallet_class` by `peril` the policy covers, and why not."""
    if peril in policy.exclusions:
        return ZERO, f"peril {peril!r} is excluded: pays nothing for that loss"
    if not policy.perils:
        return policy.scope, None
    entry = policy.perils.get(wallet_class)
    if entry is None:
        return ZERO, f"{wallet_class} wallets are not covered"
    if isinstance(entry, Decimal):
        return entry, None
    if peril not in entry:
        return ZERO, f"peril {peril!r} is not covered for {wallet_class} wallets"
    return Decimal(1), None


def _gate_refusal(base: StressBase, policy: InsurancePolicy) -> str | None:
    """Why `policy` pays nothing because the reserve evaluation did not pass it (None: it
    did, or there is no evaluation). As cash pays only when eligible, a policy pays only
    when the gates about the policy itself passed (verifier.stress.base.POLICY_GATES); the
    regulatory cap on how much insurance counts is not a payment limit."""
    if base.policy_gates is None:
        return None
    failed = base.policy_gates.get(policy.name)
    if failed is None:
        return "not in the reserve evaluation: pays nothing"
    if not failed:
        return None
    gate, reason = failed[0]
    return f"failed the reserve evaluation's {gate} gate ({reason}): pays nothing"


def event_label(event: str) -> str:
    """An event as a note names it: the default event (a scenario's shocks without an
    ``event`` key are one occurrence) is "the whole scenario"."""
    return "the whole scenario" if event == "scenario" else f"event {event}"


def _claim_note(
    event: str,
    covered: Decimal,
    deductible: Decimal,
    left: Decimal,
    claim: Decimal,
    policy: InsurancePolicy,
    currency: str,
) -> str | None:
    """Why an event's claim is less than its covered loss (None: it is all of it), in
    words a reader can check: the deductible against the covered loss, the limit left."""
    if claim == covered:
        return None
    event = event_label(event)
    if covered == 0:
        return f"{event}: no loss this policy covers"
    if covered <= deductible:
        return (
            f"{event}: the covered loss {money(covered)} {currency} is within the "
            f"deductible {money(deductible)}: nothing to claim"
        )
    kind = "per-occurrence" if policy.limit_type == "per_occurrence" else "aggregate"
    if claim < covered - deductible:
        return (
            f"{event}: covered loss {money(covered)} {currency} less the deductible "
            f"{money(deductible)}, capped at the {kind} limit left {money(left)}: claims "
            f"{money(claim)}"
        )
    return (
        f"{event}: covered loss {money(covered)} {currency} less the deductible "
        f"{money(deductible)}: claims {money(claim)}"
    )


def insurance_claims(
    base: StressBase,
    market: Shocked,
    losses: Sequence[Loss],
    events: Sequence[str],
    policy: InsurancePolicy,
    kept: Mapping[str, Fraction] | None = None,
) -> tuple[Decimal, list[str], list[tuple[str, Decimal, Decimal]]]:
    """What `policy` owes for the scenario: per event, min(limit left, max(0, covered −
    deductible)); a per-occurrence limit is fresh each event, an aggregate one shared."""
    notes: list[str] = []
    refused = _gate_refusal(base, policy)
    if refused is not None:
        return ZERO, [refused], []
    if not policy.start <= base.as_of_date < policy.end:
        return ZERO, [f"not in force on {base.as_of_date} ({policy.start} to {policy.end})"], []
    if policy.name in market.insurer_delay and market.insurer_delay[policy.name] is None:
        return ZERO, ["the insurer does not pay (scenario)"], []
    rate = market.fx.get(policy.currency) if policy.currency != base.currency else Decimal(1)
    if rate is None:
        return ZERO, [f"no [fx] rate for {policy.currency}"], []
    claims = []
    with localcontext(EXACT):
        limit, deductible = policy.limit * rate, policy.deductible * rate
        left = limit
        for event in events:
            covered = ZERO
            for loss in losses:
                price = market.prices.get(loss.asset)
                asset = base.asset(loss.asset)
                if loss.event != event or price is None or asset is None or not loss.customer_units:
                    continue
                share, why = _class_share(policy, loss.wallet.wallet_class, loss.peril)
                if why and why not in notes:
                    notes.append(why)
                part = Fraction(1) if kept is None else kept.get(loss.asset, Fraction(1))
                covered += (
                    _floor_money(
                        Fraction(unit_value(loss.customer_units, asset.decimals, price)) * part
                    )
                    * share
                )
            if policy.limit_type == "per_occurrence":
                left = limit
            claim = min(left, max(ZERO, covered - deductible))
            why = _claim_note(event, covered, deductible, left, claim, policy, base.currency)
            if why is not None:
                notes.append(why)
            left -= claim
            claims.append((event, covered, claim))
        total = sum((c for _, _, c in claims), ZERO)
    return total, sorted(notes), claims  # sorted: the shocks' order says nothing


def _apply_money(
    amount: Decimal, gaps: dict[str, int], base: StressBase, prices: Mapping[str, Decimal | None]
) -> tuple[Decimal, dict[str, int]]:
    """Spend up to `amount` on the gaps, in proportion to their values; (paid, units bought)."""
    values = {}
    with localcontext(EXACT):
        for code, units in gaps.items():
            a, price = base.asset(code), prices.get(code)
            if units > 0 and a is not None and price is not None and price > 0:
                values[code] = unit_value(units, a.decimals, price)
        total = sum(values.values(), ZERO)
        if total == 0 or amount <= 0:
            return ZERO, {}
        if amount >= total:
            return total, {code: gaps[code] for code in values}
        bought = {code: int(Fraction(amount) * gaps[code] / Fraction(total)) for code in values}
        paid = ZERO
        for code, units in bought.items():
            a = base.asset(code)
            assert a is not None
            paid += unit_value(units, a.decimals, prices[code] or ZERO)
    return paid, bought


def _payer_list(
    base: StressBase,
    market: Shocked,
    losses: Sequence[Loss],
    events: Sequence[str],
    insurable: Mapping[str, Fraction],
) -> list[tuple[str, str, str, Decimal, int | None, list[str], list[tuple[str, Decimal, Decimal]]]]:
    """(kind, name, currency, available, days, notes, claims) of every money payer, in order:
    cash, insurance policy by policy, guarantees (statement order)."""
    out: list[
        tuple[str, str, str, Decimal, int | None, list[str], list[tuple[str, Decimal, Decimal]]]
    ] = []
    for name, currency, value, notes in _cash_available(base, market):
        out.append(("cash", name, currency, value, 0, notes, []))
    for policy in base.policies:
        available, notes, claims = insurance_claims(base, market, losses, events, policy, insurable)
        days = policy.claim_days
        late = market.insurer_delay.get(policy.name)
        if late is not None:
            notes.append(f"the insurer pays {late} days late (scenario)")
            days = None if days is None else days + late
        out.append(("insurance", policy.name, policy.currency, available, days, notes, claims))
    for g in base.guarantees:
        notes = []
        rate = market.fx.get(g.currency) if g.currency != base.currency else Decimal(1)
        if not g.on_demand:
            notes.append("not payable on demand: not counted in a scenario")
        if g.maturity is not None and g.maturity <= base.as_of_date:
            notes.append(f"expired on {g.maturity}")
        if g.name in market.guarantee_default:
            notes.append("the issuer does not pay (scenario)")
        if rate is None:
            notes.append(f"no [fx] rate for {g.currency}")
        with localcontext(EXACT):
            available = ZERO if notes or rate is None else g.amount * rate
        out.append(("guarantee", g.name, g.currency, available, g.payment_days, notes, []))
    return out


_NO_PERIOD = {
    "insurance": "the policy states no claim period (claim_days)",
    "guarantee": "the guarantee states no payment period (payment_days)",
    "cash": "",
}


def _surplus_payer(
    a: AssetBase, price: Decimal | None, surplus: int, used: int, order: int, currency: str
) -> Payer:
    """The asset's own surplus as the first payer of its own loss (never another's)."""

    def value(units: int) -> Decimal:
        return ZERO if price is None else unit_value(units, a.decimals, price)

    return Payer(
        order=order,
        kind="surplus",
        name=f"{a.code} surplus",
        available=value(surplus),
        paid=value(used),
        currency=currency,
        days=0,
        notes=(f"{a.code}'s own surplus; never another asset's",),
    )


def _kept(
    base: StressBase,
    raw: Mapping[str, int],
    lost: Mapping[str, int],
    absorbed: Mapping[str, int],
) -> dict[str, Fraction]:
    """Per asset, the share of its customer loss its own surplus did not absorb (1 when
    nothing was lost). Insurance covers this part of each loss: what the surplus absorbed
    left no one short, and a shortfall the report already had was no event's loss. Shared
    pro rata among the asset's losses, so a larger loss never leaves less uncovered."""
    return {
        # raw: the losses' own units, which a report may make exceed the holdings counted
        a.code: Fraction(lost[a.code] - absorbed[a.code], raw[a.code])
        if raw[a.code]
        else Fraction(1)
        for a in base.assets
    }


def settle(
    base: StressBase, market: Shocked, losses: Sequence[Loss]
) -> tuple[tuple[AssetResult, ...], tuple[Payer, ...], tuple[str, ...]]:
    """Per-asset gaps after `losses`, paid by the asset's surplus, then every money payer.

    Returns (assets, payers, events): payers with what each had and paid, in order.
    """
    # by name, not by first appearance: an aggregate limit is drawn event by event, and
    # the order of the shocks in the file must not decide which event's claim it serves
    events = tuple(sorted({loss.event for loss in losses}))
    lost = {a.code: 0 for a in base.assets}
    own_lost = {a.code: 0 for a in base.assets}
    for loss in losses:
        if loss.asset in lost:
            lost[loss.asset] += loss.customer_units
            own_lost[loss.asset] += loss.own_units
    payers: list[Payer] = []
    gaps: dict[str, int] = {}
    surplus_used: dict[str, int] = {}
    raw = dict(lost)
    for a in base.assets:
        lost[a.code] = min(lost[a.code], a.holdings)  # a report whose wallets say more
        surplus = max(0, a.holdings - a.liabilities)
        surplus_used[a.code] = min(surplus, lost[a.code])
        gaps[a.code] = max(0, a.liabilities - (a.holdings - lost[a.code]))
        if lost[a.code]:
            payers.append(
                _surplus_payer(
                    a,
                    market.prices.get(a.code),
                    surplus,
                    surplus_used[a.code],
                    len(payers) + 1,
                    base.currency,
                )
            )
    bought = {a.code: 0 for a in base.assets}
    insurable = _kept(base, raw, lost, surplus_used)
    for kind, name, currency, available, days, notes, claims in _payer_list(
        base, market, losses, events, insurable
    ):
        paid, units = _apply_money(available, gaps, base, market.prices)
        if days is None and paid > 0:  # only a payer that paid makes the time unknown
            notes.append(_NO_PERIOD[kind])
        for code, n in units.items():
            gaps[code] -= n
            bought[code] += n
        payers.append(
            Payer(
                order=len(payers) + 1,
                kind=kind,
                name=name,
                available=available,
                paid=paid,
                currency=currency,
                days=days,
                notes=tuple(notes),
                claims=tuple(claims),
            )
        )
    assets = tuple(
        AssetResult(
            code=a.code,
            decimals=a.decimals,
            liabilities=a.liabilities,
            holdings_before=a.holdings,
            loss_units=lost[a.code],
            own_loss_units=own_lost[a.code],
            price_before=a.price,
            price_after=market.prices.get(a.code),
            surplus_units=surplus_used[a.code],
            paid_units=bought[a.code],
            uncovered_units=gaps[a.code],
            own_buffer=a.own_buffer,
        )
        for a in base.assets
    )
    return assets, tuple(payers), events


def time_to_pay(payers: Sequence[Payer], made_whole: bool) -> tuple[int | None, str]:
    """The longest period of the payers that paid: (days or None, a note)."""
    used = [p for p in payers if p.paid > 0]
    if not used:
        return 0, "nothing to pay" if made_whole else "nothing pays: the loss stays uncovered"
    unknown = [p.name for p in used if p.days is None]
    tail = "" if made_whole else "; the uncovered part is never paid"
    if unknown:
        return None, f"unknown: {', '.join(unknown)} states no period{tail}"
    slowest = max(used, key=lambda p: p.days or 0)
    days = slowest.days or 0
    if days == 0:
        return 0, f"at once (surplus and cash){tail}"
    return days, f"{days} days ({slowest.kind} {slowest.name}){tail}"


def evaluate(base: StressBase, scenario: Scenario) -> ScenarioResult:
    """One scenario against the base.

    Raises
    ------
    InputError
        A shock selects nothing (naming the shock's key), exit 3.
    """
    market = shocked_market(base, scenario)
    losses = resolve_losses(base, scenario)
    assets, payers, events = settle(base, market, losses)
    made_whole = all(a.made_whole for a in assets)
    days, note = time_to_pay(payers, made_whole)
    return ScenarioResult(
        scenario=scenario,
        assets=assets,
        payers=payers,
        losses=tuple(losses),
        events=events,
        time_to_pay_days=days,
        time_to_pay_note=note,
    )


def evaluate_all(base: StressBase, scenarios: Sequence[Scenario]) -> StressResult:
    """Every scenario against the same base, in file order."""
    return StressResult(base=base, results=tuple(evaluate(base, s) for s in scenarios))
