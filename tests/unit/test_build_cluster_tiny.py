"""The cluster build (verifier/inputs/liabilities_cluster.py) of inputs of one to a few
accounts: exit 0 and the one-machine tree, every time.

Regression: with most account buckets empty, every empty bucket's salts were scattered
under one content-hash key; dropping one of those futures released the key the others'
tasks still needed, and `por liabilities build --cluster local:2` usually ended exit 4
"internal error (FutureCancelledError)", "lost dependencies".
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc
import pytest

if os.environ.get("CI") == "true":  # CI installs the 'cluster' extra: missing is a failure
    import distributed  # noqa: F401
else:
    pytest.importorskip("distributed")

from attestations.build import build_tree
from attestations.encoding import AssetSpec
from attestations.store import TreeStore
from verifier.inputs.liabilities import read_liabilities
from verifier.inputs.liabilities_cluster import _send, cluster_build, connect

ASSETS = (AssetSpec("BTC", 8), AssetSpec("ETH", 18), AssetSpec("USDT", 6))
AS_OF = "2026-01-01T00:00:00Z"
SECRET = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
POR = Path(sys.executable).with_name("por")
ROWS = [
    "c0,BTC,3.47712782",
    "c0,ETH,0.173917261544246756",
    "c1,BTC,1",
    "c2,USDT,2.5",
]


def write(tmp: Path, rows: list[str], name: str = "in.csv") -> tuple[Path, Path]:
    data = tmp / name
    data.write_text("account_id,asset,amount\n" + "".join(r + "\n" for r in rows))
    secret = tmp / "secret.key"
    secret.write_text(SECRET)
    secret.chmod(0o600)
    return data, secret


def ids_of(out: Path) -> list[str]:
    with pa.OSFile(str(out / "tree" / "accounts.arrow")) as f:
        return pa.ipc.open_file(f).read_all().column(0).to_pylist()


def assert_same_files(local: Path, other: Path) -> None:
    """Every file byte-identical but accounts.arrow, which holds the same ids (the
    cluster writes one record batch per account bucket)."""
    names = sorted(p.relative_to(local) for p in local.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(other) for p in other.rglob("*") if p.is_file())
    for name in names:
        if name.name == "accounts.arrow":
            assert ids_of(local) == ids_of(other)
        else:
            assert (local / name).read_bytes() == (other / name).read_bytes(), name


@pytest.mark.parametrize(("accounts", "split"), [(1, 1), (2, 3), (3, 1)])
def test_a_few_accounts_on_two_workers_give_the_one_machine_tree(tmp_path, accounts, split):
    rows = [r for r in ROWS if int(r.split(",")[0][1:]) < accounts]
    data, secret = write(tmp_path, rows)
    liabilities = read_liabilities(data, ASSETS)
    build_tree(
        liabilities,
        tmp_path / "local",
        attestation_id="c",
        as_of=AS_OF,
        split=split,
        secret_file=secret,
    )
    cluster_build(
        data,
        ASSETS,
        tmp_path / "dist",
        cluster="local:2",
        attestation_id="c",
        as_of=AS_OF,
        split=split,
        secret_file=secret,
    )
    assert_same_files(tmp_path / "local", tmp_path / "dist")
    proofs = [TreeStore(t).proof("c0").to_json() for t in (tmp_path / "local", tmp_path / "dist")]
    assert proofs[0] == proofs[1]


def test_equal_data_sent_many_times_stays_until_its_tasks_ran() -> None:
    """The cause, alone: 32 empty arrays sent, each future dropped once its task is
    submitted (as the build does); every task still finds its input."""
    with connect("local:2") as client:
        tasks = [client.submit(len, _send(client, np.zeros(0, np.uint8))) for _ in range(32)]
        assert client.gather(tasks) == [0] * 32


def test_the_cli_builds_one_account_on_a_local_cluster(tmp_path) -> None:
    """The command the tester ran: exit 0, the files of the one-machine build."""
    data, secret = write(tmp_path, ROWS[:1], "one.jsonl")
    data.write_text('{"account_id": "c0", "asset": "BTC", "amount": "1"}\n')
    assets = tmp_path / "assets.toml"
    assets.write_text("".join(f"[assets.{a.code}]\ndecimals = {a.decimals}\n" for a in ASSETS))
    common = ["-q", "liabilities", "build", str(data), "--assets", str(assets)]
    common += ["--attestation-id", "c", "--as-of", AS_OF, "--secret-file", str(secret)]
    for name, extra in (("local", []), ("dist", ["--cluster", "local:2"])):
        run = subprocess.run(
            [str(POR), *common, "--out", str(tmp_path / name), *extra],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert run.returncode == 0, run.stderr
    assert_same_files(tmp_path / "local", tmp_path / "dist")
