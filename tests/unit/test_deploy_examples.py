"""The deployment examples in docs/examples work as written: the systemd unit passes
`systemd-analyze verify` (where the tool exists) and writes only where its sandbox lets it;
the Kubernetes manifests parse, mount config and secrets read-only (secrets as files no
other user can read) and put the database and report directory on a writable volume; and
every command line in them is one `por` accepts (its flags exist in `--help`)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path, PurePosixPath

import pytest

from verifier.cli.main import main

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
SERVICE = EXAMPLES / "por-reconcile.service"
TIMER = EXAMPLES / "por-reconcile.timer"
MANIFESTS = [EXAMPLES / "cronjob.yaml", EXAMPLES / "deployment.yaml"]
WRITTEN_FLAGS = ("--db", "--report-dir", "--metrics-file", "--html")


def unit(path: Path) -> dict[str, list[str]]:
    """A systemd unit file as {key: [values]} (continuation lines joined, comments dropped)."""
    text = re.sub(r"\\\n\s*", " ", path.read_text())
    values: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;[":
            continue
        key, _, value = line.partition("=")
        values.setdefault(key.strip(), []).append(value.strip())
    return values


def por_accepts(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """`por ARGS --help` exits 0 (no unknown flag), and every flag is in the help text of the
    root group or the subcommand."""
    capsys.readouterr()
    assert main([*args, "--help"]) == 0, capsys.readouterr().err
    command = [a for a in args if not a.startswith("-")]
    sub = next(a for a in args if a in {"reconcile", "db"})
    chain = args[: args.index(sub) + (2 if sub == "db" else 1)]
    assert main([*chain, "--help"]) == 0
    helped = capsys.readouterr().out
    assert main(["--help"]) == 0
    helped += capsys.readouterr().out
    for flag in (a for a in args if a.startswith("--")):
        assert flag in helped, f"{flag} is not an option of por {' '.join(command[:2])}"


def flag_values(args: list[str]) -> dict[str, str]:
    return {a: args[i + 1] for i, a in enumerate(args[:-1]) if a.startswith("--")}


def under(path: str, roots: list[str]) -> bool:
    return any(PurePosixPath(path).is_relative_to(root) for root in roots)


def test_service_writes_only_where_its_sandbox_allows(capsys: pytest.CaptureFixture[str]) -> None:
    service = unit(SERVICE)
    (exec_start,) = service["ExecStart"]
    argv = shlex.split(exec_start)
    assert argv[0].endswith("/por")
    args = argv[1:]
    por_accepts(args, capsys)
    assert service["ProtectSystem"] == ["strict"]
    writable = [f"/var/lib/{d}" for d in service.get("StateDirectory", [])]
    writable += [f"/var/log/{d}" for d in service.get("LogsDirectory", [])]
    writable += [p for value in service.get("ReadWritePaths", []) for p in value.split()]
    values = flag_values(args)
    written = [values[f] for f in WRITTEN_FLAGS if f in values]
    assert "--db" in values and "--report-dir" in values
    for path in written:
        assert under(path, writable), f"{path} is read-only under ProtectSystem=strict"
    # the config stays read-only, and por.db is not put beside it by default
    assert not under(values["--config"], writable)
    assert service["WorkingDirectory"] == [f"/var/lib/{service['StateDirectory'][0]}"]
    # logs to the journal as JSON lines; nothing appended to a file by hand
    assert args[:2] == ["--log-format", "json"]
    assert not any(v.startswith(("append:", "file:")) for v in service.get("StandardOutput", []))
    assert "--json" not in args  # a single run's --json is the whole pretty report


def test_service_puts_the_tree_in_its_state_directory() -> None:
    """A config written by `por init` builds the tree on every run, by default beside the
    read-only config: the unit tells the operator to move it (and its secret) into the
    state directory (tests/integration/test_real_operation.py runs that setup)."""
    service = unit(SERVICE)
    match = re.search(r'^#\s+tree = "([^"]+)"\s*$', SERVICE.read_text(), re.M)
    assert match, "the unit does not say where [liabilities] tree goes"
    state = [f"/var/lib/{d}" for d in service["StateDirectory"]]
    assert under(match.group(1), state)
    assert f"{match.group(1)}.secret.key" in SERVICE.read_text()


def test_timer_starts_the_service() -> None:
    timer = unit(TIMER)
    assert timer["Unit"] == [SERVICE.name]
    assert timer["OnCalendar"] and timer["Persistent"] == ["true"]


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        # Debian's systemd is on every machine of this project's kind; outside CI the
        # parse above remains the check
        if os.environ.get("CI") == "true":
            pytest.fail("systemd-analyze is missing (Debian package systemd)")
        pytest.skip("systemd-analyze is not installed: the unit was checked by parsing")
    por = Path(sys.executable).with_name("por")
    assert por.is_file()
    text = SERVICE.read_text().replace("/opt/por/.venv/bin/por", str(por))
    (tmp_path / SERVICE.name).write_text(text)
    shutil.copy(TIMER, tmp_path / TIMER.name)
    result = subprocess.run(
        [analyze, "verify", str(tmp_path / SERVICE.name), str(tmp_path / TIMER.name)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    problems = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if "por-reconcile" in line  # other units of the host are not ours to judge
    ]
    assert result.returncode == 0 and not problems, result.stdout + result.stderr


def manifest_args(text: str) -> list[list[str]]:
    """Every `args: [...]` list (written as JSON arrays, so they parse without PyYAML)."""
    return [json.loads(m) for m in re.findall(r"^\s*args: (\[.*\])\s*$", text, re.M)]


def mounts(text: str) -> dict[str, tuple[str, bool]]:
    """{volume name: (mount path, read-only)} of the container mounts."""
    found = {}
    for name, path, flags in re.findall(
        r"\{name: ([\w-]+), mountPath: ([^,}]+)((?:, readOnly: true)?)\}", text
    ):
        found[name] = (path.strip(), bool(flags))
    return found


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_parses(path: Path) -> None:
    text = path.read_text()
    assert "\t" not in text
    try:
        import yaml  # type: ignore[import-untyped]
    except ImportError:
        # no PyYAML: the minimal check, the structure by its keys and indentation
        for line in text.splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                assert (len(line) - len(line.lstrip())) % 2 == 0, line
        assert re.search(r"^kind: (CronJob|Deployment)$", text, re.M)
        assert re.search(r"^apiVersion: (batch|apps)/v1$", text, re.M)
        return
    (doc,) = [d for d in yaml.safe_load_all(text) if d]
    assert doc["kind"] in {"CronJob", "Deployment"}


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_commands_and_volumes(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = path.read_text()
    commands = manifest_args(text)
    assert commands and any("reconcile" in args for args in commands)
    volumes = mounts(text)
    assert volumes["config"][1] and volumes["secrets"][1]  # read-only
    assert not volumes["state"][1]
    state = volumes["state"][0]
    for args in commands:
        por_accepts(args, capsys)
        values = flag_values(args)
        for flag in WRITTEN_FLAGS:
            if flag in values:
                assert under(values[flag], [state]), f"{flag} {values[flag]} is not writable"
        if "reconcile" in args:
            assert under(values["--config"], [volumes["config"][0]])
            assert args[:2] == ["--log-format", "json"]
            assert ("--every" in args) == ("--json" in args)  # NDJSON only from the loop
    # secret files: not readable by others (por refuses those), readable by the fsGroup
    mode = re.search(r"secret: \{secretName: [\w-]+, defaultMode: (0[0-7]{3})\}", text)
    assert mode is not None and int(mode.group(1), 8) & 0o007 == 0
    assert re.search(r"fsGroup: \d+", text)
