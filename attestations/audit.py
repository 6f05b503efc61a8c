"""Full audit of a stored tree: recompute every node from the leaves and compare.

Where it sits: an auditor (or the exchange before publishing) runs it on a tree directory.
With the master secret it recomputes every leaf from the account ids, the derived salts
and the stored balances, every padding leaf from its derived salt, the secret leaf order, and
every node above; without it, every node above the stored leaves. It checks each sum for
overflow, padding leaves for zero sums, the minimal height, the index, the root against
root.json and the commitment, and reports the totals per asset.

Whatever is wrong is named with its file and check (`InvalidProof`, exit 3): opening the
store (`attestations.store.TreeStore`) already checks meta.json, root.json, the commitment
and every file's size; the audit then checks the contents. A secret file that is present
but unreadable, malformed or not this tree's is an error; only a missing one may be
skipped, and only when the caller allows it (`require_secret=False`).

Two ways to the same result: in memory (`_check_in_memory`: the leaf order and every
leaf's balances held whole: 2.5 GiB at 10M accounts x 3) or out of core
(attestations/audit_stream.py: the files read in ranges, salts spilled to a private work
directory; bounded by a bucket of leaves plus one byte a leaf). `audit_tree` streams a tree
in salt order above `STREAM_ABOVE` leaves (measured: docs/performance.md).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from attestations.audit_stream import STREAM_ABOVE, LevelCompare, check_tree
from attestations.build import INDEX_HEAD, binary_ids, compute_tree, default_workers
from attestations.encoding import HASH_LEN, TAG_ACCOUNT, commitment, tree_height
from attestations.hashing import hash_varlen
from attestations.levels import parent_level, split_sums
from attestations.store import TreeStore
from attestations.tree_files import CHUNK, read_records
from verifier.base.errors import InvalidProof, SumOverflow

Progress = Any


@dataclass(frozen=True)
class AuditResult:
    """What the audit established."""

    attestation_id: str
    accounts: int
    leaves: int
    padding: int
    height: int
    totals: tuple[int, ...]
    commitment: str
    leaves_recomputed: bool
    checks: tuple[str, ...]


def no_progress(phase: str, done: int, total: int) -> None:
    return None


_Compare = LevelCompare
_read_records = read_records


def _index_blocks(path: Path, dtype: np.dtype[Any]) -> Iterator[npt.NDArray[Any]]:
    with path.open("rb") as handle:
        while True:
            block = np.fromfile(handle, dtype=dtype, count=CHUNK)
            if not len(block):
                return
            yield block


def _recompute_nodes(tree_dir: Path, height: int, assets: int, width: int, progress: Any) -> bytes:
    """Every node above the stored leaves, subtree by subtree, compared as it goes."""
    compare = _Compare(tree_dir)
    sub = min(height, 16)
    roots = []
    for start in range(0, 1 << height, 1 << sub):
        level = _read_records(tree_dir / "level-00.bin", start, 1 << sub, width)
        for k in range(1, sub + 1):
            level = parent_level(level, assets, first_parent=start >> k)
            compare(k, start >> k, level)
        roots.append(level)
        progress("recompute nodes", start + (1 << sub), 1 << height)
    level = np.concatenate(roots)
    for k in range(sub + 1, height + 1):
        level = parent_level(level, assets)
        compare(k, 0, level)
    return level.tobytes()


def _check_shape(store: TreeStore) -> list[str]:
    """The O(1) checks: the commitment, the leaf, padding and height counts, level sizes."""
    meta, root = store.meta, store.root
    width = meta.record_width
    checks: list[str] = []
    # TreeStore refused a root.json that does not describe tree/meta.json; checked again
    expected_commit = commitment(
        root.attestation_id, root.assets, root.height, root.root.hash, root.root.sums
    )
    if expected_commit != root.commitment:
        raise InvalidProof("commitment", "root.json's commitment does not recompute")
    checks.append("root.json's commitment recomputes from its fields")
    if meta.leaves != meta.accounts * meta.split or meta.leaves + meta.padding != 1 << meta.height:
        raise InvalidProof("padding", "leaf, padding and height counts disagree")
    if tree_height(meta.leaves) != meta.height:
        raise InvalidProof(
            "padding", f"height {meta.height} is not minimal for {meta.leaves} leaves"
        )
    checks.append(
        f"{meta.leaves} leaves + {meta.padding} padding leaves = 2**{meta.height}, minimal height"
    )
    tree_dir = store.dir / "tree"
    for k in range(meta.height + 1):
        size = (tree_dir / f"level-{k:02d}.bin").stat().st_size
        if size != (1 << (meta.height - k)) * width:
            raise InvalidProof(
                "tree", f"{tree_dir / f'level-{k:02d}.bin'} has {size} bytes, not a full level"
            )
    return checks


def _check_in_memory(
    store: TreeStore,
    load_secret: Callable[[], bytes | None],
    checks: list[str],
    workers: int,
    progress: Any,
) -> tuple[bytes, bool]:
    """Positions, padding, index, leaves and nodes with the leaf balances in memory.

    Long on purpose: one pass over every level (read, recompute, compare, sum) is what keeps
    it fast; split, the steps would re-read. Returns (root record, leaves recomputed).
    """
    meta = store.meta
    assets = len(meta.assets)
    width = meta.record_width
    tree_dir = store.dir / "tree"
    stored_perm = np.fromfile(tree_dir / "positions.bin", dtype="<u8").astype(np.int64)
    if len(stored_perm) != 1 << meta.height or not np.array_equal(
        np.sort(stored_perm), np.arange(1 << meta.height)
    ):
        raise InvalidProof(
            "tree", f"{tree_dir / 'positions.bin'} is not a permutation of the leaves"
        )
    leaf_file = tree_dir / "level-00.bin"
    # leaves are read in blocks: a 10M-account tree has a 2 GB leaf level
    leaf_balances = np.zeros((meta.leaves, assets, 2), dtype=">u8")
    for start in range(0, 1 << meta.height, CHUNK):
        block = _read_records(leaf_file, start, CHUNK, width)
        ids = stored_perm[start : start + len(block)]
        real = ids < meta.leaves
        if block[~real, HASH_LEN:].any():
            bad = start + int(np.flatnonzero(~real & block[:, HASH_LEN:].any(axis=1))[0])
            raise InvalidProof(
                "padding", f"{leaf_file}: padding leaf at position {bad} has a non-zero sum"
            )
        leaf_balances[ids[real]] = block[real, HASH_LEN:].view(">u8").reshape(-1, assets, 2)
    checks.append("every padding leaf has zero sums")
    index_type = np.dtype(store._index_dtype)
    index_file = tree_dir / "index.bin"
    if index_file.stat().st_size != meta.accounts * index_type.itemsize or (
        index_type.itemsize != INDEX_HEAD + 8 * meta.split
    ):
        raise InvalidProof("index", f"{index_file}: the account index does not match the tree")
    seen_rows = np.zeros(meta.accounts, dtype=bool)
    for index in _index_blocks(index_file, index_type):
        # range checks on the stored unsigned values: a cast first could wrap them
        if int(index["row"].max(initial=0)) >= meta.accounts:
            raise InvalidProof("index", f"{index_file}: an entry names a row beyond the accounts")
        if int(index["pos"].max(initial=0)) >= 1 << meta.height:
            raise InvalidProof("index", f"{index_file}: an entry points outside the leaves")
        rows = index["row"].astype(np.int64)
        positions = index["pos"].astype(np.int64)
        seen_rows[rows] = True
        expect = rows[:, None] * meta.split + np.arange(meta.split)[None, :]
        if not np.array_equal(stored_perm[positions], expect):
            raise InvalidProof(
                "index", f"{index_file}: the account index points at the wrong leaves"
            )
    if not seen_rows.all():
        raise InvalidProof("index", f"{index_file}: an account is missing from the index")
    del seen_rows
    checks.append("the account index points every account at its own leaves")

    leaves_recomputed = False
    secret = load_secret()

    def check_order(perm: np.ndarray) -> None:
        # the leaf order (from the salts) is derived before any leaf is hashed: a secret
        # that is not this tree's is named as such, not as a leaf that does not recompute
        if not np.array_equal(perm, stored_perm):
            raise InvalidProof(
                "secret",
                f"the leaf order derived from the secret file {store.secret_path} is not "
                f"the tree's ({tree_dir / 'positions.bin'}): a wrong secret file, or "
                "positions.bin or accounts.arrow (the ids the salts derive from) was changed",
            )

    if secret is not None:
        ids = store.account_ids()
        offsets, data = binary_ids(ids)
        root_record, hashes, perm, _ = compute_tree(
            secret=secret,
            assets=assets,
            parts=meta.split,
            offsets=offsets,
            data=data,
            leaf_balances=leaf_balances,
            sink=_Compare(tree_dir),
            workers=workers or default_workers(),
            progress=progress,
            check_order=check_order,
            order_rule=meta.leaf_order,
        )
        del leaf_balances
        if not np.array_equal(perm, stored_perm):
            raise InvalidProof(
                "secret",
                f"the leaf order does not derive from the secret file {store.secret_path}",
            )
        for index in _index_blocks(index_file, index_type):
            stored_hashes = np.frombuffer(index["hash"].tobytes(), np.uint8).reshape(-1, HASH_LEN)
            if not np.array_equal(hashes[index["row"].astype(np.int64)], stored_hashes):
                raise InvalidProof("index", f"{index_file}: an entry's account hash is wrong")
        leaves_recomputed = True
        checks.append(
            "the leaf order derives from the secret: "
            + (
                "ascending salts"
                if meta.leaf_order == "salt"
                else "the Philox shuffle of a tree built before leaf_order (2026-12-05)"
            )
        )
        checks.append(
            f"every leaf recomputed from account id, derived salt and balances "
            f"({meta.leaves} leaves), every padding leaf from its derived salt"
        )
    else:
        del leaf_balances
        root_record = _recompute_nodes(tree_dir, meta.height, assets, width, progress)
        # account hashes need no secret: H(0x04 || id) for every id
        ids = store.account_ids()  # validated: one UTF-8 id per account
        for index in _index_blocks(index_file, index_type):
            offsets, data = binary_ids(ids.take(pa.array(index["row"].astype(np.int64))))
            expected = hash_varlen(TAG_ACCOUNT, offsets, data)
            if expected.tobytes() != index["hash"].tobytes():
                raise InvalidProof("index", f"{index_file}: an entry's account hash is wrong")
        checks.append("every account hash in the index recomputed from its id")
    return root_record, leaves_recomputed


def audit_tree(
    directory: Path,
    *,
    secret_file: Path | None = None,
    require_secret: bool = False,
    skip_secret: bool = False,
    workers: int = 0,
    progress: Any = no_progress,
    out_of_core: bool | None = None,
) -> AuditResult:
    """Audit a tree directory; raises `InvalidProof` at the first discrepancy.

    `require_secret` makes a missing secret file an error (the CLI's default); without it a
    missing secret means the leaves are not recomputed (`leaves_recomputed` is False), as
    does `skip_secret` (an auditor who was not given the secret). `out_of_core` chooses the
    streamed audit (attestations/audit_stream.py: the same checks and messages in bounded
    memory); None: streamed for a tree in salt order of more than `STREAM_ABOVE` leaves.
    A tree in the legacy shuffle order is always audited in memory.
    """
    with TreeStore(directory, secret_file=secret_file) as store:
        meta, root = store.meta, store.root
        checks = _check_shape(store)

        def load_secret() -> bytes | None:
            if skip_secret or not (
                require_secret or secret_file is not None or os.path.lexists(store.secret_path)
            ):
                return None
            return store.secret  # present but unreadable, malformed or too open: an error

        if out_of_core is None:
            out_of_core = (1 << meta.height) > STREAM_ABOVE
        try:
            if out_of_core and meta.leaf_order == "salt":
                root_record, leaves_recomputed = check_tree(store, load_secret, checks, progress)
            else:
                root_record, leaves_recomputed = _check_in_memory(
                    store, load_secret, checks, workers, progress
                )
        except SumOverflow as exc:
            raise InvalidProof("sums", exc.message) from exc
        checks.append(f"every node at levels 1..{meta.height} recomputed; no sum reaches 2**128")
        record = np.frombuffer(root_record, dtype=np.uint8).reshape(1, -1)
        hi, lo = split_sums(record, len(meta.assets))
        sums = tuple(
            (int(h) << 64) | int(v) for h, v in zip(hi[0].tolist(), lo[0].tolist(), strict=True)
        )
        if record[0, :HASH_LEN].tobytes() != root.root.hash or sums != root.root.sums:
            raise InvalidProof("root", f"the recomputed root differs from {store.root_path}'s")
        checks.append("the recomputed root (hash and sums) equals root.json's")
        return AuditResult(
            attestation_id=root.attestation_id,
            accounts=meta.accounts,
            leaves=meta.leaves,
            padding=meta.padding,
            height=meta.height,
            totals=sums,
            commitment=root.commitment.hex(),
            leaves_recomputed=leaves_recomputed,
            checks=tuple(checks),
        )
