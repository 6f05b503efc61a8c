"""`por stress`: incident scenarios against the latest reconciliation (or a given report).

Where it sits: the CLI edge of verifier/stress/. It finds the report (--report, whose
report_id is checked, else the newest stored run's report in the history database, read
only), the reserve statement (--statement, else the config's ``[reserve] statement``), the
scenario file; calls the engine and the sweep; prints the terminal tables or one
``por-stress-v1`` document (--json), and writes the HTML page (--html, atomically).

Exit codes: 0 every scenario made whole (or only --sweep), 1 a scenario leaves a customer
short, 2 usage, 3 a bad scenario file, report or statement (or no reconciliation yet), 4
the database cannot be read.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from pathlib import Path
from typing import Any

import click

from verifier.base.console import err, out, print_json
from verifier.base.errors import EXIT_OK, EXIT_SHORTFALL, InputError, PorError, UsageError
from verifier.base.outdir import guard_file
from verifier.base.safejson import open_regular
from verifier.cli.options import JSON_OPTION, load_json, now, open_store

log = logging.getLogger(__name__)


def _report_from_file(path: Path) -> dict[str, Any]:
    from verifier.report.document import report_digest

    doc = load_json(path, "report")
    if not isinstance(doc, dict) or doc.get("report") != "por-report-v1":
        raise InputError("not a por-report-v1 document", file=str(path), key="report")
    # por writes every report_id as "sha256:" + report_digest (verifier/report/document.py
    # build_report; no caller passes another id): anything else was edited or is not por's
    stated = doc.get("report_id")
    if stated != report_digest(doc):
        raise InputError(
            "report_id does not match the document: edited after it was made or not a por "
            "report (a por report_id is exactly sha256: and the document's digest)",
            file=str(path),
            key="report_id",
            value=stated[:80] if isinstance(stated, str) else repr(stated)[:80],
        )
    return doc


def _report_from_db(config_file: Path | None, db: str | None) -> tuple[dict[str, Any], str]:
    store = open_store(config_file, db, create=False)
    if not store.ensure_readable():
        raise InputError(f"no reconciliation yet: {store.describe()} holds no runs")
    run = store.last_success()
    if run is None:
        raise InputError(f"no reconciliation yet: {store.describe()} holds no successful run")
    doc = store.report(run.id)
    if doc is None:
        raise InputError(f"no reconciliation yet: run {run.id} in {store.describe()} has no report")
    return doc, f"{store.describe()} run {run.id}"


def _config_path(config_file: Path | None) -> Path | None:
    if config_file is not None:
        return config_file
    return Path("por.toml") if Path("por.toml").is_file() else None


def _statement(statement_file: Path | None, config_file: Path | None) -> tuple[Any, str | None]:
    """The reserve statement (--statement, else the config's) and its SHA-256."""
    from verifier.reserve.statement import load_statement

    path = statement_file
    if path is None and config_file is not None and config_file.is_file():
        from verifier.inputs.config import load_config

        path = load_config(config_file, need_attestation_id=False).reconcile.statement
    if path is None:
        return None, None
    statement = load_statement(path)
    try:
        with open_regular(path, what="reserve statement") as handle:  # never a FIFO's wait
            digest = hashlib.sha256(handle.read()).hexdigest()
    except (OSError, PorError):  # read a moment ago: gone now; the warning is then skipped
        digest = None
    return statement, digest


def _report_pack(report: dict[str, Any], config: Path | None) -> Any:
    """The rule pack the report names (``rule_pack.id``): the built-in pack of that id, or
    the config's ``[reserve] pack``, whichever file has the report's ``input_hashes.pack``
    SHA-256 (any of them when the report records none).

    Raises
    ------
    InputError
        Neither is the pack the report evaluated: the statement given cannot be evaluated
        as the report's reserve was, so its cash cannot be known (exit 3).
    """
    from verifier.jobs.pipeline import _pack_sha256
    from verifier.reserve.pack_file import known_packs, load_pack

    named = report.get("rule_pack")
    pack_id = named.get("id") if isinstance(named, dict) else None
    hashes = report.get("input_hashes")
    wanted = hashes.get("pack") if isinstance(hashes, dict) else None
    candidates = [pack_id] if isinstance(pack_id, str) and pack_id in known_packs() else []
    if config is not None and config.is_file():
        from verifier.inputs.config import load_config

        configured = load_config(config, need_attestation_id=False).reconcile.pack
        if configured is not None:
            candidates.append(str(configured))
    for candidate in candidates:
        try:
            if wanted is None or _pack_sha256(candidate) == wanted:
                return load_pack(candidate)
        except OSError:
            continue  # a pack file gone since: not this one
    raise InputError(
        "the statement given is not the one the report evaluated, and the report's rule "
        f"pack {pack_id!r} is neither built in nor the config's [reserve] pack with the "
        "report's input_hashes.pack: its cash cannot be evaluated (give --config naming "
        "that pack, or the report's own statement)",
        key="rule_pack.id",
        value=str(pack_id)[:80],
    )


def _html_inputs(
    config: Path | None, db: str | None, named: list[tuple[str, Path | None]]
) -> list[tuple[str, Path | None]]:
    """Every file `por stress` reads or must keep, for `guard_file`: the files given on the
    command line (`named`), the config with every file it names (statement, prices, tree,
    scenarios, its history database — `verifier.cli.keys.config_inputs`) and its signing
    key, and the database of --db / $POR_DATABASE_URL when it is a SQLite file."""
    from verifier.base.errors import PorError
    from verifier.cli.keys import config_inputs, key_file_of
    from verifier.history.db_url import database_url

    found: list[tuple[str, Path | None]] = list(named)
    if config is not None and config.is_file():
        found += config_inputs(config)
        with contextlib.suppress(PorError):  # no [attest] key_file: no key to protect
            found.append(("signing key (attest.key_file)", key_file_of(config)))
    if db is not None or os.environ.get("POR_DATABASE_URL"):
        try:
            url = database_url(db, os.environ, None, config)
        except PorError:
            url = ""  # refused below, when the database is opened
        if url.startswith("sqlite:///"):
            file = Path(url[len("sqlite:///") :])
            found += [("history database", file.with_name(file.name + s)) for s in _DB_SUFFIXES]
    return found


_DB_SUFFIXES = ("", "-wal", "-shm", "-journal")


def _write_html(html_file: Path, doc: dict[str, Any]) -> None:
    """The page, as `por reconcile --html` writes its report (verifier/report/html.py
    `write_html`): atomically, creating a missing parent directory."""
    from verifier.report.html import write_html
    from verifier.stress.html import render_stress_html

    write_html(html_file, render_stress_html(doc))


@click.command("stress")
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path),
    default=None,
    envvar="POR_CONFIG",
    show_envvar=True,
    help="por.toml: its [reserve] statement and history database (default $POR_CONFIG, "
    "then ./por.toml).",
)
@click.option(
    "--scenario",
    "scenario_file",
    type=click.Path(path_type=Path),
    default=None,
    help="The scenario file (docs/stress.md; examples in verifier/stress/examples/).",
)
@click.option(
    "--report",
    "report_file",
    type=click.Path(path_type=Path),
    default=None,
    help="A por-report-v1 file (default: the newest run in the history database).",
)
@click.option("--db", default=None, help="The history database (default: the config's).")
@click.option(
    "--statement",
    "statement_file",
    type=click.Path(path_type=Path),
    default=None,
    help="The reserve statement for policy terms (default: the config's).",
)
@click.option(
    "--sweep",
    "do_sweep",
    is_flag=True,
    help="Also rank each wallet's and vendor's largest loss absorbed in full, weakest first.",
)
@click.option("--peril", default="hack", show_default=True, help="The sweep's peril.")
@click.option(
    "--html",
    "html_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the scenarios as one HTML page.",
)
@JSON_OPTION
def stress_cmd(
    config_file: Path | None,
    scenario_file: Path | None,
    report_file: Path | None,
    db: str | None,
    statement_file: Path | None,
    do_sweep: bool,
    peril: str,
    html_file: Path | None,
    as_json: bool,
) -> int:
    """What if a wallet, a class of wallets or a vendor's wallets were drained tomorrow?
    Pays each scenario's loss from surplus, cash, insurance and guarantees (never netted
    across assets). Exit 0 every customer made whole, 1 not, 3 bad input."""
    from verifier.stress.base import reevaluate_reserve, statement_is_the_reports, stress_base
    from verifier.stress.document import stress_document
    from verifier.stress.engine import evaluate_all
    from verifier.stress.scenario import PERIL_RE, load_scenarios
    from verifier.stress.sweep import sweep
    from verifier.stress.terminal import render_stress

    if scenario_file is None and not do_sweep:
        raise UsageError("give --scenario FILE, --sweep, or both")
    if not PERIL_RE.fullmatch(peril):
        raise UsageError(f"--peril {peril!r} is not a peril name (lower case, e.g. hack)")
    config = _config_path(config_file)
    if html_file is not None:
        named = [
            ("scenario file", scenario_file),
            ("report", report_file),
            ("statement", statement_file),
            ("config file", config),
        ]
        guard_file(html_file, _html_inputs(config, db, named), flag="--html")
    scenarios = load_scenarios(scenario_file).scenarios if scenario_file is not None else ()
    if report_file is not None:
        report, source = _report_from_file(report_file), str(report_file)
    else:
        report, source = _report_from_db(config, db)
    statement, digest = _statement(statement_file, config)
    reserve = None
    if (
        statement is not None
        and report.get("reserve") is not None
        and not statement_is_the_reports(report, digest)
    ):
        # every cash figure must come from the statement modelled: evaluate it as the
        # report's reserve was evaluated (which deposits count, and how much)
        pack = _report_pack(report, config)
        reserve = reevaluate_reserve(report, statement, pack, source=source)
    base = stress_base(report, statement, source=source, statement_sha256=digest, reserve=reserve)
    result = evaluate_all(base, scenarios)
    doc = stress_document(
        result, sweep(base, peril=peril) if do_sweep else None, generated_at=now()
    )
    if html_file is not None:
        _write_html(html_file, doc)
    if as_json:
        print_json(doc)
    else:
        render_stress(doc, out)
    if html_file is not None:
        err.print(f"HTML scenarios: {html_file}", markup=False)
    return EXIT_OK if result.made_whole else EXIT_SHORTFALL
