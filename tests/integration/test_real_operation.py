"""`por reconcile` and `por verify` as they run in real operation, on real bcoin and anvil.

The defects an outside review found by running the tool as deployed: the systemd example
with its read-only config directory and a config written by `por init` (a liabilities file,
so a tree built on every run); an auditor whose nodes are down; the auditor config of
docs/files.md; stale proofs in the terminal report and the alerts; the verdict as the last
line of `por verify`. The world is the demo's (verifier/demo.py) with ownership epochs: the
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

from bcoin_fixtures import start_bcoin
from eth_fixtures import start_anvil

from attestations.build import build_tree
from verifier.demo import ATTESTATION, Nodes, _fund_and_configure
from verifier.inputs import read_assets, read_liabilities
from verifier.sample import assets_toml, sample_assets, write_sample

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
    assets = sample_assets(3)
    write_sample(work / "liabilities.csv", 300, assets)
    (work / "assets.toml").write_text(assets_toml(assets))
    data = read_liabilities(work / "liabilities.csv", read_assets(work / "assets.toml"))
    scratch = tmp_path_factory.mktemp("scratch-tree")
    result = build_tree(
        data, scratch / "tree", attestation_id=ATTESTATION, as_of="2026-11-21T00:00:00Z"
    )
    totals = dict(zip((a.code for a in result.root.assets), result.root.root.sums, strict=True))
    bcoin = start_bcoin()
    anvil = start_anvil()
    try:
        config = _fund_and_configure(work, Nodes(bcoin, anvil), totals, epochs=True)
        text = config.read_text()
        config.write_text(
            text.replace(
                '[liabilities]\nroot = "tree/root.json"\n',
                '[liabilities]\nfile = "liabilities.csv"\nassets = "assets.toml"\n',
            )
        )
        assert 'file = "liabilities.csv"' in config.read_text()
        yield work
    finally:
        bcoin.stop()
        anvil.stop()


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
