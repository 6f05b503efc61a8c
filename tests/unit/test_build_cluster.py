"""The cluster build (verifier/inputs/liabilities_cluster.py) against the one-machine build.

Same secret, same rows (one CSV, or the same rows cut into partitions): root.json, every
level, positions.bin and index.bin byte-identical; accounts.arrow holds the same ids; a
proof from either tree is the same document. Runs on a `local:N` cluster, on a scheduler
and workers started as separate processes (`dask scheduler`, `dask worker`), and with the
workers in their own network namespaces (root only; under CI=true a missing root fails).
The pure pieces (the advanced split, subtree slices) are checked against the whole.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import zlib
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv
import pyarrow.ipc
import pyarrow.parquet
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

if os.environ.get("CI") == "true":  # CI installs the 'cluster' extra: missing is a failure
    import distributed  # noqa: F401
else:
    pytest.importorskip("distributed")

from attestations.build import build_tree, split_balances
from attestations.build_parts import _gaps, split_from, subtree_slices
from attestations.encoding import AssetSpec
from attestations.levels import parent_level
from attestations.store import TreeStore
from verifier.base.errors import InputError, UsageError
from verifier.inputs import liabilities_cluster
from verifier.inputs.liabilities import read_liabilities
from verifier.inputs.liabilities_cluster import (
    ClusterUnavailable,
    cluster_build,
    connect,
    read_partitions,
)

REPO = Path(__file__).resolve().parents[2]
ASSETS = (AssetSpec("BTC", 8), AssetSpec("ETH", 18), AssetSpec("USDT", 6))
AS_OF = "2026-01-01T00:00:00Z"
SECRET = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
DASK = Path(sys.executable).with_name("dask")


def write_inputs(tmp: Path, accounts: int, partitions: int) -> tuple[Path, Path, Path]:
    """(whole.csv, parts/, secret): the same rows, whole and cut by account."""
    rng = np.random.default_rng(accounts)
    lines = ["account_id,asset,amount"]
    for i in range(accounts):
        name = f"acct-{i}-ü"
        lines.append(f"{name},BTC,{rng.integers(0, 10**9)}.{rng.integers(0, 10**8):08d}")
        if i % 3:
            lines.append(f"{name},ETH,{rng.integers(0, 10**6)}")
        if i % 7 == 0:
            lines.append(f"{name},USDT,-{rng.integers(1, 99)}")  # --negative exclude
    whole = tmp / "whole.csv"
    whole.write_text("\n".join(lines) + "\n")
    parts = tmp / "parts"
    parts.mkdir()
    cut: list[list[str]] = [[lines[0]] for _ in range(partitions)]
    for line in lines[1:]:
        cut[zlib.crc32(line.split(",")[0].encode()) % partitions].append(line)
    for n, rows in enumerate(cut):
        (parts / f"part-{n:03d}.csv").write_text("\n".join(rows) + "\n")
    (parts / "_SUCCESS").write_text("")
    secret = tmp / "secret.key"
    secret.write_text(SECRET)
    secret.chmod(0o600)
    return whole, parts, secret


def build_local(whole: Path, out: Path, secret: Path, split: int) -> None:
    data = read_liabilities(whole, ASSETS, negative="exclude")
    build_tree(data, out, attestation_id="c", as_of=AS_OF, split=split, secret_file=secret)


def assert_same_tree(local: Path, other: Path) -> None:
    assert (local / "root.json").read_bytes() == (other / "root.json").read_bytes()
    names = sorted(p.name for p in (local / "tree").iterdir())
    assert names == sorted(p.name for p in (other / "tree").iterdir())
    for name in names:
        a, b = (local / "tree" / name).read_bytes(), (other / "tree" / name).read_bytes()
        if name == "accounts.arrow":  # the same ids in other record batches
            assert ids_of(local) == ids_of(other)
        elif name == "meta.json":  # a directory's input hash is over its partitions
            ma, mb = json.loads(a), json.loads(b)
            ma.pop("input_sha256"), mb.pop("input_sha256")
            assert ma == mb
        else:
            assert a == b, name
    proofs = [TreeStore(t).proof("acct-5-ü").to_json() for t in (local, other)]
    assert proofs[0] == proofs[1]


def ids_of(tree: Path) -> list[str]:
    with pa.OSFile(str(tree / "tree" / "accounts.arrow")) as f:
        return pa.ipc.open_file(f).read_all().column(0).to_pylist()


# ----------------------------------------------------------------------------- pure pieces


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.integers(1, 5), st.integers(1, 3), st.data())
def test_split_from_a_row_equals_the_whole_split(rows, parts, assets, data) -> None:
    rng = np.random.default_rng(rows * 31 + parts)
    balances = np.zeros((rows, assets, 2), ">u8")
    balances[:, :, 1] = rng.integers(0, 2**64 - 1, size=(rows, assets), dtype=np.uint64)
    balances[:, :, 0] = rng.integers(0, 3, size=(rows, assets), dtype=np.uint64)
    whole = split_balances(balances, parts, seed=12345)
    first = data.draw(st.integers(0, rows - 1))
    tail = split_from(12345, first, balances[first:], parts)
    assert tail.tobytes() == whole[first * parts :].tobytes()


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 5), st.data())
def test_subtree_slices_are_the_nodes_of_their_positions(height, data) -> None:
    size = 1 << height
    rng = np.random.default_rng(size)
    records = rng.integers(0, 256, size=(size, 32 + 16), dtype=np.uint8)
    records[:, 32:40] = 0  # sums far below 2**128
    levels = [records]
    while len(levels[-1]) > 1:
        levels.append(parent_level(levels[-1], 1))
    start = data.draw(st.integers(0, size - 1))
    end = data.draw(st.integers(start + 1, size))
    rows = np.zeros(end - start, dtype=[("record", np.uint8, (48,))])
    rows["record"] = records[start:end]
    for level, first, raw in subtree_slices(rows, start, 1):
        got = np.frombuffer(raw, np.uint8).reshape(-1, 48)
        assert first << level >= start and (first + len(got)) << level <= end
        assert got.tobytes() == levels[level][first : first + len(got)].tobytes()


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 64), st.lists(st.tuples(st.integers(0, 64), st.integers(0, 64)), max_size=8))
def test_gaps_are_the_uncovered_runs(size, pairs) -> None:
    ranges = [(min(a, b, size), min(max(a, b), size)) for a, b in pairs]
    have = np.zeros(size, dtype=bool)
    for first, end in ranges:
        have[first:end] = True
    got = np.ones(size, dtype=bool)
    for first, end in _gaps(ranges, size):
        assert first < end
        got[first:end] = False
    assert (got == have).all()


# ----------------------------------------------------------------------------- local:N


@pytest.mark.parametrize("split", [1, 3])
def test_local_cluster_equals_the_one_machine_build(tmp_path, split) -> None:
    whole, parts, secret = write_inputs(tmp_path, 3000, 5)
    build_local(whole, tmp_path / "local", secret, split)
    _, summary = cluster_build(
        parts,
        ASSETS,
        tmp_path / "dist",
        cluster="local:2",
        attestation_id="c",
        as_of=AS_OF,
        split=split,
        secret_file=secret,
        negative="exclude",
    )
    assert_same_tree(tmp_path / "local", tmp_path / "dist")
    assert summary.excluded == read_liabilities(whole, ASSETS, negative="exclude").excluded
    assert oct((tmp_path / "dist" / "tree" / "level-00.bin").stat().st_mode & 0o777) == "0o600"
    # the directory read on one machine is the same input
    data = read_partitions(parts, ASSETS, negative="exclude")
    build_tree(
        data, tmp_path / "dir", attestation_id="c", as_of=AS_OF, split=split, secret_file=secret
    )
    assert_same_tree(tmp_path / "local", tmp_path / "dir")


def test_parquet_partitions_in_a_hive_layout_give_the_csv_root(tmp_path) -> None:
    """The same rows as CSV partitions and as Parquet ones (decimal128 amounts, nested
    key=value directories): the one-machine tree, on the cluster and read here."""
    whole, parts, secret = write_inputs(tmp_path, 2000, 4)
    hive = tmp_path / "hive"
    for n, part in enumerate(sorted(parts.glob("*.csv"))):
        table = pa.csv.read_csv(
            part,
            convert_options=pa.csv.ConvertOptions(
                column_types={c: pa.string() for c in ("account_id", "asset", "amount")}
            ),
        )
        amounts = [Decimal(v) for v in table.column("amount").to_pylist()]
        table = table.set_column(2, "amount", pa.array(amounts, pa.decimal128(38, 18)))
        (hive / f"day={n % 2}" / f"n={n}").mkdir(parents=True)
        pyarrow.parquet.write_table(table, hive / f"day={n % 2}" / f"n={n}" / "part-0.parquet")
    build_local(whole, tmp_path / "local", secret, 2)
    cluster_build(
        hive,
        ASSETS,
        tmp_path / "dist",
        cluster="local:2",
        attestation_id="c",
        as_of=AS_OF,
        split=2,
        secret_file=secret,
        negative="exclude",
    )
    assert_same_tree(tmp_path / "local", tmp_path / "dist")
    data = read_partitions(hive, ASSETS, negative="exclude")
    build_tree(data, tmp_path / "dir", attestation_id="c", as_of=AS_OF, split=2, secret_file=secret)
    assert_same_tree(tmp_path / "local", tmp_path / "dir")


def test_many_small_buckets_give_the_same_tree(tmp_path, monkeypatch) -> None:
    """Buckets sized by the input (what bounds the client's memory): 32 of them here, many
    empty or holding one account, still the one-machine tree."""
    whole, parts, secret = write_inputs(tmp_path, 600, 3)
    monkeypatch.setattr(liabilities_cluster, "ROWS_PER_BUCKET", 16)
    assert liabilities_cluster.bucket_bits(liabilities_cluster.partition_files(parts), 1) > 5
    monkeypatch.setattr(liabilities_cluster, "MAX_BUCKET_BITS", 5)
    build_local(whole, tmp_path / "local", secret, 2)
    cluster_build(
        parts,
        ASSETS,
        tmp_path / "dist",
        cluster="local:1",
        attestation_id="c",
        as_of=AS_OF,
        split=2,
        secret_file=secret,
        negative="exclude",
    )
    assert_same_tree(tmp_path / "local", tmp_path / "dist")


def test_bucket_count_follows_the_input_size(tmp_path) -> None:
    sizes = {1: 3, 64 << 20: 3, 1 << 30: 5, 1 << 40: 9}  # 2 workers: at least 8 buckets
    for size, bits in sizes.items():
        path = tmp_path / "sparse.csv"
        with open(path, "wb") as f:
            f.truncate(size)
        assert liabilities_cluster.bucket_bits([path], 2) == bits, size


def test_an_account_in_two_partitions_is_refused_naming_both(tmp_path) -> None:
    _, parts, secret = write_inputs(tmp_path, 50, 2)
    shutil.copy(parts / "part-000.csv", parts / "part-009.csv")
    with pytest.raises(InputError, match=r"two partitions \(part-000.csv and part-009.csv"):
        cluster_build(
            parts,
            ASSETS,
            tmp_path / "o",
            cluster="local:1",
            attestation_id="c",
            as_of=AS_OF,
            secret_file=secret,
            negative="exclude",
        )
    with pytest.raises(InputError, match="two partitions"):
        read_partitions(parts, ASSETS, negative="exclude")
    assert not (tmp_path / "o").exists()


def test_a_partition_error_names_its_file_and_line(tmp_path) -> None:
    _, parts, secret = write_inputs(tmp_path, 50, 2)
    with open(parts / "part-001.csv", "a") as f:
        f.write("zed,BTC,NaN\n")
    lines = len((parts / "part-001.csv").read_text().splitlines())
    with pytest.raises(InputError) as caught:
        cluster_build(
            parts,
            ASSETS,
            tmp_path / "o",
            cluster="local:1",
            attestation_id="c",
            as_of=AS_OF,
            secret_file=secret,
            negative="exclude",
        )
    assert caught.value.file == str(parts / "part-001.csv") and caught.value.line == lines


@pytest.mark.parametrize(
    ("content", "message"),
    [({}, "holds no partitions"), ({"x.parquet.tmp": "x"}, "not a liabilities partition")],
)
def test_a_directory_without_partitions_is_refused(tmp_path, content, message) -> None:
    (tmp_path / "in").mkdir()
    for name, text in content.items():
        (tmp_path / "in" / name).write_text(text)
    with pytest.raises(InputError, match=message):
        read_partitions(tmp_path / "in", ASSETS)


@pytest.mark.parametrize(
    "spec",
    [
        "bogus",
        "local:0",
        "local:x",
        "local:99999",
        "http://h:1",
        "tcp://",
        "tcp://h:99999",
        "tcp://h:x",
        "tcp://h:1/path",
        "tcp://:8786",
        "tls://[::1",
    ],
)
def test_a_bad_cluster_address_is_a_usage_error(spec) -> None:
    with pytest.raises(UsageError), connect(spec):
        pass


def test_an_unreachable_scheduler_is_exit_4(tmp_path) -> None:
    _, parts, secret = write_inputs(tmp_path, 10, 1)
    with pytest.raises(ClusterUnavailable, match="cannot reach") as caught:
        cluster_build(
            parts,
            ASSETS,
            tmp_path / "o",
            cluster=f"tcp://127.0.0.1:{free_port()}",
            attestation_id="c",
            as_of=AS_OF,
            secret_file=secret,
        )
    assert caught.value.exit_code == 4
    assert not (tmp_path / "o").exists()


def test_without_dask_it_says_which_extra_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(UsageError, match=r"por\[cluster\]"), connect("local:1"):
        pass


# ----------------------------------------------------------------------------- real processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def _assets_file(tmp: Path) -> Path:
    path = tmp / "assets.toml"
    path.write_text("".join(f"[assets.{a.code}]\ndecimals = {a.decimals}\n" for a in ASSETS))
    return path


@contextlib.contextmanager
def processes(*argvs: list[str]) -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for argv in argvs:
            procs.append(
                subprocess.Popen(
                    argv, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
            )
        yield procs
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def wait_for_workers(address: str, count: int) -> None:
    from distributed import Client

    with Client(address, timeout="20s") as client:
        client.wait_for_workers(count, timeout=60)


def test_scheduler_and_workers_as_separate_processes(tmp_path) -> None:
    whole, parts, secret = write_inputs(tmp_path, 2000, 4)
    build_local(whole, tmp_path / "local", secret, 2)
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    worker = [str(DASK), "worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard"]
    with processes(
        [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        worker,
        worker,
    ):
        wait_for_workers(address, 2)
        out = tmp_path / "dist"
        cli_build(parts, out, secret, address, _assets_file(tmp_path), 2)
    assert_same_tree(tmp_path / "local", out)


def cli_build(parts: Path, out: Path, secret: Path, cluster: str, assets: Path, split: int) -> None:
    """`por liabilities build` in its own process; the secret only as a file path."""
    argv = [
        sys.executable,
        "-c",
        "from verifier.cli.main import entrypoint\nif __name__ == '__main__': entrypoint()",
        "liabilities",
        "build",
        str(parts),
        "--assets",
        str(assets),
        "--attestation-id",
        "c",
        "--as-of",
        AS_OF,
        "--secret-file",
        str(secret),
        "--negative",
        "exclude",
        "--out",
        str(out),
        "--cluster",
        cluster,
        "--json",
        "--split",
        str(split),
    ]
    done = subprocess.run(
        argv, check=False, capture_output=True, text=True, env=_env(), timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert SECRET.strip() not in done.stdout + done.stderr
    assert json.loads(done.stdout)["accounts"] > 0


# ----------------------------------------------------------------------------- namespaces


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


@contextlib.contextmanager
def namespaces(count: int) -> Iterator[tuple[str, list[tuple[str, str]]]]:
    """A bridge here and `count` network namespaces on it by veth pairs, no loopback in
    between: (the bridge's address, [(namespace, its address)])."""
    tag = f"{os.getpid() % 100000}"
    net = f"10.{77 + os.getpid() % 100}.{os.getpid() % 250}"
    bridge = f"porbr{tag}"
    made: list[str] = []
    try:
        _ip("link", "add", bridge, "type", "bridge")
        _ip("addr", "add", f"{net}.1/24", "dev", bridge)
        _ip("link", "set", bridge, "up")
        spaces = []
        for i in range(count):
            ns, host, inner = f"por{tag}n{i}", f"porh{tag}{i}", f"porn{tag}{i}"
            _ip("netns", "add", ns)
            made.append(ns)
            _ip("link", "add", host, "type", "veth", "peer", "name", inner)
            _ip("link", "set", inner, "netns", ns)
            _ip("link", "set", host, "master", bridge, "up")
            _ip("-n", ns, "addr", "add", f"{net}.{10 + i}/24", "dev", inner)
            _ip("-n", ns, "link", "set", inner, "up")
            spaces.append((ns, f"{net}.{10 + i}"))
        yield f"{net}.1", spaces
    finally:
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True, timeout=30)
        subprocess.run(["ip", "link", "del", bridge], check=False, capture_output=True, timeout=30)


def _can_make_namespaces() -> str | None:
    if os.geteuid() != 0:
        return "network namespaces need root (CI runs as root)"
    if shutil.which("ip") is None:
        return "no `ip` command (iproute2)"
    return None


def test_workers_in_separate_network_namespaces(tmp_path) -> None:
    reason = _can_make_namespaces()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the namespace test: {reason}")
        pytest.skip(reason)
    whole, parts, secret = write_inputs(tmp_path, 2000, 4)
    build_local(whole, tmp_path / "local", secret, 1)
    port = free_port()
    with namespaces(2) as (here, spaces):
        address = f"tcp://{here}:{port}"
        workers = [
            [
                "ip",
                "netns",
                "exec",
                ns,
                str(DASK),
                "worker",
                address,
                "--host",
                ip,
                "--nthreads",
                "1",
                "--no-nanny",
                "--no-dashboard",
            ]
            for ns, ip in spaces
        ]
        scheduler = [str(DASK), "scheduler", "--host", here, "--port", str(port), "--no-dashboard"]
        with processes(scheduler, *workers):
            wait_for_workers(address, 2)
            from distributed import Client

            with Client(address, timeout="20s") as client:
                hosts = sorted(w["host"] for w in client.scheduler_info()["workers"].values())
            assert hosts == sorted(ip for _, ip in spaces)  # each worker in its namespace
            cli_build(parts, tmp_path / "dist", secret, address, _assets_file(tmp_path), 1)
    assert_same_tree(tmp_path / "local", tmp_path / "dist")
