"""The container writer in bounded memory (attestations/proof_container.py): the level
dictionaries go file to file, never through memory, and the bytes are those of an Arrow
writer given the dictionaries in memory; batches, the index's coverage and cleanup."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import attestations.proof_container as pc
from attestations.build import Liabilities, build_tree
from attestations.encoding import AssetSpec
from attestations.proof_container import ProofContainer, write_container
from attestations.store import TreeStore
from verifier.base.errors import InvalidProof

ASSETS = (AssetSpec("BTC", 8), AssetSpec("ETH", 18))


def _quiet(phase: str, done: int, total: int) -> None:
    return None


def _tree(tmp: Path, count: int, split: int = 1) -> Path:
    rng = np.random.default_rng(count)
    balances = np.zeros((count, 2, 2), dtype=">u8")
    balances[:, :, 1] = rng.integers(0, 2**60, size=(count, 2), dtype=np.uint64)
    ids = pa.array([f"c-{i}" for i in range(count)], pa.string())
    out = tmp / f"tree-{count}-{split}"
    build_tree(
        Liabilities(assets=ASSETS, account_ids=ids, balances=balances),
        out,
        attestation_id="s",
        as_of="t",
        split=split,
    )
    return out


@pytest.mark.parametrize(("count", "split", "batch"), [(1, 1, 7), (300, 1, 7), (90, 3, 16)])
def test_file_to_file_gives_the_bytes_of_the_in_memory_write(
    tmp_path, monkeypatch, count, split, batch
):
    monkeypatch.setattr(pc, "BATCH", batch)
    tree = _tree(tmp_path, count, split)
    level0 = (tree / "tree" / "level-00.bin").stat().st_size
    writes: list[int] = []
    real_write = os.write

    def counted(fd: int, data: object) -> int:
        writes.append(len(memoryview(data)))  # type: ignore[arg-type]
        return real_write(fd, data)  # type: ignore[arg-type]

    monkeypatch.setattr(pc.os, "write", counted)
    write_container(tree, tmp_path / "copied.arrow", None, _quiet)
    monkeypatch.setattr(pc.os, "write", real_write)
    # no write carries a whole level: the dictionaries went by copy_file_range
    assert max(writes) < level0 or count == 1
    monkeypatch.setattr(pc._Levels, "locate", lambda self, address, size: None)
    write_container(tree, tmp_path / "memory.arrow", None, _quiet)
    assert (tmp_path / "copied.arrow").read_bytes() == (tmp_path / "memory.arrow").read_bytes()
    opened = ProofContainer(tmp_path / "copied.arrow")
    with TreeStore(tree) as store:
        for account in ("c-0", f"c-{count - 1}"):
            assert opened.proof_text(account) == store.checked_proof(account)[1]


def test_without_copy_file_range_the_bytes_are_the_same(tmp_path, monkeypatch):
    monkeypatch.setattr(pc, "BATCH", 11)
    tree = _tree(tmp_path, 200)
    write_container(tree, tmp_path / "a.arrow", None, _quiet)

    def cross_device(*args: object) -> int:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(pc.os, "copy_file_range", cross_device)
    write_container(tree, tmp_path / "b.arrow", None, _quiet)
    assert (tmp_path / "a.arrow").read_bytes() == (tmp_path / "b.arrow").read_bytes()


def test_another_copy_error_is_not_hidden(tmp_path, monkeypatch):
    tree = _tree(tmp_path, 40)

    def failing(*args: object) -> int:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(pc.os, "copy_file_range", failing)
    with pytest.raises(pc.PorError, match="Input/output error"):
        write_container(tree, tmp_path / "out" / "p.arrow", None, _quiet)
    assert list((tmp_path / "out").iterdir()) == []


def test_an_account_listed_twice_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(pc, "BATCH", 4)
    tree = _tree(tmp_path, 30)
    index_path = tree / "tree" / "index.bin"
    with TreeStore(tree) as store:
        kind = store._index_dtype
    index = np.fromfile(index_path, dtype=kind)
    index[7] = index[3]  # entry 7 repeats entry 3: row 7 is missing
    index.tofile(index_path)
    (tmp_path / "out").mkdir()
    with pytest.raises(InvalidProof, match="an account is missing"):
        write_container(tree, tmp_path / "out" / "p.arrow", None, _quiet)
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize("where", ["salts", "node check"])
def test_an_interrupted_write_leaves_nothing(tmp_path, monkeypatch, where):
    """KeyboardInterrupt (or the CLI's SIGTERM exception) mid-way: the temporary file goes."""
    monkeypatch.setattr(pc, "BATCH", 8)
    tree = _tree(tmp_path, 100)
    calls = []

    def interrupt(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    name = "hmac_varlen" if where == "salts" else "_check_nodes"
    real = getattr(pc, name)
    monkeypatch.setattr(pc, name, interrupt if where == "salts" else _raising)
    (tmp_path / "out").mkdir()
    with pytest.raises(KeyboardInterrupt):
        write_container(tree, tmp_path / "out" / "p.arrow", None, _quiet)
    assert list((tmp_path / "out").iterdir()) == []


def _raising(*args: object) -> None:
    raise KeyboardInterrupt


@pytest.mark.parametrize(("count", "split", "slots", "batch"), [(150, 2, 7, 13), (300, 1, 64, 5)])
def test_own_leaves_gathered_out_of_core(tmp_path, monkeypatch, count, split, slots, batch):
    """Above MAP_WHOLE a batch's own leaves come from the sequential gather (spill files
    by position, then by slot): the same bytes, and the work directory goes."""
    monkeypatch.setattr(pc, "BATCH", batch)
    tree = _tree(tmp_path, count, split)
    (tmp_path / "out").mkdir()
    write_container(tree, tmp_path / "out" / "map.arrow", None, _quiet)
    monkeypatch.setattr(pc, "MAP_WHOLE", 0)
    monkeypatch.setattr(pc, "SLOTS", slots)
    write_container(tree, tmp_path / "out" / "gathered.arrow", None, _quiet)
    out = tmp_path / "out"
    assert (out / "map.arrow").read_bytes() == (out / "gathered.arrow").read_bytes()
    assert sorted(p.name for p in out.iterdir()) == ["gathered.arrow", "map.arrow"]


def test_gathered_leaves_still_checked(tmp_path, monkeypatch):
    """A changed leaf is refused on the gathered path too, and nothing is left behind."""
    monkeypatch.setattr(pc, "MAP_WHOLE", 0)
    monkeypatch.setattr(pc, "SLOTS", 16)
    tree = _tree(tmp_path, 100)
    level = tree / "tree" / "level-00.bin"
    data = bytearray(level.read_bytes())
    data[77 * 64 + 40] ^= 1
    level.write_bytes(bytes(data))
    (tmp_path / "out").mkdir()
    with pytest.raises(InvalidProof, match="does not recompute"):
        write_container(tree, tmp_path / "out" / "p.arrow", None, _quiet)
    assert list((tmp_path / "out").iterdir()) == []
