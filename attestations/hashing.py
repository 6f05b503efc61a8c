"""Batch SHA-256 for the tree build, level and audit: native when it can be, Python otherwise.

Where it sits: under attestations/levels.py and attestations/build.py (leaf, node, padding,
account-hash and salt phases). One API, two backends giving the same bytes:

  * native: the C extension `attestations._sha256batch` over libcrypto (setup.py builds it
    when a compiler and libssl-dev are present). One call hashes a whole batch with the GIL
    released, so a batch is cut into one slice per thread and both cores hash at once.
  * python: `hashlib`, one call per message (the reference; always available).

`POR_NATIVE=0` in the environment forces the Python path (CI runs the tree tests both
ways); `backend_name()` says which is in use (`por --version --json`, `por bench`).

What is hashed is never decided here: callers pass the tag byte and the columns whose rows
are concatenated (docs/spec/por-mst-v1.md and attestations/encoding.py own the layouts).
"""

from __future__ import annotations

import hashlib
import os
import struct
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

DIGEST = 32
U8 = npt.NDArray[np.uint8]
I64 = npt.NDArray[np.int64]

# Below this many messages a second thread costs more than it saves.
THREAD_MIN_ROWS = 4096


def native_module() -> ModuleType | None:
    """The extension whether or not it is in use (`por bench` times the floor with it)."""
    try:
        from attestations import _sha256batch  # type: ignore[attr-defined]
    except ImportError:
        return None
    module: ModuleType = _sha256batch
    return module


def _load_native() -> ModuleType | None:
    if os.environ.get("POR_NATIVE", "1").strip() == "0":
        return None
    return native_module()


NATIVE: ModuleType | None = _load_native()
"""The loaded extension, or None when it is missing or POR_NATIVE=0."""


def backend_name() -> str:
    """ "native" (libcrypto, GIL released) or "python" (hashlib)."""
    return "native" if NATIVE is not None else "python"


def backend_info() -> dict[str, Any]:
    """What `por --version --json` and `por bench` report about the hashing in use."""
    info: dict[str, Any] = {"backend": backend_name()}
    if NATIVE is not None:
        info["openssl"] = str(NATIVE.OPENSSL_VERSION)
    elif os.environ.get("POR_NATIVE", "1").strip() == "0":
        info["reason"] = "POR_NATIVE=0"
    else:
        info["reason"] = "extension attestations._sha256batch not built"
    return info


# ----------------------------------------------------------------------------- threads

# one executor per process; a forked child inherits the object but not its threads
_executor: dict[int, ThreadPoolExecutor] = {}
_executor_lock = threading.Lock()
os.register_at_fork(after_in_child=_executor.clear)


def default_threads() -> int:
    """Cores this process may run on (2 here)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _pool() -> ThreadPoolExecutor:
    with _executor_lock:
        pid = os.getpid()
        if pid not in _executor:
            _executor[pid] = ThreadPoolExecutor(max(2, default_threads()), "por-hash")
        return _executor[pid]


_local = threading.local()


def set_thread_default(threads: int) -> None:
    """Threads a batch call made from this thread uses when it names none: a pool's worker
    thread sets 1, since its pool already keeps every core busy."""
    _local.threads = max(1, threads)


def _threads(threads: int | None) -> int:
    if threads is not None:
        return threads
    pinned: int | None = getattr(_local, "threads", None)
    return default_threads() if pinned is None else pinned


def _slices(count: int, threads: int) -> list[tuple[int, int]]:
    step = -(-count // threads)
    return [(a, min(a + step, count)) for a in range(0, count, step)]


def _parallel(count: int, threads: int, work: Callable[[int, int], None]) -> None:
    """Run work(a, b) over row slices on `threads` threads (inline when small)."""
    if NATIVE is None or threads <= 1 or count < THREAD_MIN_ROWS:
        if count:
            work(0, count)
        return
    futures = [_pool().submit(work, a, b) for a, b in _slices(count, threads)]
    for future in futures:
        future.result()


# ----------------------------------------------------------------------------- fixed rows


def _as_rows(column: U8, count: int) -> U8:
    return np.ascontiguousarray(column, dtype=np.uint8).reshape(count, -1)


def _python_rows(out: U8, prefix: bytes, columns: Sequence[U8]) -> None:
    """hashlib reference for `hash_rows_into`: one message buffer, one call per row."""
    count = out.shape[0]
    widths = [c.shape[1] for c in columns]
    width = len(prefix) + sum(widths)
    messages = np.empty((count, width), dtype=np.uint8)
    at = 0
    for byte in prefix:
        messages[:, at] = byte
        at += 1
    for column, w in zip(columns, widths, strict=True):
        messages[:, at : at + w] = column
        at += w
    buffer = messages.tobytes()
    sha = hashlib.sha256
    digests = b"".join([sha(buffer[i : i + width]).digest() for i in range(0, len(buffer), width)])
    out[:, :DIGEST] = np.frombuffer(digests, dtype=np.uint8).reshape(count, DIGEST)


def hash_rows_into(
    out: U8, prefix: bytes, columns: Sequence[U8], *, threads: int | None = None
) -> None:
    """out[i, :32] = SHA-256(prefix || columns[0][i] || columns[1][i] || ...).

    `out` is a C-contiguous (n, W) uint8 array with W >= 32 (a record array: the digest
    lands in the first 32 bytes of each row); every column is (n, w_k).
    """
    count = out.shape[0]
    if count == 0:
        return
    rows = [_as_rows(c, count) for c in columns]
    if NATIVE is None:
        _python_rows(out, prefix, rows)
        return
    if not out.flags.c_contiguous or out.ndim != 2 or out.shape[1] < DIGEST:
        raise ValueError("out must be a C-contiguous (n, >=32) uint8 array")
    stride = out.shape[1]
    widths = tuple(r.shape[1] for r in rows)
    native = NATIVE

    def work(a: int, b: int) -> None:
        native.hash_rows(out[a:b], stride, b - a, prefix, tuple(r[a:b] for r in rows), widths)

    _parallel(count, _threads(threads), work)


def hash_rows(prefix: bytes, columns: Sequence[U8], *, threads: int | None = None) -> U8:
    """(n, 32) digests of prefix || columns' rows (see `hash_rows_into`)."""
    count = columns[0].shape[0] if columns else 0
    out = np.empty((count, DIGEST), dtype=np.uint8)
    hash_rows_into(out, prefix, columns, threads=threads)
    return out


# ----------------------------------------------------------------------------- variable rows


def _out(out: U8 | None, rows: int) -> U8:
    """`out` checked to be a C-contiguous (rows, 32) uint8 array, or a new one."""
    if out is None:
        return np.empty((rows, DIGEST), dtype=np.uint8)
    if out.dtype != np.uint8 or out.shape != (rows, DIGEST) or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous ({rows}, 32) uint8 array")
    return out


def _ids(offsets: I64, data: U8, a: int, b: int) -> list[bytes]:
    base = int(offsets[a])
    blob = data[base : int(offsets[b])].tobytes()
    rel = (offsets[a : b + 1] - base).tolist()
    return [blob[rel[i] : rel[i + 1]] for i in range(b - a)]


def hash_varlen(
    prefix: bytes, offsets: I64, data: U8, *, threads: int | None = None, out: U8 | None = None
) -> U8:
    """(n, 32) digests of prefix || data[offsets[i]:offsets[i+1]] (Arrow binary layout),
    into `out` when given (a C-contiguous (n, 32) uint8 array)."""
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    count = len(offsets) - 1
    out = _out(out, max(count, 0))
    if count <= 0:
        return out
    if NATIVE is None:
        sha = hashlib.sha256
        digests = b"".join([sha(prefix + x).digest() for x in _ids(offsets, data, 0, count)])
        out[:] = np.frombuffer(digests, dtype=np.uint8).reshape(count, DIGEST)
        return out
    native = NATIVE

    def work(a: int, b: int) -> None:
        native.hash_varlen(out[a:b], prefix, offsets[a : b + 1], data)

    _parallel(count, _threads(threads), work)
    return out


def hmac_pads(key: bytes) -> tuple[Any, Any]:
    """HMAC-SHA256 inner/outer states after the key block (RFC 2104), copied per message."""
    block = key if len(key) <= 64 else hashlib.sha256(key).digest()
    block = block.ljust(64, b"\x00")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))
    return inner, outer


def _python_hmac(key: bytes, ids: list[bytes], parts: int) -> bytes:
    inner, outer = hmac_pads(key)
    icopy, ocopy = inner.copy, outer.copy

    def hm(msg: bytes) -> bytes:
        h = icopy()
        h.update(msg)
        o = ocopy()
        o.update(h.digest())
        digest: bytes = o.digest()
        return digest

    suffixes = [struct.pack(">I", p) for p in range(parts)]
    return b"".join([hm(x + s) for x in ids for s in suffixes])


def hmac_varlen(
    key: bytes,
    offsets: I64,
    data: U8,
    parts: int = 1,
    *,
    threads: int | None = None,
    out: U8 | None = None,
) -> U8:
    """(n * parts, 32): HMAC-SHA256(key, id_i || u32be(p)) at row i * parts + p, into `out`
    when given."""
    if not 1 <= parts <= 65536:
        raise ValueError("parts must be 1..65536")
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    count = len(offsets) - 1
    out = _out(out, max(count, 0) * parts)
    if count <= 0:
        return out
    if NATIVE is None:
        salts = _python_hmac(key, _ids(offsets, data, 0, count), parts)
        out[:] = np.frombuffer(salts, dtype=np.uint8).reshape(-1, DIGEST)
        return out
    native = NATIVE

    def work(a: int, b: int) -> None:
        native.hmac_varlen(out[a * parts : b * parts], key, offsets[a : b + 1], data, parts)

    _parallel(count, _threads(threads), work)
    return out


# ----------------------------------------------------------------------------- node levels


def native_node_level(
    records: U8, asset_count: int, *, threads: int | None = None
) -> tuple[U8, int] | None:
    """The parent level of `records` in one native pass (hash and sums), or None without
    the extension. Returns (parents, first overflowing parent or -1)."""
    if NATIVE is None:
        return None
    records = np.ascontiguousarray(records, dtype=np.uint8)
    count, width = records.shape
    out = np.empty((count // 2, width), dtype=np.uint8)
    bad: list[int] = []
    native = NATIVE

    def work(a: int, b: int) -> None:
        first = native.node_level(out[a:b], records[2 * a : 2 * b], b - a, asset_count)
        if first >= 0:
            bad.append(a + first)

    _parallel(count // 2, _threads(threads), work)
    return out, min(bad) if bad else -1


def native_leaf_level(
    index: I64, salts: U8, hashes: U8, balances: U8, pad_salts: U8, parts: int, asset_count: int
) -> U8 | None:
    """Level-0 records of the leaves `index` names, gathered and hashed in one native pass
    (attestations/levels.py `leaf_level` says what the records are), or None without the
    extension. One call, one thread: the build hands each subtree to its own thread."""
    if NATIVE is None:
        return None
    index = np.ascontiguousarray(index, dtype=np.int64)
    out = np.empty((len(index), DIGEST + 16 * asset_count), dtype=np.uint8)
    NATIVE.leaf_level(out, index, salts, hashes, balances, pad_salts, parts, asset_count)
    return out
