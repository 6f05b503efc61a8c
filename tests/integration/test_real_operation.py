"""`por reconcile` and `por verify` as they run in real operation, on real bcoin and anvil.

The defects an outside review found by running the tool as deployed: the systemd example
with its read-only config directory and a config written by `por init` (a liabilities file,
so a tree built on every run); an auditor whose nodes are down; the auditor config of
docs/files.md; stale proofs in the terminal report and the alerts; the verdict as the last
line of `por verify`. The world is the demo's (verifier/tools/demo.py) with ownership epochs: the
ongoing wallets' proofs are on a live epoch, "old-epoch" on an expired one (stale).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from demo_world import demo_world

pytestmark = pytest.mark.node

ROOT = Path(__file__).resolve().parents[2]
SERVICE = ROOT / "docs" / "examples" / "por-reconcile.service"
POR = Path(sys.executable).with_name("por")
STATE = "/var/lib/por"
"""The unit's state directory (StateDirectory=por): mapped onto a temp dir in the tests."""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A config directory as `por init` leaves it once filled in: the liabilities file
    and its assets (the tree is built by each run), the nodes, the epoch proofs."""
    work = tmp_path_factory.mktemp("operation")
    scratch = tmp_path_factory.mktemp("scratch-tree")
    with demo_world(work, accounts=300, epochs=True, tree=scratch / "tree") as (config, _):
        text = config.read_text()
        config.write_text(
            text.replace(
                '[liabilities]\nroot = "tree/root.json"\n',
                '[liabilities]\nfile = "liabilities.csv"\nassets = "assets.toml"\n',
            )
        )
        assert 'file = "liabilities.csv"' in config.read_text()
        yield work


def read_only(directory: Path) -> list[str]:
    """The argv prefix that runs a command with `directory` read-only, as ProtectSystem=
    strict leaves /etc/por: a read-only bind mount in a private mount namespace (root may
    write through file modes), or the modes themselves for another user."""
    if os.geteuid() != 0:
        for path in (directory, *directory.rglob("*")):
            if path.is_dir():
                path.chmod(0o555)
        return []
    unshare = shutil.which("unshare")
    if unshare is None:
        if os.environ.get("CI") == "true":
            pytest.fail("unshare (util-linux) is required under CI")
        pytest.skip("unshare is not installed: no read-only directory for root")
    return [unshare, "-m", "sh", "-c", 'mount --bind -o ro "$0" "$0" && exec "$@"', str(directory)]


def documented_tree() -> str:
    """The `[liabilities] tree` the systemd unit tells the operator to set."""
    match = re.search(r'^#\s+tree = "([^"]+)"\s*$', SERVICE.read_text(), re.M)
    assert match, f"{SERVICE.name} does not document [liabilities] tree"
    return match.group(1)


def service_run(
    world: Path, config_dir: Path, state: Path, tree: str | None
) -> subprocess.CompletedProcess[str]:
    """`por reconcile` as the unit's ExecStart runs it, with a read-only config dir."""
    if config_dir.exists():
        shutil.rmtree(config_dir)
    shutil.copytree(world, config_dir, ignore=shutil.ignore_patterns("tree*", "por.db"))
    config = config_dir / "por.toml"
    if tree is not None:
        config.write_text(
            config.read_text().replace("[liabilities]\n", f'[liabilities]\ntree = "{tree}"\n', 1)
        )
    prefix = read_only(config_dir)
    result = subprocess.run(
        [
            *prefix,
            str(POR),
            "--log-format",
            "json",
            "reconcile",
            "--config",
            str(config),
            "--db",
            str(state / "por.db"),
            "--report-dir",
            str(state / "reports"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        cwd=state,
        env={**os.environ, "POR_WEBHOOK_URL": ""},
    )
    if not prefix:
        for path in (config_dir, *config_dir.rglob("*")):
            if path.is_dir():
                path.chmod(0o755)
    return result


def test_the_systemd_setup_runs_with_a_read_only_config_dir(world: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    tree = documented_tree()
    assert Path(tree).is_relative_to(STATE)
    mapped = str(state / Path(tree).relative_to(STATE))
    result = service_run(world, tmp_path / "etc-por", state, mapped)
    assert result.returncode == 0, result.stderr
    assert (state / "tree" / "root.json").is_file()
    secret = state / "tree.secret.key"
    assert secret.stat().st_mode & 0o777 == 0o600
    assert not (tmp_path / "etc-por" / "tree").exists()
    assert json.loads((state / "reports" / "latest.json").read_text())["verdict"]["covered"]
    # the next run keeps the secret (customers' proofs stay stable)
    before = secret.read_bytes()
    again = service_run(world, tmp_path / "etc-por", state, mapped)
    assert again.returncode == 0, again.stderr
    assert secret.read_bytes() == before


def test_a_tree_beside_a_read_only_config_is_named_not_unexpected(
    world: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    result = service_run(world, tmp_path / "etc-por", state, None)
    assert result.returncode == 4, result.stderr
    assert "unexpected error" not in result.stderr and "Traceback" not in result.stderr
    assert "liabilities.tree" in result.stderr
    assert str(tmp_path / "etc-por" / "tree") in result.stderr
    reason = "Read-only file system" if os.geteuid() == 0 else "Permission denied"
    assert reason in result.stderr


# ----------------------------------------------------------------------------- verify


@pytest.fixture(scope="module")
def attested(world: Path) -> tuple[Path, str]:
    """The world's signed attestation and the exchange's published key."""
    from verifier.cli.main import main

    config = str(world / "por.toml")
    assert main(["keys", "create", "--config", config]) == 0
    assert main(["attest", "--config", config, "--out", str(world / "attestation")]) == 0
    doc = json.loads((world / "attestation" / "attestation.json").read_text())
    return world / "attestation" / "attestation.json", str(doc["signature"]["public_key"])


def run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    from verifier.cli.main import main

    capsys.readouterr()
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_verify_prints_checks_then_figures_in_words_then_the_verdict_last(
    world: Path, attested: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    path, key = attested
    code, out, err = run(
        capsys, "verify", path, "--config", world / "auditor.toml", "--public-key", key
    )
    assert code == 0, out + err
    lines = out.strip().splitlines()
    assert lines[-1].startswith("VALID attestation demo-2026-11"), lines[-1]
    assert lines[-2] == "recomputed: covered: yes, reserve met: yes, combined met: yes"
    assert "True" not in out and "False" not in out
    first_check = next(i for i, line in enumerate(lines) if line.startswith("  ✓"))
    assert all("VALID" not in line for line in lines[:first_check])


def test_verify_with_the_auditors_nodes_down_is_exit_4_and_not_verified(
    world: Path, attested: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    path, key = attested
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    text = (world / "auditor.toml").read_text()
    down = re.sub(r'url = "http://127\.0\.0\.1:\d+"', f'url = "http://127.0.0.1:{dead}"', text)
    down = re.sub(r"timeout = \d+", "timeout = 2", down)
    assert down != text
    auditor = world / "auditor-down.toml"
    auditor.write_text(down)
    code, out, err = run(capsys, "verify", path, "--config", auditor, "--public-key", key, "--json")
    assert code == 4, out
    result = json.loads(out)
    assert result["valid"] is False and result["exit_code"] == 4
    assert result["node_error"]["exit_code"] == 4 and result["discrepancies"] == []
    assert "the auditor's node" in err and "por: error:" in err
    code, out, err = run(capsys, "verify", path, "--config", auditor, "--public-key", key)
    assert code == 4
    lines = out.strip().splitlines()
    assert lines[-1].startswith("NOT VERIFIED (the auditor's node failed)"), lines[-1]
    assert not any(line.startswith("  ✓") and "not re-checked" in line for line in lines)


def test_what_is_not_rechecked_has_no_check_mark(
    attested: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    path, key = attested
    code, out, err = run(capsys, "verify", path, "--public-key", key)
    assert code == 0, out + err
    flat = " ".join(out.split())
    assert (
        "! ethereum:0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512: contract-wallet signature not re-checked"
        in flat
    )
    assert "✓ ethereum:0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512" not in flat
    assert out.strip().splitlines()[-1].startswith("VALID")


def docs_auditor_example() -> str:
    text = (ROOT / "docs" / "files.md").read_text()
    section = text[text.index("## Auditor config") :]
    match = re.search(r"<!-- file: config -->\n```toml\n(.*?)```", section, re.S)
    assert match
    return match.group(1)


def test_the_docs_auditor_config_verifies_the_demo_attestation(
    world: Path,
    attested: tuple[Path, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path, key = attested
    ours = (world / "auditor.toml").read_text()
    example = docs_auditor_example()
    # the demo's token contract is the first deployment of anvil's first account
    (contract,) = re.findall(r'contract = "(0x[0-9a-fA-F]{40})"', ours)
    assert f'contract = "{contract}"' in example
    btc_url = re.search(r'url = "(http://[^"]+)"', ours)
    eth_url = re.findall(r'url = "(http://[^"]+)"', ours)[-1]
    assert btc_url
    text = re.sub(r'public_key = "[0-9a-f]{64}"', f'public_key = "{key}"', example)
    text = text.replace('url = "http://127.0.0.1:48332"', f'url = "{btc_url.group(1)}"')
    text = text.replace(
        'password_file = "keys/bcoin.pass"', f'password_file = "{world}/keys/bcoin.pass"'
    )
    monkeypatch.setenv("POR_ETH_URL", eth_url)
    auditor = world / "auditor-docs.toml"
    auditor.write_text(text)
    code, out, err = run(capsys, "verify", path, "--config", auditor)
    assert code == 0, out + err
    assert out.strip().splitlines()[-1].startswith("VALID")
    # without [[ethereum.tokens]]: one discrepancy saying what to add, not "reads None"
    auditor.write_text(text[: text.index("[[ethereum.tokens]]")])
    code, out, err = run(capsys, "verify", path, "--config", auditor, "--json")
    assert code == 3
    problems = json.loads(out)["discrepancies"]
    assert problems == [
        "ethereum: the auditor config lists no token USDT ([[ethereum.tokens]]): its "
        "balances cannot be re-read"
    ]


# ----------------------------------------------------------------------------- reconcile


def test_the_terminal_report_lists_what_is_not_proven_and_the_ages(
    world: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.delenv("POR_WEBHOOK_URL", raising=False)
    code, out, err = run(capsys, "reconcile", "--config", world / "por.toml")
    assert code == 0, err
    lines = out.splitlines()
    assert all(len(line) <= 80 or " " not in line.strip() for line in lines), out
    flat = " ".join(out.split())
    assert "Not proven: 3 addresses" in flat
    for label, status in (
        ("old-epoch", "stale, age"),
        ("wrong-block", "unproven"),
        ("custodian", "custodial"),
    ):
        block = flat[flat.index(f"label: {label}") :]
        assert f"status: {status}" in block[:300], block[:300]
    assert "expired at" in flat[flat.index("label: old-epoch") :]
    assert re.search(
        r"Proof ages \(epoch demo-epoch-1\): bitcoin \d+ blocks? \(\S+\), ethereum", flat
    )
    assert "maximum age 92 days" in flat
    assert lines[-1].startswith("VERDICT: COVERED")


def test_a_breach_alert_says_which_proofs_are_stale(world: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from postgres_fixtures import WebhookReceiver

    strict = world / "por-strict.toml"
    strict.write_text((world / "por.toml").read_text() + '\n[thresholds]\nmin_coverage = "50"\n')
    receiver = WebhookReceiver()
    try:
        done = subprocess.run(
            [
                str(POR),
                "reconcile",
                "--config",
                str(strict),
                "--webhook",
                receiver.url,
                "--db",
                str(world / "strict.db"),
                "--json",
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
    finally:
        receiver.close()
    assert done.returncode == 1, done.stderr
    (sent,) = receiver.received
    assert isinstance(sent, dict)
    btc = next(a for a in sent["alerts"] if a["subject"] == "BTC")
    assert "not counted as proven: 1 proof stale: epoch demo-epoch-0 expired at" in btc["message"]
    assert "1 address unproven (wrong-block)" in btc["message"]


@pytest.mark.parametrize(
    "args",
    [["reconcile"], ["reconcile", "--json"], ["challenge", "--epoch", "demo-epoch-1"]],
    ids=["reconcile", "reconcile-json", "challenge"],
)
def test_a_reader_closing_stdout_keeps_the_commands_exit_code(world: Path, args: list[str]) -> None:
    read, write = os.pipe()
    os.close(read)  # what `| head -1` leaves once head has its line
    try:
        done = subprocess.run(
            [str(POR), *args, "--config", str(world / "por.toml")],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
            timeout=300,
            env={k: v for k, v in os.environ.items() if k != "POR_WEBHOOK_URL"},
        )
    finally:
        os.close(write)
    assert done.returncode == 0, done.stderr
    for noise in ("Traceback", "Exception ignored", "BrokenPipeError"):
        assert noise not in done.stderr
    if args[0] == "reconcile":
        from verifier.history.store import Store

        (last,) = Store(f"sqlite:///{world / 'por.db'}").runs()[-1:]
        assert last.exit_code == 0
