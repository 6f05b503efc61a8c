"""`por --help` by role: the commands a customer, an exchange, an auditor and an operator use.

`ROLES` is the table; `RoleGroup` is the root group's class (main.py), whose help lists the
commands in those sections instead of one alphabetical list. `por COMMAND --help` and
command lookup stay click's own. `ENTRY_HELP` is each entry's line, written down so that
`por --help` imports no command module (they load lazily: lazy.py); tests/cli/test_lazy.py
checks it equals what the commands themselves say.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

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
    "Risk: what if a wallet, a wallet class or a vendor's wallets were drained": ("stress",),
    "Administrator: after a failure, the claims register and the distribution": ("insolvency",),
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

ENTRY_HELP: dict[str, str] = {
    "verify-proof": "Verify an inclusion proof offline (no network): exit 0 with the balances, "
    "3 if invalid.",
    "init": "Write a commented por.toml and its input files for a new exchange; print the next "
    "steps.",
    "keys": "The exchange's Ed25519 attestation signing key (create it; show its public key).",
    "challenge": "Print exactly what each address must sign (per chain), and how to sign it.",
    "liabilities": "Build the liabilities tree, cut customer proofs, audit a tree, make sample "
    "data.",
    "snapshot": "Read every wallet at one pinned block per chain and check its ownership proof.",
    "reserve": "Evaluate the off-chain liability reserve (cash, insurance, guarantees) under a "
    "rule pack.",
    "reconcile": "Snapshot, reserve and coverage: the combined report, stored in the history "
    "database.",
    "attest": "Reconcile, then write the signed attestation (Ed25519) and its report.",
    "publish": "Build the static attestation site: summary, charts, downloads, and in-browser "
    "proof checks.",
    "verify": "Check an attestation end to end and list every discrepancy.",
    "liabilities audit": "Recompute every node of tree DIR from its leaves and check it.",
    "verify-ownership": "Check an exchange's published address-ownership signatures, row by row.",
    "stress": "What if a wallet, a class of wallets or a vendor's wallets were drained tomorrow? "
    "Pays each...",
    "insolvency": "An administrator's distribution of customer assets after a failure.",
    "reconcile --every": "Keep running: one run every INTERVAL (30s, 15m, 1h, 1d) until SIGTERM.",
    "history": "Past runs of `por reconcile`: coverage per asset, reserve, and failed runs.",
    "db": "The history database of `por reconcile`.",
    "serve": "Serve a site built by `por publish`, with a read-only JSON API.",
    "config": "Check a por.toml offline, or print its JSON Schema.",
    "demo": "The whole job on local bcoin and anvil nodes, then N scheduled runs (--scheduled N).",
    "bench": "Benchmarks; figures go into docs/performance.md.",
}
"""Each `ROLES` entry's line in `por --help`, as `role_sections` derives it from the command
(its short help, or the option's first sentence): kept here so the root help imports no
command module. A changed command help fails tests/cli/test_lazy.py until this is updated."""


def role_sections(
    group: click.Group, ctx: click.Context, entry_help: Mapping[str, str] | None = None
) -> list[tuple[str, list[tuple[str, str]]]]:
    """The sections of `por --help`: (heading, [(entry, short help)]) in `ROLES` order.

    An entry in `entry_help` takes its line from there without loading its command;
    every other one asks the command (importing it when the group loads lazily)."""
    sections: list[tuple[str, list[tuple[str, str]]]] = []
    listed: set[str] = set()
    static = entry_help or {}
    for heading, entries in ROLES.items():
        rows = []
        for entry in entries:
            name, _, rest = entry.partition(" ")
            if entry in static:
                if not rest:
                    listed.add(name)
                rows.append((entry, static[entry]))
                continue
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
    alphabetical list; `por COMMAND --help` and command lookup are click's own.
    `entry_help` (main.py passes `ENTRY_HELP`) gives entries' lines without loading them."""

    def __init__(self, *args: Any, entry_help: Mapping[str, str] | None = None, **kw: Any):
        super().__init__(*args, **kw)
        self.entry_help = dict(entry_help or {})

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        for heading, rows in role_sections(self, ctx, self.entry_help):
            formatter.write_paragraph()
            formatter.write_text(heading)
            with formatter.indentation():
                formatter.write_dl(rows)
