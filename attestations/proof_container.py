"""Every customer's proof in one file: `por liabilities proof --all --out FILE` and `--from`.

The bulk side of the proof flow (store.py cuts one proof; this writes all of them into
one container and reads one back). The container is an Arrow IPC file (`por-proofs-v1`,
docs/liabilities.md): one row per account, sorted by account hash, in record batches of
`BATCH` rows, with the account id, its hash and, for each of its K leaves (K = the tree's
split), the leaf index, the salt, the balances and one sibling record per level
(``hash || enc(sums)``, as stored in the level files). Each level's column is
dictionary-encoded over that whole level, written once: a row's sibling is an index into
it. So the file is about the size of the tree plus the per-account columns (385 MB at
1M x 3) instead of a copy of the path per account, it is written at the speed of memory
copies, any Arrow reader loads it with every row's full proof (pyarrow, polars, DuckDB),
and one proof costs a binary search over memory-mapped batches and O(height) page reads.
A row renders to exactly the bytes `por liabilities proof DIR ID` prints (tested for every
account of a tree).

Every proof written is valid without walking each path (n log n hashes): the writer
recomputes each account's leaf from its derived salt, id and balances, and every node of
the tree from its children (n hashes, what the build does), and compares them with the
level files and root.json's root; any difference refuses the whole file. The file appears
under its name only when all is checked (temporary name, fsync, rename; mode 0600: salts
are private); the temporary file is removed however the writing ends.

Memory is bounded by a batch, not by the tree (issue 16: 100M accounts): each batch's index
entries, ids (attestations/tree_files.py), salts and own leaves are read and derived for
that batch (its leaves checked before it is written; above a 256 MiB level 0 the own leaves
are gathered beforehand by sequential reads through a private work directory beside the
output, about 100 bytes a leaf, `_OwnLeaves`), the node check reads the levels in
subtrees on a second thread (the hashing releases the GIL), and the level dictionaries,
which Arrow writes once with the first batch, are copied from the level files into the
container by the kernel (`_Sink`, `os.copy_file_range`) instead of through memory; the
bytes are those of an ordinary Arrow writer (tested).

Reading back (`ProofContainer`) trusts nothing: the schema, the embedded root document and
its commitment are checked on opening, and every proof it returns is verified against
that root document as a customer would; a damaged file is an `InvalidProof` (exit 3)
naming the file and the row.
"""

from __future__ import annotations

import bisect
import contextlib
import errno
import hashlib
import json
import mmap
import os
import shutil
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from attestations.build import binary_ids
from attestations.encoding import HASH_LEN, SALT_LEN, SUM_LEN, account_hash, enc
from attestations.hashing import hmac_varlen
from attestations.levels import leaf_records, parent_level
from attestations.proofs import (
    InclusionProof,
    ProofLeaf,
    RootDocument,
    SumNode,
    check_root_document,
    parse_proof,
    parse_root_document,
    verify_proof,
)
from attestations.store import TreeStore
from attestations.tree_files import AccountIds, RowsSeen, blocks, read_array, read_records
from verifier.base import safejson
from verifier.base.atomic import private_dir, private_file_fd
from verifier.base.errors import InputError, InvalidProof, NotFound, PorError, SumOverflow
from verifier.base.outdir import guard_output

CONTAINER_FORMAT = "por-proofs-v1"
METADATA_KEY = b"por-proofs"
CHECKSUM_KEY = b"por-proofs-sha256"
"""SHA-256 (hex) of the metadata's bytes: the root document's `as_of` is bound by no
commitment, so damage to it would otherwise go unnoticed."""
BATCH = 65_536
"""Rows per record batch: the unit of writing and of a lookup's last search."""
SUBTREE = 1 << 16
"""Leaves per node-check task (the check of one subtree's nodes)."""
MAP_WHOLE = 1 << 28
"""Bytes of level 0 up to which a batch's own leaves are read through its map (see
`_Levels.leaves`); above, by `pread`."""
SLOTS = 1 << 19
"""Leaves per range of `_OwnLeaves` loaded at once (more past 2**27 leaves: 256 files)."""

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ContainerResult:
    """What `write_container` wrote."""

    path: Path
    proofs: int
    bytes: int


# ----------------------------------------------------------------------------- layout


def container_schema(root: RootDocument, split: int, accounts: int) -> pa.Schema:
    """The exact schema of a container for this tree shape (checked again on reading)."""
    width = HASH_LEN + SUM_LEN * len(root.assets)

    def per_leaf(item: pa.DataType) -> pa.DataType:
        return pa.list_(item, split)

    fields = [
        pa.field("account_id", pa.string(), nullable=False),
        pa.field("account_hash", pa.binary(HASH_LEN), nullable=False),
        pa.field("leaf_index", per_leaf(pa.uint64()), nullable=False),
        pa.field("salt", per_leaf(pa.binary(SALT_LEN)), nullable=False),
        pa.field("balances", per_leaf(pa.binary(SUM_LEN * len(root.assets))), nullable=False),
    ]
    for level in range(root.height):
        indices = pa.int32() if (1 << (root.height - level)) < 1 << 31 else pa.int64()
        fields.append(
            pa.field(
                f"path_{level:02d}",
                per_leaf(pa.dictionary(indices, pa.binary(width))),
                nullable=False,
            )
        )
    meta = {
        "format": CONTAINER_FORMAT,
        "proof_format": "por-mst-v1",
        "accounts": accounts,
        "split": split,
        "batch_rows": BATCH,
        "root_document": root.to_json(),
    }
    text = json.dumps(meta).encode()
    digest = hashlib.sha256(text).hexdigest().encode()
    return pa.schema(fields, metadata={METADATA_KEY: text, CHECKSUM_KEY: digest})


def _fixed(values: npt.NDArray[Any], size: int) -> pa.Array:
    """A fixed_size_binary(size) array over a contiguous byte buffer, without a copy."""
    data = np.ascontiguousarray(values)
    return pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(size), data.nbytes // size, [None, pa.py_buffer(data)]
    )


# ----------------------------------------------------------------------------- the tree


class _Levels:
    """The level files mapped read-only, as the dictionaries of the path columns.

    The writer never reads the dictionaries through the maps: `_Sink` copies them file to
    file. Only level 0 is read through its map (each batch's own leaves), and its pages are
    given back after every batch (`release`), so what is resident is one batch's pages.
    """

    def __init__(self, tree_dir: Path, height: int, width: int) -> None:
        self.width = width
        self.maps: list[mmap.mmap] = []
        self.fds: list[int] = []
        try:
            for k in range(height + 1):
                fd = os.open(tree_dir / f"level-{k:02d}.bin", os.O_RDONLY)
                self.fds.append(fd)
                self.maps.append(mmap.mmap(fd, 0, access=mmap.ACCESS_READ))
        except BaseException:
            self.close()
            raise
        self.buffers = [pa.py_buffer(m) for m in self.maps]
        self.spans = [(b.address, b.address + b.size) for b in self.buffers]
        self.own: _OwnLeaves | None = None

    def dictionary(self, level: int) -> pa.Array:
        buffer = self.buffers[level]
        return pa.FixedSizeBinaryArray.from_buffers(
            pa.binary(self.width), buffer.size // self.width, [None, buffer]
        )

    def locate(self, address: int, size: int) -> tuple[int, int] | None:
        """(level, file offset) of memory inside one of the maps, else None."""
        for level, (low, high) in enumerate(self.spans):
            if low <= address and address + size <= high:
                return level, address - low
        return None

    def leaves(self, positions: npt.NDArray[np.int64], first_slot: int) -> npt.NDArray[np.uint8]:
        """Level-0 records at `positions`, the own leaves of slots `first_slot`.. (a copy).

        A level 0 of at most `MAP_WHOLE` bytes is read through its map, which then stays
        resident (at most that much). A larger one comes from `_OwnLeaves`, gathered
        beforehand by sequential reads: random reads through a map would keep the whole
        level resident (a fault maps its neighbours too, the kernel's fault-around), and
        random preads or a fresh map per batch made 10M accounts 3 to 4 x slower.
        """
        if self.own is None:
            level0 = np.frombuffer(self.buffers[0], dtype=np.uint8).reshape(-1, self.width)
            return level0[positions]
        return self.own.take(first_slot, len(positions))

    def close(self) -> None:
        self.buffers = []
        for fd in self.fds:
            os.close(fd)
        self.fds = []


class _OwnLeaves:
    """Every index entry's own leaf records in index order, gathered out of core.

    Index order (by account hash) and leaf order (by salt) are unrelated, so each batch's
    leaves lie all over level 0. Instead of reading them at random: (position, slot) of
    every leaf spilled into a file per range of positions; each range of level 0 read in
    turn and its records spilled by range of slots; a range of slots loaded as the batches
    reach it. A slot is entry * split + the leaf's rank among the entry's positions.
    Everything is in a private work directory that goes with the container's temp file.
    """

    def __init__(self, store: TreeStore, work: Path, progress: Progress) -> None:
        meta = store.meta
        tree_dir = store.dir / "tree"
        where = tree_dir / "index.bin"
        self.width, total = meta.record_width, meta.leaves
        self.slots = max(SLOTS, -(-total // 256))
        bits = min(max(0, meta.height - 19), 8)
        shift = meta.height - bits
        pair = np.dtype([("pos", "<u8"), ("slot", "<u8")])
        self.record = np.dtype([("slot", "<u8"), ("leaf", np.uint8, (self.width,))])
        wanted = _Spill(work, "want", 1 << bits, pair)
        self.spill = _Spill(work, "own", -(-total // self.slots), self.record)
        done = 0
        for entries in blocks(where, store._index_dtype):
            if int(entries["pos"].max(initial=0)) >= 1 << meta.height:
                raise InvalidProof("index", f"{where}: an entry points outside the leaves")
            rows = np.empty(len(entries) * meta.split, dtype=pair)
            rows["pos"] = np.sort(entries["pos"], axis=1).reshape(-1)
            rows["slot"] = np.arange(done * meta.split, done * meta.split + len(rows))
            wanted.add((rows["pos"] >> np.uint64(shift)).astype(np.int64), rows)
            done += len(entries)
            progress("gather leaves", done, 2 * meta.accounts)
        for b, rows in wanted.read():
            first = b << shift
            level = read_records(tree_dir / "level-00.bin", first, 1 << shift, self.width)
            out = np.empty(len(rows), dtype=self.record)
            out["slot"] = rows["slot"]
            out["leaf"] = level[(rows["pos"] - np.uint64(first)).astype(np.int64)]
            self.spill.add((rows["slot"] // np.uint64(self.slots)).astype(np.int64), out)
            progress(
                "gather leaves",
                meta.accounts + ((b + 1) * meta.accounts >> bits),
                2 * meta.accounts,
            )
        self.spill.close()
        self.loaded, self.range = np.empty((0, self.width), np.uint8), -1

    def take(self, first: int, count: int) -> npt.NDArray[np.uint8]:
        """The records of slots [first, first + count): batches come in order."""
        parts = []
        while count:
            r, offset = divmod(first, self.slots)
            if r != self.range:
                rows = np.fromfile(self.spill.paths[r], dtype=self.record)
                self.spill.paths[r].unlink()
                self.loaded = np.empty((len(rows), self.width), np.uint8)
                self.loaded[(rows["slot"] - np.uint64(r * self.slots)).astype(np.int64)] = rows[
                    "leaf"
                ]
                self.range = r
            piece = self.loaded[offset : offset + count]
            parts.append(piece)
            first, count = first + len(piece), count - len(piece)
        return parts[0].copy() if len(parts) == 1 else np.concatenate(parts)


class _Spill:
    """Records spilled into one file per key range, read back in key order."""

    def __init__(self, work: Path, name: str, count: int, dtype: np.dtype[Any]) -> None:
        self.paths = [work / f"{name}-{b:05d}.bin" for b in range(count)]
        self.files = [p.open("wb") for p in self.paths]
        self.dtype = dtype

    def add(self, key: npt.NDArray[np.int64], rows: npt.NDArray[Any]) -> None:
        order = np.argsort(key, kind="stable")
        ends = np.cumsum(np.bincount(key, minlength=len(self.files))).tolist()
        rows, start = rows[order], 0
        for b, end in enumerate(ends):
            if end > start:
                rows[start:end].tofile(self.files[b])
            start = end

    def close(self) -> None:
        for handle in self.files:
            handle.close()

    def read(self) -> Iterator[tuple[int, npt.NDArray[Any]]]:
        self.close()
        for b, path in enumerate(self.paths):
            rows = np.fromfile(path, dtype=self.dtype)
            path.unlink()
            yield b, rows


class _Sink:
    """The container's file for `pa.PythonFile`. A buffer that lies in a mapped level file
    (a dictionary: a whole level) is copied from that file by the kernel
    (`os.copy_file_range`), never through memory; everything else is written as given."""

    def __init__(self, fd: int, levels: _Levels) -> None:
        self.fd, self.levels, self.position, self.closed = fd, levels, 0, False

    def write(self, data: Any) -> int:
        where = None
        if isinstance(data, pa.Buffer):
            where = self.levels.locate(data.address, data.size)
        if where is not None:
            level, offset = where
            _copy_range(self.levels.fds[level], self.fd, offset, data.size)
            size = int(data.size)
        else:
            view = memoryview(data).cast("B")
            size, done = len(view), 0
            while done < size:
                done += os.write(self.fd, view[done:])
        self.position += size
        return size

    def tell(self) -> int:
        return self.position

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        return None

    def close(self) -> None:
        self.closed = True


def _copy_range(source: int, target: int, offset: int, count: int) -> None:
    """`count` bytes of `source` from `offset` appended to `target` (at its position)."""
    end = offset + count
    try:
        while offset < end:
            moved = os.copy_file_range(source, target, end - offset, offset)
            if moved <= 0:
                raise OSError(5, "a tree file ended early")
            offset += moved
    except (AttributeError, OSError) as exc:  # no copy_file_range here: through a buffer
        if isinstance(exc, OSError) and exc.errno not in (
            errno.EXDEV,
            errno.EINVAL,
            errno.ENOSYS,
            errno.EOPNOTSUPP,
        ):
            raise
        while offset < end:
            chunk = os.pread(source, min(1 << 23, end - offset), offset)
            if not chunk:
                raise OSError(5, "a tree file ended early") from None
            os.write(target, chunk)
            offset += len(chunk)


# ----------------------------------------------------------------------------- checks


def _check_nodes(
    tree_dir: Path, height: int, width: int, assets: int, stop: threading.Event
) -> tuple[int, int] | None:
    """Every node recomputed from its children, subtree by subtree then the top, and
    compared with the stored levels (read in ranges): the first (level, position) that
    differs, or None. Stops early (None) when `stop` is set."""

    def stored(level: int, first: int, count: int) -> npt.NDArray[np.uint8]:
        return read_records(tree_dir / f"level-{level:02d}.bin", first, count, width)

    low = min(height, SUBTREE.bit_length() - 1)
    for start in range(0, 1 << height, SUBTREE):
        if stop.is_set():
            return None
        current = stored(0, start, SUBTREE)
        for level in range(1, low + 1):
            first = start >> level
            found = _compare_parent(
                current, stored(level, first, len(current) // 2), first, level, assets
            )
            if isinstance(found, tuple):
                return found
            current = found
    current = stored(low, 0, 1 << (height - low))
    for level in range(low + 1, height + 1):
        found = _compare_parent(current, stored(level, 0, len(current) // 2), 0, level, assets)
        if isinstance(found, tuple):
            return found
        current = found
    return None


def _compare_parent(
    children: npt.NDArray[np.uint8],
    stored: npt.NDArray[np.uint8],
    first: int,
    level: int,
    assets: int,
) -> npt.NDArray[np.uint8] | tuple[int, int]:
    """The parents of `children` if they equal the stored ones (from `first` on), else the
    (level, position) of the first that does not (a sum reaching 2**128 included)."""
    try:
        parents = parent_level(children, assets, first_parent=first)
    except SumOverflow:
        return level, first
    if parents.shape != stored.shape:
        return level, first + len(stored)  # the stored level ends early
    wrong = np.flatnonzero((parents != stored).any(axis=1))
    return (level, first + int(wrong[0])) if len(wrong) else parents


class _Batch:
    """One batch of index entries [a, b): its rows' ids, salts (in proof order, by leaf
    index) and stored leaves, with every leaf recomputed and compared."""

    def __init__(self, store: TreeStore, ids: AccountIds, levels: _Levels, a: int, b: int) -> None:
        meta = store.meta
        parts = meta.split
        where = store.dir / "tree" / "index.bin"
        self.entries = read_array(where, store._index_dtype, a, b - a)
        # range checks on the stored unsigned values before they are used (bulk_index's)
        if int(self.entries["row"].max(initial=0)) >= meta.accounts:
            raise InvalidProof("index", f"{where}: an entry names a row beyond the accounts")
        if int(self.entries["pos"].max(initial=0)) >= 1 << meta.height:
            raise InvalidProof("index", f"{where}: an entry points outside the leaves")
        self.ids = ids.take(self.entries["row"])
        ids.release()
        offsets, data = binary_ids(self.ids)
        salts = hmac_varlen(store.secret, offsets, data, parts)
        if parts > 1:  # part p's salt goes where part p's leaf falls in index order
            order = np.argsort(self.entries["pos"], axis=1, kind="stable")
            by_part = salts.reshape(b - a, parts, SALT_LEN)
            salts = np.take_along_axis(by_part, order[:, :, None], axis=1).reshape(-1, SALT_LEN)
        self.salts = salts
        self.positions = np.sort(self.entries["pos"].astype(np.int64), axis=1).reshape(-1)
        self.stored = levels.leaves(self.positions, a * parts)
        own = np.ascontiguousarray(self.entries["hash"]).view(np.uint8).reshape(-1, HASH_LEN)
        hashes = np.repeat(own, parts, axis=0) if parts > 1 else own
        again = leaf_records(salts, hashes, np.ascontiguousarray(self.stored[:, HASH_LEN:]))
        wrong = np.flatnonzero((again != self.stored).any(axis=1))
        self.bad = int(wrong[0]) // parts if len(wrong) else -1
        """The first entry (in the batch) whose leaf does not recompute, or -1."""


# ----------------------------------------------------------------------------- writing


def write_container(
    tree_dir: Path,
    out: Path,
    secret_file: Path | None,
    progress: Progress,
) -> ContainerResult:
    """Write every account's proof of tree `tree_dir` into the container `out`.

    `out` may not be, hold or lie in the tree or the secret (`guard_output`); an existing
    file is replaced only when the new one is complete. A tree whose leaves or nodes do not
    recompute is an `InvalidProof` and nothing is written; the temporary file is removed
    however the writing ends.
    """
    guard_output(out, [("tree directory", tree_dir), ("secret file", secret_file)], flag="--out")
    if out.is_dir():
        raise InputError("--out names a directory; the container is one file", file=str(out))
    with TreeStore(tree_dir, secret_file=secret_file) as store:
        ids = AccountIds(store.dir / "tree" / "accounts.arrow", store.meta.accounts)
        ids.validate()
        store.secret  # noqa: B018 - read (and refused if unusable) before any file is made
        try:  # made with stop signals held: no SIGTERM between creating it and knowing it
            fd, tmp = private_file_fd(out.parent, f".{out.name}.")
        except OSError as exc:
            raise PorError(f"cannot write {out}: {exc.strerror or exc}") from None
        try:
            try:
                _write_checked(store, ids, fd, out.parent, progress)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.chmod(tmp, 0o600)
            ProofContainer(tmp).check_ends(name=out)
            os.replace(tmp, out)
        except OSError as exc:
            raise PorError(f"cannot write {out}: {exc.strerror or exc}") from None
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
        return ContainerResult(out, store.meta.accounts, out.stat().st_size)


def _write_checked(
    store: TreeStore, ids: AccountIds, fd: int, beside: Path, progress: Progress
) -> None:
    """The file written batch by batch (each batch's leaves checked first) while a thread
    checks every node; then the index's coverage and the root.

    The hashing releases the GIL (attestations/hashing.py, native), as do Arrow's writing
    and the file reads, so the node check and the writing share the two cores.
    """
    meta = store.meta
    tree_dir = store.dir / "tree"
    levels = _Levels(tree_dir, meta.height, meta.record_width)
    stop = threading.Event()
    work = None
    try:
        if levels.buffers[0].size > MAP_WHOLE:
            work = private_dir(beside, ".por-proofs-work-")
            levels.own = _OwnLeaves(store, work, progress)
        with ThreadPoolExecutor(1, "por-tree-check") as pool:
            check = pool.submit(
                _check_nodes, tree_dir, meta.height, meta.record_width, len(meta.assets), stop
            )
            try:
                _write_batches(store, ids, levels, fd, progress)
            except BaseException:
                stop.set()
                raise
            progress("check leaves and nodes", 0, 1)
            found = check.result()
            progress("check leaves and nodes", 1, 1)
    finally:
        levels.close()
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
    if found is not None:
        level, position = found
        raise InvalidProof(
            "tree",
            f"{tree_dir / f'level-{level:02d}.bin'}: node at level {level}, "
            f"position {position} does not recompute from its children; no proof written. "
            f"Run `por liabilities audit {store.dir}`",
        )
    root = read_records(tree_dir / f"level-{meta.height:02d}.bin", 0, 1, meta.record_width)
    if root.tobytes() != store.root.root.hash + enc(store.root.root.sums):
        raise InvalidProof(
            "tree", f"the stored tree's root differs from {store.root_path}; no proof written"
        )


def _damaged_leaf(store: TreeStore, account: str) -> InvalidProof:
    return InvalidProof(
        "proof",
        f"the leaf of account {account!r} in {store.dir} does not recompute from its salt, "
        f"id and balances: the tree files or the secret file {store.secret_path} are "
        f"damaged or not this tree's; no proof written. Run `por liabilities audit "
        f"{store.dir}`",
    )


def _write_batches(
    store: TreeStore, ids: AccountIds, levels: _Levels, fd: int, progress: Progress
) -> None:
    """Every row, batch by batch: sibling columns as indices into the whole levels (the
    dictionaries, written once, file to file by `_Sink`)."""
    meta = store.meta
    schema = container_schema(store.root, meta.split, meta.accounts)
    parts, width = meta.split, meta.record_width
    dictionaries = [levels.dictionary(k) for k in range(meta.height)]
    rows_seen = RowsSeen(meta.accounts)

    def per_leaf(values: pa.Array) -> pa.Array:
        return pa.FixedSizeListArray.from_arrays(values, parts)

    sink = pa.PythonFile(_Sink(fd, levels), mode="w")
    with pa.ipc.new_file(sink, schema) as writer:
        for a in range(0, meta.accounts, BATCH):
            b = min(a + BATCH, meta.accounts)
            batch = _Batch(store, ids, levels, a, b)
            if batch.bad >= 0:
                raise _damaged_leaf(store, batch.ids[batch.bad].as_py())
            rows_seen.add(batch.entries["row"])
            positions = batch.positions
            columns = [
                batch.ids.cast(pa.string()),
                _fixed(batch.entries["hash"], HASH_LEN),
                per_leaf(pa.array(positions.astype(np.uint64))),
                per_leaf(_fixed(batch.salts, SALT_LEN)),
                per_leaf(_fixed(batch.stored[:, HASH_LEN:], width - HASH_LEN)),
            ]
            for level in range(meta.height):
                kind = schema.field(f"path_{level:02d}").type.value_type.index_type
                picks = pa.array((positions >> level) ^ 1, type=kind)
                columns.append(per_leaf(pa.DictionaryArray.from_arrays(picks, dictionaries[level])))
            writer.write_batch(pa.RecordBatch.from_arrays(columns, schema=schema))
            progress("write proofs", b, meta.accounts)
    if not rows_seen.all():
        where = store.dir / "tree" / "index.bin"
        raise InvalidProof("index", f"{where}: an account is missing (another listed twice)")


# ----------------------------------------------------------------------------- reading


class _Hashes(Sequence[bytes]):
    """The account hashes of one batch as a sequence `bisect` can search."""

    def __init__(self, column: pa.Array) -> None:
        self._data = column.buffers()[1]
        self._offset = column.offset
        self._len = len(column)

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, i: Any) -> Any:
        start = (self._offset + i) * HASH_LEN
        return self._data[start : start + HASH_LEN].to_pybytes()


class ProofContainer:
    """An opened `por-proofs-v1` container (memory-mapped: nothing is read whole)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.exists():
            raise InputError("file not found", file=str(path))
        if not path.is_file():
            raise InputError("not a regular file", file=str(path))
        try:
            self._reader = pa.ipc.open_file(pa.memory_map(str(path)))
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise self._damaged(f"not a readable Arrow IPC file ({type(exc).__name__})") from None
        try:  # a flipped byte in the footer's field names is not UTF-8
            schema = self._reader.schema
            schema.names  # noqa: B018 - decoded here, where a damaged name is named
        except (pa.ArrowException, UnicodeDecodeError, ValueError) as exc:
            raise self._damaged(f"its schema cannot be read ({type(exc).__name__})") from None
        meta = self._metadata(schema)
        expected = container_schema(self.root, self.split, self.accounts)
        for field in expected:
            found = schema.field(field.name) if field.name in schema.names else None
            if found is None or not found.type.equals(field.type):
                shown = "missing" if found is None else f"of type {found.type}"
                raise self._damaged(f"column {field.name!r} is {shown}, not {field.type}")
        if schema.names != expected.names:
            raise self._damaged(f"columns {schema.names} are not {expected.names}")
        self.batch_rows = meta["batch_rows"]
        batches = self._reader.num_record_batches
        if batches != -(-self.accounts // self.batch_rows):
            raise self._damaged(
                f"holds {batches} record batches, {self.accounts} accounts in batches of "
                f"{self.batch_rows} need {-(-self.accounts // self.batch_rows)}"
            )

    def _damaged(self, why: str) -> InvalidProof:
        return InvalidProof("proofs container", f"{self.path}: {why}")

    def _metadata(self, schema: pa.Schema) -> dict[str, Any]:
        raw = (schema.metadata or {}).get(METADATA_KEY)
        if raw is None:
            raise self._damaged(f"no {METADATA_KEY.decode()} metadata: not a por proofs container")
        digest = (schema.metadata or {}).get(CHECKSUM_KEY)
        if digest != hashlib.sha256(raw).hexdigest().encode():
            raise self._damaged(f"the metadata does not match its {CHECKSUM_KEY.decode()}")
        meta = safejson.loads(raw, source=f"{self.path} (metadata)")
        if not isinstance(meta, dict) or meta.get("format") != CONTAINER_FORMAT:
            raise self._damaged(f"metadata format is not {CONTAINER_FORMAT}")
        for key, high in (("accounts", 1 << 64), ("split", 64), ("batch_rows", 1 << 31)):
            value = meta.get(key)
            if type(value) is not int or not 1 <= value <= high:
                raise self._damaged(f"metadata key {key!r} must be an integer in 1..{high}")
        try:
            self.root = parse_root_document(meta.get("root_document"))
            check_root_document(self.root)
        except InvalidProof as exc:
            raise self._damaged(f"metadata key 'root_document': {exc.message}") from None
        self.accounts: int = meta["accounts"]
        self.split: int = meta["split"]
        return meta

    def _batch(self, i: int) -> pa.RecordBatch:
        first = i * self.batch_rows
        try:
            batch = self._reader.get_batch(i)
            rows = min(self.batch_rows, self.accounts - first)
            if batch.num_rows != rows:
                raise ValueError(f"{batch.num_rows} rows, not {rows}")
            batch.column("account_hash").validate(full=True)  # the rest row by row
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise self._damaged(
                f"rows {first}..{first + self.batch_rows - 1} (record batch {i}) cannot be "
                f"read ({exc})"
            ) from None
        return batch

    def find(self, account_id: str) -> tuple[int, pa.RecordBatch, int]:
        """(row, its batch, position in the batch) of an account: O(log n) batch reads."""
        try:
            target = account_hash(account_id)
        except UnicodeEncodeError:
            raise NotFound("account id is not valid UTF-8 text", value=account_id) from None
        count = self._reader.num_record_batches
        first_hashes = _Lazy(count, lambda i: _Hashes(self._batch(i).column("account_hash"))[0])
        i = max(0, bisect.bisect_right(first_hashes, target) - 1)
        batch = self._batch(i)
        hashes = _Hashes(batch.column("account_hash"))
        j = bisect.bisect_left(hashes, target)
        if j == len(hashes) or hashes[j] != target:
            raise NotFound("account not found in this proofs container", value=account_id)
        return i * self.batch_rows + j, batch, j

    def proof_text(self, account_id: str) -> str:
        """The account's proof as `por liabilities proof DIR ID` prints it, verified."""
        row, batch, j = self.find(account_id)
        text = self.row_text(row, batch, j)
        # the row was found by its account_hash column and verified for the id it holds:
        # a row whose id is another account's (rows swapped, a hash column edited) would
        # hand one customer another's salts and balances
        held = batch.column("account_id")[j].as_py()
        if held != account_id:
            raise self._damaged(
                f"row {row} is filed under {account_id!r}'s account hash but holds the proof "
                f"of {held!r}"
            )
        return text

    def row_text(self, row: int, batch: pa.RecordBatch, j: int) -> str:
        """Row `row` (at `j` in `batch`) as proof text, verified against the root document."""
        try:  # a damaged offset or length must never be read through
            one = batch.slice(j, 1)
            for name in ("account_id", "leaf_index", "salt", "balances"):
                one.column(name).validate(full=True)
            for level in range(self.root.height):  # buffer sizes; indices checked on use
                one.column(f"path_{level:02d}").validate()
        except (pa.ArrowException, ValueError) as exc:
            raise self._damaged(f"row {row} cannot be read ({exc})") from None
        account = batch.column("account_id")[j].as_py()
        try:
            if account is None:
                raise InvalidProof("proofs container", "a null account_id")
            proof = self._row_proof(batch, j, account)
            text = json.dumps(proof.to_json(), indent=2) + "\n"
            verify_proof(parse_proof(json.loads(text)), published_root=self.root)
        except InvalidProof as exc:
            raise InvalidProof(
                "proofs container",
                f"{self.path}: row {row} (account {account!r}): the proof does not verify "
                f"against the container's root document ({exc.message}); the container is "
                "damaged: cut it again with `por liabilities proof --tree DIR --all --out FILE`",
            ) from None
        return text

    def _row_proof(self, batch: pa.RecordBatch, j: int, account: str) -> InclusionProof:
        parts, assets = self.split, len(self.root.assets)
        at = [j * parts + t for t in range(parts)]

        def values(name: str) -> pa.Array:
            column = batch.column(name)
            return column.values.slice(column.offset * parts, len(column) * parts)

        indices, salts, balances = values("leaf_index"), values("salt"), values("balances")
        paths = []
        for level in range(self.root.height):
            column = values(f"path_{level:02d}")
            dictionary, picks = column.dictionary, column.indices
            nodes = []
            for i in at:
                pick = _value(picks, i, f"path_{level:02d}")
                if not 0 <= pick < len(dictionary):
                    raise InvalidProof("path", f"level {level} points outside its dictionary")
                record = _value(dictionary, pick, f"path_{level:02d}")
                nodes.append(SumNode(hash=record[:HASH_LEN], sums=_sums(record[HASH_LEN:], assets)))
            paths.append(nodes)
        leaves = tuple(
            ProofLeaf(
                index=_value(indices, i, "leaf_index"),
                salt=_value(salts, i, "salt"),
                balances=_sums(_value(balances, i, "balances"), assets),
                path=tuple(paths[level][t] for level in range(self.root.height)),
            )
            for t, i in enumerate(at)
        )
        root = self.root
        return InclusionProof(
            attestation_id=root.attestation_id,
            as_of=root.as_of,
            assets=root.assets,
            height=root.height,
            account_id=account,
            leaves=leaves,
            root=root.root,
            commitment=root.commitment,
        )

    def rows(self) -> Any:
        """(row, batch, position) of every row, in order (for checks and tests)."""
        for i in range(self._reader.num_record_batches):
            batch = self._batch(i)
            for j in range(batch.num_rows):
                yield i * self.batch_rows + j, batch, j

    def check_ends(self, *, name: Path) -> None:
        """The first and last rows verified as a customer would (guards the writer)."""
        last = self._reader.num_record_batches - 1
        for i, j in ((0, 0), (last, self._batch(last).num_rows - 1)):
            try:
                self.row_text(i * self.batch_rows + j, self._batch(i), j)
            except InvalidProof as exc:
                raise InvalidProof("proofs container", f"writing {name}: {exc.message}") from None


class _Lazy(Sequence[bytes]):
    """A sequence whose items are computed on access (a binary search reads O(log n))."""

    def __init__(self, length: int, item: Callable[[int], bytes]) -> None:
        self._length, self._item = length, item

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, i: Any) -> Any:
        return self._item(i)


def _value(array: pa.Array, i: int, column: str) -> Any:
    """One non-null value of a column (a null is a damaged row)."""
    try:
        value = array[i].as_py()
    except (IndexError, pa.ArrowException, ValueError) as exc:  # a buffer shorter than declared
        raise InvalidProof(
            "proofs container", f"column {column!r} cannot be read ({type(exc).__name__})"
        ) from None
    if value is None:
        raise InvalidProof("proofs container", f"a null value in column {column!r}")
    return value


def _sums(data: bytes, assets: int) -> tuple[int, ...]:
    return tuple(
        int.from_bytes(data[i * SUM_LEN : (i + 1) * SUM_LEN], "big") for i in range(assets)
    )
