"""The out-of-core audit (attestations/audit_stream.py) against the in-memory one.

Same tree, both modes: the same result on a good tree, and on a tampered one the same
`InvalidProof` (check and message) — every byte of every tree file flipped in turn, with
and without the secret. Buckets, chunks and subtrees are made small so every seam is
crossed (several salt buckets, position ranges and index blocks).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attestations import audit_stream, tree_files
from attestations.audit import audit_tree
from attestations.build import Liabilities, build_tree
from attestations.encoding import AssetSpec
from verifier.base.errors import InvalidProof, PorError, StoreError

ASSETS = (AssetSpec("BTC", 8), AssetSpec("ETH", 18))


def liabilities(count: int, seed: int = 3) -> Liabilities:
    rng = np.random.default_rng(seed)
    balances = np.zeros((count, 2, 2), dtype=">u8")
    balances[:, :, 1] = rng.integers(0, 2**62, size=(count, 2), dtype=np.uint64)
    balances[::7, 1, 0] = 5  # some balances above 2**64
    balances[::3, 0] = 0
    ids = pa.array([f"a-{i}-é" for i in range(count)], pa.string())
    return Liabilities(assets=ASSETS, account_ids=ids, balances=balances)


@pytest.fixture
def small(monkeypatch: pytest.MonkeyPatch) -> None:
    """Seams everywhere: 8 leaves a bucket, 4 records a read, 4 leaves a subtree."""
    monkeypatch.setattr(audit_stream, "BUCKET_LEAVES", 8)
    monkeypatch.setattr(audit_stream, "CHUNK", 4)
    monkeypatch.setattr(audit_stream, "ACCOUNTS", 3)
    monkeypatch.setattr(audit_stream, "SUBTREE", 4)
    monkeypatch.setattr(tree_files, "CHUNK", 4)


def make_tree(tmp_path: Path, count: int, split: int = 1) -> Path:
    secret = tmp_path / "secret.key"
    secret.write_text("17" * 32 + "\n")
    secret.chmod(0o600)
    out = tmp_path / f"tree-{count}-{split}"
    build_tree(
        liabilities(count), out, attestation_id="a", as_of="t", split=split, secret_file=secret
    )
    return out


def outcome(tree: Path, *, streamed: bool, skip_secret: bool = False) -> object:
    try:
        return audit_tree(
            tree, require_secret=not skip_secret, skip_secret=skip_secret, out_of_core=streamed
        )
    except PorError as exc:
        return (type(exc).__name__, getattr(exc, "check", None), exc.message)


@pytest.mark.parametrize(("count", "split"), [(1, 1), (2, 1), (5, 1), (29, 1), (50, 1), (13, 3)])
@pytest.mark.parametrize("skip_secret", [False, True])
def test_good_tree_same_result(tmp_path, small, count, split, skip_secret):
    tree = make_tree(tmp_path, count, split)
    memory = outcome(tree, streamed=False, skip_secret=skip_secret)
    stream = outcome(tree, streamed=True, skip_secret=skip_secret)
    assert stream == memory
    assert not isinstance(stream, tuple), stream
    assert not list(tmp_path.glob(".*audit-*")), "the work directory was left behind"


@pytest.mark.parametrize(
    "name", ["level-00.bin", "level-01.bin", "level-05.bin", "positions.bin", "index.bin"]
)
@pytest.mark.parametrize("skip_secret", [False, True])
def test_every_flipped_byte_same_error(tmp_path, small, name, skip_secret):
    tree = make_tree(tmp_path, 29)
    path = tree / "tree" / name
    original = path.read_bytes()
    step = max(1, len(original) // 50)  # about fifty offsets, spread over the file
    for offset in range(0, len(original), step):
        for mask in (0x01, 0x80):
            changed = bytearray(original)
            changed[offset] ^= mask
            path.write_bytes(bytes(changed))
            memory = outcome(tree, streamed=False, skip_secret=skip_secret)
            stream = outcome(tree, streamed=True, skip_secret=skip_secret)
            assert stream == memory, (offset, mask)
            assert isinstance(stream, tuple) or name == "index.bin", (offset, mask)
    path.write_bytes(original)


def test_wrong_secret_is_named(tmp_path, small):
    tree = make_tree(tmp_path, 29)
    (tmp_path / "secret.key").write_text("18" * 32 + "\n")
    stream = outcome(tree, streamed=True)
    assert stream == outcome(tree, streamed=False)
    assert isinstance(stream, tuple) and stream[1] == "secret"


def test_swapped_positions_and_leaves(tmp_path, small):
    """positions.bin kept a permutation (two entries swapped); two whole leaves swapped."""
    tree = make_tree(tmp_path, 29)
    perm = np.fromfile(tree / "tree" / "positions.bin", dtype="<u8")
    perm[[3, 20]] = perm[[20, 3]]
    perm.tofile(tree / "tree" / "positions.bin")
    first = outcome(tree, streamed=True)
    assert first == outcome(tree, streamed=False)
    assert isinstance(first, tuple)
    perm[[3, 20]] = perm[[20, 3]]
    perm.tofile(tree / "tree" / "positions.bin")
    level = tree / "tree" / "level-00.bin"
    records = np.fromfile(level, dtype=np.uint8).reshape(32, -1)
    records[[0, 9]] = records[[9, 0]]
    records.tofile(level)
    # two positions wrong at once (here a leaf and a padding leaf): both audits refuse, each
    # naming the first fault of its own pass order
    assert isinstance(outcome(tree, streamed=True), tuple)
    assert isinstance(outcome(tree, streamed=False), tuple)


@pytest.mark.parametrize("edit", ["truncate", "garbage", "null", "binary"])
def test_damaged_accounts_arrow_same_error(tmp_path, small, edit):
    tree = make_tree(tmp_path, 29)
    path = tree / "tree" / "accounts.arrow"
    ids = pa.ipc.open_file(pa.memory_map(str(path))).read_all().column("account_id")
    if edit == "truncate":
        path.write_bytes(path.read_bytes()[:-30])
    elif edit == "garbage":
        path.write_bytes(b"\x00" * 100)
    else:
        values = ids.to_pylist()
        if edit == "null":
            values[5] = None
        column = pa.array(values, pa.binary() if edit == "binary" else pa.string())
        table = pa.table({"account_id": column})
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
            w.write_table(table, max_chunksize=7)
    for skip in (False, True):
        memory = outcome(tree, streamed=False, skip_secret=skip)
        assert outcome(tree, streamed=True, skip_secret=skip) == memory
        if edit != "binary":
            assert isinstance(memory, tuple)


def test_work_directory_removed_on_failure(tmp_path, small):
    tree = make_tree(tmp_path, 29)
    path = tree / "tree" / "level-00.bin"
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(InvalidProof):
        audit_tree(tree, out_of_core=True)
    assert not list(tmp_path.glob(".*audit-*"))


def test_read_only_parent_falls_back_to_tmpdir(tmp_path, small, monkeypatch):
    tree = make_tree(tmp_path, 13)
    moved = tmp_path / "ro" / "tree"
    moved.parent.mkdir()
    shutil.move(tree, moved)
    monkeypatch.setenv("TMPDIR", str(tmp_path / "scratch"))
    (tmp_path / "scratch").mkdir()
    monkeypatch.setattr("tempfile.tempdir", None)
    moved.parent.chmod(0o500)
    try:
        result = audit_tree(moved, require_secret=True, out_of_core=True)
    finally:
        moved.parent.chmod(0o700)
    assert result.leaves_recomputed
    assert not any((tmp_path / "scratch").iterdir())


def test_automatic_choice(monkeypatch, tmp_path):
    tree = make_tree(tmp_path, 29)
    used = []
    real = audit_stream.check_tree
    monkeypatch.setattr(
        "attestations.audit.check_tree", lambda *a, **k: used.append(1) or real(*a, **k)
    )
    monkeypatch.setattr("attestations.audit.STREAM_ABOVE", 32)
    audit_tree(tree)
    assert not used
    monkeypatch.setattr("attestations.audit.STREAM_ABOVE", 31)
    audit_tree(tree)
    assert used


@settings(max_examples=30, deadline=None)
@given(
    count=st.integers(1, 120),
    batch=st.integers(1, 50),
    rows=st.lists(st.integers(0, 10**6), max_size=80),
    span=st.tuples(st.integers(0, 10**6), st.integers(0, 10**6)),
)
def test_account_ids_by_rows(tmp_path_factory, count, batch, rows, span):
    """`AccountIds.take` and `slice` give the ids of the rows asked, across record batches."""
    values = [f"id-{i}-ü" for i in range(count)]
    path = tmp_path_factory.mktemp("ids") / "accounts.arrow"
    table = pa.table({"account_id": pa.array(values, pa.string())})
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=batch)
    ids = tree_files.AccountIds(path, count)
    ids.validate()
    wanted = np.array([r % count for r in rows], dtype=np.uint64)
    assert ids.take(wanted).to_pylist() == [values[r] for r in wanted.tolist()]
    a, b = sorted(s % (count + 1) for s in span)
    assert ids.slice(a, b).to_pylist() == values[a:b]
    ids.release()
    assert ids.slice(0, count).to_pylist() == values  # re-read after the pages went back


def test_a_full_disk_is_a_store_error_naming_the_work_files(tmp_path, small, monkeypatch):
    tree = make_tree(tmp_path, 29)

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(audit_stream._Buckets, "add", full)
    with pytest.raises(StoreError, match=r"No space left on device.*72 bytes per leaf"):
        audit_tree(tree, out_of_core=True)
    assert not list(tmp_path.glob(".*audit-*"))


def test_a_tree_given_as_dot(tmp_path, small, monkeypatch):
    tree = make_tree(tmp_path, 13)
    monkeypatch.chdir(tree)
    assert audit_tree(Path("."), out_of_core=True).leaves_recomputed
    assert sorted(p.name for p in tree.iterdir()) == ["root.json", "tree"]
