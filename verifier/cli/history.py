"""`por history` and `por db upgrade`: the history database of `por reconcile`.

Finds the database (--db, $POR_DATABASE_URL, the config's [database] url, por.db beside
the config), then reads past runs (verifier/history/view.py) or upgrades the schema
(verifier/history/store.py).
"""

from __future__ import annotations

import logging
from pathlib import Path

import click

from verifier.base.console import err, out, print_json
from verifier.base.errors import EXIT_OK
from verifier.cli.options import JSON_OPTION, db_options, open_store

log = logging.getLogger(__name__)


@click.group("db")
def db_group() -> None:
    """The history database of `por reconcile`."""


@db_group.command("upgrade")
@db_options
@click.option("--revision", default="head", show_default=True, help="Target schema revision.")
@JSON_OPTION
def db_upgrade(config_file: Path | None, db: str | None, revision: str, as_json: bool) -> int:
    """Create the schema, or upgrade a database from an older por to this one's schema.
    Exit 4 for a file that is not a por database (nothing is written to it)."""
    store = open_store(config_file, db, create=True)
    before, after = store.upgrade(revision)
    doc = {"database": store.describe(), "from": before, "to": after}
    if as_json:
        print_json(doc)
    elif before == after:
        err.print(f"{store.describe()}: schema already at revision {after}")
    else:
        err.print(f"{store.describe()}: schema upgraded from {before or 'empty'} to {after}")
    return EXIT_OK


@click.command("history")
@db_options
@click.option("--since", default=None, help="From this ISO 8601 time, or a look-back: 24h, 7d.")
@click.option("--asset", default=None, help="Only this asset's coverage.")
@click.option(
    "--html",
    "html_file",
    type=click.Path(path_type=Path),
    default=None,
    help="Also write an HTML page with coverage and reserve over time as charts.",
)
@JSON_OPTION
def history_cmd(
    config_file: Path | None,
    db: str | None,
    since: str | None,
    asset: str | None,
    html_file: Path | None,
    as_json: bool,
) -> int:
    """Past runs of `por reconcile`: coverage per asset, reserve, and failed runs.
    Exit 0 (also with no runs yet, or no database yet: nothing is created), 4 for a file
    that is not a por database or an older schema (run `por db upgrade`)."""
    from verifier.history.view import (
        history_json,
        parse_since,
        read_payouts,
        read_runs,
        render_history_html,
        render_payouts,
        render_table,
        select_asset,
    )
    from verifier.report.html import write_html

    start = parse_since(since) if since else None
    store = open_store(config_file, db, create=False)
    runs = select_asset(read_runs(store, start), asset.upper() if asset else None)
    payouts = read_payouts(store, start)  # por insolvency payouts runs (issue 15)
    if html_file is not None:
        write_html(html_file, render_history_html(runs, store.describe(), payouts))
    if as_json:
        print_json(history_json(runs, store.describe(), payouts))
    else:
        if runs:
            render_table(runs, out)
        render_payouts(payouts, out)
    if not runs:  # a note, not an error: a new installation has no runs yet
        which = " matching --since/--asset" if since or asset else " yet"
        missing = "" if store.exists() else " (the database does not exist)"
        (err if as_json else out).print(
            f"no runs{which} in {store.describe()}{missing}", markup=False
        )
    if html_file is not None:
        err.print(f"HTML history: {html_file}")
    return EXIT_OK
