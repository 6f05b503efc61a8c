"""The coverage report: one JSON document (``por-report-v1``) and its terminal rendering.

Where it sits: the last step of the flow. `build_report` turns a
`verifier.reconcile.coverage.Reconciliation` (plus the hashes of the inputs and the time, which
the caller supplies: this module reads no clock and no file) into the report document
that docs/report.md specifies field by field; `render_terminal` draws that document with
rich tables; verifier/report/html.py renders the same document as one HTML file. Both
renderings read only the document, so a saved report renders exactly as a fresh one.

Invariants: amounts are decimal strings, base units integer strings, never floats; every
figure in the document comes from the reconciliation unchanged; every report carries the
statement of what the check proves and what it does not (DESIGN.md, "Coverage";
RULES.md: the PCAOB and SEC warnings that a proof of reserves is not an audit).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, localcontext
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from verifier.base.errors import InputError
from verifier.reconcile.coverage import (
    DISPLAY,
    EXACT,
    AssetCoverage,
    Reconciliation,
    dec_str,
    percent_of,
    units_json,
)

REPORT_FORMAT = "por-report-v1"
COMBINED_FORMULA = (
    "(sum over assets of min(holdings, liabilities) x price + eligible reserve)"
    " / (sum over assets of liabilities x price)"
)
_SHA256 = re.compile(r"[0-9a-f]{64}")
_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")


# ----------------------------------------------------------------------------- the statement


def statement(rec: Reconciliation) -> dict[str, list[str]]:
    """What a pass proves and what it does not, in plain words, for this reconciliation.

    Parameters
    ----------
    rec
        The reconciliation the report is about.

    Returns
    -------
    dict
        ``{"proves": [...], "does_not_prove": [...]}``, sentences.
    """
    blocks = "; ".join(
        f"{c.chain} {c.network} block {c.height} ({c.block_hash})" for c in rec.chains
    )
    sources = sorted({f"{p.source} at {p.time}" for p in rec.prices.values()})
    commitment = rec.liabilities.commitment or "(no commitment given)"
    proves = [
        f"At the pinned blocks only ({blocks or 'none'}), the listed addresses held the "
        "listed balances, as read from the verifier's own nodes.",
        *_ownership_proves(rec),
        f"The liabilities are the per-asset totals the exchange committed to in its Merkle "
        f"sum tree (commitment {commitment}); each customer can check that their own "
        "balances are included with their inclusion proof.",
        "Coverage is computed per asset (a surplus in one asset never offsets a shortfall in "
        "another) and, combined, at the stated prices with the eligible off-chain reserve "
        "as the rule pack assessed it.",
    ]
    does_not = [
        "This is a point-in-time check, not an audit. The PCAOB (investor advisory, 8 March "
        "2023) and SEC staff have warned that proof-of-reserves reports are not audits and "
        "give no assurance about an exchange's solvency or its controls.",
        "Balances are proven at the pinned blocks only: assets may have been borrowed before "
        "and returned after, and nothing is said about any other moment.",
        "Ownership means control of the keys when the message was signed, not exclusive "
        "control: the same coins may be pledged, lent, encumbered or claimed by someone else, "
        "and keys may be shared.",
        *_epoch_does_not_prove(rec),
        "Liabilities are what the exchange committed to. Inclusion proofs show that an "
        "account was included, not that every account, or every other obligation of the "
        "exchange (loans, fees, off-tree balances), was; completeness is not proven.",
        "Values use the prices given"
        + (f" ({'; '.join(sources)})" if sources else "")
        + "; market prices move, and a large holding may not be saleable at them.",
        "The off-chain reserve (cash, insurance, guarantees) is taken from the exchange's "
        "statement and assessed by the rule pack; this tool does not confirm it with banks, "
        "trustees or insurers.",
        "Unproven and custodial holdings are excluded from coverage"
        + (" (custodial ones were counted here, as configured)" if rec.count_custodial else "")
        + "; the exchange's own holdings never count as customer backing.",
    ]
    return {"proves": proves, "does_not_prove": does_not}


def _epoch_holdings(rec: Reconciliation) -> list[Any]:
    return [h for h in rec.holdings if h.epoch is not None]


def _ownership_proves(rec: Reconciliation) -> list[str]:
    """What a proven address shows: today's challenge names the pinned block; an epoch
    proof names a block the signer saw, earlier than the pinned one."""
    point = (
        "For each address marked proven, the holder of its keys signed a message naming this "
        "exchange, this attestation and the pinned block, so the signature cannot be an old "
        "one or another exchange's."
    )
    epochs = _epoch_holdings(rec)
    if not epochs:
        return [point]
    ids = ", ".join(sorted({str(h.epoch["id"]) for h in epochs}))
    sentences = [
        f"For each address proven by an ownership epoch ({ids}), the holder of its keys signed "
        "a message naming this exchange, the epoch and an epoch block on this chain, so the "
        "signature was made at or after that block and is not another exchange's; it was "
        "accepted because it is younger than the maximum age"
        + (f" ({_max_age_words(rec.max_age)})" if rec.max_age else "")
        + ". Older ones are reported stale and counted as unproven."
    ]
    if len(epochs) < len(rec.holdings):
        sentences.insert(0, point.replace("each address marked", "each other address marked"))
    return sentences


def _max_age_words(max_age: Mapping[str, Any]) -> str:
    from verifier.base.console import plural

    days = max_age.get("days")
    text = f"{plural(days, 'day') if isinstance(days, int) else f'{days} days'}, "
    text += f"{max_age.get('source')}"
    blocks = max_age.get("blocks") or {}
    if blocks:
        text += "; " + ", ".join(
            f"{chain} {plural(n, 'block') if isinstance(n, int) else f'{n} blocks'}"
            for chain, n in sorted(blocks.items())
        )
    return text


def _epoch_does_not_prove(rec: Reconciliation) -> list[str]:
    if not _epoch_holdings(rec):
        return []
    return [
        "An epoch signature shows control of the key when it was signed (at or after the "
        "epoch block), not at the pinned block: the keys may have changed hands since. The "
        "maximum age applied"
        + (f" ({_max_age_words(rec.max_age)})" if rec.max_age else "")
        + " limits how old that control may be, it does not close the gap."
    ]


# ----------------------------------------------------------------------------- the document


def _amount(a: AssetCoverage, units: int) -> dict[str, str | None]:
    value = a.value(units)
    return {**units_json(units, a.decimals), "value": None if value is None else dec_str(value)}


def _ratio(value: Decimal | None) -> str | None:
    return None if value is None else dec_str(value)


def _asset(a: AssetCoverage) -> dict[str, Any]:
    return {
        "code": a.code,
        "decimals": a.decimals,
        "price": None if a.price is None else dec_str(a.price.value),
        "liabilities": _amount(a, a.liabilities),
        "holdings": _amount(a, a.holdings),
        "by_class": {
            "cold": _amount(a, a.cold),
            "hot": _amount(a, a.hot),
            "other": _amount(a, a.other),
        },
        "custodial": _amount(a, a.custodial),
        "custodial_counted": a.counted_custodial,
        "unproven": _amount(a, a.unproven),
        "own_buffer": _amount(a, a.own_buffer),
        "own_other": _amount(a, a.own_other),
        "coverage_ratio": _ratio(a.ratio),
        "coverage_note": "no liabilities" if a.liabilities == 0 else None,
        "threshold": dec_str(a.threshold),
        "covered": a.covered,
        "shortfall": _amount(a, a.shortfall),
        "surplus": _amount(a, a.surplus),
        "cold_share": _ratio(a.cold_share),
    }


def _totals(rec: Reconciliation) -> dict[str, Any]:
    by_class = rec.value_by_class()
    owed = Decimal(0)
    held = Decimal(0)
    buffer = Decimal(0)
    with localcontext(EXACT):
        for a in rec.assets:
            owed += a.value(a.liabilities) or Decimal(0)
            held += a.value(a.holdings) or Decimal(0)
            buffer += a.value(a.own_buffer) or Decimal(0)
    return {
        "liabilities_value": dec_str(owed),
        "holdings_value": dec_str(held),
        "value_by_class": {name: dec_str(v) for name, v in by_class.items()},
        "own_buffer_value": dec_str(buffer),
        "cold_share": _ratio(rec.cold_share()),
    }


def _combined(rec: Reconciliation) -> dict[str, Any]:
    c = rec.combined
    return {
        "currency": c.currency,
        "formula": COMBINED_FORMULA,
        "liabilities_value": dec_str(c.liabilities_value),
        "capped_holdings_value": dec_str(c.capped_holdings_value),
        "eligible_reserve": dec_str(c.eligible_reserve),
        "numerator": dec_str(c.numerator),
        "ratio": _ratio(c.ratio),
        "threshold": dec_str(c.threshold),
        "met": c.met,
    }


def _rule_pack(rec: Reconciliation) -> dict[str, Any] | None:
    if rec.reserve is None:
        return None
    pack = rec.reserve.document.get("pack", {})
    return {
        "id": rec.reserve.pack_id,
        "version": rec.reserve.pack_version,
        "name": str(pack.get("name", "")),
        "currency": rec.reserve.currency,
    }


def _jsonable(value: Any) -> Any:
    """A copy of the evaluation as plain JSON (Decimal as a string, never a float)."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return dec_str(value)
    if isinstance(value, float):
        raise InputError("the reserve evaluation contains a float", value=repr(value))
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


def build_report(
    rec: Reconciliation,
    *,
    generated_at: str,
    input_hashes: Mapping[str, str],
    report_id: str | None = None,
) -> dict[str, Any]:
    """The ``por-report-v1`` document of a reconciliation (docs/report.md).

    Parameters
    ----------
    rec
        The result of `verifier.reconcile.coverage.reconcile`.
    generated_at
        When the report was made, ISO 8601 (the caller reads the clock).
    input_hashes
        Input name -> SHA-256, lowercase hex (``por.toml``, ``prices``, ``statement``,
        ``pack``, ``root.json``, ...).
    report_id
        An id for the report; by default ``"sha256:"`` + the SHA-256 of the document's
        canonical JSON without it, so the same inputs give the same id.

    Returns
    -------
    dict
        The report document; `json.dumps` serialises it as it is.

    Raises
    ------
    InputError
        An input hash that is not 64 lowercase hex digits.
    """
    for name, digest in input_hashes.items():
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            raise InputError("expected a SHA-256 in lowercase hex", key=f"input_hashes.{name}")
    decimals = rec.decimals()
    doc: dict[str, Any] = {
        "report": REPORT_FORMAT,
        "report_id": "",
        "generated_at": generated_at,
        "exchange": rec.exchange,
        "attestation": {
            "id": rec.liabilities.attestation_id,
            "as_of": rec.liabilities.as_of,
            "commitment": rec.liabilities.commitment,
        },
        "snapshot_taken_at": rec.snapshot_taken_at,
        "input_hashes": {name: input_hashes[name] for name in sorted(input_hashes)},
        "currency": rec.currency,
        "prices": {
            code: {
                "value": dec_str(price.value),
                "currency": price.currency,
                "source": price.source,
                "time": price.time,
            }
            for code, price in sorted(rec.prices.items())
        },
        "chains": [pin.to_json() for pin in rec.chains],
        "rule_pack": _rule_pack(rec),
        "settings": {
            "thresholds": rec.thresholds.to_json(),
            "count_custodial": rec.count_custodial,
            "ownership_max_age": None if rec.max_age is None else dict(rec.max_age),
            "own_buffer_rule": None
            if rec.own_buffer_rule is None
            else rec.own_buffer_rule.to_json(),
        },
        "assets": [_asset(a) for a in rec.assets],
        "totals": _totals(rec),
        "combined": _combined(rec),
        "reserve": None if rec.reserve is None else _jsonable(rec.reserve.document),
        "reserve_inputs": _jsonable(rec.reserve_inputs),
        "wallets": [h.to_json(decimals) for h in rec.holdings],
        "verdict": {
            "covered": rec.covered,
            "reserve_met": rec.reserve_met,
            "combined_met": rec.combined.met,
            "exit_code": rec.exit_code,
            "breaches": [b.to_json() for b in rec.breaches],
        },
        "warnings": list(rec.warnings),
        "statement": statement(rec),
    }
    if report_id is None:
        canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        report_id = "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    doc["report_id"] = report_id
    return doc


# ----------------------------------------------------------------------------- display helpers


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


def _text(value: Any) -> Text:
    """User-supplied text as a rich Text (never parsed as markup)."""
    return Text("" if value is None else str(value))


def _amount_cell(pair: Mapping[str, Any] | None) -> str:
    if not pair:
        return ""
    return str(pair.get("amount", ""))


def _failed_gates(component: Mapping[str, Any]) -> list[str]:
    gates = component.get("gates") or []
    return [
        f"{g.get('gate', '?')}: {g.get('reason', 'failed')}"
        for g in gates
        if isinstance(g, Mapping) and g.get("passed") is False
    ]


def component_credit(component: Mapping[str, Any]) -> str:
    """The amount a reserve component contributes: its ``eligible`` amount, or (when
    ``eligible`` is a yes/no) its ``amount`` if eligible and 0 if not."""
    eligible = component.get("eligible")
    if isinstance(eligible, bool):
        return str(component.get("amount", "0")) if eligible else "0"
    if eligible is None:
        return "0"
    return str(eligible)


# ----------------------------------------------------------------------------- terminal


def render_terminal(report_doc: Mapping[str, Any], console: Console) -> None:
    """Draw a ``por-report-v1`` document for a person: tables where they fit the console,
    ``label: value`` lists where they do not (verifier/base/console.py), never a figure cut or
    split; the verdict is the last line (its breaches and the limits of the check come
    before it), so ``| tail -1`` is the answer.

    Parameters
    ----------
    report_doc
        A document from `build_report` (or one read back from JSON).
    console
        Where to draw (verifier.base.console.err or .out, or a recording console in tests).
    """
    from verifier.base.console import plural, print_table, print_wrapped

    doc = report_doc
    currency = str(doc.get("currency", ""))
    attestation = doc.get("attestation") or {}
    console.print(
        Text.assemble(("Proof of reserves: ", "bold"), str(doc.get("exchange", ""))),
        soft_wrap=True,
    )
    print_wrapped(console, f"attestation {attestation.get('id')}")
    print_wrapped(console, f"report {doc.get('report_id')}")
    print_wrapped(console, f"generated {doc.get('generated_at')}  currency {currency}")

    blocks = Table(title="Pinned blocks", title_justify="left")
    for column in ("chain", "network", "height", "block hash"):
        blocks.add_column(column)
    for pin in doc.get("chains", []):
        blocks.add_row(
            _text(pin.get("chain")),
            _text(pin.get("network")),
            str(pin.get("height")),
            _text(pin.get("block_hash")),
        )
    print_table(console, blocks)

    assets = Table(title="Coverage per asset (never netted across assets)", title_justify="left")
    for column in ("asset", "liabilities", "proven cold", "proven hot", "proven other"):
        assets.add_column(column, justify="right" if column != "asset" else "left")
    for column in ("excluded", "own buffer", "ratio", "minimum", "shortfall", "status"):
        assets.add_column(column, justify="right" if column != "status" else "left")
    for a in doc.get("assets", []):
        by_class = a.get("by_class", {})
        excluded = []
        if a.get("unproven", {}).get("base_units", "0") != "0":
            excluded.append(f"unproven {_amount_cell(a.get('unproven'))}")
        if a.get("custodial", {}).get("base_units", "0") != "0" and not a.get("custodial_counted"):
            excluded.append(f"custodial {_amount_cell(a.get('custodial'))}")
        status = (
            Text("covered", style="green") if a.get("covered") else Text("BREACH", style="bold red")
        )
        ratio = a.get("coverage_ratio")
        assets.add_row(
            _text(a.get("code")),
            _amount_cell(a.get("liabilities")),
            _amount_cell(by_class.get("cold")),
            _amount_cell(by_class.get("hot")),
            _amount_cell(by_class.get("other")),
            "\n".join(excluded),
            _amount_cell(a.get("own_buffer")),
            percent(ratio) if ratio is not None else str(a.get("coverage_note") or "n/a"),
            percent(a.get("threshold")),
            _amount_cell(a.get("shortfall")),
            status,
        )
    print_table(console, assets)
    totals = doc.get("totals", {})
    print_wrapped(
        console,
        f"cold share (value): {percent(totals.get('cold_share'))}   customer value by class: "
        + ", ".join(
            f"{name} {money(v)}" for name, v in (totals.get("value_by_class") or {}).items()
        )
        + f" {currency}",
        subsequent="  ",
    )

    reserve = doc.get("reserve")
    if reserve:
        _render_reserve(reserve, console)

    combined = doc.get("combined", {})
    print_wrapped(
        console,
        f"Combined coverage: {percent(combined.get('ratio'))} "
        f"(minimum {percent(combined.get('threshold'))}) = "
        f"({money(combined.get('capped_holdings_value'))} capped holdings"
        f" + {money(combined.get('eligible_reserve'))} eligible reserve)"
        f" / {money(combined.get('liabilities_value'))} {currency} liabilities",
        subsequent="  ",
    )

    _render_proofs(doc, console)
    for warning in doc.get("warnings", []):
        print_wrapped(console, f"warning: {warning}", subsequent="  ", style="yellow")
    not_proven = (doc.get("statement") or {}).get("does_not_prove") or []
    if not_proven:
        console.print(Text("What this does not prove:", style="bold"))
        for sentence in not_proven:
            print_wrapped(console, f"  - {sentence}", subsequent="    ")
    verdict = doc.get("verdict", {})
    breaches = verdict.get("breaches", []) if verdict.get("exit_code") != 0 else []
    if breaches:
        console.print(Text("Breaches:", style="bold red"))
        for breach in breaches:
            print_wrapped(console, f"  - {breach.get('message')}", subsequent="    ", style="red")
    # the answer last: a pipe's `tail -1` and a person's eye both land on it
    if verdict.get("exit_code") == 0:
        console.print(Text("VERDICT: COVERED (exit 0)", style="bold green"), soft_wrap=True)
    else:
        listed = f"; {plural(len(breaches), 'breach')} listed above" if breaches else ""
        console.print(
            Text(
                f"VERDICT: NOT COVERED (exit {verdict.get('exit_code')}){listed}", style="bold red"
            ),
            soft_wrap=True,
        )


def _age_text(age: Any) -> str:
    """ "500 blocks (1 min)" from a report's ``ownership.age`` ("" when there is none)."""
    if not isinstance(age, Mapping) or not isinstance(age.get("blocks"), int):
        return ""
    blocks = int(age["blocks"])
    text = f"{blocks} block{'' if blocks == 1 else 's'}"
    seconds = age.get("seconds")
    if isinstance(seconds, int) and not isinstance(seconds, bool):
        from verifier.holdings.ownership import duration

        text += f" ({duration(seconds).replace(' ', '')})"  # compact: never split by a wrap
    return text


def _render_proofs(doc: Mapping[str, Any], console: Console) -> None:
    """Every address whose holdings are not counted as proven — label, chain, address,
    status (a stale one with its age) and the reason (a stale one's names its limit) — then
    the epoch proofs' ages in one line per epoch: an operator sees why coverage fell, not
    only that an "unproven" figure grew."""
    from verifier.base.console import plural, print_table, print_wrapped

    wallets = [w for w in doc.get("wallets") or [] if isinstance(w, Mapping)]

    def ownership(wallet: Mapping[str, Any]) -> Mapping[str, Any]:
        found = wallet.get("ownership")
        return found if isinstance(found, Mapping) else {}

    missing = [w for w in wallets if ownership(w).get("status") != "proven"]
    if missing:
        table = Table(
            title=f"Not proven: {plural(len(missing), 'address')}, not counted as proven holdings",
            title_justify="left",
        )
        for column in ("label", "chain", "address", "status", "reason"):
            table.add_column(column)
        for wallet in missing:
            own = ownership(wallet)
            status = str(own.get("status") or "unproven")
            stale_age = _age_text(own.get("age"))
            shown = f"{status}, age {stale_age}" if status == "stale" and stale_age else status
            table.add_row(
                _text(wallet.get("label") or wallet.get("wallet")),
                _text(wallet.get("chain")),
                _text(wallet.get("address")),
                Text(shown, style="yellow" if status == "custodial" else "red"),
                _text(own.get("reason")),
            )
        print_table(console, table)
    # epoch proofs: one line per epoch, the largest age per chain (one epoch block per
    # chain, so its proofs share it), with the limits they are held to
    ages: dict[str, dict[str, str]] = {}
    oldest: dict[tuple[str, str], int] = {}
    for wallet in wallets:
        own = ownership(wallet)
        epoch, age = own.get("epoch"), own.get("age")
        if own.get("status") != "proven" or not isinstance(epoch, Mapping):
            continue
        text = _age_text(age)
        chain = str(wallet.get("chain"))
        blocks = int(age["blocks"]) if text and isinstance(age, Mapping) else -1
        key = (str(epoch.get("id")), chain)
        if text and blocks >= oldest.get(key, -1):
            oldest[key] = blocks
            ages.setdefault(key[0], {})[chain] = text
    if ages:
        limits = (doc.get("settings") or {}).get("ownership_max_age") or {}
        limit = []
        if isinstance(limits, Mapping) and limits.get("days") is not None:
            days = limits.get("days")
            limit.append(plural(days, "day") if isinstance(days, int) else f"{days} days")
        per_chain = limits.get("blocks") if isinstance(limits, Mapping) else None
        if isinstance(per_chain, Mapping):
            limit += [
                f"{chain} {plural(n, 'block') if isinstance(n, int) else f'{n} blocks'}"
                for chain, n in sorted(per_chain.items())
            ]
        maximum = f"; maximum age {', '.join(limit)}" if limit else ""
        for epoch_id, by_chain in sorted(ages.items()):
            print_wrapped(
                console,
                f"Proof ages (epoch {epoch_id}): "
                + ", ".join(f"{chain} {text}" for chain, text in sorted(by_chain.items()))
                + maximum,
                subsequent="  ",
            )


def _render_reserve(reserve: Mapping[str, Any], console: Console) -> None:
    from verifier.base.console import print_table, print_wrapped

    pack = reserve.get("pack") or {}
    currency = str(pack.get("currency", ""))
    required = reserve.get("required") or {}
    eligible = reserve.get("eligible") or {}
    table = Table(
        title=f"Liability reserve: {pack.get('id')} {pack.get('version')} ({currency})",
        title_justify="left",
    )
    table.add_column("component")
    table.add_column("kind")
    table.add_column("amount", justify="right")
    table.add_column("eligible", justify="right")
    table.add_column("failed gates")
    components: Sequence[Any] = eligible.get("components") or []
    for component in components:
        gates = _failed_gates(component)
        table.add_row(
            _text(component.get("name")),
            _text(component.get("kind")),
            money(_str_or_none(component.get("amount"))),
            money(component_credit(component)),
            Text("\n".join(gates), style="red") if gates else Text(""),
        )
    table.add_section()
    table.add_row("eligible total", "", "", money(_str_or_none(eligible.get("total"))), "")
    table.add_row("required", "", "", money(_str_or_none(required.get("amount"))), "")
    if reserve.get("met"):
        table.add_row(
            Text("surplus", style="green"), "", "", money(_str_or_none(reserve.get("surplus"))), ""
        )
    else:
        table.add_row(
            Text("SHORTFALL", style="bold red"),
            "",
            "",
            money(_str_or_none(reserve.get("shortfall"))),
            "",
        )
    print_table(console, table)
    if required.get("formula"):
        print_wrapped(console, f"required = {required.get('formula')}", subsequent="  ")
    checks = reserve.get("checks") or []
    if checks:
        check_table = Table(title="Rule-pack checks", title_justify="left")
        for column in ("check", "value", "limit", "status", "result", "reason"):
            check_table.add_column(column)
        for check in checks:
            passed = check.get("passed")
            check_table.add_row(
                _text(check.get("check")),
                _text(check.get("value")),
                _text(check.get("limit")),
                _text(check.get("status")),
                Text("pass", style="green") if passed else Text("FAIL", style="bold red"),
                _text(check.get("reason")),
            )
        print_table(console, check_table)


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
