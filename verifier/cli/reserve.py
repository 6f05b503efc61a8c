"""`por reserve`: evaluate a reserve statement against a rule pack, from the command line.

Where it sits: the CLI edge of the reserve half of reconciliation. It parses arguments,
loads the pack (`verifier.reserve.pack_file.load_pack`) and the statement
(`verifier.reserve.statement`), builds the what-if holdings from the statement's ``[holdings]``,
calls `verifier.reserve.rules.evaluate`
and renders the result as rich tables or one JSON document (``--json``). The group is
registered on the root `por` command in verifier/cli/main.py.

Exit codes (docs/spec/README.md): 0 the reserve is met and every check passes; 1 a shortfall or a
failed check; 2 usage; 3 invalid input (statement, pack, flag value). Errors are turned
into exit codes here, in one context manager, so the group behaves the same under `por`
and when invoked on its own (tests use click's CliRunner).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from verifier.base.console import err, out, print_json, print_table, print_wrapped
from verifier.base.errors import EXIT_INVALID, EXIT_OK, EXIT_SHORTFALL, InputError, PorError
from verifier.base.redact import mask_text
from verifier.report.figures import readable_text
from verifier.reserve.money import fmt_decimal
from verifier.reserve.pack_file import load_pack
from verifier.reserve.positions import inputs_from_statement
from verifier.reserve.rules import ReserveEvaluation, evaluate
from verifier.reserve.statement import load_statement

DISCLAIMER = (
    "A point-in-time evaluation of the figures declared in the statement, not an audit: "
    "it proves neither that the reserve exists nor that it will be there tomorrow."
)


@contextmanager
def _exit_codes(as_json: bool) -> Iterator[None]:
    """Turn a `PorError` into its message (and JSON document) and its exit code."""
    try:
        yield
    except PorError as exc:
        label = "invalid" if exc.exit_code == EXIT_INVALID else "error"
        message = mask_text(exc.message).encode("utf-8", "backslashreplace").decode("utf-8")
        err.print(f"por reserve: {label}: {message}", markup=False)
        if as_json:
            print_json(exc.to_json())
        click.get_current_context().exit(exc.exit_code)


def _as_of(text: str | None, statement_day: date | None) -> date:
    if text is not None:
        try:
            return date.fromisoformat(text)
        except ValueError as exc:
            raise InputError(
                "--as-of must be a date (YYYY-MM-DD)", key="--as-of", value=text
            ) from exc
    if statement_day is not None:
        return statement_day
    return datetime.now(UTC).date()


def _overrides(pairs: tuple[str, ...]) -> dict[str, str]:
    overrides = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise InputError("give --set NAME=VALUE", key="--set", value=pair)
        overrides[name.strip()] = value
    return overrides


def _amount(value: Decimal) -> str:
    return f"{Decimal(fmt_decimal(value)):,f}"


@click.group("reserve")
def reserve() -> None:
    """Evaluate the off-chain liability reserve (cash, insurance, guarantees) under a rule pack.

    Packs: jp-psa, jp-fsa-2026, hk-sfc, eu-mica, ae-vara, or the path of your own pack
    file. Every parameter carries a status tag: LAW in force, GUIDE regulator guideline,
    PROP reported proposal, PH placeholder pending the final text.
    """


@reserve.command("evaluate")
@click.option("--pack", "pack_name", required=True, help="Rule pack id or pack TOML file.")
@click.option(
    "--statement",
    "statement_file",
    required=True,
    type=click.Path(path_type=Path),
    help="Reserve statement TOML (docs/reserve.md); its [holdings] give the what-if holdings.",
)
@click.option(
    "--as-of",
    default=None,
    help="Evaluation day, YYYY-MM-DD (default: the statement's as_of, else today, UTC).",
)
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="NAME=VALUE",
    help="Override a pack parameter for a what-if (e.g. buffer_credit=false); repeatable.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
def evaluate_cmd(
    pack_name: str,
    statement_file: Path,
    as_of: str | None,
    settings: tuple[str, ...],
    as_json: bool,
) -> int:
    """Required reserve, eligible reserve by component, shortfall or surplus, and checks.

    Exit 0 when the reserve is met and every check passes, 1 on a shortfall or a failed
    check, 3 on bad input.
    """
    with _exit_codes(as_json):
        pack = load_pack(pack_name)
        statement = load_statement(statement_file)
        day = _as_of(as_of, statement.as_of)
        overrides = _overrides(settings)
        if overrides:
            pack = pack.with_overrides(overrides, on=day)
        result = evaluate(pack, statement, inputs_from_statement(statement), as_of=day)
    if as_json:
        print_json({"format": "por-reserve-evaluation-v1", **result.to_json()})
    else:
        _render(result)
    code = EXIT_OK if result.ok else EXIT_SHORTFALL
    click.get_current_context().exit(code)
    return code  # pragma: no cover - exit() raises


def _render(result: ReserveEvaluation) -> None:
    pack, cur = result.pack, result.currency
    out.print(
        f"[bold]Reserve under {escape(pack.id)} {escape(pack.version)}[/bold] "
        f"({escape(pack.name)}), as of {result.as_of}, amounts in {cur}"
    )
    required = Table(title="Required reserve", title_justify="left")
    required.add_column("term")
    required.add_column(cur, justify="right")
    for name, value in result.terms:
        required.add_row(name, _amount(value))
    required.add_row("[bold]required R[/bold]", f"[bold]{_amount(result.required)}[/bold]")
    print_table(out, required)
    print_wrapped(out, readable_text(result.formula), subsequent="  ")

    eligible = Table(title="Eligible reserve", title_justify="left")
    eligible.add_column("kind")
    eligible.add_column("name")
    eligible.add_column("amount", justify="right")
    eligible.add_column("eligible", justify="right")
    eligible.add_column("failed gates")
    for c in result.components:
        failed = "; ".join(f"{g.gate}: {readable_text(g.reason)}" for g in c.failed)
        eligible.add_row(
            c.kind,
            escape(c.name),
            _amount(c.amount),
            _amount(c.eligible),
            f"[red]{escape(failed)}[/red]" if failed else "-",
        )
    eligible.add_row(
        "insurance",
        "credit after the cap",
        f"cap θ·R {_amount(result.insurance_cap)}",
        _amount(result.insurance_credit),
        f"before the cap {_amount(result.insurance_before_cap)}",
    )
    eligible.add_row("[bold]total[/bold]", "", "", f"[bold]{_amount(result.eligible)}[/bold]", "")
    print_table(out, eligible)

    if result.checks:
        checks = Table(title="Checks", title_justify="left")
        for column in ("check", "result", "value", "limit", "status", "reason"):
            checks.add_column(column)
        for check in result.checks:
            checks.add_row(
                check.check,
                "[green]pass[/green]" if check.passed else "[red]FAIL[/red]",
                check.value,
                check.limit,
                str(check.status),
                escape(readable_text(check.reason)),
            )
        print_table(out, checks)

    params = Table(title=f"Parameters of {escape(pack.id)}", title_justify="left")
    for column in ("parameter", "value", "status", "source", "verified on"):
        params.add_column(column)
    for p in pack.parameters:
        params.add_row(
            p.name, escape(p.value_text()), str(p.status), escape(p.source), str(p.verified_on)
        )
    print_table(out, params)
    print_wrapped(out, DISCLAIMER, style="dim")

    # the verdict last, whole on one line (a pipe's `tail -1`)
    if result.met:
        verdict = f"VERDICT: [green]MET[/green]: surplus {cur} {_amount(result.surplus)}"
    else:
        verdict = f"VERDICT: [red]SHORTFALL[/red] {cur} {_amount(result.shortfall)}"
    failed_checks = [c.check for c in result.checks if not c.passed]
    if failed_checks:
        verdict += f"; [red]failed checks[/red]: {escape(', '.join(failed_checks))}"
    out.print(verdict, soft_wrap=True)
