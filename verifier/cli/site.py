"""Click commands `por publish` and `por serve` (registered by verifier/cli/main.py).

`publish` builds the static attestation site (verifier/site/publish.py) from an attestation
directory; `serve` serves a built site with its read-only JSON API (verifier/site/serve.py), for
local preview or for exchanges that prefer to serve it themselves. Errors are raised as
`PorError`s and turned into messages and exit codes by ``verifier.cli.main.main``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from verifier.base.console import out, plural, print_json, print_json_line
from verifier.base.errors import EXIT_OK, PorError, UsageError
from verifier.base.redact import mask_text

log = logging.getLogger(__name__)


@click.command(
    "publish",
    short_help="Build the static attestation site: summary, charts, downloads, and in-browser "
    "proof checks.",
)
@click.argument("attestation_dir", type=click.Path(path_type=Path, file_okay=False, dir_okay=True))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Site directory to create (an earlier site there is replaced atomically).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Replace OUT even if it is not a por site (never one holding the attestation, "
    "a key or a secret).",
)
@click.option(
    "--stress",
    "stress",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A por-stress-v1 document (`por stress --json`) evaluated against this report: "
    "published as stress.json with a Scenarios page.",
)
@click.option(
    "--plan",
    "plan",
    type=click.Path(path_type=Path),
    help="An insolvency distribution plan (P/plan.json, `por insolvency plan`): published as "
    "plan.json with an Insolvency distribution page where customers check their proof bundle.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON document.")
def publish(
    attestation_dir: Path,
    out_dir: Path,
    force: bool,
    stress: Path | None,
    plan: Path | None,
    as_json: bool,
) -> int:
    """Exchange: build the static attestation site from ATTESTATION_DIR (attestation.json,
    root.json, report.json): summary, charts, downloads, and a page where customers verify
    their inclusion proof in their browser. No server is needed; nothing is loaded from
    elsewhere. The site shows only what the attestation signs: a root.json or report.json
    that differs from it is refused. With --stress, the scenarios (a por-stress-v1 document
    about the same report, else exit 3) get a page of their own; with --plan, customers check
    their insolvency distribution (a plan whose id does not recompute: exit 3)."""
    from verifier.site.publish import build_site

    result = build_site(attestation_dir, out_dir, force=force, stress=stress, plan=plan)
    if as_json:
        print_json(
            {
                "site": str(result.out_dir),
                "attestation_id": result.attestation_id,
                "commitment": result.commitment,
                "files": dict(result.files),
            }
        )
    else:
        out.print(
            f"site for attestation {result.attestation_id} written to {result.out_dir} "
            f"({plural(len(result.files), 'file')}); open index.html, or preview with "
            f"`por serve {result.out_dir}`",
            markup=False,
        )
    return EXIT_OK


@click.command(
    "serve", short_help="Serve a site built by `por publish`, with a read-only JSON API."
)
@click.argument("site_dir", type=click.Path(path_type=Path, file_okay=False, dir_okay=True))
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0: a free port, printed).",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (loopback by default; put TLS in front for public use).",
)
@click.option(
    "--history-file",
    "history_file_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A JSON file served as /api/history instead of a database.",
)
@click.option(
    "--db",
    default=None,
    help="History database URL (or POR_DATABASE_URL) served read-only as /api/history.",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Also serve /metrics and /healthz on this port (0: a free port, printed); with "
    "--db the metrics show its latest runs.",
)
@click.option(
    "--metrics-addr",
    default="127.0.0.1",
    show_default=True,
    help="Address --metrics-port listens on.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Once listening, print one JSON line (por-serve-v1: url, metrics_url) on stdout.",
)
def serve(
    site_dir: Path,
    port: int,
    host: str,
    history_file_path: Path | None,
    db: str | None,
    metrics_port: int | None,
    metrics_addr: str,
    as_json: bool,
) -> int:
    """Serve a site built by `por publish`, with a read-only JSON API: /api/root,
    /api/attestation, /api/report, /api/history. No endpoint returns anyone's proof.
    Stops on SIGTERM or Ctrl-C. With --json, stdout holds one line once the server is up,
    {"format": "por-serve-v1", "url": ..., "metrics_url": ... or null}, for a supervisor
    or a test to read the ports from (logs stay on stderr)."""
    from verifier.site.serve import HistoryProvider, MetricsEndpoint, history_file, run

    history: HistoryProvider | None = None
    if history_file_path is not None:
        if not history_file_path.is_file():
            raise UsageError(f"--history-file {history_file_path}: no such file")
        history = history_file(history_file_path)

    url = db or os.environ.get("POR_DATABASE_URL")
    store = None
    if url is not None and history is None:
        from verifier.history.db_url import database_url
        from verifier.history.store import Store
        from verifier.history.view import history_json, read_runs

        # read-only, never created; a file that is not a por database (or an older
        # schema) is refused here, at startup, with exit 4
        store = Store(database_url(db, os.environ, None, None), create=False)
        read_runs(store)

        def history() -> object:
            assert store is not None
            return history_json(read_runs(store), store.describe())

    metrics = None
    if metrics_port is not None:
        metrics = MetricsEndpoint(metrics_addr, metrics_port, _metrics_source(store))

    metrics_url: list[str] = []

    def announce(address: str) -> None:
        if as_json:
            print_json_line(
                {
                    "format": "por-serve-v1",
                    "url": address,
                    "metrics_url": metrics_url[0] if metrics_url else None,
                }
            )
        else:
            out.print(f"serving {site_dir} on {address} (Ctrl-C to stop)", markup=False)

    run(
        site_dir,
        host=host,
        port=port,
        history=history,
        metrics=metrics,
        on_metrics=metrics_url.append,
        print_fn=announce,
    )
    return EXIT_OK


def _metrics_source(store: Any) -> Callable[[tuple[str, str]], Any]:
    """The snapshot `por serve` shows on each scrape: the database's latest runs when one
    is served (read then, so runs stored since show), labelled with its report's exchange
    and attestation, else the site's; a database that cannot be read now is logged and
    the scrape shows the labels alone."""
    from verifier.history.metrics import MetricsSnapshot, read_store

    def source(labels: tuple[str, str]) -> MetricsSnapshot:
        exchange, attestation = labels
        if store is None:
            return MetricsSnapshot(exchange=exchange, attestation=attestation)
        try:
            snapshot = read_store(store)
        except PorError as exc:
            log.warning("metrics: %s", mask_text(exc.message))
            return MetricsSnapshot(exchange=exchange, attestation=attestation)
        return dataclasses.replace(
            snapshot,
            exchange=snapshot.exchange or exchange,
            attestation=snapshot.attestation or attestation,
        )

    return source


__all__ = ["publish", "serve"]
