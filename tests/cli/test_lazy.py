"""`por X` imports only X's module: the root group loads its commands lazily
(verifier/cli/lazy.py), and `por --help` takes each command's line from roles.ENTRY_HELP.

What is checked, in fresh interpreters (the test process has every module loaded): which
modules a command imports, never how long it takes; and that the written-down help lines
are exactly what the commands themselves say."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest

from verifier.cli.lazy import LazyCommands
from verifier.cli.main import COMMANDS, cli
from verifier.cli.roles import ENTRY_HELP, ROLES, role_sections

COMMAND_MODULES = sorted({target.partition(":")[0] for target in COMMANDS.values()})


def _modules_after(*args: str) -> tuple[int, set[str]]:
    """Run `por ARGS` in a fresh interpreter; its exit code and every module it imported."""
    code = (
        "import sys\n"
        "from verifier.cli.main import main\n"
        f"rc = main({list(args)!r})\n"
        "import json\n"
        "sys.__stderr__.write('\\nMODULES ' + json.dumps(sorted(sys.modules)) + '\\n')\n"
        "sys.exit(rc)\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    line = next(x for x in res.stderr.splitlines() if x.startswith("MODULES "))
    return res.returncode, set(json.loads(line.removeprefix("MODULES ")))


HEAVY = ("aiohttp", "sqlalchemy", "alembic", "jinja2", "web3", "eth_account", "coincurve")


@pytest.mark.parametrize("args", [("--version",), ("--help",), ("liabilities", "--help")])
def test_version_and_help_import_no_command_beyond_the_one_asked(args):
    rc, modules = _modules_after(*args)
    assert rc == 0
    loaded = {m for m in COMMAND_MODULES if m in modules}
    expected = {"verifier.cli.liabilities"} if args[0] == "liabilities" else set()
    assert loaded == expected
    assert not {m for m in modules if m.split(".")[0] in HEAVY}, "a heavy library was imported"


def test_version_json_imports_no_format_module():
    """`por --version --json` reads the format names from verifier/cli/formats.py; only the
    two backend modules (hashing, native: numpy) are imported for what it reports of them."""
    rc, modules = _modules_after("--version", "--json")
    assert rc == 0
    from verifier.cli.formats import SOURCES

    defining = {source.partition(":")[0] for source in SOURCES.values()}
    assert not defining & modules, "a module defining a format was imported"
    assert not {m for m in modules if m.split(".")[0] in (*HEAVY, "pyarrow", "pydantic")}
    assert not {m for m in COMMAND_MODULES if m in modules}


def test_liabilities_build_imports_only_what_it_runs(tmp_path):
    src = tmp_path / "l.csv"
    src.write_text("account_id,asset,amount\nalice,BTC,1.5\nbob,BTC,2\n")
    assets = tmp_path / "a.toml"
    assets.write_text("[assets.BTC]\ndecimals = 8\n")
    rc, modules = _modules_after(
        "-q", "liabilities", "build", str(src), "--assets", str(assets),
        "--attestation-id", "x", "--as-of", "2026-12-05T00:00:00Z",
        "--out", str(tmp_path / "t"), "--json",
    )  # fmt: skip
    assert rc == 0
    assert {m for m in COMMAND_MODULES if m in modules} == {"verifier.cli.liabilities"}
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    unwanted = sorted(
        m
        for m in modules
        if m.startswith(("verifier.history", "verifier.holdings", "verifier.report", "chains."))
        or m in {"verifier.inputs.config_schema", "verifier.inputs.config"}
    )
    assert heavy == [] and unwanted == []
    # the assets file is read by plain code; pydantic (its schema, for the messages of a
    # faulty file and for `por config check`) is imported only when a file is refused
    assert not {m for m in modules if m.split(".")[0] in ("pydantic", "pydantic_core")}
    assert "verifier.inputs.file_schemas" not in modules


def test_the_written_down_help_lines_are_what_the_commands_say():
    """ENTRY_HELP is a copy for speed; this is what makes a changed help text fail until the
    copy follows (role_sections without it asks every command)."""
    ctx = click.Context(cli, info_name="por")
    assert role_sections(cli, ctx, ENTRY_HELP) == role_sections(cli, ctx)
    entries = [entry for entries in ROLES.values() for entry in entries]
    assert sorted(ENTRY_HELP) == sorted(entries)


def test_the_table_names_every_command_once_in_role_order():
    named = [e for entries in ROLES.values() for e in entries if " " not in e]
    assert list(COMMANDS) == named
    ctx = click.Context(cli, info_name="por")
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert command is not None and command.name == name


def test_a_stale_help_line_is_caught():
    """The comparison above can fail: one changed line makes the sections differ."""
    ctx = click.Context(cli, info_name="por")
    stale = {**ENTRY_HELP, "bench": "Something else."}
    assert role_sections(cli, ctx, stale) != role_sections(cli, ctx)


def test_lazy_commands_load_on_access_only():
    table = {"alpha": "verifier.cli.bench:bench", "beta": "verifier.cli.demo:demo"}
    commands = LazyCommands(table)
    assert list(commands) == ["alpha", "beta"] and len(commands) == 2
    assert "alpha" in commands and "gamma" not in commands
    assert commands.loaded() == frozenset()
    assert commands["alpha"].name == "bench"
    assert commands.loaded() == {"alpha"}
    extra = click.Command("gamma", help="Added.")
    commands["gamma"] = extra
    assert list(commands) == ["alpha", "beta", "gamma"] and commands["gamma"] is extra
    del commands["beta"]
    assert list(commands) == ["alpha", "gamma"] and len(commands) == 2
    with pytest.raises(KeyError):
        commands["beta"]
    assert commands.get("nope") is None


def test_a_wrong_table_entry_is_named():
    commands = LazyCommands({"x": "verifier.cli.main:COMMANDS"})
    with pytest.raises(TypeError, match=r"verifier.cli.main:COMMANDS \(command 'x'\)"):
        commands["x"]


def test_an_unknown_command_still_gets_did_you_mean():
    code = (
        "import sys\n"
        "from verifier.cli.main import main\n"
        "rc = main(['liabilties'])\n"
        "import json\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('verifier.cli.'))))\n"
        "sys.exit(rc)\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert res.returncode == 2
    assert "Did you mean 'liabilities'?" in res.stderr
    assert not set(COMMAND_MODULES) & set(json.loads(res.stdout))
