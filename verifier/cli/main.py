"""The `por` command line: parse arguments, call the library, render the result.

`main(argv) -> int` is the testable entry; `entrypoint()` is what `[project.scripts]`
installs. Every `PorError` becomes its exit code here, in one place (DESIGN.md):
0 ok, 1 under-covered, 2 usage, 3 invalid input/proof/signature, 4 infrastructure.
Every command takes `--json` and then prints exactly one JSON document on stdout.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from verifier.base.console import (
    err,
    out,
    plural,
    print_json,
    print_json_line,
    print_table,
    print_wrapped,
    progress_bar,
)
from verifier.base.errors import (
    EXIT_INFRA,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_SHORTFALL,
    EXIT_USAGE,
    InputError,
    InvalidProof,
    PorError,
    UsageError,
)
from verifier.base.redact import mask_text

JSON_OPTION = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON document on stdout."
)
log = logging.getLogger(__name__)
NO_CONFIG = "no config: give --config, set POR_CONFIG, or run `por init` to write ./por.toml"


def _config_default(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path:
    """--config, else $POR_CONFIG (click reads it), else ./por.toml if there is one."""
    if value is not None:
        return value
    if Path("por.toml").is_file():
        log.debug("config: ./por.toml (no --config and no POR_CONFIG)")
        return Path("por.toml")
    raise UsageError(NO_CONFIG)


CONFIG_OPTION = click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path),
    default=None,
    envvar="POR_CONFIG",
    show_envvar=True,
    callback=_config_default,
    help="The exchange's por.toml (docs/snapshot.md); default $POR_CONFIG, then ./por.toml.",
)
"""The one --config of every command that reads the exchange's por.toml (snapshot,
reconcile, attest, challenge, config check): flag, then POR_CONFIG, then ./por.toml."""
SAFE_NAME = re.compile(r"[A-Za-z0-9._@+-]{1,200}")
MAX_SAMPLE_ACCOUNTS = 1_000_000_000
"""Generated customers at most (sample, bench, demo): far past what this machine holds."""


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _check_as_of(value: str) -> str:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InputError("--as-of must be an ISO 8601 time", key="--as-of", value=value) from exc
    return value


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write a file under a temp name in the same directory, then rename it into place.

    A file system that refuses (permissions, read-only, full) is a `PorError` (exit 4)
    "cannot write PATH: reason" naming `path`, never the temporary name the user never gave.
    """
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):  # read-only: even this unlink fails
                Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise PorError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise


def _load_json(path: Path, what: str) -> Any:
    # bounded decoding: deep nesting, huge integers, NaN and bad UTF-8 are InputErrors
    # naming the file, never a crash (verifier/base/safejson.py)
    from verifier.base import safejson

    return safejson.load_path(path, what=what)


# ----------------------------------------------------------------------------- root group


ROLES: dict[str, tuple[str, ...]] = {
    "Customer: check that your balance is in the published liabilities": ("verify-proof",),
    "Exchange: build, prove, reconcile, attest and publish": (
        "init",
        "keys",
        "challenge",
        "liabilities",
        "snapshot",
        "reserve",
        "reconcile",
        "attest",
        "publish",
    ),
    "Auditor: check an exchange's attestation, tree and ownership signatures": (
        "verify",
        "liabilities audit",
        "verify-ownership",
    ),
    "Operations: scheduled runs, history, the site server, config and tools": (
        "reconcile --every",
        "history",
        "db",
        "serve",
        "config",
        "demo",
        "bench",
    ),
}
"""`por --help` lists every command under the role that uses it. Each command is named
once by itself; an entry with a space points at a subcommand (``liabilities audit``) or an
option (``reconcile --every``) of a command listed under another role, because that is
where this role's reader should look. A command in no role is listed under "Other
commands" (and tests/cli/test_help.py fails until it gets one)."""
OTHER_ROLE = "Other commands"
SHORT_HELP_MAX = 100
"""A command's line in `por --help`: its first sentence up to this length (wrapped)."""


def role_sections(
    group: click.Group, ctx: click.Context
) -> list[tuple[str, list[tuple[str, str]]]]:
    """The sections of `por --help`: (heading, [(entry, short help)]) in `ROLES` order."""
    sections: list[tuple[str, list[tuple[str, str]]]] = []
    listed: set[str] = set()
    for heading, entries in ROLES.items():
        rows = []
        for entry in entries:
            name, _, rest = entry.partition(" ")
            command = group.get_command(ctx, name)
            if command is None or command.hidden:
                continue
            if not rest:
                listed.add(name)
                rows.append((entry, command.get_short_help_str(SHORT_HELP_MAX)))
            elif rest.startswith("-"):
                option = next((p for p in command.params if rest in getattr(p, "opts", ())), None)
                if isinstance(option, click.Option) and option.help:
                    rows.append((entry, _first_sentence(option.help)))
            elif isinstance(command, click.Group):
                sub = command.get_command(ctx, rest)
                if sub is not None:
                    rows.append((entry, sub.get_short_help_str(SHORT_HELP_MAX)))
        sections.append((heading, rows))
    other = [
        (name, command.get_short_help_str(SHORT_HELP_MAX))
        for name in group.list_commands(ctx)
        if name not in listed
        and (command := group.get_command(ctx, name)) is not None
        and not command.hidden
    ]
    if other:
        sections.append((OTHER_ROLE, other))
    return [(heading, rows) for heading, rows in sections if rows]


def _first_sentence(text: str) -> str:
    # click's own short-help rule, applied to an option's help
    probe = click.Command("probe", help=text)
    return probe.get_short_help_str(SHORT_HELP_MAX)


class RoleGroup(click.Group):
    """The root group: `por --help` sections its commands by role (`ROLES`) instead of one
    alphabetical list; `por COMMAND --help` and command lookup are click's own."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        for heading, rows in role_sections(self, ctx):
            formatter.write_paragraph()
            formatter.write_text(heading)
            with formatter.indentation():
                formatter.write_dl(rows)


@click.group(
    cls=RoleGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(
    package_name="por", message="%(prog)s %(version)s", help="Print the version and exit."
)
@click.option(
    "-v",
    "--verbose",
    count=True,
    help="More log records on stderr: -v INFO, -vv DEBUG (default WARNING; INFO for --every).",
)
@click.option("-q", "--quiet", is_flag=True, help="Log errors only.")
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error", "critical"], case_sensitive=False),
    default=None,
    help="Log level (default $POR_LOG_LEVEL, then warning).",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"], case_sensitive=False),
    default=None,
    help="Log records on stderr as text lines (ISO 8601 UTC time, level, logger, message) "
    "or one JSON object per line (default $POR_LOG_FORMAT, then text).",
)
@click.pass_context
def cli(
    ctx: click.Context, verbose: int, quiet: bool, log_level: str | None, log_format: str | None
) -> None:
    """por: proof of reserves and on-chain verification.

    Commit customer balances to a Merkle sum tree (por-mst-v1), hand every customer an
    inclusion proof, audit the whole tree, and verify proofs.

    Exit codes: 0 ok; 1 shortfall; 2 usage; 3 invalid input, proof or signature;
    4 node or infrastructure failure. No command prints a Python traceback unless given
    --debug (anywhere on the command line) or POR_DEBUG=1.

    Logs go to stderr (never a secret), results to stdout; the log options come before
    the command: por -v --log-format json reconcile ...
    """
    _configure_logging(ctx, verbose, quiet, log_level, log_format)


def _configure_logging(
    ctx: click.Context, verbose: int, quiet: bool, level: str | None, fmt: str | None
) -> None:
    from verifier.base import logs

    if verbose and quiet:
        raise UsageError("-v and -q exclude each other")
    try:
        chosen = logs.resolve_level(verbose=verbose, quiet=quiet, level=level)
        form = logs.resolve_format(fmt)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    logs.configure(chosen, form)
    # the --every loop is a service: its run lines are its log, so it defaults to INFO
    ctx.meta["por.log"] = {
        "format": form,
        "explicit": logs.explicit(verbose, quiet, level, os.environ),
    }


def _register_reserve() -> None:
    from verifier.cli.reserve import reserve
    from verifier.cli.site import publish, serve

    cli.add_command(reserve)
    cli.add_command(publish)
    cli.add_command(serve)
    from verifier.cli.challenge import challenge_cmd

    cli.add_command(challenge_cmd)
    from verifier.cli.config import config_group

    cli.add_command(config_group)
    from verifier.cli.init import init
    from verifier.cli.keys import keys

    cli.add_command(keys)
    cli.add_command(init)


_register_reserve()


# ----------------------------------------------------------------------------- liabilities


@cli.group()
def liabilities() -> None:
    """Build the liabilities tree, cut customer proofs, audit a tree, make sample data."""


@liabilities.command("build")
@click.argument("input_file", metavar="INPUT", type=click.Path(path_type=Path))
@click.option(
    "--assets",
    "assets_file",
    required=True,
    type=click.Path(path_type=Path),
    help="Assets TOML: [assets.BTC] decimals = 8.",
)
@click.option("--attestation-id", required=True, help="Identifier bound into the commitment.")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Tree directory to create (root.json is its public part).",
)
@click.option("--as-of", default=None, help="Time of the balances, ISO 8601 (default: now, UTC).")
@click.option(
    "--split",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Split every account into K leaves with random parts (privacy).",
)
@click.option(
    "--secret-file",
    type=click.Path(path_type=Path),
    default=None,
    help="Master secret file (hex, mode 0600): read if it exists, else created. "
    "Default: OUT/secret.key.",
)
@click.option(
    "--negative",
    type=click.Choice(["error", "exclude"]),
    default="error",
    show_default=True,
    help="Reject negative amounts, or drop them and record them.",
)
@click.option("--sum-duplicates", is_flag=True, help="Add up repeated (account, asset) rows.")
@click.option("--force", is_flag=True, help="Replace a non-empty output directory.")
@click.option(
    "--workers",
    default=0,
    type=click.IntRange(0, 64),
    help="Worker processes (default: one per core).",
)
@JSON_OPTION
def liabilities_build(
    input_file: Path,
    assets_file: Path,
    attestation_id: str,
    out_dir: Path,
    as_of: str | None,
    split: int,
    secret_file: Path | None,
    negative: str,
    sum_duplicates: bool,
    force: bool,
    workers: int,
    as_json: bool,
) -> int:
    """Build the Merkle sum tree of INPUT (CSV or JSON Lines: account_id,asset,amount).

    Writes OUT/root.json (public), the tree files for O(log n) proofs, and the master
    secret (mode 0600, never in public output). Nothing is left in OUT on error.
    """
    from attestations.build import build_tree
    from verifier.base.outdir import guard_output
    from verifier.inputs.liabilities import read_assets, read_liabilities

    try:
        attestation_id.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(
            "--attestation-id is not valid UTF-8 text", key="--attestation-id"
        ) from None
    # before anything is read or replaced: --force must never delete an input
    guard_output(
        out_dir,
        [("input file", input_file), ("assets file", assets_file), ("secret file", secret_file)],
        flag="--out",
    )
    as_of = _check_as_of(as_of) if as_of else _now()
    assets = read_assets(assets_file)
    with progress_bar(True) as progress:
        data = read_liabilities(
            input_file,
            assets,
            negative=negative,
            sum_duplicates=sum_duplicates,
            progress=progress,
        )
        result = build_tree(
            data,
            out_dir,
            attestation_id=attestation_id,
            as_of=as_of,
            split=split,
            secret_file=secret_file,
            force=force,
            workers=workers,
            progress=progress,
        )
    doc = {
        "root_document": str(out_dir / "root.json"),
        "attestation_id": attestation_id,
        "accounts": result.accounts,
        "leaves": result.leaves,
        "padding": result.padding,
        "height": result.root.height,
        "root": result.root.root.to_json(),
        "commitment": result.root.commitment.hex(),
        "totals": _totals(result.root.assets, result.root.root.sums),
        "excluded": data.excluded,
        "input_sha256": data.input_sha256,
    }
    if as_json:
        print_json(doc)
    else:
        table = Table(title=f"Liabilities tree {attestation_id}", show_header=True)
        table.add_column("asset")
        table.add_column("total", justify="right")
        for code, total in _totals(result.root.assets, result.root.root.sums).items():
            table.add_row(code, total)
        print_table(out, table)
        out.print(
            f"accounts {result.accounts:,}  leaves {result.leaves:,}  padding "
            f"{result.padding:,}  height {result.root.height}"
        )
        out.print(f"root        {result.root.root.hash.hex()}")
        out.print(f"commitment  {result.root.commitment.hex()}")
        out.print(f"public root document: {out_dir / 'root.json'}")
        if data.excluded:
            rows = plural(int(data.excluded["rows"]), "row", thousands=True)
            out.print(f"excluded (negative): {rows}, see root.json")
    return EXIT_OK


def _totals(assets: Sequence[Any], sums: Sequence[int]) -> dict[str, str]:
    from attestations.proofs import format_units

    return {a.code: format_units(s, a.decimals) for a, s in zip(assets, sums, strict=True)}


def _proof_filename(account_id: str) -> str:
    from attestations.encoding import account_hash

    if (
        SAFE_NAME.fullmatch(account_id)
        and account_id not in {".", ".."}
        and not account_id.startswith("account-")
    ):
        return f"{account_id}.json"
    return f"account-{account_hash(account_id).hex()[:32]}.json"


@liabilities.command("proof")
@click.argument("tree_dir", metavar="DIR", type=click.Path(path_type=Path))
@click.argument("account_id", required=False)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="Write the proof here (mode 0600) instead of stdout.",
)
@click.option("--all", "all_accounts", is_flag=True, help="Write every account's proof.")
@click.option(
    "--out-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Directory for --all (created; one file per account plus manifest.csv).",
)
@click.option(
    "--secret-file",
    type=click.Path(path_type=Path),
    default=None,
    help="Master secret, if not where the build put it.",
)
@JSON_OPTION
def liabilities_proof(
    tree_dir: Path,
    account_id: str | None,
    output: Path | None,
    all_accounts: bool,
    out_dir: Path | None,
    secret_file: Path | None,
    as_json: bool,
) -> int:
    """Produce ACCOUNT_ID's inclusion proof from tree DIR (O(log n) reads), or --all of them.

    A proof holds the account's salt: hand it to that customer only. Every proof is
    verified against DIR/root.json before it is written; one that does not verify (a
    damaged tree, a wrong secret) is refused with exit 3 and nothing is written.
    """
    from attestations.store import TreeStore
    from verifier.base.outdir import guard_output

    if all_accounts:
        if account_id is not None or output is not None:
            raise UsageError("--all takes no ACCOUNT_ID and no -o; use --out-dir")
        if out_dir is None:
            raise UsageError("--all needs --out-dir")
        return _all_proofs(tree_dir, out_dir, secret_file, as_json)
    if account_id is None:
        raise UsageError("give an ACCOUNT_ID, or --all --out-dir D")
    with TreeStore(tree_dir, secret_file=secret_file) as store:
        if output is not None:
            guard_output(
                output,
                [
                    ("root document", store.root_path),
                    ("tree files", tree_dir / "tree"),
                    ("secret file", store.secret_path),
                ],
                flag="-o",
            )
        proof, text = store.checked_proof(account_id)
    if output is None:
        sys.stdout.write(text)
    else:
        write_atomic(output, text.encode(), mode=0o600)
        if as_json:
            print_json(
                {
                    "account_id": account_id,
                    "file": str(output),
                    "leaves": len(proof.leaves),
                    "commitment": proof.commitment.hex(),
                }
            )
        else:
            err.print(f"proof for {account_id!r} written to {output}")
    return EXIT_OK


_BULK: dict[str, Any] = {}


def _write_proof_batch(bounds: tuple[int, int]) -> list[str]:
    """Write the proofs of account rows [a, b) (in a forked worker); return manifest lines."""
    store, tmp = _BULK["store"], _BULK["tmp"]
    lines = []
    for account, text in store.checked_proof_texts(*bounds):
        name = _proof_filename(account)
        fd = os.open(tmp / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        lines.append(f"{account.encode().hex()},{name}")
    return lines


def _all_proofs(tree_dir: Path, out_dir: Path, secret_file: Path | None, as_json: bool) -> int:
    import multiprocessing

    from attestations.build import default_workers
    from attestations.store import TreeStore
    from verifier.base.outdir import guard_output

    guard_output(
        out_dir,
        [("tree directory", tree_dir), ("secret file", secret_file)],
        flag="--out-dir",
    )
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise InputError("output directory exists and is not empty", file=str(out_dir))
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    count = 0
    try:
        os.chmod(tmp, 0o700)
        with TreeStore(tree_dir, secret_file=secret_file) as store, progress_bar() as progress:
            total = store.meta.accounts
            store.proof_texts(0, 0)  # map the files and read the secret before forking
            _BULK.update(store=store, tmp=tmp)
            batches = [(a, min(a + 2048, total)) for a in range(0, total, 2048)]
            manifest = ["account_id_utf8_hex,file"]
            workers = default_workers()
            if workers > 1 and total > 50_000:  # below that, forking costs more than it saves
                with multiprocessing.get_context("fork").Pool(workers) as pool:
                    for lines in pool.imap(_write_proof_batch, batches):
                        manifest += lines
                        count += len(lines)
                        progress("write proofs", count, total)
            else:
                for batch in batches:
                    lines = _write_proof_batch(batch)
                    manifest += lines
                    count += len(lines)
                    progress("write proofs", count, total)
            (tmp / "manifest.csv").write_text("\n".join(manifest) + "\n")
            os.chmod(tmp / "manifest.csv", 0o600)
        if out_dir.exists():
            out_dir.rmdir()
        tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        _BULK.clear()
    if as_json:
        print_json({"out_dir": str(out_dir), "proofs": count})
    else:
        proofs = plural(count, "proof", thousands=True)
        err.print(f"{proofs} written to {out_dir} (one file per account; manifest.csv)")
    return EXIT_OK


@liabilities.command("audit")
@click.argument("tree_dir", metavar="DIR", type=click.Path(path_type=Path))
@click.option(
    "--secret-file",
    type=click.Path(path_type=Path),
    default=None,
    help="Master secret, to recompute the leaves too (default: where the build put it).",
)
@click.option(
    "--no-secret",
    is_flag=True,
    help="Audit without the master secret (an auditor who was not given it): every node is "
    "recomputed from the stored leaves, the leaves themselves are not.",
)
@click.option(
    "--workers",
    default=0,
    type=click.IntRange(0, 64),
    help="Worker processes (default: one per core).",
)
@JSON_OPTION
def liabilities_audit(
    tree_dir: Path, secret_file: Path | None, no_secret: bool, workers: int, as_json: bool
) -> int:
    """Recompute every node of tree DIR from its leaves; check sums, overflow, padding,
    the root and the commitment; print the totals per asset. A damaged tree, a missing or
    wrong secret (unless --no-secret) exits 3 naming the file and the check."""
    from attestations.audit import audit_tree

    if no_secret and secret_file is not None:
        raise UsageError("--no-secret and --secret-file exclude each other")
    with progress_bar() as progress:
        result = audit_tree(
            tree_dir,
            secret_file=secret_file,
            require_secret=not no_secret,
            skip_secret=no_secret,
            workers=workers,
            progress=progress,
        )
    from attestations.store import TreeStore

    with TreeStore(tree_dir) as store:
        assets = store.root.assets
    totals = _totals(assets, result.totals)
    if as_json:
        print_json(
            {
                "valid": True,
                "attestation_id": result.attestation_id,
                "accounts": result.accounts,
                "leaves": result.leaves,
                "padding": result.padding,
                "height": result.height,
                "commitment": result.commitment,
                "leaves_recomputed": result.leaves_recomputed,
                "totals": totals,
                "totals_base_units": {
                    a.code: str(s) for a, s in zip(assets, result.totals, strict=True)
                },
                "checks": list(result.checks),
            }
        )
    else:
        table = Table(title=f"Audit of {result.attestation_id}: OK")
        table.add_column("asset")
        table.add_column("total liabilities", justify="right")
        for code, total in totals.items():
            table.add_row(code, total)
        print_table(out, table)
        for check in result.checks:
            out.print(f"  [green]✓[/green] {check}")
        if not result.leaves_recomputed:
            out.print(
                "  [yellow]![/yellow] leaves not recomputed: audited without the master secret"
            )
    return EXIT_OK


@liabilities.command("sample")
@click.option(
    "--accounts",
    default=100_000,
    show_default=True,
    type=click.IntRange(1, MAX_SAMPLE_ACCOUNTS),
    help="Customers to generate.",
)
@click.option(
    "--assets",
    "asset_count",
    default=3,
    show_default=True,
    type=click.IntRange(1, 255),
    help="Assets every customer holds (BTC, ETH, USDT, then made-up codes).",
)
@click.option(
    "--out",
    "out_file",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="CSV (or .jsonl) file to write; ASSETS.toml is written beside it.",
)
@click.option(
    "--seed",
    default=7,
    show_default=True,
    type=click.IntRange(0, 2**32 - 1),
    help="Random seed: the same seed writes the same file.",
)
@JSON_OPTION
def liabilities_sample(
    accounts: int, asset_count: int, out_file: Path, seed: int, as_json: bool
) -> int:
    """Generate a sample liabilities file (every account holds every asset) and its assets TOML."""
    from verifier.tools.sample import assets_toml, sample_assets, write_sample

    if not out_file.name or out_file.is_dir():
        raise UsageError(f"--out must name a file, not a directory: {str(out_file)!r}")
    assets = sample_assets(asset_count)
    rows = write_sample(out_file, accounts, assets, seed)
    assets_path = out_file.with_name(out_file.stem + ".assets.toml")
    write_atomic(assets_path, assets_toml(assets).encode())
    doc = {
        "file": str(out_file),
        "assets_file": str(assets_path),
        "rows": rows,
        "accounts": accounts,
    }
    if as_json:
        print_json(doc)
    else:
        err.print(
            f"{plural(rows, 'row', thousands=True)} written to {out_file}; assets in {assets_path}"
        )
    return EXIT_OK


# ----------------------------------------------------------------------------- verify-proof


@cli.command("verify-proof")
@click.argument("proof_file", metavar="PROOF", type=click.Path(path_type=Path))
@click.option(
    "--root",
    "root_file",
    type=click.Path(path_type=Path),
    default=None,
    help="The published root document (root.json) to check against.",
)
@click.option(
    "--commitment",
    "commitment_hex",
    default=None,
    help="The published commitment (64 hex digits) to check against.",
)
@click.option(
    "--format",
    "proof_format",
    default="auto",
    show_default=True,
    help="auto (from the file's shape; a JSON file no other format fits is read as por), "
    "por, okx-v1, okx-v2, bybit, bitget, bitmex, binance-2022 or coinex (docs/formats.md "
    "says what each proves and its weaknesses).",
)
@click.option(
    "--tree",
    "tree_file",
    type=click.Path(path_type=Path),
    default=None,
    help="The full liabilities tree file (okx-v2).",
)
@click.option(
    "--nonce",
    default=None,
    help="bitmex: ACCOUNT,NONCE_HEX to find an account's leaves; binance-2022: a "
    "leaf hash to look for.",
)
@JSON_OPTION
def verify_proof_cmd(
    proof_file: Path,
    root_file: Path | None,
    commitment_hex: str | None,
    proof_format: str,
    tree_file: Path | None,
    nonce: str | None,
    as_json: bool,
) -> int:
    """Verify an inclusion proof offline (no network): exit 0 with the balances, 3 if invalid.

    The format is detected from the file: our own por-mst-v1 proofs (from `por liabilities
    proof`) and other exchanges' published formats; --format names it when detection
    cannot. --root or --commitment checks a por proof against the published root.
    """
    if proof_format == "auto":
        proof_format = _proof_format(proof_file)
        if proof_format != "por" and (root_file is not None or commitment_hex is not None):
            raise UsageError(
                f"--root and --commitment apply to por proofs; {proof_file} is a "
                f"{proof_format} proof"
            )
        if proof_format != "por":
            proof_format = "auto"  # the result then says it was detected
    if proof_format != "por":
        from verifier.external.check import render_proof, verify_external_proof

        if root_file is not None or commitment_hex is not None:
            raise UsageError("--root and --commitment apply to --format por only")
        doc, exit_code = verify_external_proof(proof_file, proof_format, tree_file, nonce)
        if as_json:
            print_json(doc)
        else:
            out.print(render_proof(doc), markup=False)
        return exit_code
    if tree_file is not None or nonce is not None:
        raise UsageError("--tree and --nonce apply to other exchanges' formats, not por")
    from attestations.proofs import (
        PROOF_KEYS,
        parse_proof,
        parse_root_document,
        unknown_keys,
        verify_proof,
    )

    if root_file is not None and commitment_hex is not None:
        raise UsageError("give --root or --commitment, not both")
    raw = _load_json(proof_file, "proof file")
    published_root = None
    published_commitment = None
    if root_file is not None:
        try:
            published_root = parse_root_document(_load_json(root_file, "root document"))
        except InvalidProof as exc:
            raise InputError(f"root document: {exc.message}", file=str(root_file)) from exc
    if commitment_hex is not None:
        text = commitment_hex.strip().lower()
        if not re.fullmatch(r"[0-9a-f]{64}", text):
            raise InputError("--commitment must be 64 hex digits", value=commitment_hex)
        published_commitment = bytes.fromhex(text)
    try:
        proof = parse_proof(raw)
        warnings = [f"ignored unknown key {k!r}" for k in unknown_keys(raw, PROOF_KEYS)]
        result = verify_proof(
            proof,
            published_root=published_root,
            published_commitment=published_commitment,
            warnings=warnings,
        )
    except InvalidProof as exc:
        # the check names the field; say which file it is in
        detail = exc.message.removeprefix(f"{exc.check}: ")
        raise InvalidProof(exc.check, f"{proof_file}: {detail}") from None
    if as_json:
        print_json(result.to_json())
        return EXIT_OK
    out.print(
        f"[bold green]VALID[/bold green] proof for account {escape(repr(result.account_id))} "
        f"in attestation {escape(repr(result.attestation_id))} as of {escape(result.as_of)}"
    )
    table = Table(show_header=True)
    table.add_column("asset")
    table.add_column("balance", justify="right")
    for code, amount in result.balances_whole().items():
        table.add_row(code, amount)
    print_table(out, table)
    out.print("checked:")
    for check in result.checks:
        out.print(f"  [green]✓[/green] {escape(check)}")
    for warning in result.warnings:
        out.print(f"  [yellow]![/yellow] {escape(warning)}")
    return EXIT_OK


def _proof_format(proof_file: Path) -> str:
    """`verify-proof --format auto` (the default): the one format whose shape PROOF has.

    A file no format fits that is JSON-shaped (or empty) is read as a por proof, as before
    detection existed: a damaged por proof is then refused with the field that is wrong,
    not with "no format fits". Anything else no format fits, or that several fit, is exit 3
    naming the file and asking for --format."""
    from attestations.formats import FORMATS
    from verifier.external.check import load_proof_input

    inp = load_proof_input(proof_file, None, None)  # --tree and --nonce do not change the shape
    fits = [name for name, spec in FORMATS.items() if spec.looks_like(inp)]
    if len(fits) == 1:
        return fits[0]
    if len(fits) > 1:
        raise InputError(
            f"more than one proof format fits this file ({', '.join(fits)}); give --format",
            file=str(proof_file),
        )
    if not proof_file.is_dir() and inp.data.lstrip()[:1] in (b"", b"{", b"[", b'"'):
        return "por"
    raise InputError(
        f"no known proof format fits this file (known: {', '.join(FORMATS)}); give --format",
        file=str(proof_file),
    )


# ----------------------------------------------------------------------------- snapshot


@cli.command("snapshot")
@CONFIG_OPTION
@click.option(
    "--btc-height",
    type=click.IntRange(0),
    default=None,
    help="Pin Bitcoin at this height (default: the node's tip).",
)
@click.option(
    "--eth-block",
    type=click.IntRange(0),
    default=None,
    help="Pin Ethereum at this block number (default: the node's tip).",
)
@JSON_OPTION
def snapshot_cmd(
    config_file: Path, btc_height: int | None, eth_block: int | None, as_json: bool
) -> int:
    """Read every wallet at one pinned block per chain and check its ownership proof."""
    import asyncio

    from verifier.holdings.plans import build_plans
    from verifier.holdings.snapshot import take_snapshot
    from verifier.inputs.config import load_config

    config = load_config(config_file)
    plans = build_plans(config, btc_height=btc_height, eth_block=eth_block)
    with progress_bar(not as_json) as progress:
        result = asyncio.run(take_snapshot(config, plans, progress))
    if as_json:
        print_json(result.to_json())
    else:
        _render_snapshot(result.to_json())
    return EXIT_OK


def _render_snapshot(doc: dict[str, Any]) -> None:
    out.print(
        f"[bold]Snapshot[/bold] of {escape(doc['exchange'])} for attestation "
        f"{escape(doc['attestation_id'])} at {doc['taken_at']}"
    )
    for chain in doc["chains"]:
        out.print()
        print_wrapped(  # wrapped at spaces: the block hash stays whole
            out,
            f"{chain['chain']} {chain['network']} at height {chain['height']}, block "
            f"{chain['block_hash']} ({chain['method']}, {plural(chain['requests'], 'request')})",
            subsequent="  ",
        )
        table = Table(show_header=True)
        for column in ("wallet", "class", "address", "balances", "ownership"):
            table.add_column(column)
        for row in chain["addresses"]:
            balances = ", ".join(f"{code} {units}" for code, units in row["balances"].items())
            status = row["ownership"]["status"]
            colour = {"proven": "green", "custodial": "yellow"}.get(status, "red")
            reason = row["ownership"]["reason"] or ""
            # a reason may open with its status ("proven; signed for epoch …", "stale,
            # counted as unproven: …"): the status is said once, then the reason
            rest = reason[len(status) :] if reason.startswith(status) else f"; {reason}"
            table.add_row(
                escape(row["label"] or row["wallet"]),
                row["class"],
                escape(row["address"]),
                balances + " (base units)",
                f"[{colour}]{status}[/{colour}]{escape(rest) if reason else ''}",
            )
        print_table(out, table)
        totals = Table(title="totals", show_header=True)
        for column in ("asset", "proven", "unproven", "custodial"):
            totals.add_column(column, justify="right" if column != "asset" else "left")
        for code, kinds in chain["totals"].items():
            totals.add_row(code, *(kinds[k]["amount"] for k in ("proven", "unproven", "custodial")))
        print_table(out, totals)


# ----------------------------------------------------------------------------- reconcile


HEIGHT_OPTIONS = [
    click.option(
        "--btc-height",
        type=click.IntRange(0),
        default=None,
        help="Pin Bitcoin at this height (default: the node's tip).",
    ),
    click.option(
        "--eth-block",
        type=click.IntRange(0),
        default=None,
        help="Pin Ethereum at this block number (default: the node's tip).",
    ),
]


def _heights(func: Any) -> Any:
    for option in reversed(HEIGHT_OPTIONS):
        func = option(func)
    return func


def _reconcile(
    config_file: Path, btc_height: int | None, eth_block: int | None, quiet: bool
) -> tuple[Any, Any, Any]:
    from verifier.holdings.plans import build_plans
    from verifier.inputs.config import load_config
    from verifier.jobs.pipeline import load_inputs, reconcile_now

    config = load_config(config_file)
    inputs = load_inputs(config)
    plans = build_plans(config, btc_height=btc_height, eth_block=eth_block)
    with progress_bar(not quiet) as progress:
        outcome = reconcile_now(config, plans, progress)
    return config, inputs, outcome


@cli.command("reconcile")
@CONFIG_OPTION
@_heights
@click.option(
    "--html",
    "html_file",
    type=click.Path(path_type=Path),
    default=None,
    help="Also write the self-contained HTML report here.",
)
@click.option(
    "--db",
    default=None,
    help="History database: a SQLite file or a postgresql:// URL (default: "
    "$POR_DATABASE_URL, then [database] url, then por.db beside the config).",
)
@click.option(
    "--every",
    default=None,
    help="Keep running: one run every INTERVAL (30s, 15m, 1h, 1d) until SIGTERM. With --json, "
    "one compact por-run-v1 JSON line per run on stdout (NDJSON; the full report goes to "
    "--report-dir).",
)
@click.option(
    "--report-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Write each run's full report (or a failed run's error document) to "
    "DIR/<started>-run-<id>.json and replace DIR/latest.json atomically.",
)
@click.option(
    "--webhook",
    default=None,
    help="POST alerts here (default: $POR_WEBHOOK_URL, then [alerts] webhook).",
)
@click.option(
    "--metrics-file",
    type=click.Path(path_type=Path),
    default=None,
    help="Write Prometheus gauges here (node_exporter textfile collector).",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="With --every: serve /metrics and /healthz on this port (0: a free port, printed).",
)
@click.option(
    "--metrics-addr",
    default="127.0.0.1",
    show_default=True,
    help="Address --metrics-port listens on.",
)
@click.option(
    "--alert-format",
    type=click.Choice(["generic", "alertmanager", "slack"]),
    default=None,
    help="Webhook payload: por-alert-v1, Alertmanager's /api/v2/alerts or a Slack message "
    "(default [alerts] format, then generic).",
)
@click.option(
    "--drift",
    default=None,
    help="Alert when an asset's coverage ratio falls by more than this between runs "
    "(e.g. 0.05; default [alerts] drift).",
)
@click.option(
    "--lock-timeout",
    type=click.IntRange(0, 86400),
    default=None,
    help="Seconds to wait for another run's database lock (default [database] lock_timeout, 30).",
)
@JSON_OPTION
def reconcile_cmd(
    config_file: Path,
    btc_height: int | None,
    eth_block: int | None,
    html_file: Path | None,
    db: str | None,
    every: str | None,
    report_dir: Path | None,
    webhook: str | None,
    metrics_file: Path | None,
    metrics_port: int | None,
    metrics_addr: str,
    alert_format: str | None,
    drift: str | None,
    lock_timeout: int | None,
    as_json: bool,
) -> int:
    """Snapshot, reserve and coverage: the combined report, stored in the history database.
    Exit 0 covered and reserve met, 1 shortfall or under a threshold, 3 invalid input,
    4 node, network or database failure (a failed run is stored with its error)."""
    from verifier.history.alerts import parse_drift
    from verifier.history.schedule import (
        LiveMetrics,
        RunOptions,
        Stop,
        now_iso,
        parse_interval,
        run_loop,
        run_once,
        run_summary,
        unrecorded_summary,
    )

    parse_drift(drift)
    live = None
    if metrics_port is not None:
        if every is None:
            raise UsageError("--metrics-port serves the --every loop: give --every too")
        live = LiveMetrics(parse_interval(every), config_file)
    if report_dir is not None and report_dir.exists() and not report_dir.is_dir():
        raise UsageError(f"--report-dir {report_dir} exists and is not a directory")
    stream = every is not None and as_json  # NDJSON: one por-run-v1 line per run
    options = RunOptions(
        config_file=config_file,
        db=db,
        btc_height=btc_height,
        eth_block=eth_block,
        webhook=webhook,
        metrics_file=metrics_file,
        html_file=html_file,
        report_dir=report_dir,
        drift=drift,
        lock_timeout=lock_timeout,
        quiet=as_json or every is not None,
        alert_format=alert_format,
        on_metrics=live.update if live is not None else None,
    )

    def once() -> int:
        # run_once writes --html, --report-dir and --metrics-file before the run is kept: a
        # run whose files cannot be written is stored as failed (exit 4), never as ok
        started = now_iso()
        try:
            result = run_once(options)
        except PorError as exc:
            if stream:  # the run could not be stored: its line says so all the same
                exc.message = mask_text(exc.message)
                print_json_line(unrecorded_summary(exc, started, report_dir))
            raise
        if stream:
            if result.error is not None:
                log.error("%s", result.error.message, extra={"exit_code": result.exit_code})
            print_json_line(run_summary(result))
            return result.exit_code
        if result.error is not None:
            _report(result.error, as_json)
            return result.exit_code
        _render_reconcile(result.report, html_file, as_json)
        return result.exit_code

    if every is None:
        return once()
    interval = parse_interval(every)
    # a config that is wrong at start is wrong every run: exit 3 now, not once an interval
    # forever; one edited into a wrong state while the loop runs fails that run (stored,
    # alerted) and the loop goes on, so the next edit can fix it
    _check_before_loop(config_file)
    _loop_logging()
    stop = Stop()
    stop.install()
    if live is None:
        return run_loop(once, interval, stop)
    server = live.serve(metrics_addr, metrics_port or 0)  # exit 4 naming the port
    try:
        return run_loop(once, interval, stop, health=live.health)
    finally:
        server.close()


def _check_before_loop(config_file: Path) -> None:
    """Raise the first problem of the config, as `load_config` does, and a key every run of
    `por reconcile` needs and this config lacks (verifier/jobs/pipeline.py reads them)."""
    from verifier.inputs.config import load_config

    config = load_config(config_file)
    r = config.reconcile
    needed = [
        ("liabilities.root", r.root or r.liabilities_file),
        ("liabilities.assets", r.assets_file if r.root is None else r.root),
        ("prices.file", r.prices),
        ("reserve.statement", r.statement),
        ("reserve.pack", r.pack),
    ]
    for key, value in needed:
        if value is None:
            raise InputError(
                "missing (needed by reconcile, attest and verify)", file=str(config.path), key=key
            )


def _loop_logging() -> None:
    """The `--every` loop logs at INFO unless a level was chosen: a service's run lines
    (started, finished, alerts delivered, stopped) are what its operator reads."""
    from verifier.base import logs

    chosen = click.get_current_context().find_root().meta.get("por.log") or {}
    if not chosen.get("explicit"):
        logs.configure(logging.INFO, chosen.get("format", "text"))


def _render_reconcile(report: Any, html_file: Path | None, as_json: bool) -> None:
    from verifier.report.document import render_terminal

    if as_json:
        print_json(report)
    else:
        render_terminal(report, out)
        if html_file is not None:
            err.print(f"HTML report: {html_file}")


# ----------------------------------------------------------------------------- history


DB_OPTIONS = [
    click.option(
        "--config",
        "config_file",
        type=click.Path(path_type=Path),
        default=None,
        envvar="POR_CONFIG",
        show_envvar=True,
        help="por.toml, to find [database] url or por.db beside it (default $POR_CONFIG, "
        "then ./por.toml).",
    ),
    click.option(
        "--db",
        default=None,
        help="A SQLite file or a postgresql://user@host/db URL, not a libpq keyword DSN "
        "(default: $POR_DATABASE_URL, then the config's).",
    ),
]


def _db_options(func: Any) -> Any:
    for option in reversed(DB_OPTIONS):
        func = option(func)
    return func


def _open_store(config_file: Path | None, db: str | None, *, create: bool) -> Any:
    """The history database of `por db upgrade` (`create`) or `por history` (never creates)."""
    from verifier.history.store import Store, database_url
    from verifier.inputs.config import load_config

    configured = None
    env_db = os.environ.get("POR_DATABASE_URL")
    # as every --config: the flag, then POR_CONFIG (click), then ./por.toml
    if config_file is None and db is None and not env_db and Path("por.toml").is_file():
        log.debug("config: ./por.toml (no --config, POR_CONFIG, --db or POR_DATABASE_URL)")
        config_file = Path("por.toml")
    if config_file is not None and db is None and not os.environ.get("POR_DATABASE_URL"):
        configured = load_config(config_file).database.url
    return Store(database_url(db, os.environ, configured, config_file), create=create)


@cli.group("db")
def db_group() -> None:
    """The history database of `por reconcile`."""


@db_group.command("upgrade")
@_db_options
@click.option("--revision", default="head", show_default=True, help="Target schema revision.")
@JSON_OPTION
def db_upgrade(config_file: Path | None, db: str | None, revision: str, as_json: bool) -> int:
    """Create the schema, or upgrade a database from an older por to this one's schema.
    Exit 4 for a file that is not a por database (nothing is written to it)."""
    store = _open_store(config_file, db, create=True)
    before, after = store.upgrade(revision)
    doc = {"database": store.describe(), "from": before, "to": after}
    if as_json:
        print_json(doc)
    elif before == after:
        err.print(f"{store.describe()}: schema already at revision {after}")
    else:
        err.print(f"{store.describe()}: schema upgraded from {before or 'empty'} to {after}")
    return EXIT_OK


@cli.command("history")
@_db_options
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
        read_runs,
        render_history_html,
        render_table,
        select_asset,
    )
    from verifier.report.html import write_html

    start = parse_since(since) if since else None
    store = _open_store(config_file, db, create=False)
    runs = select_asset(read_runs(store, start), asset.upper() if asset else None)
    if html_file is not None:
        write_html(html_file, render_history_html(runs, store.describe()))
    if as_json:
        print_json(history_json(runs, store.describe()))
    elif runs:
        render_table(runs, out)
    if not runs:  # a note, not an error: a new installation has no runs yet
        which = " matching --since/--asset" if since or asset else " yet"
        missing = "" if store.exists() else " (the database does not exist)"
        (err if as_json else out).print(
            f"no runs{which} in {store.describe()}{missing}", markup=False
        )
    if html_file is not None:
        err.print(f"HTML history: {html_file}")
    return EXIT_OK


@cli.command(
    "attest", short_help="Reconcile, then write the signed attestation (Ed25519) and its report."
)
@CONFIG_OPTION
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Directory for attestation.json, root.json, report.json and report.html.",
)
@_heights
@JSON_OPTION
def attest_cmd(
    config_file: Path, out_dir: Path, btc_height: int | None, eth_block: int | None, as_json: bool
) -> int:
    """Exchange: reconcile, then write the signed por-attestation-v1 document (Ed25519; the
    key file is [attest] key_file, mode 0600, made by `por keys create`: never by attest).

    OUT is written whole (attestation.json, root.json, report.json, report.html) or not at
    all: a failure midway leaves the previous attestation directory as it was. OUT may not
    hold or lie inside any input the config names (exit 2), nor hold other files."""
    from verifier.base.outdir import guard_output
    from verifier.inputs.config import load_config
    from verifier.jobs.attest import attest, attest_inputs, check_attestation_dir

    # before the snapshot, and before anything is touched
    config = load_config(config_file)
    guard_output(out_dir, attest_inputs(config), flag="--out")
    check_attestation_dir(out_dir)
    if config.reconcile.key_file is None:
        raise InputError(
            "missing: the Ed25519 signing key file (then create it: `por keys create`)",
            file=str(config.path),
            key="attest.key_file",
        )
    from verifier.inputs.keys import load_signing_key

    load_signing_key(config.reconcile.key_file)  # missing or unsafe: say so before any node
    config, inputs, outcome = _reconcile(config_file, btc_height, eth_block, as_json)
    key_file = config.reconcile.key_file
    assert key_file is not None  # the same config file, checked above
    doc = attest(config, inputs, outcome, out_dir, key_file)
    summary = {
        "attestation": str(out_dir / "attestation.json"),
        "public_key": doc["signature"]["public_key"],
        "exit_code": outcome.exit_code,
        "verdict": outcome.report["verdict"],
    }
    if as_json:
        print_json(summary)
    else:
        out.print(
            f"attestation written to {out_dir / 'attestation.json'}, signed by public key "
            f"{doc['signature']['public_key']}: publish it, so auditors can pin it "
            "(por verify --public-key)"
        )
    return EXIT_OK


@cli.command("verify")
@click.argument("attestation", type=click.Path(path_type=Path))
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path),
    default=None,
    help="Auditor config: the auditor's own nodes ([bitcoin], [ethereum]), the expected "
    "[exchange] name and attestation_id, and the pinned [attest] public_key.",
)
@click.option(
    "--public-key",
    default=None,
    help="The exchange's published public key (64 hex digits): the signer must be it.",
)
@click.option(
    "--public-key-file",
    default=None,
    type=click.Path(path_type=Path),
    help="The same, read from a .pub file (as `por keys create` writes it).",
)
@click.option(
    "--trust-embedded-key",
    is_flag=True,
    help="Accept whichever key the document carries (the result says signer_pinned false).",
)
@JSON_OPTION
def verify_cmd(
    attestation: Path,
    config_file: Path | None,
    public_key: str | None,
    public_key_file: Path | None,
    trust_embedded_key: bool,
    as_json: bool,
) -> int:
    """Auditor: check an attestation end to end and list every discrepancy. Exit 0 valid and
    covered, 1 valid but a shortfall, 3 a discrepancy or invalid document, 4 node failure.

    The signer must be pinned: --public-key, --public-key-file or [attest] public_key in the
    auditor config (a flag wins over the config). A signature checked only against the key
    the document carries proves nothing about who signed, so without a pinned key the
    result is "not verified" (exit 3) unless --trust-embedded-key is given."""
    from verifier.inputs.config import load_config
    from verifier.inputs.keys import read_public_key, read_public_key_file
    from verifier.jobs.attest import auditor_public_key, verify

    if public_key is not None and public_key_file is not None:
        raise UsageError("give either --public-key or --public-key-file, not both")
    # an auditor's config may leave out [exchange] attestation_id (checked when given)
    auditor = (
        load_config(config_file, need_attestation_id=False) if config_file is not None else None
    )
    pinned: str | None = None
    if public_key is not None:
        pinned = read_public_key(public_key, source="--public-key")
    elif public_key_file is not None:
        pinned = read_public_key_file(public_key_file)
    elif auditor is not None:
        pinned = auditor_public_key(auditor)
    if pinned is not None and trust_embedded_key:
        raise UsageError(
            "--trust-embedded-key contradicts a pinned public key (--public-key, "
            "--public-key-file or [attest] public_key): drop one"
        )
    result = verify(
        attestation,
        auditor=auditor,
        expected_public_key=pinned,
        trust_embedded_key=trust_embedded_key,
    )
    if result.node_error is not None:  # the run's error, as every command names it (exit 4)
        err.print(f"por: error: {mask_text(result.node_error.message)}", markup=False)
    if as_json:
        print_json(result.to_json())
        return result.exit_code
    _render_verification(result, trust_embedded_key)
    return result.exit_code


def _render_verification(result: Any, trust_embedded_key: bool) -> None:
    """`por verify` in text: what was checked (✓), what was not (!), every discrepancy (✗),
    the recomputed figures in words, and the verdict as the last line (what a log tail or
    a script reading the last line sees)."""
    signer = "the pinned key" if result.signer_pinned else "the document's own key"
    print_wrapped(
        out, f"attestation {result.attestation_id}, signed by {signer} {result.public_key}"
    )
    for check in result.checks:  # wrapped at spaces: no figure or hash is split
        print_wrapped(out, f"  ✓ {check}", subsequent="    ", style="green")
    for warning in result.warnings:  # not checked: neither a pass nor a discrepancy
        pinned = "signer_pinned false: " if warning.startswith("signer not pinned") else ""
        print_wrapped(out, f"  ! {pinned}{warning}", subsequent="    ", style="yellow")
    if result.node_error is not None:
        print_wrapped(
            out,
            f"  ! not re-read: {result.node_error.message}",
            subsequent="    ",
            style="yellow",
        )
    for problem in result.discrepancies:
        print_wrapped(out, f"  ✗ {problem}", subsequent="    ", style="red")
    if result.report is not None:
        verdict = result.report["verdict"]

        def said(key: str) -> str:
            return "yes" if verdict.get(key) is True else "no"

        out.print(
            f"recomputed: covered: {said('covered')}, reserve met: {said('reserve_met')}, "
            f"combined met: {said('combined_met')}",
            markup=False,
        )
    if result.node_error is not None and not result.discrepancies:
        state, colour = "NOT VERIFIED (the auditor's node failed)", "red"
    elif not result.discrepancies:
        state, colour = "VALID", "green"
        if result.exit_code == EXIT_SHORTFALL:
            state = "VALID, SHORTFALL"
        if result.verdict_note is not None:  # never a bare VALID for what was not re-checked
            state, colour = f"{state} ({result.verdict_note})", "yellow"
    elif not result.signer_pinned and not trust_embedded_key:
        state, colour = "NOT VERIFIED", "red"
    else:
        count = len(result.discrepancies)
        state, colour = f"DISCREPANCIES ({count})", "red"
    out.print(
        f"[bold {colour}]{state}[/bold {colour}] attestation {escape(result.attestation_id)}"
        f" (exit {result.exit_code})"
    )


@cli.command(
    "verify-ownership",
    short_help="Check an exchange's published address-ownership signatures, row by row.",
)
@click.argument("ownership_file", metavar="FILE", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "file_format",
    required=True,
    type=click.Choice(["okx", "summa", "htx", "por"]),
    help="okx (test.csv), summa (chain;address;signature;message), htx, or por "
    "(our attestation's wallet list).",
)
@JSON_OPTION
def verify_ownership_cmd(ownership_file: Path, file_format: str, as_json: bool) -> int:
    """Check an exchange's published address-ownership signatures, row by row: valid,
    invalid (with the reason), unsigned, or unsupported chain; a summary per coin."""
    from verifier.external.check import render_ownership, verify_ownership

    try:
        doc, code = verify_ownership(ownership_file, file_format)
    except InputError as exc:
        if exc.file is not None:
            raise
        # the parsers know the line and column, not the file's name
        error = type(exc)(exc.message, file=str(ownership_file))
        error.line, error.key, error.value = exc.line, exc.key, exc.value
        raise error from None
    except InvalidProof as exc:
        detail = exc.message.removeprefix(f"{exc.check}: ")
        raise InvalidProof(exc.check, f"{ownership_file}: {detail}") from None
    if as_json:
        print_json(doc)
    else:
        out.print(render_ownership(doc), markup=False)
    return code


# ----------------------------------------------------------------------------- bench and demo


@cli.group()
def bench() -> None:
    """Benchmarks; figures go into docs/performance.md."""


@bench.command("liabilities")
@click.option(
    "--accounts",
    default=1_000_000,
    show_default=True,
    type=click.IntRange(1, MAX_SAMPLE_ACCOUNTS),
    help="Sample customers in the tree.",
)
@click.option(
    "--assets",
    "asset_count",
    default=3,
    show_default=True,
    type=click.IntRange(1, 255),
    help="Assets every customer holds.",
)
@click.option(
    "--split",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Leaves per account (as liabilities build --split).",
)
@click.option(
    "--workers",
    default=0,
    type=click.IntRange(0, 64),
    help="Worker processes (default: one per core).",
)
@click.option(
    "--proofs",
    "proof_count",
    default=1000,
    show_default=True,
    type=click.IntRange(1, 1_000_000),
    help="Proofs to cut and verify in the timed proof phases.",
)
@click.option(
    "--keep",
    type=click.Path(path_type=Path),
    default=None,
    help="Keep the work directory here instead of a temp dir.",
)
@JSON_OPTION
def bench_liabilities(
    accounts: int,
    asset_count: int,
    split: int,
    workers: int,
    proof_count: int,
    keep: Path | None,
    as_json: bool,
) -> int:
    """Time build, proofs, verification and audit against a bare hashlib floor."""
    from verifier.tools.bench import render, run_liabilities_bench

    with progress_bar() as progress:
        result = run_liabilities_bench(
            accounts=accounts,
            asset_count=asset_count,
            split=split,
            workers=workers,
            proof_count=proof_count,
            keep=keep,
            progress=progress,
        )
    if as_json:
        print_json(result)
    else:
        render(result)
    return EXIT_OK


@bench.command("snapshot")
@click.option(
    "--btc-addresses",
    default=2000,
    show_default=True,
    type=click.IntRange(1, 20000),
    help="Funded Bitcoin addresses to read on local bcoin.",
)
@click.option(
    "--eth-addresses",
    default=2000,
    show_default=True,
    type=click.IntRange(1, 20000),
    help="Funded Ethereum addresses to read on local anvil.",
)
@click.option(
    "--tokens",
    default=2,
    show_default=True,
    type=click.IntRange(0, 10),
    help="ERC-20 test tokens each Ethereum address holds.",
)
@JSON_OPTION
def bench_snapshot(btc_addresses: int, eth_addresses: int, tokens: int, as_json: bool) -> int:
    """Time the adapters against naive one-request-per-balance reads on local nodes."""
    from verifier.tools.bench_snapshot import run_snapshot_bench

    with progress_bar() as progress:
        result = run_snapshot_bench(
            btc_addresses=btc_addresses,
            eth_addresses=eth_addresses,
            tokens=tokens,
            progress=progress,
        )
    if as_json:
        print_json(result)
        return EXIT_OK
    table = Table(title="por bench snapshot (local bcoin and anvil)")
    for column in (
        "chain",
        "balances",
        "ours s",
        "ours requests",
        "naive s",
        "naive requests",
        "speedup",
    ):
        table.add_column(column, justify="left" if column == "chain" else "right")
    for chain in ("bitcoin", "ethereum"):
        row = result[chain]
        table.add_row(
            chain,
            str(row.get("balances", row["addresses"])),
            f"{row['ours']['seconds']:.3f}",
            str(row["ours"]["requests"]),
            f"{row['naive']['seconds']:.3f}",
            str(row["naive"]["requests"]),
            f"{row['speedup']}x",
        )
    print_table(out, table)
    out.print(
        f"overall speedup {result['speedup']}x; both chains concurrently "
        f"{result['both_chains_concurrently_seconds']} s"
    )
    return EXIT_OK


@cli.command(
    "demo",
    short_help="The whole job on local bcoin and anvil nodes, then N scheduled runs "
    "(--scheduled N).",
)
@click.option(
    "--accounts",
    default=100_000,
    show_default=True,
    type=click.IntRange(1, MAX_SAMPLE_ACCOUNTS),
    help="Sample customers in the liabilities tree (each holds BTC, ETH and USDT).",
)
@click.option(
    "--out",
    "out_dir",
    default=Path("demo-out"),
    show_default=True,
    type=click.Path(path_type=Path),
    help="Work directory: replaced on every run (only one a demo made); por.toml, por.db, "
    "the attestation, the site and runs/ stay there.",
)
@click.option(
    "--scheduled",
    default=0,
    show_default=True,
    type=click.IntRange(0, 1000),
    help="Then run the scheduled job N times: mine blocks on both nodes, reconcile at the new "
    "tips with the same (epoch) signatures, store each run in OUT/por.db. With --json the "
    "output is NDJSON: the main report as one compact line, then one por-run-v1 line per run.",
)
@JSON_OPTION
def demo(accounts: int, out_dir: Path, scheduled: int, as_json: bool) -> int:
    """The whole job on this machine, on local nodes it starts and stops.

    \b
    1. Liabilities: ACCOUNTS sample customers × BTC, ETH, USDT → the Merkle sum tree,
       a full audit, and one customer's proof verified as that customer would.
    2. Local nodes: bcoin (regtest) and anvil on free loopback ports (from npm's
       node_modules here, or $POR_NODE_MODULES; without them exit 4).
    3. Exchange wallets, funded: Bitcoin cold 2-of-3 multisig, hot, an own buffer, a
       custodial one; Ethereum a cold key, a hot contract wallet, a buffer; a USDT token.
    4. Ownership proofs signed once for an ownership epoch, reused by later runs (one
       wallet on an expired epoch shows a stale proof; one signs another block).
    5. A reserve statement under the jp-fsa-2026 pack; por.toml written as a user would.
    6. Reconcile (stored in OUT/por.db), attest with a key made as `por keys create`
       makes it, verify as an auditor with the published key, HTML report.
    7. Publish the static site (customers verify their proof in the browser).
    8. With --scheduled N: mine blocks on both nodes and reconcile at each new tip with
       the same epoch signatures, N times; one line per run, then the `por history`
       table (one report per run in OUT/runs/).

    --json prints the report document; with --scheduled N, NDJSON: the report as one
    compact line, then one por-run-v1 line per run. Exit 0 when everything verified and
    every scheduled run was covered."""
    from verifier.tools.demo import run_demo

    return run_demo(accounts=accounts, out_dir=out_dir, as_json=as_json, scheduled=scheduled)


# ----------------------------------------------------------------------------- entry


def main(argv: Sequence[str] | None = None) -> int:
    """Run `por` with `argv`; return the exit code (never raises, never prints a traceback).

    A Python traceback reaches the user only with ``--debug`` (anywhere in argv) or
    ``POR_DEBUG=1``; otherwise an unexpected exception is one "internal error" line and
    exit 4, and a recursion or memory exhaustion is named as such.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("POR_DEBUG", "") not in {"", "0"}
    args = [a for a in args if a != "--debug"]
    as_json = "--json" in args
    _default_logging()
    stdout, sys.stdout = sys.stdout, _ClosedPipeGuard(sys.stdout)
    try:
        return _main(args, as_json)
    except KeyboardInterrupt:
        err.print("interrupted", markup=False)
        return 130
    except (RecursionError, MemoryError) as exc:
        if debug:
            raise
        if isinstance(exc, RecursionError):
            _report(InputError("input nested too deeply; refused"), as_json)
            return EXIT_INVALID
        _report(PorError("out of memory; refused"), as_json)
        return EXIT_INFRA
    except Exception as exc:
        if debug:
            raise
        # a bug of ours, not the user's input: say so without a traceback (and without
        # the exception text, which might quote a secret)
        _report(
            PorError(
                f"internal error ({type(exc).__name__}); please report it with the command "
                "and input, and rerun with --debug or POR_DEBUG=1 for the traceback"
            ),
            as_json,
        )
        return EXIT_INFRA
    finally:
        sys.stdout = stdout


class _ClosedPipeGuard:
    """stdout for one command: a consumer that closes it early (`por history | head -1`)
    does not change the command's result. The first write that meets EPIPE points the
    descriptor at /dev/null (as the Python docs' note on SIGPIPE recommends, so the
    interpreter's last flush finds no broken pipe either) and every later write is
    dropped: the command finishes and exits with its own code, not rich's 1 nor a
    traceback."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.closed_pipe = False

    def write(self, text: str) -> int:
        if not self.closed_pipe:
            try:
                return int(self._stream.write(text))
            except BrokenPipeError:
                self._to_devnull()
        return len(text)

    def flush(self) -> None:
        if not self.closed_pipe:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._to_devnull()

    def _to_devnull(self) -> None:
        self.closed_pipe = True
        log.debug("stdout was closed by its reader; the rest of the output is dropped")
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError):  # not a real descriptor (a test's capture)
            pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _default_logging() -> None:
    """Logging before the root options are parsed (and again on every in-process call):
    the environment's level and format, a bad value being left to the root group to name."""
    from verifier.base import logs

    try:
        level, form = logs.resolve_level(), logs.resolve_format()
    except ValueError:
        level, form = logging.WARNING, "text"
    logs.configure(level, form)


def _main(args: list[str], as_json: bool) -> int:
    for arg in args:
        # a real argv cannot hold NUL; an in-process caller can, and every file API
        # would then fail with a bare ValueError
        if "\x00" in arg:
            _report(UsageError(f"an argument holds a NUL byte: {arg!r}"), as_json)
            return EXIT_USAGE
    try:
        result = cli.main(args=args, prog_name="por", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.exceptions.Abort:
        err.print("aborted")
        return EXIT_USAGE
    except click.ClickException as exc:
        # click quotes bad values verbatim; a URL given to the wrong option may hold a password
        context = getattr(exc, "ctx", None)
        if context is not None:
            err.print(context.get_usage(), markup=False)
        message = _root_option_hint(exc, args) or exc.format_message()
        err.print(f"Error: {mask_text(message)}", markup=False)
        if as_json:
            print_json(UsageError(message).to_json())
        return EXIT_USAGE
    except PorError as exc:
        _report(exc, as_json)
        return exc.exit_code
    except OSError as exc:
        message = f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc)
        _report(PorError(f"system error: {message}"), as_json)
        return EXIT_INFRA
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    return int(result) if isinstance(result, int) else EXIT_OK


def _root_option_hint(exc: click.ClickException, args: list[str]) -> str | None:
    """For a root-only option given after the command (`por reconcile -v`), the message
    that says where it goes (`por -v reconcile …`) instead of click's bare "No such
    option" (or its "did you mean" of an unrelated option of the command)."""
    context = getattr(exc, "ctx", None)
    name = getattr(exc, "option_name", None)
    if not isinstance(exc, click.NoSuchOption) or context is None or context.parent is None:
        return None
    root = {opt for param in cli.params for opt in (*param.opts, *param.secondary_opts)}
    root -= {"--help", "-h", "--version"}
    if name not in root:
        return None
    # as typed: "-vv" (click names its first letter), "--log-level=debug", "--log-level debug"
    typed = str(name)
    for i, arg in enumerate(args):
        repeated = len(typed) == 2 and arg[:1] == "-" and set(arg[1:]) == {typed[1]}  # -vv
        if arg == name or arg.startswith(f"{name}=") or repeated:
            typed = arg
            value = args[i + 1] if i + 1 < len(args) else None
            takes_value = any(
                name in p.opts and not getattr(p, "is_flag", False) and not getattr(p, "count", 0)
                for p in cli.params
            )
            if takes_value and arg == name and value is not None:
                typed = f"{arg} {value}"
            break
    command = " ".join(context.command_path.split()[1:])
    return (
        f"No such option {name!r} for {context.command_path}: log options go before the "
        f"command: por {typed} {command} …"
    )


def _report(exc: PorError, as_json: bool) -> None:
    # last line of defence: no credential in a URL reaches the terminal or a JSON consumer
    # and nothing the terminal cannot encode (a lone surrogate from a hostile file)
    from verifier.base.logs import secrets

    exc.message = mask_text(exc.message, secrets())
    exc.message = exc.message.encode("utf-8", "backslashreplace").decode("utf-8")
    label = {EXIT_INVALID: "invalid", EXIT_USAGE: "usage"}.get(exc.exit_code, "error")
    if isinstance(exc, InvalidProof):
        err.print(f"[bold red]INVALID[/bold red] {escape(exc.message)}")
    else:
        err.print(f"por: {label}: {exc.message}", markup=False)
    if as_json:
        doc = exc.to_json()
        if isinstance(exc, InvalidProof):
            doc = {"valid": False, **doc}
        print_json(doc)


def entrypoint() -> None:
    code = main()
    # the process ends here: spare the interpreter's last garbage collection over every
    # object the imports made (~0.1-0.2 s with web3 loaded), which a service stopping on
    # SIGTERM would otherwise sit out; nothing left is waiting on it (logs are flushed by
    # atexit, output files are closed by the code that wrote them)
    gc.freeze()
    sys.exit(code)
