"""Build a `por-mst-v1` tree at exchange scale and store it for O(log n) proofs.

Where it sits: validated liabilities (`Liabilities`, columnar) come in from
`verifier.inputs.liabilities`; out goes a tree directory (`attestations.store` reads it):

    root.json          the public root document (mode 0644)
    secret.key         the master secret, hex (mode 0600), unless --secret-file points elsewhere
    tree/meta.json     shape of the tree, asset list, where the secret lives
    tree/level-KK.bin  level K (0 = leaves) as fixed-width records: hash || enc(sums)
    tree/index.bin     accounts sorted by account hash: hash, row, leaf positions
    tree/accounts.arrow  account ids by row (Arrow IPC)
    tree/positions.bin   leaf id at every position (the secret leaf order; for the audit)

Everything but root.json is private to the exchange. The directory is written under a
temporary name beside the target and renamed into place only when complete.

How the work is split (two cores here), all on the input's rows as they came (nothing is
copied into account order first; `Ordered` maps the input's numbering to the tree's):
phase A hashes account ids by input row range, then derives the salts while the account
order is sorted (attestations/ordering.py: numpy sorts release the GIL); the leaf order is
sorted from the salts; phase B builds whole subtrees (leaves gathered from the input's
columns and hashed in one native pass, then every level up to the subtree root) by
position range, each writing its slices of the level files, while one more thread writes
accounts.arrow, index.bin and positions.bin; the parent hashes the few levels above the
subtrees. Workers are threads over the native hashing (GIL released), or forked processes
on the pure-Python path, which read the inputs without copies and write results into
shared anonymous memory.

Invariants:
  1. Leaf id = account row * split + part, accounts numbered in account-hash order
     (`account_order`); position p holds leaf id perm[p], leaves in salt order
     (`leaf_order`, docs/spec/por-mst-v1.md §5.1); ids at or above the number of real
     leaves are padding leaves. attestations/build_stream.py builds the same tree out of
     core.
  2. Everything secret (salts, leaf order, split, padding salts) derives from the master
     secret, so a build is reproducible from the secret and the input.
  3. Nothing secret is written to root.json, logs or error messages.

It stays one module: it is the hot path of the tree build, and the workers of both phases
read the module-level `_CTX` that `hash_and_order` and `hash_subtrees` fill before forking,
so the phases, their workers and the steps that install the directory read best side by
side.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import mmap
import multiprocessing
import multiprocessing.pool
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from attestations.encoding import (
    FORMAT,
    HASH_LEN,
    MAX_SUM,
    SALT_LEN,
    TAG_ACCOUNT,
    AssetSpec,
    commitment,
    derive_pad_salts,
    derive_seed,
    tree_height,
)
from attestations.hashing import NATIVE, hash_varlen, hmac_varlen, set_thread_default
from attestations.levels import leaf_level, parent_level, record_width, split_sums
from attestations.ordering import account_order, leaf_order
from attestations.proofs import RootDocument, SumNode
from attestations.workers import forked_pool
from verifier.base import safejson
from verifier.base.atomic import private_dir
from verifier.base.errors import InputError, SumOverflow

STORE_VERSION = 1
LEAF_ORDERS = ("salt", "shuffle")
"""How a stored tree's leaves are ordered (meta.json ``leaf_order``; docs/spec/por-mst-v1.md
§5.1): ``salt``, every leaf in ascending order of its salt, which `build_tree` writes; or
``shuffle``, the Philox permutation of por's releases before 2026-12-05, whose trees carry no
``leaf_order`` key. The audit derives the order the tree declares, so a tree built (and its
root published) by an earlier release still audits."""
SECRET_BYTES = 32
POOL_THRESHOLD = 1 << 14  # below this many leaves, forking costs more than it saves
SPLIT_BLOCK = 1 << 18  # accounts split per numpy pass: bounds the temporaries

Progress = Callable[[str, int, int], None]
"""progress(phase, done, total): called as work advances; `done` is cumulative."""


def no_progress(phase: str, done: int, total: int) -> None:
    return None


@dataclass(frozen=True)
class Liabilities:
    """Validated customer balances, columnar, one row per account."""

    assets: tuple[AssetSpec, ...]
    account_ids: pa.Array
    """UTF-8 account ids, unique, 1..256 bytes each (large_binary or string)."""
    balances: npt.NDArray[Any]
    """Shape (accounts, assets, 2), dtype '>u8': (hi, lo) halves = enc(v) bytes per row."""
    excluded: dict[str, Any] | None = None
    input_sha256: str | None = None
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return int(self.balances.shape[0])


@dataclass(frozen=True)
class BuildResult:
    """What `build_tree` produced."""

    root: RootDocument
    out_dir: Path
    accounts: int
    leaves: int
    padding: int
    secret_file: Path


# ----------------------------------------------------------------------------- the secret


def read_secret(path: Path) -> bytes:
    """Read a master secret file (hex); refuse one that others can read."""
    try:
        mode = path.stat().st_mode
        text = safejson.read_input(path, what="secret file", limit=4096).decode("ascii").strip()
    except FileNotFoundError as exc:
        raise InputError("secret file not found", file=str(path)) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read secret file ({type(exc).__name__})", file=str(path)) from exc
    if mode & 0o077:
        raise InputError(
            f"secret file is accessible by group or others (mode {mode & 0o777:o}); chmod 600 it",
            file=str(path),
        )
    try:
        secret = bytes.fromhex(text)
    except ValueError as exc:
        # never echo the content: it is the secret
        raise InputError("secret file is not hex", file=str(path)) from exc
    if len(secret) < 16:
        raise InputError("secret file holds fewer than 16 bytes", file=str(path))
    return secret


def write_private(path: Path, data: bytes) -> None:
    """Create `path` with mode 0600 (never wider, whatever the umask)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, 0o600)


# ----------------------------------------------------------------------------- split


def split_balances(balances: npt.NDArray[Any], parts: int, seed: int) -> npt.NDArray[Any]:
    """Split each account's balances into `parts` random non-negative parts that add up.

    Returns shape (accounts * parts, assets, 2) '>u8', leaf id = row * parts + part. Cut
    points are ``v * r >> 64`` for sorted 64-bit random ``r`` (Philox keyed by the secret),
    so parts are exact integers summing to ``v``. Vectorised in 64-bit halves (no Python
    integer per account); rows are done in blocks so the temporaries stay bounded, and the
    Philox stream is drawn block after block in the same order as one draw of the whole.
    """
    return split_stream(seed)(balances, parts)


def split_stream(seed: int) -> Callable[[npt.NDArray[Any], int], npt.NDArray[Any]]:
    """`split_balances` for accounts that come in chunks: one Philox stream across calls,
    so the chunks of a whole split give exactly the bytes of splitting the whole."""
    gen = np.random.Generator(np.random.Philox(key=seed & ((1 << 128) - 1)))

    def split(balances: npt.NDArray[Any], parts: int) -> npt.NDArray[Any]:
        if parts == 1:
            return balances
        count, assets, _ = balances.shape
        out = np.empty((count * parts, assets, 2), dtype=">u8")
        view = out.reshape(count, parts, assets, 2)
        for start in range(0, count, SPLIT_BLOCK):
            stop = min(count, start + SPLIT_BLOCK)
            split_block(gen, balances[start:stop], view[start:stop], parts)
        return out

    return split


def split_block(
    gen: np.random.Generator, balances: npt.NDArray[Any], view: npt.NDArray[Any], parts: int
) -> None:
    """Split one block of rows into `view` (rows, parts, assets, 2), drawing from `gen`."""
    rows, assets, _ = balances.shape
    cuts = gen.integers(0, 2**64, size=(rows, assets, parts - 1), dtype=np.uint64)
    cuts.sort(axis=2)
    planes = np.ascontiguousarray(np.moveaxis(cuts, 2, 0))  # one contiguous plane per cut
    del cuts
    v_hi = balances[:, :, 0].astype(np.uint64)
    v_lo = balances[:, :, 1].astype(np.uint64)
    prev_hi = np.zeros_like(v_hi)
    prev_lo = np.zeros_like(v_lo)
    for part in range(parts):
        if part < parts - 1:
            p_hi, p_lo = _cut_point(v_hi, v_lo, planes[part])
        else:
            p_hi, p_lo = v_hi, v_lo
        # piece = point - previous point (128-bit, with borrow; points never decrease)
        view[:, part, :, 1] = p_lo - prev_lo
        view[:, part, :, 0] = p_hi - prev_hi - (p_lo < prev_lo)
        prev_hi, prev_lo = p_hi, p_lo


def pad_salt_blocks(secret: bytes, count: int, block: int = 1 << 22) -> Iterator[bytes]:
    """`derive_pad_salts(secret, count)` in blocks of at most `block` salts: the same bytes,
    without the whole stream in memory when the XOF can be read incrementally."""
    if count <= block:
        if count:
            yield derive_pad_salts(secret, count)
        return
    try:
        from cryptography.hazmat.primitives import hashes

        xof = hashes.XOFHash(hashes.SHAKE256(digest_size=sys.maxsize))
    except (ImportError, AttributeError):  # cryptography < 45: one read of the whole stream
        whole = derive_pad_salts(secret, count)
        for start in range(0, count, block):
            yield whole[start * SALT_LEN : min(count, start + block) * SALT_LEN]
        return
    xof.update(hmac.digest(secret, b"por-mst-v1/padding", "sha256"))
    for start in range(0, count, block):
        yield xof.squeeze((min(count, start + block) - start) * SALT_LEN)


def _mul64(a: npt.NDArray[np.uint64], b: npt.NDArray[np.uint64]) -> tuple[Any, Any]:
    """The exact 128-bit product of 64-bit arrays as (hi, lo), through 32-bit limbs."""
    mask, shift = np.uint64(0xFFFFFFFF), np.uint64(32)
    a0, a1 = a & mask, a >> shift
    b0, b1 = b & mask, b >> shift
    p00, p01, p10, p11 = a0 * b0, a0 * b1, a1 * b0, a1 * b1
    mid = (p00 >> shift) + (p01 & mask) + (p10 & mask)  # < 3 * 2**32: no overflow
    lo = (mid << shift) | (p00 & mask)
    hi = p11 + (p01 >> shift) + (p10 >> shift) + (mid >> shift)
    return hi, lo


def _cut_point(
    v_hi: npt.NDArray[np.uint64], v_lo: npt.NDArray[np.uint64], r: npt.NDArray[np.uint64]
) -> tuple[Any, Any]:
    """``(v * r) >> 64`` for 128-bit v (hi, lo) and 64-bit r: ``v_hi * r + (v_lo * r >> 64)``."""
    hi, lo = _mul64(v_hi, r)
    carry_in, _ = _mul64(v_lo, r)
    lo2 = lo + carry_in
    return hi + (lo2 < lo), lo2


# ----------------------------------------------------------------------------- worker context

# Set in the parent before forking; read (never written) by workers, except the shared
# anonymous maps they fill at disjoint offsets.
_CTX: dict[str, Any] = {}


def _phase_accounts(task: tuple[str, int, int]) -> int:
    """Account hashes ("hash") or salts ("salt") of input rows [a, b), into the shared maps
    (attestations/hashing.py batches). Split in two kinds so the account order can be
    sorted while the salts are still being derived."""
    kind, a, b = task
    ctx = _CTX
    offsets: npt.NDArray[np.int64] = ctx["offsets"][a : b + 1]
    data: npt.NDArray[np.uint8] = ctx["data"]
    parts: int = ctx["parts"]
    threads: int = ctx["hash_threads"]
    if kind == "hash":
        hash_varlen(TAG_ACCOUNT, offsets, data, threads=threads, out=ctx["hashes_rows"][a:b])
    else:
        salts = ctx["salts_rows"][a * parts : b * parts]
        hmac_varlen(ctx["secret"], offsets, data, parts, threads=threads, out=salts)
    return b - a


def _phase_subtree(bounds: tuple[int, int]) -> bytes:
    """Build (or, in audit mode, check) the subtree over positions [a, b); return its root."""
    a, b = bounds
    ctx = _CTX
    assets: int = ctx["assets"]
    level = leaf_level(
        ctx["leaf_at"][a:b],
        ctx["salts_rows"],
        ctx["hashes_rows"],
        ctx["leaf_balances"],
        ctx["pad_salts"],
        ctx["parts"],
        assets,
    )
    sink: Callable[[int, int, npt.NDArray[np.uint8]], None] = ctx["sink"]
    sink(0, a, level)
    k = 0
    while level.shape[0] > 1:
        k += 1
        level = parent_level(level, assets, first_parent=a >> k)
        sink(k, a >> k, level)
    return level.tobytes()


def _write_sink(level: int, first: int, records: npt.NDArray[np.uint8]) -> None:
    path = _CTX["tree_dir"] / f"level-{level:02d}.bin"
    fd = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(fd, records.data, first * records.shape[1])  # no copy (C-contiguous)
    finally:
        os.close(fd)


def _ranges(total: int, chunk: int) -> list[tuple[int, int]]:
    return [(i, min(i + chunk, total)) for i in range(0, total, chunk)]


# With the native hashing (GIL released, as are numpy's gathers and os.pwrite) threads
# replace the forked workers: no fork, no pickled results, and each task hashes on one core.
POOL_KIND = "threads" if NATIVE is not None else "fork"


@contextlib.contextmanager
def _pool(workers: int, size: int) -> Iterator[Any]:
    """A worker pool (threads over the native hashing, else forked processes) when the work
    is big enough and there is more than one core, else None."""
    if workers <= 1 or size < POOL_THRESHOLD:
        yield None
        return
    if POOL_KIND != "threads":
        with forked_pool(workers) as forked:  # attestations/workers.py: why not a plain Pool
            yield forked
        return
    # each task hashes on its own thread: the pool already keeps every core busy
    pool = multiprocessing.pool.ThreadPool(workers, set_thread_default, (1,))
    try:
        yield pool
    finally:
        pool.terminate()
        pool.join()


def _run(pool: Any, func: Callable[[Any], Any], tasks: list[Any]) -> Iterator[Any]:
    if pool is None:
        for task in tasks:
            yield func(task)
    else:
        yield from pool.imap(func, tasks)


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def legacy_leaf_shuffle(secret: bytes, size: int) -> npt.NDArray[np.int64]:
    """The ``shuffle`` leaf order of earlier releases: a Philox permutation of the `size`
    positions keyed by the master secret. Kept only so their trees still audit."""
    gen = np.random.Generator(np.random.Philox(key=derive_seed(secret, b"shuffle") >> 128))
    return gen.permutation(size).astype(np.int64)


@dataclass(frozen=True)
class Ordered:
    """Phase A's hashes and the two orders, in the input's row numbering.

    Input leaf ``j = i * parts + p`` is part p of input row i; ``j >= real`` is padding leaf
    ``j - real``. The tree's leaf ids number accounts by account hash instead (invariant 1):
    `leaf_ids` maps one numbering to the other, so nothing is copied into account order
    before the leaves are hashed.
    """

    parts: int
    height: int
    hashes: npt.NDArray[np.uint8]
    """(accounts, 32) account hashes, input row order."""
    salts: npt.NDArray[np.uint8]
    """(real, 32) salts, input leaf order."""
    pad_salts: npt.NDArray[np.uint8]
    order: npt.NDArray[np.int64]
    """Input row of every account row (account order)."""
    leaf_at: npt.NDArray[np.int64]
    """Input leaf at every position (the leaf order)."""

    @property
    def real(self) -> int:
        return len(self.salts)

    def leaf_numbers(self) -> npt.NDArray[np.int64]:
        """The leaf id of every input leaf, padding included (size entries)."""
        rank = np.empty(len(self.order), dtype=np.int64)
        rank[self.order] = np.arange(len(self.order), dtype=np.int64)
        if self.parts > 1:
            rank = (rank[:, None] * self.parts + np.arange(self.parts)).reshape(-1)
        return np.concatenate([rank, np.arange(self.real, 1 << self.height, dtype=np.int64)])

    def leaf_ids(self) -> npt.NDArray[np.int64]:
        """The leaf id at every position (positions.bin, the audit's `check_order`)."""
        return self.leaf_numbers()[self.leaf_at]

    def positions(self) -> npt.NDArray[np.int64]:
        """(accounts, parts): the positions of every account row's leaves (the index)."""
        where = np.empty(len(self.leaf_at), dtype=np.int64)
        where[self.leaf_at] = np.arange(len(self.leaf_at), dtype=np.int64)
        return where[: self.real].reshape(-1, self.parts)[self.order]


def _shared_rows(rows: int, pooled: bool) -> npt.NDArray[np.uint8]:
    """(rows, 32) bytes the workers fill: shared anonymous memory for forked workers, else
    a plain array (private memory, which numpy backs with huge pages: the leaves read it
    at random)."""
    if pooled and POOL_KIND == "fork":
        shared = mmap.mmap(-1, max(1, rows * 32))
        return np.frombuffer(shared, dtype=np.uint8)[: rows * 32].reshape(rows, 32)
    return np.empty((rows, 32), dtype=np.uint8)


def _input_leaves(
    perm: npt.NDArray[np.int64], order: npt.NDArray[np.int64], parts: int, real: int
) -> npt.NDArray[np.int64]:
    """The input leaf of every leaf id in `perm` (the inverse of `Ordered.leaf_numbers`)."""
    row, part = np.divmod(np.minimum(perm, max(real - 1, 0)), parts)
    return np.where(perm < real, order[row] * parts + part, perm)


def hash_and_order(
    *,
    secret: bytes,
    parts: int,
    offsets: npt.NDArray[np.int64],
    data: npt.NDArray[np.uint8],
    workers: int,
    progress: Progress,
    order_rule: str = "salt",
    sort_accounts: bool = True,
    on_account_order: Callable[[npt.NDArray[np.int64]], None] | None = None,
) -> Ordered:
    """Phase A and both orders: account hashes, then the account order (sorted while the
    salts are derived), then the leaf order. Without `sort_accounts` the rows are taken as
    already numbered (the audit: a stored tree's ids). `on_account_order` runs as soon as
    the account order is known (the build starts writing accounts.arrow there)."""
    count = len(offsets) - 1
    real = count * parts
    height = tree_height(real)
    size = 1 << height
    pad_salts = np.frombuffer(derive_pad_salts(secret, size - real), dtype=np.uint8).reshape(
        -1, SALT_LEN
    )
    pooled = workers > 1 and size >= POOL_THRESHOLD
    hashes = _shared_rows(count, pooled)
    salts = _shared_rows(real, pooled)
    _CTX.update(
        secret=secret,
        parts=parts,
        offsets=offsets,
        data=data,
        hashes_rows=hashes,
        salts_rows=salts,
        # a pool's tasks each hash on one core; without one a batch uses every core
        hash_threads=1 if pooled else workers,
    )
    step = max(1, -(-count // 32))
    tasks = [("hash", a, b) for a, b in _ranges(count, step)]
    first_salt = len(tasks)
    tasks += [("salt", a, b) for a, b in _ranges(count, max(1, step // 2))]
    order = np.arange(count, dtype=np.int64)
    with _pool(workers, size) as pool:
        done = 0
        for i, n in enumerate(_run(pool, _phase_accounts, tasks)):
            if i == first_salt - 1:  # every account hash is in: sort while the salts go on
                if sort_accounts:
                    order = account_order(hashes, offsets, data)
                if on_account_order is not None:
                    on_account_order(order)
            if i >= first_salt:
                done += n
                progress("hash accounts, derive salts", done, count)
    progress("order leaves", 0, 1)
    if order_rule == "shuffle":  # a tree of an earlier release (LEAF_ORDERS)
        leaf_at = _input_leaves(legacy_leaf_shuffle(secret, size), order, parts, real)
    else:
        leaf_at = leaf_order(salts, pad_salts, hashes, parts)
    progress("order leaves", 1, 1)
    return Ordered(parts, height, hashes, salts, pad_salts, order, leaf_at)


def hash_subtrees(
    ordered: Ordered,
    leaf_balances: npt.NDArray[Any],
    *,
    assets: int,
    sink: Callable[[int, int, npt.NDArray[np.uint8]], None],
    tree_dir: Path | None,
    workers: int,
    progress: Progress,
) -> bytes:
    """Phase B: every leaf and node, written through `sink`; returns the root record.

    `leaf_balances` are (real, assets, 2) '>u8' in input leaf order. Subtrees of at most 64
    tasks keep two workers balanced and memory bounded; the parent hashes the few levels
    above them.
    """
    height = ordered.height
    size = 1 << height
    sub_height = max(0, height - 6)
    _CTX.update(
        assets=assets,
        leaf_at=ordered.leaf_at,
        salts_rows=ordered.salts,
        hashes_rows=ordered.hashes,
        parts=ordered.parts,
        pad_salts=ordered.pad_salts,
        leaf_balances=leaf_balances,
        sink=sink,
        tree_dir=tree_dir,
    )
    with _pool(workers, size) as pool:
        roots = []
        for i, root in enumerate(_run(pool, _phase_subtree, _ranges(size, 1 << sub_height))):
            roots.append(root)
            progress("hash leaves and subtrees", (i + 1) << sub_height, size)
    level = np.frombuffer(b"".join(roots), dtype=np.uint8).reshape(len(roots), -1)
    k = sub_height
    while level.shape[0] > 1:
        k += 1
        level = parent_level(level, assets)
        sink(k, 0, level)
    return level.tobytes()


def compute_tree(
    *,
    secret: bytes,
    assets: int,
    parts: int,
    offsets: npt.NDArray[np.int64],
    data: npt.NDArray[np.uint8],
    leaf_balances: npt.NDArray[Any],
    sink: Callable[[int, int, npt.NDArray[np.uint8]], None],
    tree_dir: Path | None = None,
    workers: int = 0,
    progress: Progress = no_progress,
    check_order: Callable[[npt.NDArray[np.int64]], None] | None = None,
    order_rule: str = "salt",
) -> tuple[bytes, npt.NDArray[np.uint8], npt.NDArray[np.int64], int]:
    """Hash everything: returns (root record, account hashes (n, 32), perm, height).

    The audit's entry (the sink compares level files, and `check_order` sees the leaf order
    before any leaf is hashed): `offsets`/`data` are the ids numbered as the tree numbers
    them (accounts.arrow) and `leaf_balances` are by leaf id, so input leaf = leaf id. The
    build calls `hash_and_order` and `hash_subtrees` itself, on the ids in input order.
    """
    workers = workers or default_workers()
    _CTX.clear()
    try:
        ordered = hash_and_order(
            secret=secret,
            parts=parts,
            offsets=offsets,
            data=data,
            workers=workers,
            progress=progress,
            order_rule=order_rule,
            sort_accounts=False,
        )
        perm = ordered.leaf_at  # the rows are the tree's own: input leaf = leaf id
        if check_order is not None:
            check_order(perm)
        root = hash_subtrees(
            ordered,
            leaf_balances,
            assets=assets,
            sink=sink,
            tree_dir=tree_dir,
            workers=workers,
            progress=progress,
        )
        return root, ordered.hashes, perm, ordered.height
    finally:
        _CTX.clear()


# ----------------------------------------------------------------------------- build


def binary_ids(ids: pa.Array) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8]]:
    """(offsets, data) numpy views of an Arrow string/binary array, no per-row objects."""
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    ids = ids.cast(pa.large_binary())
    _, off_buf, data_buf = ids.buffers()
    offsets = np.frombuffer(off_buf, dtype=np.int64)[ids.offset : ids.offset + len(ids) + 1]
    data = (
        np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    )
    return offsets, data


def totals(balances: npt.NDArray[Any]) -> list[int]:
    """Exact per-asset totals of (n, A, 2) (hi, lo) balances (either byte order).

    Summed in 32-bit limbs, one asset column at a time: each limb sum stays below 2**64 for
    fewer than 2**32 rows, so numpy's uint64 sums are exact; Python integers recombine them.
    """
    mask, shift = np.uint64(0xFFFFFFFF), np.uint64(32)
    out = []
    for a in range(balances.shape[1]):
        total = 0
        for half, weight in ((1, 0), (0, 64)):
            column = np.asarray(balances[:, a, half], dtype=np.uint64)
            total += int((column & mask).sum(dtype=np.uint64)) << weight
            total += int((column >> shift).sum(dtype=np.uint64)) << (weight + 32)
        out.append(total)
    return out


def _prepare_out_dir(out_dir: Path, force: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError("output path exists and is not a directory", file=str(out_dir))
    if out_dir.is_dir() and any(out_dir.iterdir()) and not force:
        raise InputError(
            "output directory exists and is not empty (use --force to replace it)",
            file=str(out_dir),
        )


def _inside(path: Path, directory: Path) -> Path | None:
    """`path` relative to `directory` when it lies inside it, else None."""
    try:
        return path.resolve().relative_to(directory.resolve())
    except ValueError:
        return None


def _install_dir(tmp: Path, out_dir: Path) -> None:
    """Rename the finished temp dir into place, replacing an old one only at the last moment.

    The old tree is renamed aside, the new one in, then the old one removed. Should the
    second rename fail (or be interrupted), the old tree is renamed back; only a crash of
    the process exactly between the two renames leaves it aside, whole, as ``.NAME.old-*``.
    """
    old = None
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
    try:
        if old is not None:
            out_dir.rename(old)
        tmp.rename(out_dir)
    except BaseException:
        if old is not None and not os.path.lexists(out_dir) and os.path.lexists(old):
            old.rename(out_dir)
        raise
    if old is not None:
        try:
            shutil.rmtree(old, ignore_errors=True)
        except BaseException:  # interrupted half-way: finish, else .NAME.old-PID stays
            shutil.rmtree(old, ignore_errors=True)
            raise


def build_tree(
    liabilities: Liabilities,
    out_dir: Path,
    *,
    attestation_id: str,
    as_of: str,
    split: int = 1,
    secret_file: Path | None = None,
    force: bool = False,
    workers: int = 0,
    progress: Progress = no_progress,
) -> BuildResult:
    """Build the tree and store it in `out_dir` (atomically: temp dir, then rename)."""
    if liabilities.count == 0:
        raise InputError("no accounts to commit (every row was excluded?)")
    check_request(out_dir, attestation_id=attestation_id, split=split, force=force)
    for total, asset in zip(totals(liabilities.balances), liabilities.assets, strict=True):
        if total >= MAX_SUM:
            raise InputError(f"the total of {asset.code} reaches 2**128", value=str(total))
    secret, new_secret = open_secret(out_dir, secret_file)
    tmp, tree_dir = make_temp_dir(out_dir)
    background = _Background(POOL_KIND == "threads")
    _CTX.clear()
    try:
        assets, parts = len(liabilities.assets), split
        workers = workers or default_workers()
        height = tree_height(liabilities.count * parts)
        for k in range(height + 1):
            with open(tree_dir / f"level-{k:02d}.bin", "wb") as handle:
                handle.truncate((1 << (height - k)) * record_width(assets))
        offsets, data = binary_ids(liabilities.account_ids)
        ordered = hash_and_order(
            secret=secret,
            parts=parts,
            offsets=offsets,
            data=data,
            workers=workers,
            progress=progress,
            on_account_order=lambda order: background.submit(
                _write_accounts, tree_dir, liabilities.account_ids, order
            ),
        )
        progress("split balances", 0, 1)
        leaf_balances = _leaf_balances(liabilities.balances, ordered, derive_seed(secret, b"split"))
        progress("split balances", 1, 1)
        background.submit(_write_index, tree_dir, ordered)
        root_record = hash_subtrees(
            ordered,
            leaf_balances,
            assets=assets,
            sink=_write_sink,
            tree_dir=tree_dir,
            workers=workers,
            progress=progress,
        )
        progress("write index", 0, 1)
        background.wait()
        result = finish_tree(
            tmp,
            out_dir,
            root_record=root_record,
            liabilities=liabilities,
            accounts=liabilities.count,
            attestation_id=attestation_id,
            as_of=as_of,
            height=height,
            parts=parts,
            secret=secret,
            secret_file=secret_file,
            new_secret=new_secret,
        )
        progress("write index", 1, 1)
    except BaseException as exc:
        background.wait(quiet=True)  # nothing may still write into tmp once it is removed
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, SumOverflow):
            raise InputError(f"a tree sum reaches 2**128 ({exc.message})") from exc
        raise
    finally:
        _CTX.clear()
    return result


class _Background:
    """Writes that need no hashing (accounts.arrow, the index, positions.bin), run on one
    thread beside the hashing, as soon as what they need is known. Inline when the hashing
    forks its workers: a process with a running thread must not fork."""

    def __init__(self, threaded: bool) -> None:
        self._executor = ThreadPoolExecutor(1, "por-write") if threaded else None
        self._futures: list[Future[None]] = []

    def submit(self, func: Callable[..., None], *args: Any) -> None:
        if self._executor is None:
            func(*args)
        else:
            self._futures.append(self._executor.submit(func, *args))

    def wait(self, *, quiet: bool = False) -> None:
        """Wait for every write; raise the first one's error unless `quiet`."""
        try:
            for future in self._futures:
                if quiet:
                    future.exception()
                else:
                    future.result()
        finally:
            if self._executor is not None:
                self._executor.shutdown(wait=True)


def _leaf_balances(balances: npt.NDArray[Any], ordered: Ordered, seed: int) -> npt.NDArray[Any]:
    """(real, assets, 2) leaf balances in input leaf order. The split draws its random
    stream in account order (invariant 2), so a split build splits the balances in account
    order and gathers each leaf back to its input leaf."""
    if ordered.parts == 1:
        return balances
    split = split_balances(balances[ordered.order], ordered.parts, seed)
    return split[ordered.leaf_numbers()[: ordered.real]]


def _write_accounts(tree_dir: Path, account_ids: pa.Array, order: npt.NDArray[np.int64]) -> None:
    """accounts.arrow: the account ids by account row (Arrow IPC)."""
    if not np.array_equal(order, np.arange(len(order))):
        account_ids = account_ids.take(pa.array(order))
    table = pa.table({"account_id": account_ids})
    with (
        pa.OSFile(str(tree_dir / "accounts.arrow"), "wb") as sink_file,
        pa.ipc.new_file(sink_file, table.schema) as writer,
    ):
        writer.write_table(table)


def check_request(out_dir: Path, *, attestation_id: str, split: int, force: bool) -> None:
    """Refuse a bad --split, attestation id or output directory before any work."""
    if not 1 <= split <= 64:
        raise InputError("--split must be between 1 and 64", value=str(split))
    ident = attestation_id.encode("utf-8")
    if not 1 <= len(ident) <= 256:
        raise InputError("attestation id must be 1..256 bytes", value=attestation_id)
    _prepare_out_dir(out_dir, force)


def open_secret(out_dir: Path, secret_file: Path | None) -> tuple[bytes, bool]:
    """(the master secret, whether it is new): read from `secret_file`, or made now."""
    new_secret = secret_file is None or not secret_file.exists()
    if secret_file is not None and not new_secret and _inside(secret_file, out_dir) is not None:
        raise InputError(
            "the secret file lies inside the output directory, which the build replaces; "
            "keep it elsewhere",
            file=str(secret_file),
        )
    secret = os.urandom(SECRET_BYTES) if new_secret else read_secret(secret_file)  # type: ignore[arg-type]
    return secret, new_secret


def make_temp_dir(out_dir: Path) -> tuple[Path, Path]:
    """(a private temp dir beside `out_dir`, its tree/ subdirectory), both 0700."""
    # made with stop signals held: a SIGTERM cannot land between creating it and knowing it
    tmp = private_dir(out_dir.parent, f".{out_dir.name}.tmp-")
    try:
        os.chmod(tmp, 0o700)
        tree_dir = tmp / "tree"
        tree_dir.mkdir(mode=0o700)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return tmp, tree_dir


def finish_tree(
    tmp: Path,
    out_dir: Path,
    *,
    root_record: bytes,
    liabilities: Liabilities,
    accounts: int,
    attestation_id: str,
    as_of: str,
    height: int,
    parts: int,
    secret: bytes,
    secret_file: Path | None,
    new_secret: bool,
) -> BuildResult:
    """Write root.json, meta.json and the secret beside the finished levels and index, set
    the modes, and rename the temp dir into place. `liabilities` gives the assets, the
    exclusions and the input hash (its columns are not read: they may be empty)."""
    tree_dir = tmp / "tree"
    assets = len(liabilities.assets)
    real = accounts * parts
    root_hash = root_record[:HASH_LEN]
    hi, lo = split_sums(np.frombuffer(root_record, np.uint8).reshape(1, -1), assets)
    root_sums = tuple(
        (int(h) << 64) | int(v) for h, v in zip(hi[0].tolist(), lo[0].tolist(), strict=True)
    )
    commit = commitment(attestation_id, liabilities.assets, height, root_hash, root_sums)
    root = RootDocument(
        attestation_id=attestation_id,
        as_of=as_of,
        assets=liabilities.assets,
        height=height,
        root=SumNode(hash=root_hash, sums=root_sums),
        commitment=commit,
        excluded=liabilities.excluded,
    )
    if secret_file is None:
        secret_ref = "secret.key"  # noqa: S105 - a file name, not a secret
        write_private(tmp / secret_ref, secret.hex().encode() + b"\n")
    else:
        secret_ref = str(secret_file.resolve())
    meta = {
        "store_version": STORE_VERSION,
        "format": FORMAT,
        "leaf_order": "salt",
        "attestation_id": attestation_id,
        "as_of": as_of,
        "assets": [{"code": a.code, "decimals": a.decimals} for a in liabilities.assets],
        "height": height,
        "accounts": accounts,
        "split": parts,
        "leaves": real,
        "padding": (1 << height) - real,
        "record_width": record_width(assets),
        "secret_file": secret_ref,
        "input_sha256": liabilities.input_sha256,
        "commitment": commit.hex(),
    }
    (tree_dir / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    for path in tree_dir.iterdir():
        os.chmod(path, 0o600)
    root_path = tmp / "root.json"
    root_path.write_text(json.dumps(root.to_json(), indent=2) + "\n")
    os.chmod(root_path, 0o644)
    if secret_file is not None and new_secret:
        inside = _inside(secret_file, out_dir)
        if inside is not None:  # it moves into place with the directory
            (tmp / inside).parent.mkdir(parents=True, exist_ok=True)
            write_private(tmp / inside, secret.hex().encode() + b"\n")
        else:
            secret_file.parent.mkdir(parents=True, exist_ok=True)
            staged = secret_file.with_name(f".{secret_file.name}.tmp-{os.getpid()}")
            try:
                write_private(staged, secret.hex().encode() + b"\n")
                staged.rename(secret_file)
            except BaseException:  # a signal or a full disk: no half-written secret left
                staged.unlink(missing_ok=True)
                raise
    _install_dir(tmp, out_dir)
    return BuildResult(
        root=root,
        out_dir=out_dir,
        accounts=accounts,
        leaves=real,
        padding=(1 << height) - real,
        secret_file=(out_dir / "secret.key") if secret_file is None else secret_file,
    )


INDEX_HEAD = 32 + 8  # account hash, row; then `split` leaf positions of 8 bytes


def index_dtype(parts: int) -> np.dtype[Any]:
    return np.dtype([("hash", "V32"), ("row", "<u8"), ("pos", "<u8", (parts,))])


INDEX_BLOCK_ROWS = 1 << 16
"""Index records written per block: one small buffer, reused (see `_write_index`)."""


def _write_index(tree_dir: Path, ordered: Ordered) -> None:
    """index.bin (accounts by account hash, with their leaf positions) and positions.bin (the
    leaf id at every position). Account rows are in account-hash order, so the index is in
    row order.

    Written block by block through one buffer of `INDEX_BLOCK_ROWS` records: a whole-file
    array would be 48 MB of fresh memory at 1M accounts, and on a VM whose free pages go
    back to the host a first touch of fresh memory costs about 3 ms a MB (measured here:
    0.14-0.2 s for that array on the write thread the end of the build waits for); the
    block's pages are touched once and then reused. A block is rows of 8-byte words, the
    same bytes as `index_dtype` (packed: hash 4 words, row 1, pos `parts`).
    """
    count, parts = len(ordered.order), ordered.parts
    hashes = ordered.hashes.view("<u8").reshape(-1, 4)
    positions = ordered.positions()
    words = np.empty((min(count, INDEX_BLOCK_ROWS), 5 + parts), dtype="<u8")
    assert words.itemsize * words.shape[1] == index_dtype(parts).itemsize
    with open(tree_dir / "index.bin", "wb") as out:
        for a in range(0, count, INDEX_BLOCK_ROWS):
            block = words[: min(INDEX_BLOCK_ROWS, count - a)]
            rows = len(block)
            np.take(hashes, ordered.order[a : a + rows], axis=0, out=block[:, :4], mode="clip")
            block[:, 4] = np.arange(a, a + rows, dtype=np.uint64)
            block[:, 5:] = positions[a : a + rows]
            out.write(block.data)
    del words, positions
    ordered.leaf_ids().astype("<u8").tofile(tree_dir / "positions.bin")
