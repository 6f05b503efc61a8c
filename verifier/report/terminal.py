"""The coverage report for a person at a terminal: a ``por-report-v1`` document as rich tables.

Where it sits: beside verifier/report/html.py, at the end of the flow; reads only the
document verifier/report/document.py builds (or one read back from JSON), so a saved
report draws exactly as a fresh one. `por reconcile` (verifier/cli/main.py) and `por demo`
(verifier/tools/demo.py) call it.

Invariants: tables where they fit the console, ``label: value`` lists where they do not
(verifier/base/console.py), never a figure cut or split; text from the document is never
parsed as markup; the verdict is the last line, so ``| tail -1`` is the answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from verifier.base.console import plural, print_table, print_wrapped
from verifier.holdings.ownership import duration
from verifier.report.figures import (
    component_credit,
    largest_vendor,
    mixed_wallet_rows,
    money,
    pct,
    readable_text,
)


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
        f"{g.get('gate', '?')}: {readable_text(g.get('reason', 'failed'))}"
        for g in gates
        if isinstance(g, Mapping) and g.get("passed") is False
    ]


def render_terminal(report_doc: Mapping[str, Any], console: Console) -> None:
    """Draw a ``por-report-v1`` document for a person: tables where they fit the console,
    ``label: value`` lists where they do not (verifier/base/console.py), never a figure cut or
    split; the verdict is the last line (its breaches and the limits of the check come
    before it), so ``| tail -1`` is the answer.

    Parameters
    ----------
    report_doc
        A document from `verifier.report.document.build_report` (or one read back from JSON).
    console
        Where to draw (verifier.base.console.err or .out, or a recording console in tests).
    """
    doc = report_doc
    currency = str(doc.get("currency", ""))
    _render_header(doc, currency, console)
    _render_assets(doc, currency, console)
    reserve = doc.get("reserve")
    if reserve:
        _render_reserve(reserve, console)
    _render_combined(doc.get("combined", {}), currency, console)
    _render_concentration(doc, console)
    _render_proofs(doc, console)
    for warning in doc.get("warnings", []):
        print_wrapped(console, f"warning: {warning}", subsequent="  ", style="yellow")
    not_proven = (doc.get("statement") or {}).get("does_not_prove") or []
    if not_proven:
        console.print(Text("What this does not prove:", style="bold"))
        for sentence in not_proven:
            print_wrapped(console, f"  - {sentence}", subsequent="    ")
    _render_verdict(doc.get("verdict", {}), console)


def _render_header(doc: Mapping[str, Any], currency: str, console: Console) -> None:
    """Exchange, attestation, report id and time, then the pinned blocks."""
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


def _render_assets(doc: Mapping[str, Any], currency: str, console: Console) -> None:
    """One row per asset (never netted across assets), then the cold share and the customer
    value by class."""
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
            pct(ratio) if ratio is not None else str(a.get("coverage_note") or "n/a"),
            pct(a.get("threshold")),
            _amount_cell(a.get("shortfall")),
            status,
        )
    print_table(console, assets)
    totals = doc.get("totals", {})
    print_wrapped(
        console,
        f"cold share (value): {pct(totals.get('cold_share'))}   customer value by class: "
        + ", ".join(
            f"{name} {money(v)}" for name, v in (totals.get("value_by_class") or {}).items()
        )
        + f" {currency}",
        subsequent="  ",
    )


def _render_combined(combined: Mapping[str, Any], currency: str, console: Console) -> None:
    print_wrapped(
        console,
        f"Combined coverage: {pct(combined.get('ratio'))} "
        f"(minimum {pct(combined.get('threshold'))}) = "
        f"({money(combined.get('capped_holdings_value'))} capped holdings"
        f" + {money(combined.get('eligible_reserve'))} eligible reserve)"
        f" / {money(combined.get('liabilities_value'))} {currency} liabilities",
        subsequent="  ",
    )


def _render_verdict(verdict: Mapping[str, Any], console: Console) -> None:
    """The breaches, then the verdict as the very last line."""
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
        text += f" ({duration(seconds).replace(' ', '')})"  # compact: never split by a wrap
    return text


def _render_proofs(doc: Mapping[str, Any], console: Console) -> None:
    """Every address whose holdings are not counted as proven — label, chain, address,
    status (a stale one with its age) and the reason (a stale one's names its limit) — then
    the epoch proofs' ages in one line per epoch: an operator sees why coverage fell, not
    only that an "unproven" figure grew."""
    wallets = [w for w in doc.get("wallets") or [] if isinstance(w, Mapping)]
    _render_unproven(wallets, console)
    _render_proof_ages(wallets, (doc.get("settings") or {}).get("ownership_max_age"), console)


def _ownership(wallet: Mapping[str, Any]) -> Mapping[str, Any]:
    found = wallet.get("ownership")
    return found if isinstance(found, Mapping) else {}


def _render_unproven(wallets: list[Mapping[str, Any]], console: Console) -> None:
    missing = [w for w in wallets if _ownership(w).get("status") != "proven"]
    if not missing:
        return
    table = Table(
        title=f"Not proven: {plural(len(missing), 'address')}, not counted as proven holdings",
        title_justify="left",
    )
    for column in ("label", "chain", "address", "status", "reason"):
        table.add_column(column)
    for wallet in missing:
        own = _ownership(wallet)
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


def _render_proof_ages(wallets: list[Mapping[str, Any]], limits: Any, console: Console) -> None:
    """One line per epoch: the largest age per chain (one epoch block per chain, so its
    proofs share it), with the limits they are held to (`limits`: the report's
    ``settings.ownership_max_age``)."""
    ages: dict[str, dict[str, str]] = {}
    oldest: dict[tuple[str, str], int] = {}
    for wallet in wallets:
        own = _ownership(wallet)
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
    if not ages:
        return
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
        print_wrapped(
            console, f"required = {readable_text(required.get('formula'))}", subsequent="  "
        )
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
                readable_text(check.get("reason")),
            )
        print_table(console, check_table)


def _render_concentration(doc: Mapping[str, Any], console: Console) -> None:
    """Customer holdings by vendor (value, share, notified), then by custodian, then the
    largest wallet, the largest vendor and each mixed wallet's own and customer coins:
    where one failure would hit hardest."""
    conc = doc.get("concentration")
    if not isinstance(conc, Mapping) or not conc.get("by_vendor"):
        return
    currency = str(conc.get("currency", ""))
    table = Table(
        title=f"Concentration: customer holdings by vendor ({currency})", title_justify="left"
    )
    for column, justify in (
        ("vendor", "left"),
        ("kind", "left"),
        ("notified", "left"),
        ("value", "right"),
        ("share", "right"),
        ("wallets", "left"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for row in conc.get("by_vendor") or []:
        if not isinstance(row, Mapping):
            continue
        vendor = row.get("vendor")
        name = row.get("name")
        shown = str(name) if vendor is None else f"{vendor} ({name})" if name else str(vendor)
        notified = row.get("notified")
        table.add_row(
            _text(shown),
            _text(row.get("kind") or ""),
            Text("") if vendor is None else _text(notified) if notified else Text("no", "red"),
            money(row.get("value")),
            pct(row.get("share")),
            _text(", ".join(str(w) for w in row.get("wallets") or [])),
        )
    print_table(console, table)
    custodians = [r for r in conc.get("by_custodian") or [] if isinstance(r, Mapping)]
    if custodians:
        print_wrapped(
            console,
            "By custodian: "
            + "; ".join(
                f"{readable_text(r.get('custodian'))} {money(r.get('value'))} "
                f"({pct(r.get('share'))})"
                for r in custodians
            ),
            subsequent="  ",
        )
    largest = conc.get("largest_wallet")
    if isinstance(largest, Mapping):
        label = largest.get("label")
        print_wrapped(
            console,
            f"Largest wallet: {readable_text(largest.get('wallet'))}"
            + (f" ({readable_text(label)})" if label else "")
            + f" {money(largest.get('value'))} {currency} ({pct(largest.get('share'))})",
            subsequent="  ",
        )
    top = largest_vendor(conc, currency)
    if top is not None:
        print_wrapped(console, f"Largest vendor: {top}", subsequent="  ")
    _render_mixed(doc, conc, console)


def _render_mixed(doc: Mapping[str, Any], conc: Mapping[str, Any], console: Console) -> None:
    """Each mixed wallet's customer and own coins per asset (its own coins back no one)."""
    rows = mixed_wallet_rows(doc)
    if not rows:
        mixed = conc.get("mixed_wallets") or []
        if mixed:
            print_wrapped(
                console,
                "Mixed wallets (own and customer coins): " + ", ".join(str(w) for w in mixed),
                subsequent="  ",
                style="yellow",
            )
        return
    table = Table(
        title="Mixed wallets: customer and own coins (own back no customer)",
        title_justify="left",
        title_style="yellow",
    )
    for column, justify in (
        ("wallet", "left"),
        ("label", "left"),
        ("asset", "left"),
        ("customer", "right"),
        ("own", "right"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        table.add_row(*(_text(cell) for cell in row))
    print_table(console, table)


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
