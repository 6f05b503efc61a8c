"""`por config check` and `por config schema`: check a por.toml offline, publish its schema.

Where it sits: before the first run; the click commands and their printing only. The check
itself is verifier/inputs/config_check.py (every problem at once, offline); the schema and
its Markdown table of keys are verifier/inputs/config_reference.py. The root document and
rule-pack readers the check needs live above verifier/inputs, so this module hands them in.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from verifier.base.errors import EXIT_INVALID, EXIT_OK, UsageError
from verifier.inputs.config_check import Readers, check_config, config_notes
from verifier.inputs.config_reference import reference_table, schema_text
from verifier.inputs.config_schema import json_schema

FORMAT = "por-config-check-v1"
SCHEMA_FILE = Path("docs/spec/schemas/por-config.schema.json")
"""Where the published schema lives in the repository."""


def _readers() -> Readers:
    """The readers `check_config` cannot import itself (they sit above verifier/inputs),
    each imported only when a config names such a file (the pipeline brings the whole run)."""

    def root(path: Path) -> object:
        from verifier.jobs.pipeline import load_root

        return load_root(path)

    def pack(name_or_path: str) -> object:
        from verifier.reserve.pack_file import load_pack

        return load_pack(name_or_path)

    def known_packs() -> tuple[str, ...]:
        from verifier.reserve.pack_file import known_packs

        return known_packs()

    return Readers(root=root, pack=pack, known_packs=known_packs)


def _config_option() -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    from verifier.cli.options import CONFIG_OPTION

    return CONFIG_OPTION


@click.group("config")
def config_group() -> None:
    """Check a por.toml offline, or print its JSON Schema."""


@config_group.command("check")
@_config_option()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
def check_cmd(config_file: Path, as_json: bool) -> int:
    """List every problem of a config at once, offline: schema, duplicates, epochs, the files
    it names, addresses, xpubs, keys and signature encodings. Exit 0 if none, 3 if any."""
    from verifier.base.console import out, print_json

    problems = check_config(config_file, _readers())
    notes = config_notes(config_file)
    if as_json:
        print_json(
            {
                "format": FORMAT,
                "config": str(config_file),
                "ok": not problems,
                "problems": [p.to_json() for p in problems],
                "notes": notes,
            }
        )
    else:
        for problem in problems:
            out.print(problem.text(), markup=False, highlight=False, soft_wrap=True)
        for note in notes:
            out.print(f"note: {note}", markup=False, highlight=False, soft_wrap=True)
        count = len(problems)
        out.print(
            f"{count} problem{'s' if count != 1 else ''}" if problems else "config OK",
            markup=False,
            highlight=False,
        )
    return EXIT_INVALID if problems else EXIT_OK


@config_group.command("schema")
@click.option(
    "--out",
    "out_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help=f"Write it to this file (the repository's copy: {SCHEMA_FILE}).",
)
@click.option(
    "--markdown",
    is_flag=True,
    help="The table of every key instead (docs/snapshot.md), printed or written to --out; "
    "not with --json.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
def schema_cmd(out_file: Path | None, markdown: bool, as_json: bool) -> int:
    """Print (or write) the JSON Schema of por.toml, for editors (Taplo / Even Better TOML)."""
    from verifier.base.atomic import write_atomic
    from verifier.base.console import err, print_json

    if markdown and as_json:
        # two different documents: one on stdout would silently drop the other
        raise UsageError(
            "give one of --markdown or --json: --markdown prints the keys as a Markdown "
            "table, --json the schema as one JSON document"
        )
    doc = json_schema()
    if markdown and out_file is None:
        click.echo(reference_table(), nl=False)
        return EXIT_OK
    if out_file is None:
        if as_json:
            print_json(doc)
        else:
            click.echo(schema_text(doc), nl=False)
        return EXIT_OK
    if not str(out_file) or not out_file.name or out_file.is_dir():
        raise UsageError(f"--out must name a file, not a directory: {str(out_file)!r}")
    write_atomic(out_file, (reference_table() if markdown else schema_text(doc)).encode("utf-8"))
    if as_json:
        print_json({"format": "por-config-schema-v1", "written": str(out_file)})
    else:
        err.print(f"wrote {out_file}", markup=False)
    return EXIT_OK
