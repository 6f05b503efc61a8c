"""The base of every scenario: a por-report-v1 document and the reserve statement, as values.

Where it sits: between the inputs of `por stress` and the engine (verifier/stress/engine.py).
`stress_base` reads the report's assets (liabilities, counted holdings, prices, decimals),
its wallets (class, chain, address, label, balances, what each counts as, and the wallet
metadata of issue 14 when present: vendor, custodian, signing, segregation, customer and
own units) and its reserve evaluation (which cash counts), and the statement's policy terms
(limits, deductibles, perils, exclusions, dates, ``claim_days``, ``payment_days``). Every
field of the report is checked as it is read: a hostile report is exit 3 naming the file,
the key and the value, never a traceback.

A statement whose SHA-256 differs from the report's ``input_hashes.statement`` is used, with
a warning in the result (docs/stress.md): the scenario then models the statement given, not
the one the report evaluated, and which of its cash counts comes from the report's rule pack
evaluated again on it (`reevaluate_reserve`, called by the CLI, which finds the pack).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from verifier.base.errors import InputError
from verifier.reserve.pack import RulePack
from verifier.reserve.statement_model import Guarantee, InsurancePolicy, ReserveStatement

MAX_UNITS = 2**256
"""Base units above this are refused (far beyond any supply; keeps arithmetic bounded)."""


@dataclass(frozen=True, slots=True)
class AssetBase:
    """One asset of the report."""

    code: str
    decimals: int
    price: Decimal | None
    """Reporting currency per whole unit (None: unpriced and owed nothing)."""
    liabilities: int
    """Owed, base units (the tree's root sum)."""
    holdings: int
    """Counted customer backing, base units (``assets[].holdings``)."""
    own_buffer: tuple[int, int] | None = None
    """The rule pack's own-buffer rule (Japan's same-type own coins) for this asset: (own
    buffer units, customer units outside cold storage it must match) as the report's
    evaluation checked it; None when the pack has no such check."""


@dataclass(frozen=True, slots=True)
class WalletBase:
    """One address of the report with what it backs."""

    key: str
    """The wallet's key in por.toml (``bitcoin.wallets[1]``)."""
    label: str
    wallet_class: str
    chain: str
    address: str
    counted_as: str
    vendor: str | None = None
    vendor_name: str | None = None
    custodian: str | None = None
    signing: str | None = None
    segregation: str | None = None
    balances: Mapping[str, int] = field(default_factory=dict)
    """Every balance at the pinned block, base units."""
    customer: Mapping[str, int] = field(default_factory=dict)
    """The part counted as customer backing (reduces holdings when lost)."""
    own: Mapping[str, int] = field(default_factory=dict)
    """The exchange's own part (a loss of it is reported, owed to no customer)."""


@dataclass(frozen=True, slots=True)
class CashBase:
    """A cash deposit that counts in the reserve evaluation."""

    name: str
    holder: str
    currency: str
    amount: Decimal
    """In `currency` (the statement's figure; the eligible value when no statement)."""
    eligible: Decimal
    """What the evaluation counted, reporting currency."""


@dataclass(frozen=True, slots=True)
class StressBase:
    """Everything a scenario is evaluated against."""

    source: str
    """Where the report came from (a file, or ``history run N``)."""
    report_id: str
    exchange: str
    currency: str
    as_of: str
    """The liabilities' as-of time (else the snapshot's), ISO 8601."""
    as_of_date: date
    assets: tuple[AssetBase, ...]
    wallets: tuple[WalletBase, ...]
    cash: tuple[CashBase, ...] = ()
    policies: tuple[InsurancePolicy, ...] = ()
    guarantees: tuple[Guarantee, ...] = ()
    fx: Mapping[str, Decimal] = field(default_factory=dict)
    """Reporting-currency units per unit of each statement currency."""
    has_statement: bool = False
    warnings: tuple[str, ...] = ()
    policy_gates: Mapping[str, tuple[tuple[str, str], ...]] | None = None
    """Per insurance policy in the reserve evaluation, the gates about the policy it
    failed (gate, reason); a policy missing from it is not evaluated. None: no evaluation
    (the engine's own in-force check only)."""

    def asset(self, code: str) -> AssetBase | None:
        """The asset `code`, or None."""
        return next((a for a in self.assets if a.code == code), None)


# ----------------------------------------------------------------------------- reading


def _shown(value: object) -> str | None:
    """`value` for a message, short (a hostile report may hold megabytes or huge integers)."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 400:
        return f"<an integer of {value.bit_length()} bits>"
    text = value if isinstance(value, str) else repr(value)
    return text[:120]


class _Reader:
    """Typed access to a decoded report: every failure an InputError naming file and key."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, message: str, value: object = None) -> InputError:
        return InputError(message, file=self.source, key=key, value=_shown(value))

    def obj(self, node: Any, key: str) -> Mapping[str, Any]:
        if not isinstance(node, Mapping):
            raise self.fail(key, "must be an object", node)
        return node

    def items(self, node: Any, key: str) -> list[Any]:
        if not isinstance(node, list):
            raise self.fail(key, "must be a list", node)
        return node

    def text(self, node: Mapping[str, Any], name: str, key: str, *, optional: bool = False) -> Any:
        value = node.get(name)
        if value is None and optional:
            return None
        if not isinstance(value, str):
            raise self.fail(f"{key}.{name}", "must be a string", value)
        return value

    def units(self, node: Any, key: str) -> int:
        text = node.get("base_units") if isinstance(node, Mapping) else node
        if not isinstance(text, str) or not text.isascii() or not text.isdigit():
            raise self.fail(key, "must be base units (a string of digits)", text)
        if len(text) > 80 or int(text) >= MAX_UNITS:
            raise self.fail(key, "base units out of range", text[:40])
        return int(text)

    def decimal(self, value: Any, key: str) -> Decimal:
        if not isinstance(value, str) or len(value) > 120:
            raise self.fail(key, "must be a decimal string", value)
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise self.fail(key, "must be a decimal string", value) from None
        if not number.is_finite() or number < 0 or "e" in value.lower():
            raise self.fail(key, "must be a non-negative decimal string", value)
        return number


def _asset(r: _Reader, node: Any, key: str) -> AssetBase:
    a = r.obj(node, key)
    decimals = a.get("decimals")
    if isinstance(decimals, bool) or not isinstance(decimals, int) or not 0 <= decimals <= 36:
        raise r.fail(f"{key}.decimals", "must be an integer 0..36", decimals)
    price = a.get("price")
    return AssetBase(
        code=r.text(a, "code", key),
        decimals=decimals,
        price=None if price is None else r.decimal(price, f"{key}.price"),
        liabilities=r.units(a.get("liabilities"), f"{key}.liabilities.base_units"),
        holdings=r.units(a.get("holdings"), f"{key}.holdings.base_units"),
    )


def _per_asset(r: _Reader, node: Any, key: str, only: str | None) -> dict[str, int] | None:
    """S1's ``customer_units``/``own_units``: {code: units} (or one units string for the
    wallet's single asset `only`); None when absent."""
    if node is None:
        return None
    if isinstance(node, (str, int)) and only is not None:
        return {only: r.units(str(node), key)}
    return {code: r.units(v, f"{key}.{code}") for code, v in r.obj(node, key).items()}


def _wallet(r: _Reader, node: Any, key: str) -> WalletBase:
    w = r.obj(node, key)
    balances = {
        code: r.units(v, f"{key}.balances.{code}")
        for code, v in r.obj(w.get("balances"), f"{key}.balances").items()
    }
    counted_as = r.text(w, "counted_as", key)
    only = next(iter(balances)) if len(balances) == 1 else None
    customer = _per_asset(r, w.get("customer_units"), f"{key}.customer_units", only)
    own = _per_asset(r, w.get("own_units"), f"{key}.own_units", only)
    # customer_units/own_units split a mixed wallet (its declared own coins); what backs
    # customers is decided by counted_as, as the report counted it
    if counted_as.startswith("customer backing"):
        customer = balances if customer is None else customer
        own = {} if own is None else own
    elif counted_as.startswith("own"):
        customer, own = {}, balances
    else:
        # excluded (unproven, stale, custodial not counted) or a duplicate: backs nothing
        customer, own = {}, ({} if own is None else own)
    meta = {
        name: r.text(w, name, key, optional=True)
        for name in ("vendor", "vendor_name", "custodian", "signing", "segregation")
    }
    return WalletBase(
        key=r.text(w, "wallet", key),
        label=r.text(w, "label", key),
        wallet_class=r.text(w, "class", key),
        chain=r.text(w, "chain", key),
        address=r.text(w, "address", key),
        counted_as=counted_as,
        balances=balances,
        customer=customer,
        own=own,
        **meta,
    )


def _as_of(r: _Reader, doc: Mapping[str, Any]) -> tuple[str, date]:
    attestation = doc.get("attestation")
    text = attestation.get("as_of") if isinstance(attestation, Mapping) else None
    key = "attestation.as_of"
    if not isinstance(text, str):
        text, key = doc.get("snapshot_taken_at"), "snapshot_taken_at"
    if not isinstance(text, str):
        raise r.fail(key, "must be an ISO 8601 time", text)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise r.fail(key, "must be an ISO 8601 time", text) from None
    return text, when.date()


def _components(r: _Reader, reserve: Any, kind: str) -> list[tuple[str, Decimal]]:
    """(name, eligible) of each reserve component of `kind` in a reserve evaluation (the
    report's, or the one redone on the statement given)."""
    if reserve is None:
        return []
    eligible = r.obj(r.obj(reserve, "reserve").get("eligible"), "reserve.eligible")
    out = []
    for i, c in enumerate(r.items(eligible.get("components"), "reserve.eligible.components")):
        key = f"reserve.eligible.components[{i}]"
        row = r.obj(c, key)
        if row.get("kind") == kind:
            name = r.text(row, "name", key)
            out.append((name, r.decimal(row.get("eligible"), f"{key}.eligible")))
    return out


POLICY_GATES = frozenset(("insurer", "in force", "term", "notice", "perils", "deductible"))
"""The evaluation's gates about an insurance policy itself: one failed, and the policy pays
nothing in a scenario. Not the regulatory cap on how much insurance counts (θ·R), nor the
currency or horizon gates, which say what counts towards the reserve, not what is paid."""


def _policy_gates(r: _Reader, reserve: Any) -> dict[str, tuple[tuple[str, str], ...]] | None:
    """Per insurance component of `reserve`, its failed `POLICY_GATES` (None: no reserve)."""
    if reserve is None:
        return None
    eligible = r.obj(r.obj(reserve, "reserve").get("eligible"), "reserve.eligible")
    out: dict[str, tuple[tuple[str, str], ...]] = {}
    for i, c in enumerate(r.items(eligible.get("components"), "reserve.eligible.components")):
        key = f"reserve.eligible.components[{i}]"
        row = r.obj(c, key)
        if row.get("kind") != "insurance":
            continue
        failed = []
        for j, g in enumerate(r.items(row.get("gates", []), f"{key}.gates")):
            gate = r.obj(g, f"{key}.gates[{j}]")
            name = r.text(gate, "gate", f"{key}.gates[{j}]")
            if name in POLICY_GATES and gate.get("passed") is not True:
                reason = gate.get("reason")
                failed.append((name, reason if isinstance(reason, str) else ""))
        out[r.text(row, "name", key)] = tuple(failed)
    return out


def _cash(
    r: _Reader,
    doc: Mapping[str, Any],
    statement: ReserveStatement | None,
    currency: str,
    reserve: Any,
) -> tuple[list[CashBase], list[str]]:
    """The cash that counts: components of `reserve` with an eligible value above zero, with
    the statement's amount and currency when it names the deposit."""
    out, notes = [], []
    counted = _components(r, reserve, "cash")
    rows = {c.name: c for c in statement.cash} if statement is not None else {}
    for name, eligible in counted:
        row = rows.get(name)
        if eligible <= 0:
            notes.append(f"cash {name!r} does not count in the reserve evaluation: not a payer")
        elif row is None:
            out.append(CashBase(name, "", currency, eligible, eligible))
        else:
            out.append(CashBase(name, row.holder, row.currency, row.amount, eligible))
    if doc.get("reserve") is None and statement is not None:
        notes.append("the report has no reserve evaluation: the statement's cash counts as stated")
        for row in statement.cash:
            rate = statement.rate(row.currency)
            if rate is not None:
                value = row.amount * rate
                out.append(CashBase(row.name, row.holder, row.currency, row.amount, value))
    return out, notes


def statement_is_the_reports(report: Mapping[str, Any], statement_sha256: str | None) -> bool:
    """Whether the statement of SHA-256 `statement_sha256` is the one the report evaluated
    (``input_hashes.statement``); an unknown digest on either side is not."""
    hashes = report.get("input_hashes")
    stated = hashes.get("statement") if isinstance(hashes, Mapping) else None
    return statement_sha256 is not None and stated == statement_sha256


def reevaluate_reserve(
    report: Mapping[str, Any], statement: ReserveStatement, pack: RulePack, *, source: str
) -> dict[str, Any]:
    """The report's reserve evaluation redone on `statement`: `pack` (the one the report
    names) on the report's ``reserve_inputs`` (its customer holdings by class and asset), at
    the day the report was made (``generated_at``, else the as-of), as the reconciliation
    evaluated it (verifier/jobs/pipeline.py `figures`). Its components decide which of the
    statement's cash counts, so every cash figure comes from the statement modelled.

    Raises
    ------
    InputError
        The report has no usable ``reserve_inputs``, or the pack cannot evaluate the
        statement (naming the file and key).
    """
    from verifier.reserve.positions import inputs_from_mapping
    from verifier.reserve.rules import evaluate

    r = _Reader(source)
    doc = r.obj(report, "report")
    raw = r.obj(doc.get("reserve_inputs"), "reserve_inputs")
    try:
        inputs = inputs_from_mapping(raw)
    except (KeyError, TypeError, ValueError, ArithmeticError, AttributeError) as exc:
        # InputError is a ValueError: a value the reserve inputs refuse, or a missing key
        why = (exc.message if isinstance(exc, InputError) else repr(exc))[:120]
        raise r.fail("reserve_inputs", f"not the holdings a por report records ({why})") from None
    made = doc.get("generated_at")
    try:
        day = datetime.fromisoformat(str(made).replace("Z", "+00:00")).date()
    except ValueError:
        day = _as_of(r, doc)[1]
    return evaluate(pack, statement, inputs, as_of=day).to_json()


def stress_base(
    report: Mapping[str, Any],
    statement: ReserveStatement | None,
    *,
    source: str,
    statement_sha256: str | None = None,
    reserve: Mapping[str, Any] | None = None,
) -> StressBase:
    """The base of every scenario, from a por-report-v1 document and the reserve statement.

    Parameters
    ----------
    report:
        A decoded por-report-v1 document (its report_id is checked by the caller).
    statement:
        The reserve statement for the policy terms; None: insurance and guarantees are not
        modelled (a warning says so) and cash is the evaluation's eligible value.
    source:
        The report's name in messages (a path, or ``history run 12``).
    statement_sha256:
        The statement file's SHA-256, compared with the report's ``input_hashes.statement``.
    reserve:
        The reserve evaluation redone on `statement` (`reevaluate_reserve`) when it is not
        the report's; None: the report's own evaluation decides which cash counts.

    Raises
    ------
    InputError
        A field of the report is missing or malformed (naming `source`, the key and value).
    """
    r = _Reader(source)
    doc = r.obj(report, "report")
    if doc.get("report") != "por-report-v1":
        raise r.fail("report", "not a por-report-v1 document", doc.get("report"))
    currency = r.text(doc, "currency", "report")
    as_of, as_of_date = _as_of(r, doc)
    assets = tuple(
        _asset(r, a, f"assets[{i}]") for i, a in enumerate(r.items(doc.get("assets"), "assets"))
    )
    wallets = tuple(
        _wallet(r, w, f"wallets[{i}]") for i, w in enumerate(r.items(doc.get("wallets"), "wallets"))
    )
    assets = _with_own_buffer(r, doc, assets)
    warnings = _check_holdings(assets, wallets)
    if statement is not None and statement.currency != currency:
        raise InputError(
            f"the statement's currency {statement.currency} is not the report's {currency}",
            file=statement.path,
            key="currency",
            value=statement.currency,
        )
    evaluation = doc.get("reserve") if reserve is None else reserve
    cash, notes = _cash(r, doc, statement, currency, evaluation)
    warnings += notes
    hashes = doc.get("input_hashes")
    stated = hashes.get("statement") if isinstance(hashes, Mapping) else None
    if statement is None:
        warnings.append("no reserve statement: insurance and guarantees are not modelled")
    elif reserve is not None or (
        statement_sha256 is not None and stated is not None and stated != statement_sha256
    ):
        warnings.append(
            f"the statement {statement.path} is not the one the report evaluated "
            f"(SHA-256 {str(statement_sha256)[:12]}… vs input_hashes.statement "
            f"{str(stated)[:12]}…)"
            + (
                ": its cash counts as the report's rule pack evaluates it"
                if reserve is not None
                else ""
            )
        )
    return StressBase(
        source=source,
        report_id=r.text(doc, "report_id", "report"),
        exchange=r.text(doc, "exchange", "report"),
        currency=currency,
        as_of=as_of,
        as_of_date=as_of_date,
        assets=assets,
        wallets=wallets,
        cash=tuple(cash),
        policies=statement.insurance if statement is not None else (),
        guarantees=statement.guarantees if statement is not None else (),
        fx=dict(statement.fx) if statement is not None else {},
        has_statement=statement is not None,
        warnings=tuple(warnings),
        policy_gates=_policy_gates(r, evaluation),
    )


def _with_own_buffer(
    r: _Reader, doc: Mapping[str, Any], assets: tuple[AssetBase, ...]
) -> tuple[AssetBase, ...]:
    """`assets` with the own-buffer figures of each asset the evaluation checked
    (``reserve.checks[]`` ``own_buffer:CODE``; units from ``reserve_inputs.per_asset``)."""
    reserve = doc.get("reserve")
    checks = reserve.get("checks") if isinstance(reserve, Mapping) else None
    names = {
        str(c.get("check"))[len("own_buffer:") :]
        for c in (checks if isinstance(checks, list) else [])
        if isinstance(c, Mapping) and str(c.get("check", "")).startswith("own_buffer:")
    }
    inputs = doc.get("reserve_inputs")
    rows = inputs.get("per_asset") if isinstance(inputs, Mapping) else None
    found: dict[str, tuple[int, int]] = {}
    for i, node in enumerate(rows if isinstance(rows, list) and names else []):
        key = f"reserve_inputs.per_asset[{i}]"
        row = r.obj(node, key)
        code = row.get("code")
        if code in names:
            own = r.units(str(row.get("own_buffer_units")), f"{key}.own_buffer_units")
            found[str(code)] = (own, r.units(str(row.get("hot_units")), f"{key}.hot_units"))
    return tuple(
        dataclasses.replace(a, own_buffer=found[a.code]) if a.code in found else a for a in assets
    )


def _check_holdings(assets: tuple[AssetBase, ...], wallets: tuple[WalletBase, ...]) -> list[str]:
    """A warning for each asset whose wallets' customer backing differs from its holdings
    (a report from another tool, or edited): the engine uses `holdings`."""
    out = []
    for a in assets:
        summed = sum(w.customer.get(a.code, 0) for w in wallets)
        if summed != a.holdings:
            out.append(
                f"{a.code}: the wallets' customer backing ({summed} base units) differs from "
                f"assets[].holdings ({a.holdings}); losses are taken from the wallets"
            )
    return out
