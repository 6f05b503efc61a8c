"""`por init`: write a commented starter por.toml and the input files it names.

Where it sits: before everything else, for a newcomer. It copies the templates shipped as
package data (verifier/inputs/templates/) into a directory: por.toml (every section
explained, local-node defaults: bcoin regtest at 127.0.0.1:48332, anvil at
127.0.0.1:8545, placeholders marked ``REPLACE: …`` that `por config check` names), prices.toml,
reserve.toml (a statement valid under the chosen rule pack, dated today), assets.toml and
liabilities.csv (the header and two example rows, so the pipeline runs end to end at once).
Then it prints the next steps.

Nothing is overwritten without --force (exit 2 naming the file); every file is written
atomically (a temporary file, then a rename), and the directory is created if missing. A
directory or file that cannot be written (permissions, a read-only file system, a full
disk) is infrastructure: exit 4 naming the file, never the temporary one.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import click

from verifier.base.atomic import write_atomic
from verifier.base.console import out, print_json
from verifier.base.errors import EXIT_OK, PorError, UsageError
from verifier.reserve.pack_file import known_packs

JSON_OPTION = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON document on stdout."
)
DEFAULT_PACK = "jp-fsa-2026"
FILES = ("por.toml", "prices.toml", "reserve.toml", "assets.toml", "liabilities.csv")
"""What `por init` writes, in this order."""


@dataclass(frozen=True, slots=True)
class _Currency:
    code: str
    btc: str
    eth: str


# example reference rates per reporting currency: placeholders a user replaces, but real
# numbers so that the files load and `por reconcile` runs before they are filled in
_RATES = {
    "JPY": _Currency("JPY", "15000000", "550000"),
    "HKD": _Currency("HKD", "800000", "29000"),
    "EUR": _Currency("EUR", "90000", "3300"),
    "AED": _Currency("AED", "350000", "13000"),
}
_PACK_CURRENCY = {
    "jp-fsa-2026": "JPY",
    "jp-psa": "JPY",
    "hk-sfc": "HKD",
    "eu-mica": "EUR",
    "ae-vara": "AED",
}
_FIELD = re.compile(r"\{\{([a-z_0-9]+)\}\}")

NEXT_STEPS = (
    "edit por.toml: fill in every REPLACE value (exchange name, attestation id, wallet "
    "addresses); the wallets' ownership lines stay commented out until they are signed",
    "replace liabilities.csv with your customer balances (account_id,asset,amount) and "
    "reserve.toml and prices.toml with your figures",
    "por keys create --config por.toml   (the attestation key; publish its public key)",
    "por challenge --config por.toml --epoch ID   (what each wallet signs; sign it, paste "
    "the printed [[ownership.epochs]] table and the signatures into por.toml, uncommenting "
    "the ownership lines)",
    "por config check --config por.toml",
    "por reconcile --config por.toml",
    "por reconcile --config por.toml --every 1h --json   (the scheduled job)",
)


def next_steps(directory: Path) -> list[str]:
    """`NEXT_STEPS`, run from `directory`: its relative ``--config por.toml`` names the
    file just written only there, so a directory other than the current one comes first."""
    try:
        here = directory.resolve() == Path.cwd().resolve()
    except OSError:  # the current directory was removed: name the directory anyway
        here = False
    if here:
        return list(NEXT_STEPS)
    return [f"cd {shlex.quote(str(directory))}", *NEXT_STEPS]


def _template(name: str) -> str:
    return resources.files("verifier.inputs").joinpath("templates", name).read_text("utf-8")


def _fill(text: str, values: dict[str, str], name: str) -> str:
    def one(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:  # a template bug, not the user's: say which
            raise KeyError(f"{name}: no value for {{{{{key}}}}}")
        return values[key]

    return _FIELD.sub(one, text)


def render(pack: str, today: datetime | None = None) -> dict[str, str]:
    """The files `por init` writes for `pack`, as {file name: text}.

    Raises
    ------
    UsageError
        `pack` is not one of the built-in packs (they are listed).
    """
    if pack not in _PACK_CURRENCY or pack not in known_packs():
        raise UsageError(
            f"--pack {pack!r} is not a known rule pack; choose one of "
            f"{', '.join(sorted(_PACK_CURRENCY))}"
        )
    day = (today or datetime.now(UTC)).date()
    rates = _RATES[_PACK_CURRENCY[pack]]
    values = {
        "pack": pack,
        "packs": ", ".join(sorted(_PACK_CURRENCY)),
        "today": day.isoformat(),
        "start": (day - timedelta(days=120)).isoformat(),
        "end": (day + timedelta(days=245)).isoformat(),
        "incident": (day - timedelta(days=365)).isoformat(),
        "year_1": str(day.year - 1),
        "year_2": str(day.year - 2),
        "year_3": str(day.year - 3),
        "currency": rates.code,
        "btc": rates.btc,
        "eth": rates.eth,
    }
    sources = {
        "por.toml": "por.toml",
        "prices.toml": "prices.toml",
        "reserve.toml": f"reserve/{pack}.toml",
        "assets.toml": "assets.toml",
        "liabilities.csv": "liabilities.csv",
    }
    return {name: _fill(_template(src), values, src) for name, src in sources.items()}


def init_directory(directory: Path, *, pack: str = DEFAULT_PACK, force: bool = False) -> list[Path]:
    """Write the starter files into `directory` (created if missing); return their paths.

    Raises
    ------
    UsageError
        An unknown pack, `directory` not a directory, or a file that exists (without
        `force`): nothing is written then.
    PorError
        The directory cannot be created or a file cannot be written (exit 4).
    """
    files = render(pack)
    if os.path.lexists(directory) and not directory.is_dir():
        raise UsageError(f"--dir {directory} exists and is not a directory")
    targets = [directory / name for name in FILES]
    existing = [p for p in targets if os.path.lexists(p)]
    if existing and not force:
        raise UsageError(
            f"{existing[0]} already exists; `por init` overwrites nothing without --force"
            + (f" ({len(existing)} files would be replaced)" if len(existing) > 1 else "")
        )
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PorError(f"cannot create the directory {directory}: {exc.strerror or exc}") from None
    for path in targets:
        write_atomic(path, files[path.name].encode("utf-8"))
    return targets


@click.command(
    "init",
    short_help="Write a commented por.toml and its input files for a new exchange; print the "
    "next steps.",
)
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path),
    default=Path(),
    show_default="the current directory",
    help="Where to write por.toml and its input files (created if missing).",
)
@click.option(
    "--pack",
    default=DEFAULT_PACK,
    show_default=True,
    help="The rule pack the reserve statement is written for.",
)
@click.option("--force", is_flag=True, help="Overwrite files that exist.")
@JSON_OPTION
def init(directory: Path, pack: str, force: bool, as_json: bool) -> int:
    """Write a commented por.toml (local-node defaults, REPLACE placeholders), prices.toml,
    reserve.toml (valid for --pack), assets.toml and liabilities.csv; print the next steps.

    Existing files are never overwritten without --force (exit 2)."""
    written = init_directory(directory, pack=pack, force=force)
    steps = next_steps(directory)
    if as_json:
        print_json(
            {
                "format": "por-init-v1",
                "directory": str(directory),
                "pack": pack,
                "files": [str(p) for p in written],
                "next_steps": steps,
            }
        )
        return EXIT_OK
    out.print(
        f"wrote {', '.join(p.name for p in written)} in {directory} (pack {pack})", markup=False
    )
    out.print("next steps:")
    for n, step in enumerate(steps, 1):
        out.print(f"  {n}. {step}", markup=False)
    return EXIT_OK
