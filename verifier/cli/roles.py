"""`por --help` by role: the commands a customer, an exchange, an auditor and an operator use.

`ROLES` is the table; `RoleGroup` is the root group's class (main.py), whose help lists the
commands in those sections instead of one alphabetical list. `por COMMAND --help` and
command lookup stay click's own.
"""

from __future__ import annotations

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
