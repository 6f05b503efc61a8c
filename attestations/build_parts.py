"""The work units of a `por-mst-v1` build spread over machines: pure, no network, no secret.

Where it sits: beside the out-of-core build (attestations/build_stream.py), whose order
buckets these reuse; the cluster driver (verifier/inputs/liabilities_cluster.py) runs each
unit on a Dask worker and combines the results on the client into the same tree directory
as `attestations.build.build_tree` — the same bytes, because every unit computes what the
single-machine build computes for its slice (docs/spec/por-mst-v1.md §5.1):

  account_bucket   the accounts whose account hash falls in one range (from every input
                   partition), in account-hash order: the rows of the tree are then the
                   buckets one after the other; an account in two partitions is refused.
  leaf_buckets     one account bucket's leaves: the split (the Philox stream advanced to
                   the bucket's first row, as if every earlier row had been drawn), leaf
                   records from the salts the client sends, each leaf into the order
                   bucket of its salt's top bits.
  order_bucket     one order bucket's leaves (and its padding leaves) in salt order.
  subtree_slices   an ordered bucket at its first position: level 0 and every node of the
                   levels above whose leaves all lie in the bucket.
  missing_nodes    the client's part: the few nodes over two buckets, up to the root.

No unit sees the master secret: salts arrive computed, the split gets its own derived seed
(`derive_seed(secret, "split")`), padding leaves arrive as their salts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from attestations.build import binary_ids, split_block, totals
from attestations.build_stream import salt_order
from attestations.encoding import HASH_LEN, TAG_ACCOUNT
from attestations.hashing import hash_varlen
from attestations.levels import leaf_records, pad_records, parent_level
from attestations.ordering import account_order
from verifier.base.errors import InputError

U8 = npt.NDArray[np.uint8]


def leaf_dtype(width: int) -> np.dtype[Any]:
    """One leaf on its way to its position: salt, leaf id, record (as build_stream's)."""
    return np.dtype([("salt", "V32"), ("leaf", "<u8"), ("record", np.uint8, (width,))])


@dataclass
class Accounts:
    """Accounts of one account-hash range (or one partition), columnar."""

    ids: pa.Array
    hashes: U8  # (n, 32)
    balances: npt.NDArray[Any]  # (n, assets, 2) '>u8'
    names: list[str]  # the partitions it came from (for messages)

    @property
    def count(self) -> int:
        return len(self.hashes)


def by_account_hash(
    ids: pa.Array, balances: npt.NDArray[Any], name: str, bits: int
) -> list[Accounts]:
    """One partition's accounts cut into 2**bits ranges of account hash (top bits)."""
    offsets, data = binary_ids(ids)
    hashes = hash_varlen(TAG_ACCOUNT, offsets, data)
    bucket = hashes[:, 0].astype(np.int64) >> (8 - bits) if bits else np.zeros(len(hashes), int)
    out = []
    for b in range(1 << bits):
        rows = np.flatnonzero(bucket == b)
        out.append(Accounts(ids.take(pa.array(rows)), hashes[rows], balances[rows], [name]))
    return out


def account_bucket(pieces: Sequence[Accounts]) -> Accounts:
    """One account-hash range from every partition, in ascending account hash.

    An id in two partitions is refused naming both; two ids with one hash likewise (a
    SHA-256 collision: `attestations.build.account_order`)."""
    pieces = [p for p in pieces if p.count]
    if not pieces:
        empty = np.zeros((0, HASH_LEN), np.uint8)
        return Accounts(pa.array([], pa.string()), empty, np.zeros((0, 0, 2), ">u8"), [])
    ids = pa.concat_arrays([p.ids.cast(pa.string()) for p in pieces])
    hashes = np.concatenate([p.hashes for p in pieces])
    # concatenate promotes to native byte order: back to enc(v)'s big-endian halves
    balances = np.concatenate([p.balances for p in pieces]).astype(">u8", copy=False)
    counts = pc.value_counts(ids)
    twice = counts.filter(pc.greater(counts.field("counts"), 1))
    if len(twice):
        name = twice[0]["values"].as_py()
        where = [p.names[0] for p in pieces if pc.any(pc.equal(p.ids, name)).as_py()]
        raise InputError(
            f"account id in two partitions ({' and '.join(where)}): each account must lie in one",
            value=name,
        )
    offsets, data = binary_ids(ids)
    rows = account_order(hashes, offsets, data)
    return Accounts(ids.take(pa.array(rows)), hashes[rows], balances[rows], [])


def bucket_totals(accounts: Accounts) -> list[int]:
    """Exact per-asset totals of one bucket (the client checks the 2**128 bound)."""
    return totals(accounts.balances) if accounts.count else []


def split_from(seed: int, first_row: int, balances: npt.NDArray[Any], parts: int) -> Any:
    """`split_balances` of rows that start at `first_row` of the whole: the Philox stream
    advanced past every draw of the rows before (`assets * (parts - 1)` 64-bit draws a row,
    four to a Philox counter step), so the bytes equal those of the one-machine split."""
    if parts == 1:
        return balances
    count, assets, _ = balances.shape
    bits = np.random.Philox(key=seed & ((1 << 128) - 1))
    skip = first_row * assets * (parts - 1)
    bits.advance(skip // 4)
    gen = np.random.Generator(bits)
    if skip % 4:
        gen.integers(0, 2**64, size=skip % 4, dtype=np.uint64)
    out = np.empty((count * parts, assets, 2), dtype=">u8")
    split_block(gen, balances, out.reshape(count, parts, assets, 2), parts)
    return out


def leaf_buckets(
    accounts: Accounts, salts: U8, *, first_row: int, parts: int, seed: int, bits: int
) -> list[npt.NDArray[Any]]:
    """One account bucket's leaves, cut into the 2**bits order buckets by salt top bits;
    each piece in ascending leaf id (`row * parts + part`)."""
    count = accounts.count
    if not count:
        return [np.zeros(0, leaf_dtype(0)) for _ in range(1 << bits)]
    assets = accounts.balances.shape[1]
    split = np.ascontiguousarray(split_from(seed, first_row, accounts.balances, parts), ">u8")
    encoded = split.view(np.uint8).reshape(count * parts, 16 * assets)
    records = leaf_records(salts, np.repeat(accounts.hashes, parts, axis=0), encoded)
    first = first_row * parts
    return _cut(salts, np.arange(first, first + len(salts), dtype=np.uint64), records, bits)


def padding_buckets(pad_salts: U8, first_pad: int, real: int, assets: int, bits: int) -> Any:
    """Padding leaves `first_pad, ...` (leaf ids from `real`) cut into the order buckets."""
    records = pad_records(pad_salts, assets)
    ids = np.arange(real + first_pad, real + first_pad + len(pad_salts), dtype=np.uint64)
    return _cut(pad_salts, ids, records, bits)


def _cut(salts: U8, leaves: Any, records: U8, bits: int) -> list[npt.NDArray[Any]]:
    rows = np.empty(len(salts), dtype=leaf_dtype(records.shape[1]))
    rows["salt"] = np.ascontiguousarray(salts).view("V32").reshape(-1)
    rows["leaf"] = leaves
    rows["record"] = records
    bucket = salts[:, 0].astype(np.int64) >> (8 - bits) if bits else np.zeros(len(rows), int)
    return [rows[bucket == b] for b in range(1 << bits)]


def order_bucket(pieces: Sequence[npt.NDArray[Any]]) -> npt.NDArray[Any]:
    """One order bucket's leaves in salt order (ties by leaf id: spec §5.1)."""
    pieces = [p for p in pieces if len(p)]
    if not pieces:
        return np.zeros(0, leaf_dtype(0))
    rows = np.concatenate(pieces)
    rows = rows[np.argsort(rows["leaf"], kind="stable")]  # ascending leaf ids first
    return rows[salt_order(rows)]


Slice = tuple[int, int, bytes]
"""(level, first node index, records): a run of consecutive nodes of one level."""


def subtree_slices(rows: npt.NDArray[Any], start: int, assets: int) -> list[Slice]:
    """Level 0 of positions [start, start + n) and every node above made only of them."""
    if not len(rows):
        return []
    level = np.ascontiguousarray(rows["record"])
    out: list[Slice] = [(0, start, level.tobytes())]
    a, b, k = start, start + len(rows), 0
    while True:
        na, nb = -(-a // 2), b // 2
        if na >= nb:
            return out
        pairs = level[2 * na - a : 2 * nb - a]
        level = parent_level(pairs, assets, first_parent=na)
        k, a, b = k + 1, na, nb
        out.append((k, a, level.tobytes()))


def missing_nodes(
    covered: Sequence[Sequence[tuple[int, int]]],
    height: int,
    assets: int,
    read: Callable[[int, int, int], U8],
    write: Callable[[int, int, U8], None],
) -> bytes:
    """Hash every node no bucket could (over two buckets), level by level; the root record.

    `covered[k]` lists the (first, end) node ranges of level k already written;
    `read(level, first, count)` and `write(level, first, records)` reach the level files."""
    for k in range(1, height + 1):
        for run_first, run_end in _gaps(covered[k], 1 << (height - k)):
            children = read(k - 1, 2 * run_first, 2 * (run_end - run_first))
            write(k, run_first, parent_level(children, assets, first_parent=run_first))
    return read(height, 0, 1).tobytes()


def _gaps(ranges: Sequence[tuple[int, int]], size: int) -> list[tuple[int, int]]:
    """The runs of [0, size) that no (first, end) range covers: work and memory by the
    number of ranges (a few per bucket), not by the level's size."""
    out, at = [], 0
    for first, end in sorted(ranges):
        if first > at:
            out.append((at, first))
        at = max(at, end)
    if at < size:
        out.append((at, size))
    return out
