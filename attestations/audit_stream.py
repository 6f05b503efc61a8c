"""The full audit out of core: every check of attestations/audit.py in memory bounded by a
bucket of about 2**20 leaves, whatever the tree's size.

Where it sits: `attestations.audit.audit_tree` calls `check_tree` for trees in salt order
(docs/spec/por-mst-v1.md §5.1) above `STREAM_ABOVE` leaves, after its own O(1) checks
(commitment, counts, file sizes) and before its root comparison. What the in-memory audit
holds whole (the leaf order, every leaf's balances, salts and account hashes) is here read
and written in ranges, through a private temporary directory beside the tree:

  positions   positions.bin in blocks: a permutation of the leaves (one byte per leaf).
  index       index.bin in blocks: rows and positions in range, every account listed;
              each (position, leaf id) it claims spilled into a file per range of
              positions, then compared range by range with positions.bin.
  salts       (secret) accounts.arrow by row ranges: account hashes and salts, each leaf's
              (salt, leaf id, account hash) spilled into a bucket by its salt's top bits;
              the padding salts likewise. The buckets cover ascending salt ranges, so in
              a tree in salt order each bucket is one range of positions.
  leaves      (secret) bucket by bucket: sorted by the order key, compared with that range
              of positions.bin (a wrong secret is named as such, before any leaf), padding
              sums zero, every leaf recomputed from its salt, account hash and the stored
              balances and compared with level-00.bin; then hashed up the levels, each
              node compared as it is produced (a carry of one record per level).
  nodes       (no secret) level-00.bin in subtrees, the same way up.
  hashes      index.bin in blocks: each entry's account hash recomputed from its id.

Every failure is the in-memory audit's `InvalidProof` with the same message; with several
faults the first one named may differ (the passes run in another order).
Temporary files: 16 bytes per leaf for the index pass, then 72 per leaf for the salts
(about 9.6 GB at 100M accounts x 3, split 1); removed however the audit ends.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

from attestations.build import INDEX_HEAD, binary_ids, pad_salt_blocks
from attestations.encoding import HASH_LEN, SALT_LEN, TAG_ACCOUNT
from attestations.hashing import hash_varlen, hmac_varlen
from attestations.levels import leaf_records, pad_records, parent_level
from attestations.store import TreeStore
from attestations.tree_files import CHUNK, AccountIds, RowsSeen, blocks, read_array, read_records
from verifier.base.errors import InvalidProof, StoreError

STREAM_ABOVE = 1 << 22
"""Leaves (2**height) above which `audit_tree` streams by default (see docs/performance.md)."""
BUCKET_LEAVES = 1 << 19
"""Leaves per salt bucket aimed at (at most 2**MAX_BUCKET_BITS buckets)."""
ACCOUNTS = 1 << 18
"""Accounts hashed per step of the salts pass."""
MAX_BUCKET_BITS = 8
SUBTREE = 1 << 16

Progress = Callable[[str, int, int], None]


class LevelCompare:
    """Compares recomputed records with the stored level files (the audit's messages)."""

    def __init__(self, tree_dir: Path) -> None:
        self.tree_dir = tree_dir

    def __call__(self, level: int, first: int, records: npt.NDArray[np.uint8]) -> None:
        width = records.shape[1]
        path = self.tree_dir / f"level-{level:02d}.bin"
        stored = read_records(path, first, len(records), width)
        if stored.shape == records.shape and np.array_equal(stored, records):
            return
        if stored.nbytes != records.nbytes:
            raise InvalidProof("tree", f"{path} is truncated near position {first}")
        diff = np.flatnonzero((stored != records).any(axis=1))
        what = "leaf (from its account id, derived salt and balances)" if level == 0 else "node"
        raise InvalidProof(
            "tree",
            f"{path}: {what} at level {level}, position {first + int(diff[0])} does not recompute",
        )


class CheckedLevels:
    """Levels recomputed front to back: complete pairs hashed up as soon as they exist and
    compared with the stored files; at most one carried record per level."""

    def __init__(self, compare: LevelCompare, height: int, assets: int) -> None:
        self.compare, self.height, self.assets = compare, height, assets
        self.carry: list[npt.NDArray[np.uint8] | None] = [None] * (height + 1)
        self.done = [0] * (height + 1)
        self.top: bytes | None = None

    def push(self, level: int, records: npt.NDArray[np.uint8], *, check: bool = True) -> None:
        while len(records):
            if check:
                self.compare(level, self.done[level], records)
            check = True
            self.done[level] += len(records)
            if level == self.height:
                self.top = records.tobytes()
                return
            waiting = self.carry[level]
            if waiting is not None:
                records = np.concatenate([waiting, records])
            self.carry[level] = records[-1:].copy() if len(records) % 2 else None
            records = records[: len(records) - len(records) % 2]
            if not len(records):
                return
            records = parent_level(records, self.assets, first_parent=self.done[level + 1])
            level += 1

    def root(self) -> bytes:
        if self.top is None or any(c is not None for c in self.carry):
            raise RuntimeError("the levels did not close into one root")
        return self.top


class _Buckets:
    """Records spilled into one file per key range, read back in key order."""

    def __init__(self, work: Path, name: str, count: int, dtype: np.dtype[Any]) -> None:
        self.paths = [work / f"{name}-{b:04d}.bin" for b in range(count)]
        self.files: list[BinaryIO] = [p.open("wb") for p in self.paths]
        self.dtype = dtype

    def add(self, bucket: npt.NDArray[np.int64], rows: npt.NDArray[Any]) -> None:
        if len(self.files) == 1:
            rows.tofile(self.files[0])
            return
        order = np.argsort(bucket, kind="stable")  # keeps the arrival order in a bucket
        ends = np.cumsum(np.bincount(bucket, minlength=len(self.files))).tolist()
        rows = rows[order]
        start = 0
        for b, end in enumerate(ends):
            if end > start:
                rows[start:end].tofile(self.files[b])
            start = end

    def __iter__(self) -> Iterator[tuple[int, npt.NDArray[Any]]]:
        for handle in self.files:
            handle.close()
        for b, path in enumerate(self.paths):
            rows = np.fromfile(path, dtype=self.dtype)
            path.unlink()
            yield b, rows

    def close(self) -> None:
        for handle in self.files:
            handle.close()


@contextlib.contextmanager
def _work_dir(directory: Path) -> Iterator[Path]:
    """A private (0700) temporary directory beside the tree, else in $TMPDIR; always removed.
    It holds salts: never anywhere others can read."""
    place = directory.resolve()
    try:
        work = Path(tempfile.mkdtemp(prefix=f".{place.name}.audit-", dir=place.parent))
    except OSError:  # a tree on read-only storage
        work = Path(tempfile.mkdtemp(prefix="por-audit-"))
    try:
        yield work
    except OSError as exc:  # a full disk, most likely: say where and how much it needs
        raise StoreError(
            f"the audit's work files in {work}: {exc.strerror or exc}; the out-of-core audit "
            "needs about 72 bytes per leaf of free space beside the tree (or in $TMPDIR when "
            "that is read-only)"
        ) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def check_tree(
    store: TreeStore,
    load_secret: Callable[[], bytes | None],
    checks: list[str],
    progress: Progress,
) -> tuple[bytes, bool]:
    """Every check between the audit's shape checks and its root comparison, out of core.

    Returns (the recomputed root record, whether the leaves were recomputed); appends to
    `checks` what the in-memory audit appends, in the same order.
    """
    meta = store.meta
    tree_dir = store.dir / "tree"
    with _work_dir(store.dir) as work:
        _check_positions(tree_dir, 1 << meta.height, progress)
        checks.append("every padding leaf has zero sums")  # checked where level 0 is read
        _check_index(store, work, progress)
        checks.append("the account index points every account at its own leaves")
        secret = load_secret()
        ids = AccountIds(tree_dir / "accounts.arrow", meta.accounts)
        levels = CheckedLevels(LevelCompare(tree_dir), meta.height, len(meta.assets))
        if secret is not None:
            ids.validate()
            _check_leaves(store, secret, ids, levels, work, progress)
            _check_hashes(store, ids, progress)
            checks.append("the leaf order derives from the secret: ascending salts")
            checks.append(
                f"every leaf recomputed from account id, derived salt and balances "
                f"({meta.leaves} leaves), every padding leaf from its derived salt"
            )
        else:
            _check_nodes(store, levels, progress)
            ids.validate()
            _check_hashes(store, ids, progress)
            checks.append("every account hash in the index recomputed from its id")
        return levels.root(), secret is not None


def _check_positions(tree_dir: Path, size: int, progress: Progress) -> None:
    """positions.bin holds every position 0 .. size-1 once (size values, all in range)."""
    path = tree_dir / "positions.bin"
    seen = np.zeros(size, dtype=bool)
    done = 0
    for block in blocks(path, "<u8"):
        if int(block.max(initial=0)) >= size:
            break
        seen[block.astype(np.int64)] = True
        done += len(block)
        progress("check positions", done, size)
    if done != size or not seen.all():
        raise InvalidProof("tree", f"{path} is not a permutation of the leaves")


def _position_buckets(height: int) -> int:
    """Bits of the position (from the top) that pick its range file."""
    return min(max(0, height - (BUCKET_LEAVES.bit_length() - 1)), MAX_BUCKET_BITS)


def _check_index(store: TreeStore, work: Path, progress: Progress) -> None:
    """index.bin's rows and positions, and every account's leaves as positions.bin has them."""
    meta = store.meta
    tree_dir = store.dir / "tree"
    index_file = tree_dir / "index.bin"
    index_type = np.dtype(store._index_dtype)
    if index_file.stat().st_size != meta.accounts * index_type.itemsize or (
        index_type.itemsize != INDEX_HEAD + 8 * meta.split
    ):
        raise InvalidProof("index", f"{index_file}: the account index does not match the tree")
    bits = _position_buckets(meta.height)
    shift = np.uint64(meta.height - bits)
    pair = np.dtype([("pos", "<u8"), ("leaf", "<u8")])
    spill = _Buckets(work, "pairs", 1 << bits, pair)
    try:
        rows_seen = RowsSeen(meta.accounts)
        done = 0
        for index in blocks(index_file, index_type):
            # range checks on the stored unsigned values: a cast first could wrap them
            if int(index["row"].max(initial=0)) >= meta.accounts:
                raise InvalidProof(
                    "index", f"{index_file}: an entry names a row beyond the accounts"
                )
            if int(index["pos"].max(initial=0)) >= 1 << meta.height:
                raise InvalidProof("index", f"{index_file}: an entry points outside the leaves")
            rows_seen.add(index["row"])
            pairs = np.empty(len(index) * meta.split, dtype=pair)
            pairs["pos"] = index["pos"].reshape(-1)
            parts = np.arange(meta.split, dtype=np.uint64)
            pairs["leaf"] = (index["row"][:, None] * np.uint64(meta.split) + parts).reshape(-1)
            spill.add((pairs["pos"] >> shift).astype(np.int64), pairs)
            done += len(index)
            progress("check index", done, meta.accounts)
        for b, pairs in spill:
            first = b << int(shift)
            perm = read_array(tree_dir / "positions.bin", "<u8", first, 1 << int(shift))
            if not np.array_equal(
                perm[(pairs["pos"] - np.uint64(first)).astype(np.int64)], pairs["leaf"]
            ):
                raise InvalidProof(
                    "index", f"{index_file}: the account index points at the wrong leaves"
                )
    finally:
        spill.close()
    if not rows_seen.all():
        raise InvalidProof("index", f"{index_file}: an account is missing from the index")


def _salt_buckets(
    store: TreeStore, secret: bytes, ids: AccountIds, work: Path, progress: Progress
) -> _Buckets:
    """Every leaf's (salt, leaf id, account hash), account and padding, into its bucket."""
    meta = store.meta
    bits = _position_buckets(meta.height)
    row = np.dtype([("salt", "V32"), ("leaf", "<u8"), ("hash", "V32")])
    buckets = _Buckets(work, "salts", 1 << bits, row)

    def add(salts: npt.NDArray[np.uint8], first: int, hashes: npt.NDArray[np.uint8]) -> None:
        rows = np.empty(len(salts), dtype=row)
        rows["salt"] = np.ascontiguousarray(salts).view("V32").reshape(-1)
        rows["leaf"] = np.arange(first, first + len(salts), dtype=np.uint64)
        rows["hash"] = np.ascontiguousarray(hashes).view("V32").reshape(-1)
        buckets.add(salts[:, 0].astype(np.int64) >> (8 - bits), rows)

    try:
        for start in range(0, meta.accounts, ACCOUNTS):
            stop = min(start + ACCOUNTS, meta.accounts)
            offsets, data = binary_ids(ids.slice(start, stop))
            hashes = hash_varlen(TAG_ACCOUNT, offsets, data)
            salts = hmac_varlen(secret, offsets, data, meta.split)
            ids.release()
            add(salts, start * meta.split, np.repeat(hashes, meta.split, axis=0))
            progress("hash accounts, derive salts", stop, meta.accounts)
        done = meta.leaves
        for block in pad_salt_blocks(secret, meta.padding, block=CHUNK):
            salts = np.frombuffer(block, dtype=np.uint8).reshape(-1, SALT_LEN)
            add(salts, done, np.zeros((len(salts), HASH_LEN), dtype=np.uint8))
            done += len(salts)
    except BaseException:
        buckets.close()
        raise
    return buckets


def _order(rows: npt.NDArray[Any], real: int, parts: int) -> npt.NDArray[np.int64]:
    """A bucket's leaves in the order of spec §5.1: salt, then account leaves before padding,
    then (account hash, part) or the padding number."""
    salts = np.frombuffer(rows["salt"].tobytes(), dtype=np.uint8).reshape(-1, SALT_LEN)
    prefix = np.ascontiguousarray(salts[:, :8]).view(">u8").reshape(-1).astype(np.uint64)
    order = np.argsort(prefix, kind="stable")
    ordered = prefix[order]
    same = np.flatnonzero(ordered[1:] == ordered[:-1])
    if len(same):  # the rare equal prefixes: the whole key
        leaves = rows["leaf"].astype(np.int64)

        def key(i: int) -> tuple[bytes, int, bytes, int]:
            leaf = int(leaves[i])
            if leaf < real:
                return (salts[i].tobytes(), 0, rows["hash"][i].tobytes(), leaf % parts)
            return (salts[i].tobytes(), 1, b"", leaf - real)

        breaks = np.flatnonzero(np.diff(same) > 1)
        starts = np.concatenate([same[:1], same[breaks + 1]]).tolist()
        ends = (np.concatenate([same[breaks], same[-1:]]) + 2).tolist()
        for a, b in zip(starts, ends, strict=True):
            order[a:b] = sorted(order[a:b].tolist(), key=key)
    return order.astype(np.int64, copy=False)


def _check_leaves(
    store: TreeStore,
    secret: bytes,
    ids: AccountIds,
    levels: CheckedLevels,
    work: Path,
    progress: Progress,
) -> None:
    """Bucket by bucket in salt order: the order, padding sums, every leaf, every node."""
    meta = store.meta
    tree_dir = store.dir / "tree"
    buckets = _salt_buckets(store, secret, ids, work, progress)
    position = 0
    for _, bucket in buckets:
        rows = bucket[_order(bucket, meta.leaves, meta.split)]
        del bucket
        leaves = rows["leaf"]
        stored_perm = read_array(tree_dir / "positions.bin", "<u8", position, len(rows))
        if not np.array_equal(stored_perm, leaves):
            raise InvalidProof(
                "secret",
                f"the leaf order derived from the secret file {store.secret_path} is not "
                f"the tree's ({tree_dir / 'positions.bin'}): a wrong secret file, or "
                "positions.bin or accounts.arrow (the ids the salts derive from) was changed",
            )
        for first in range(0, len(rows), SUBTREE):
            piece = rows[first : first + SUBTREE]
            levels.push(0, _leaves(store, piece, position + first))
        position += len(rows)
        del rows
        progress("recompute leaves and nodes", position, 1 << meta.height)


def _leaves(store: TreeStore, rows: npt.NDArray[Any], position: int) -> npt.NDArray[np.uint8]:
    """Leaves at `position`.. (`rows`, in order) recomputed from their salts, account hashes
    and the stored balances, after the padding leaves' sums are checked to be zero."""
    meta = store.meta
    leaf_file = store.dir / "tree" / "level-00.bin"
    stored = read_records(leaf_file, position, len(rows), meta.record_width)
    real = rows["leaf"] < meta.leaves
    padded = ~real & stored[:, HASH_LEN:].any(axis=1)
    if padded.any():
        bad = position + int(np.flatnonzero(padded)[0])
        raise InvalidProof(
            "padding", f"{leaf_file}: padding leaf at position {bad} has a non-zero sum"
        )
    salts = np.frombuffer(rows["salt"].tobytes(), dtype=np.uint8).reshape(-1, SALT_LEN)
    again = np.empty_like(stored)
    at = np.flatnonzero(real)
    hashes = np.frombuffer(rows["hash"][at].tobytes(), dtype=np.uint8).reshape(-1, HASH_LEN)
    balances = np.ascontiguousarray(stored[at, HASH_LEN:])
    again[at] = leaf_records(salts[at], hashes, balances)
    pads = np.flatnonzero(~real)
    again[pads] = pad_records(np.ascontiguousarray(salts[pads]), len(meta.assets))
    return again


def _check_nodes(store: TreeStore, levels: CheckedLevels, progress: Progress) -> None:
    """Without the secret: padding sums and every node above the stored leaves."""
    meta = store.meta
    tree_dir = store.dir / "tree"
    leaf_file = tree_dir / "level-00.bin"
    for start in range(0, 1 << meta.height, SUBTREE):
        stored = read_records(leaf_file, start, SUBTREE, meta.record_width)
        perm = read_array(tree_dir / "positions.bin", "<u8", start, len(stored))
        padded = (perm >= meta.leaves) & stored[:, HASH_LEN:].any(axis=1)
        if padded.any():
            bad = start + int(np.flatnonzero(padded)[0])
            raise InvalidProof(
                "padding", f"{leaf_file}: padding leaf at position {bad} has a non-zero sum"
            )
        levels.push(0, stored, check=False)
        progress("recompute nodes", start + len(stored), 1 << meta.height)


def _check_hashes(store: TreeStore, ids: AccountIds, progress: Progress) -> None:
    """Every index entry's account hash recomputed from its row's id."""
    meta = store.meta
    index_file = store.dir / "tree" / "index.bin"
    done = 0
    for index in blocks(index_file, np.dtype(store._index_dtype)):
        offsets, data = binary_ids(ids.take(index["row"]))
        expected = hash_varlen(TAG_ACCOUNT, offsets, data)
        ids.release()
        if expected.tobytes() != index["hash"].tobytes():
            raise InvalidProof("index", f"{index_file}: an entry's account hash is wrong")
        done += len(index)
        progress("check account hashes", done, meta.accounts)
