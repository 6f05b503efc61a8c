"""Build a `por-mst-v1` tree out of core: memory bounded by a chunk, whatever the accounts.

Where it sits: the streamed twin of `attestations.build.build_tree`. The streamed
liabilities reader (verifier/inputs/liabilities_stream.py) hands over accounts chunk by
chunk, already in account-hash order (the order `build_tree` numbers them in); this module
writes the same tree directory as `build_tree` for the same secret and rows — every level,
positions.bin, index.bin, root.json and meta.json byte for byte, accounts.arrow with the
same ids in other record batches (tests/unit/test_build_stream.py) — holding at most one
chunk, one bucket and one record per level in memory. Every intermediate file lives under
the private temp dir and goes with it.

  add(ids, balances)   per chunk: the split (one Philox stream across chunks, as one draw),
                       account hashes, salts, leaf records; each leaf (salt, leaf id,
                       record) appended to one of B order buckets by its salt's top bits;
                       ids appended to accounts.arrow; index.bin records (hash, row; the
                       positions are filled in at the end).
  finish()             the height and the padding leaves (their salts from the SHAKE stream,
                       in blocks) into the order buckets; then bucket by bucket, in salt
                       order (docs/spec/por-mst-v1.md §5.1): sort, append the leaves to
                       level-00.bin and positions.bin, hash every complete pair up the levels
                       (a carry of at most one record per level between buckets); each
                       account leaf's (leaf id, position) into a file per range of rows;
                       last, each row range of index.bin gets its leaves' positions.

Invariants: buckets cover salt ranges in ascending order, so concatenating the sorted
buckets is the sorted whole; within a bucket file, leaves are in ascending leaf id (accounts
in row order, then padding), so a stable sort on the salt prefix already breaks equal
prefixes by leaf id and only equal prefixes need the whole salt compared.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from attestations.build import (
    BuildResult,
    Liabilities,
    Progress,
    binary_ids,
    check_request,
    finish_tree,
    index_dtype,
    no_progress,
    open_secret,
    pad_salt_blocks,
    split_stream,
    totals,
)
from attestations.encoding import MAX_SUM, SALT_LEN, TAG_ACCOUNT, derive_seed, tree_height
from attestations.hashing import hash_varlen, hmac_varlen
from attestations.levels import leaf_records, pad_records, parent_level, record_width
from verifier.base.atomic import private_dir
from verifier.base.errors import InputError, SumOverflow

BUCKET_LEAVES = 1 << 20  # leaves per order bucket aimed at (about 100 MB at 3 assets)
MAX_BUCKETS = 256  # open files at once; past 2**28 leaves the buckets grow instead
ROW_RANGE = 1 << 21  # accounts per range of index.bin filled in at the end
PAD_BLOCK = 1 << 20  # padding leaves per block: about 400 MB of temporaries at 3 assets


class StreamedTree:
    """One out-of-core build: `add` chunks of accounts in account-hash order, then `finish`."""

    def __init__(
        self,
        liabilities: Liabilities,
        out_dir: Path,
        *,
        attestation_id: str,
        as_of: str,
        split: int = 1,
        secret_file: Path | None = None,
        force: bool = False,
        expected_accounts: int = 0,
        progress: Progress = no_progress,
    ) -> None:
        """`liabilities` carries the assets, exclusions and input hash (its columns empty)."""
        check_request(out_dir, attestation_id=attestation_id, split=split, force=force)
        self.liabilities = liabilities
        self.out_dir = out_dir
        self.attestation_id, self.as_of = attestation_id, as_of
        self.parts = split
        self.assets = len(liabilities.assets)
        self.width = record_width(self.assets)
        self.secret_file = secret_file
        self.progress = progress
        self.secret, self.new_secret = open_secret(out_dir, secret_file)
        # every file opened is listed in `_opened` (what `_close_files` closes)
        self.buckets: list[BinaryIO] = []
        self._opened: list[Any] = []
        # build.make_temp_dir's layout (.NAME.tmp-*/tree/), made so that no SIGTERM can
        # leave the directory behind before this `try` holds its name
        self.tmp = private_dir(out_dir.parent, f".{out_dir.name}.tmp-")
        try:
            self.tree_dir = self.tmp / "tree"
            self.tree_dir.mkdir(mode=0o700)
            self._open_files(expected_accounts, split)
        except BaseException:  # a refused file or SIGTERM (Terminated) before we return
            self._close_files()
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise

    def _open_files(self, expected_accounts: int, split: int) -> None:
        """The work directory, the order buckets, index.bin and accounts.arrow; the caller
        removes the temp dir should this fail halfway (it has no object to `abandon` yet)."""
        self.work = self.tmp / "work"
        self.work.mkdir(mode=0o700)
        self.count = 0
        self.totals = [0] * self.assets
        self.splitter = split_stream(derive_seed(self.secret, b"split"))
        self.leaf_type = np.dtype(
            [("salt", "V32"), ("leaf", "<u8"), ("record", np.uint8, (self.width,))]
        )
        bits = max(0, (max(1, expected_accounts * split) - 1).bit_length() - 20)
        self.bucket_bits = min(bits, MAX_BUCKETS.bit_length() - 1)
        for b in range(1 << self.bucket_bits):
            # appended one by one: each open file is in the list the cleanup closes
            self.buckets.append(open(self.work / f"order-{b:04d}.bin", "wb"))  # noqa: SIM115
            self._opened.append(self.buckets[-1])
        self.index = open(self.tree_dir / "index.bin", "wb")  # noqa: SIM115
        self._opened.append(self.index)
        self.index_type = index_dtype(split)
        self.accounts_file = pa.OSFile(str(self.tree_dir / "accounts.arrow"), "wb")
        self._opened.append(self.accounts_file)
        self.accounts_writer = pa.ipc.new_file(
            self.accounts_file, pa.schema([("account_id", pa.string())])
        )

    # ------------------------------------------------------------------ accounts

    def add(self, account_ids: pa.Array, balances: npt.NDArray[Any]) -> None:
        """The next accounts, in account-hash order after every one added before."""
        count = len(account_ids)
        if not count:
            return
        for a, total in enumerate(totals(balances)):
            self.totals[a] += total
            if self.totals[a] >= MAX_SUM:
                code = self.liabilities.assets[a].code
                raise InputError(f"the total of {code} reaches 2**128", value=str(self.totals[a]))
        ids = account_ids.cast(pa.string())
        offsets, data = binary_ids(ids)
        hashes = hash_varlen(TAG_ACCOUNT, offsets, data)
        salts = hmac_varlen(self.secret, offsets, data, self.parts)
        leaf_balances = self.splitter(balances, self.parts)
        encoded = leaf_balances.view(np.uint8).reshape(count * self.parts, 16 * self.assets)
        records = leaf_records(salts, np.repeat(hashes, self.parts, axis=0), encoded)
        first_leaf = self.count * self.parts
        self._to_buckets(salts, np.arange(first_leaf, first_leaf + len(salts)), records)
        index = np.zeros(count, dtype=self.index_type)
        index["hash"] = hashes.view("V32").reshape(-1)
        index["row"] = np.arange(self.count, self.count + count, dtype=np.uint64)
        index.tofile(self.index)
        self.accounts_writer.write_batch(pa.record_batch([ids], names=["account_id"]))
        self.count += count

    def _to_buckets(
        self, salts: npt.NDArray[np.uint8], leaves: npt.NDArray[Any], records: npt.NDArray[Any]
    ) -> None:
        """Append leaves to their order buckets (by the top bits of the salt)."""
        rows = np.empty(len(salts), dtype=self.leaf_type)
        rows["salt"] = np.ascontiguousarray(salts).view("V32").reshape(-1)
        rows["leaf"] = leaves
        rows["record"] = records
        if not self.bucket_bits:
            rows.tofile(self.buckets[0])
            return
        bucket = salts[:, 0].astype(np.int64) >> (8 - self.bucket_bits)
        order = np.argsort(bucket, kind="stable")  # keeps ascending leaf ids per bucket
        ends = np.cumsum(np.bincount(bucket, minlength=len(self.buckets)))
        rows = rows[order]
        start = 0
        for b, end in enumerate(ends.tolist()):
            if end > start:
                rows[start:end].tofile(self.buckets[b])
            start = end

    # ------------------------------------------------------------------ tree

    def finish(self) -> BuildResult:
        """Padding, the levels in salt order, positions and the index; install the tree."""
        try:
            if self.count == 0:
                raise InputError("no accounts to commit (every row was excluded?)")
            self.accounts_writer.close()
            self.accounts_file.close()
            self.index.close()
            real = self.count * self.parts
            height = tree_height(real)
            self._padding(real, height)
            for handle in self.buckets:
                handle.close()
            root = _Levels(self.tree_dir, height, self.assets, self.width)
            self._levels(root, real, height)
            self._fill_index(real)
            shutil.rmtree(self.work)
            return finish_tree(
                self.tmp,
                self.out_dir,
                root_record=root.root(),
                liabilities=self.liabilities,
                accounts=self.count,
                attestation_id=self.attestation_id,
                as_of=self.as_of,
                height=height,
                parts=self.parts,
                secret=self.secret,
                secret_file=self.secret_file,
                new_secret=self.new_secret,
            )
        except SumOverflow as exc:
            self.abandon()
            raise InputError(f"a tree sum reaches 2**128 ({exc.message})") from exc
        except BaseException:
            self.abandon()
            raise

    def abandon(self) -> None:
        """Remove everything written so far (a refused input or an interrupted build)."""
        self._close_files()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _close_files(self) -> None:
        # (a file opened but not yet listed when a signal lands is only an open descriptor:
        # the directory goes all the same, and the descriptor with the process)
        for handle in self._opened:
            handle.close()

    def _padding(self, real: int, height: int) -> None:
        """Padding leaves (ids real, real + 1, ...) into the order buckets."""
        done = real
        for block in pad_salt_blocks(self.secret, (1 << height) - real, block=PAD_BLOCK):
            salts = np.frombuffer(block, dtype=np.uint8).reshape(-1, SALT_LEN)
            records = pad_records(salts, self.assets)
            self._to_buckets(salts, np.arange(done, done + len(salts)), records)
            done += len(salts)
            self.progress("padding leaves", done - real, (1 << height) - real)

    def _levels(self, levels: _Levels, real: int, height: int) -> None:
        """Every bucket in salt order: leaves to level 0 and up, positions, row pairs."""
        position = 0
        pairs = _RowPairs(self.work, self.parts)
        with open(self.tree_dir / "positions.bin", "wb") as positions:
            for b in range(len(self.buckets)):
                path = self.work / f"order-{b:04d}.bin"
                rows = np.fromfile(path, dtype=self.leaf_type)
                path.unlink()
                rows = rows[salt_order(rows)]
                leaves = rows["leaf"]
                leaves.astype("<u8").tofile(positions)
                here = np.arange(position, position + len(rows), dtype=np.uint64)
                account = leaves < real
                pairs.add(leaves[account], here[account])
                levels.push(0, np.ascontiguousarray(rows["record"]))
                position += len(rows)
                self.progress("hash leaves and subtrees", position, 1 << height)
        pairs.close()
        self._pairs = pairs

    def _fill_index(self, real: int) -> None:
        """Each row range of index.bin gets its accounts' leaf positions."""
        size = self.index_type.itemsize
        fd = os.open(self.tree_dir / "index.bin", os.O_RDWR)
        try:
            for first_row, pairs in self._pairs.ranges():
                rows = min(ROW_RANGE, self.count - first_row)
                raw = os.pread(fd, rows * size, first_row * size)
                index = np.frombuffer(raw, dtype=self.index_type).copy()
                leaf = pairs["leaf"].astype(np.int64)
                index["pos"][leaf // self.parts - first_row, leaf % self.parts] = pairs["pos"]
                os.pwrite(fd, index.tobytes(), first_row * size)
                self.progress("write index", first_row + rows, self.count)
        finally:
            os.close(fd)


def salt_order(rows: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
    """The order of a bucket's leaves by salt; equal salts by leaf id (spec §5.1)."""
    salts = np.frombuffer(rows["salt"].tobytes(), dtype=np.uint8).reshape(-1, SALT_LEN)
    prefix = np.ascontiguousarray(salts[:, :8]).view(">u8").reshape(-1).astype(np.uint64)
    order = np.argsort(prefix, kind="stable")
    ordered = prefix[order]
    same = np.flatnonzero(ordered[1:] == ordered[:-1])
    if len(same):
        # the rare equal prefixes: whole salts, then leaf ids (already ascending: stable)
        breaks = np.flatnonzero(np.diff(same) > 1)
        starts = np.concatenate([same[:1], same[breaks + 1]]).tolist()
        ends = (np.concatenate([same[breaks], same[-1:]]) + 2).tolist()
        for a, b in zip(starts, ends, strict=True):
            run = order[a:b].tolist()
            order[a:b] = sorted(run, key=lambda i: (salts[i].tobytes(), int(rows["leaf"][i])))
    return order.astype(np.int64, copy=False)


class _Levels:
    """Level files written front to back: complete pairs hashed up as soon as they exist."""

    def __init__(self, tree_dir: Path, height: int, assets: int, width: int) -> None:
        self.height, self.assets, self.width = height, assets, width
        self.files = [open(tree_dir / f"level-{k:02d}.bin", "wb") for k in range(height + 1)]  # noqa: SIM115
        self.carry: list[npt.NDArray[np.uint8] | None] = [None] * (height + 1)
        self.written = [0] * (height + 1)
        self._root: bytes | None = None

    def push(self, level: int, records: npt.NDArray[np.uint8]) -> None:
        """Append `records` to `level`, then every parent they complete (iteratively)."""
        while len(records):
            self.files[level].write(records.tobytes())
            self.written[level] += len(records)
            if level == self.height:
                self._root = records.tobytes()
                return
            waiting = self.carry[level]
            if waiting is not None:
                records = np.concatenate([waiting, records])
            self.carry[level] = records[-1:].copy() if len(records) % 2 else None
            pairs = records[: len(records) - len(records) % 2]
            if not len(pairs):
                return
            records = parent_level(pairs, self.assets, first_parent=self.written[level + 1])
            level += 1

    def root(self) -> bytes:
        for handle in self.files:
            handle.close()
        if self._root is None or any(c is not None for c in self.carry):
            raise RuntimeError("the levels did not close into one root")
        return self._root


class _RowPairs:
    """(leaf id, position) of every account leaf, spilled into one file per range of rows."""

    def __init__(self, work: Path, parts: int) -> None:
        self.work, self.parts = work, parts
        self.pair_type = np.dtype([("leaf", "<u8"), ("pos", "<u8")])
        self.files: dict[int, BinaryIO] = {}

    def add(self, leaves: npt.NDArray[Any], positions: npt.NDArray[Any]) -> None:
        if not len(leaves):
            return
        pairs = np.empty(len(leaves), dtype=self.pair_type)
        pairs["leaf"], pairs["pos"] = leaves, positions
        ranges = (leaves // np.uint64(self.parts * ROW_RANGE)).astype(np.int64)
        order = np.argsort(ranges, kind="stable")
        ranges, pairs = ranges[order], pairs[order]
        cuts = np.flatnonzero(np.diff(ranges)) + 1
        for chunk in np.split(pairs, cuts):
            r = int(chunk["leaf"][0]) // (self.parts * ROW_RANGE)
            if r not in self.files:
                self.files[r] = open(self.work / f"rows-{r:05d}.bin", "wb")  # noqa: SIM115
            chunk.tofile(self.files[r])

    def close(self) -> None:
        for handle in self.files.values():
            handle.close()

    def ranges(self) -> Any:
        """(first row, pairs) per range of rows, in order; each file removed once read."""
        for r in sorted(self.files):
            path = self.work / f"rows-{r:05d}.bin"
            pairs = np.fromfile(path, dtype=self.pair_type)
            path.unlink()
            yield r * ROW_RANGE, pairs
