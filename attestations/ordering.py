"""The two orders of a `por-mst-v1` build (docs/spec/por-mst-v1.md §5.1), computed fast.

Where it sits: called by attestations/build.py (and, through it, the audit, the streamed and
the cluster builds) once the account hashes and the salts are known. Pure numpy: rows of
32-byte keys in, row numbers in order out.

  * account order: account rows by account hash (the rows of the index and of every
    private file); two ids with one hash (a SHA-256 collision) are refused.
  * leaf order: every leaf, account or padding, by its salt; ties on a whole salt by the
    spec's full key (account leaves first, then account hash and part, or padding number).

How: the keys' first 8 bytes, read as big-endian integers, are packed with the row number
in their low bits and sorted as plain uint64 values (numpy's sort of values, about twice
as fast here as an argsort, and with the GIL released so hashing goes on on the other
core). The bits the row number displaced are restored by re-sorting, by the full 8 bytes,
each run of equal packed prefixes (about one pair per 32 builds at 1M leaves); the runs
still tied on 8 bytes are ordered by the full key in Python (about one pair per 2**11
builds at 100M leaves). The result is exactly the order of one sort by the full key.
"""

from __future__ import annotations

import itertools
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt

from verifier.base.errors import InputError

U8 = npt.NDArray[np.uint8]
I64 = npt.NDArray[np.int64]

PARALLEL_SORT_MIN = 1 << 18
"""Below this many keys a second sorting thread costs more than it saves."""


def prefix64(rows: U8) -> npt.NDArray[np.uint64]:
    """The first 8 bytes of each 32-byte row as a big-endian integer (integer order = byte
    order), native uint64."""
    rows = np.ascontiguousarray(rows, dtype=np.uint8).reshape(-1, 32)
    return rows.view(">u8")[:, 0].astype(np.uint64)


def sort_prefixes(keys: npt.NDArray[np.uint64]) -> tuple[I64, I64]:
    """(rows in ascending order of `keys`, equal rows in row order; positions i where the
    row at i has the same key as the row at i + 1).

    The same result as ``argsort(keys, kind="stable")``, from one sort of values: the row
    number replaces the keys' low bits, and each run of rows whose remaining bits tie is
    re-sorted by the whole key (stably: `np.lexsort`).
    """
    count = len(keys)
    bits = max(1, (count - 1).bit_length())
    if count == 0 or bits >= 64:
        order = np.argsort(keys, kind="stable").astype(np.int64)
        return order, _ties(keys[order])
    low = np.uint64((1 << bits) - 1)
    packed = keys & ~low
    packed |= np.arange(count, dtype=np.uint64)
    _sort_values(packed)
    order = (packed & low).astype(np.int64)
    packed >>= np.uint64(bits)
    tied = np.flatnonzero(packed[1:] == packed[:-1])
    del packed
    if len(tied) == 0:
        return order, tied
    members = np.union1d(tied, tied + 1)  # every position in a run, ascending
    # a member joins the run of the one before it when their packed prefixes tie
    run = np.cumsum(~np.isin(members - 1, tied))
    rows = order[members]
    full = keys[rows]
    by_key = np.lexsort((full, run))
    order[members] = rows[by_key]
    full = full[by_key]
    same = (run[1:] == run[:-1]) & (full[1:] == full[:-1])
    return order, members[:-1][same]


def _sort_values(values: npt.NDArray[np.uint64]) -> None:
    """Sort uint64 values in place; big arrays on two threads, one per half of the key
    space (every value below 2**63 precedes every value above it, so the two sorted halves
    laid end to end are the sorted whole; the leaf order waits on this sort while the other
    core would otherwise idle)."""
    if len(values) < PARALLEL_SORT_MIN or len(os.sched_getaffinity(0)) < 2:
        values.sort()
        return
    upper = values >= np.uint64(1 << 63)
    high, low = values[upper], values[~upper]
    del upper
    with ThreadPoolExecutor(1, "por-sort") as pool:
        done = pool.submit(high.sort)
        low.sort()
        done.result()
    values[: len(low)] = low
    values[len(low) :] = high


def _ties(ordered: npt.NDArray[np.uint64]) -> I64:
    return np.flatnonzero(ordered[1:] == ordered[:-1]).astype(np.int64)


def tie_runs(same: I64) -> list[tuple[int, int]]:
    """Runs [a, b) of positions from the tie positions i (i ties with i + 1)."""
    if len(same) == 0:
        return []
    breaks = np.flatnonzero(np.diff(same) > 1)
    starts = np.concatenate([same[:1], same[breaks + 1]]).tolist()
    ends = (np.concatenate([same[breaks], same[-1:]]) + 2).tolist()
    return list(zip(starts, ends, strict=True))


def account_order(hashes: U8, offsets: I64, data: U8) -> I64:
    """Account rows in ascending order of account hash (docs/spec/por-mst-v1.md §5.1).

    The build numbers accounts this way, so the split, the account index and every private
    file are the same whatever the order of the input's rows, and an external sort by
    account hash (the streamed build) numbers them alike. Runs of equal 8-byte prefixes
    are ordered by the whole hash. Two ids with one hash (a SHA-256 collision) are refused:
    their proofs could not be told apart.
    """
    order, same = sort_prefixes(prefix64(hashes))
    for a, b in tie_runs(same):
        run = sorted(order[a:b].tolist(), key=lambda row: hashes[row].tobytes())
        for first, second in itertools.pairwise(run):
            if hashes[first].tobytes() == hashes[second].tobytes():
                raise InputError(
                    "two account ids have the same account hash (SHA-256 collision)",
                    value=bytes(data[offsets[second] : offsets[second + 1]]).decode(
                        "utf-8", "replace"
                    ),
                )
        order[a:b] = run
    return order


def leaf_order(salts: U8, pad_salts: U8, account_hashes: U8, parts: int) -> I64:
    """The leaf order (docs/spec/por-mst-v1.md §5.1): the leaf id at every position.

    Every leaf, account or padding, is placed in ascending order of its 32-byte salt
    (compared as bytes); salts are secret, so the order is a secret permutation, and one
    that an external sort can produce chunk by chunk. Leaf ids: account leaves
    ``row * parts + part`` (`salts` in that order), then padding leaves (`pad_salts`).
    The rare equal 8-byte prefixes are ordered by the spec's full key (`break_ties`).
    """
    keys = np.concatenate([prefix64(salts), prefix64(pad_salts)])
    order, same = sort_prefixes(keys)
    del keys
    if len(same):
        break_ties(order, same, salts, pad_salts, account_hashes, parts)
    return order


def break_ties(
    perm: npt.NDArray[Any],
    same: I64,
    salts: U8,
    pad_salts: U8,
    account_hashes: U8,
    parts: int,
) -> None:
    """Order each run of equal salt prefixes by the full key, in place: the whole salt, then
    account leaves before padding leaves, then (account hash, part) or the padding number."""
    real = len(salts)

    def key(leaf: int) -> tuple[bytes, int, bytes, int]:
        if leaf < real:
            return (salts[leaf].tobytes(), 0, account_hashes[leaf // parts].tobytes(), leaf % parts)
        return (pad_salts[leaf - real].tobytes(), 1, b"", leaf - real)

    for a, b in tie_runs(same):
        perm[a:b] = sorted(perm[a:b].tolist(), key=key)
