"""The CLI people read: `por --help` by role, help on every option, `por --version`,
`por demo --help` as the demo is today."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterator

import click
import pytest

from verifier.cli.main import cli
from verifier.cli.roles import OTHER_ROLE, ROLES, RoleGroup, role_sections


def _walk(
    command: click.Command, path: tuple[str, ...] = ("por",)
) -> Iterator[tuple[tuple[str, ...], click.Command, click.Context]]:
    ctx = click.Context(command, info_name=path[-1])
    yield path, command, ctx
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None
            yield from _walk(sub, (*path, name))


def test_every_option_of_every_command_has_help():
    missing = [
        f"{' '.join(path)} {param.opts[0]}"
        for path, command, ctx in _walk(cli)
        for param in command.get_params(ctx)
        if isinstance(param, click.Option) and not (param.help or "").strip()
    ]
    assert not missing, f"options without help text: {missing}"


def test_every_command_has_help():
    missing = [
        " ".join(path) for path, command, _ in _walk(cli) if not (command.help or "").strip()
    ]
    assert not missing, f"commands without help text: {missing}"


def test_every_command_is_under_exactly_one_role():
    ctx = click.Context(cli, info_name="por")
    sections = role_sections(cli, ctx)
    headings = [heading for heading, _ in sections]
    assert OTHER_ROLE not in headings, (
        f"commands with no role in verifier.cli.roles.ROLES: {sections}"
    )
    named = [entry for _, rows in sections for entry, _ in rows if " " not in entry]
    assert sorted(named) == sorted(cli.list_commands(ctx)), named
    assert len(named) == len(set(named)), f"a command under two roles: {named}"
    for role in ("Customer", "Exchange", "Auditor", "Operations"):
        assert sum(h.startswith(f"{role}:") for h in headings) == 1, headings


def test_role_cross_references_name_real_subcommands_and_options():
    """`liabilities audit` and `reconcile --every` are listed (with their help) where
    auditors and operators look; an entry that no longer exists would vanish silently."""
    ctx = click.Context(cli, info_name="por")
    listed = {entry: text for _, rows in role_sections(cli, ctx) for entry, text in rows}
    pointers = [e for entries in ROLES.values() for e in entries if " " in e]
    assert pointers
    for entry in pointers:
        assert listed.get(entry), f"{entry!r} in ROLES names no subcommand or option with help"
    assert listed["liabilities audit"].startswith("Recompute every node")
    assert listed["reconcile --every"].startswith("Keep running")


def test_root_help_prints_the_role_sections_in_order(por):
    res = por("--help")
    assert res.rc == 0, res.err
    lines = res.out.splitlines()
    assert "Commands:" not in lines  # click's one alphabetical list is gone
    assert [line for line in lines if line in ROLES] == list(ROLES)
    shown: dict[str, list[str]] = {}
    heading = None
    for line in lines:
        if line in ROLES:
            heading = line
            shown[heading] = []
        elif heading is not None and line.startswith("  ") and line[2] != " ":
            shown[heading].append(line[2:].split("  ")[0])  # name, two spaces, its help
    assert shown == {heading: list(entries) for heading, entries in ROLES.items()}


def test_a_command_without_a_role_is_listed_under_other():
    group = RoleGroup(
        "por",
        commands=[
            click.Command("verify-proof", help="Check."),
            click.Command("newthing", help="Does a new thing."),
        ],
    )
    ctx = click.Context(group, info_name="por")
    sections = dict(role_sections(group, ctx))
    assert sections[OTHER_ROLE] == [("newthing", "Does a new thing.")]
    assert [e for e, _ in next(r for h, r in sections.items() if h.startswith("Customer"))] == [
        "verify-proof"
    ]
    assert "newthing" in group.get_help(ctx)


@pytest.mark.parametrize(
    "args",
    [("verify-proof",), ("liabilities",), ("liabilities", "audit"), ("reconcile",), ("demo",)],
)
def test_command_help_is_clicks_own(por, args):
    res = por(*args, "--help")
    assert res.rc == 0, res.err
    assert res.out.startswith(f"Usage: por {' '.join(args)} ")
    assert "Options:" in res.out


def test_version_prints_the_installed_version(por):
    res = por("--version")
    assert res.rc == 0
    assert res.out == f"por {importlib.metadata.version('por')}\n"
    assert res.err == ""


def test_demo_help_describes_the_demo_of_today(por):
    res = por("demo", "--help")
    assert res.rc == 0
    text = " ".join(res.out.split())
    for words in (
        "bcoin (regtest) and anvil",
        "ownership epoch",
        "--scheduled N",
        "NDJSON",
        "por-run-v1",
        "jp-fsa-2026",
        "Publish the static site",
        "POR_NODE_MODULES",
    ):
        assert words in text, words
