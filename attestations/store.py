"""Read a tree directory written by `attestations.build` and cut inclusion proofs from it.

One proof costs O(log n) reads: a binary search of the sorted account index (one read
per step), then for each of the account's leaves one read per level of the tree. Nothing
is rebuilt and the tree is never loaded whole; `all_proofs` maps the files once and walks
every account in a single pass.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from attestations.build import STORE_VERSION, index_dtype, read_secret
from attestations.encoding import FORMAT, HASH_LEN, SUM_LEN, AssetSpec, account_hash, derive_salt
from attestations.proofs import (
    InclusionProof,
    ProofLeaf,
    RootDocument,
    SumNode,
    parse_root_document,
)
from verifier.errors import InputError, InvalidProof, NotFound, StoreError


@dataclass(frozen=True)
class TreeMeta:
    """The shape of a stored tree (`tree/meta.json`)."""

    attestation_id: str
    as_of: str
    assets: tuple[AssetSpec, ...]
    height: int
    accounts: int
    split: int
    leaves: int
    padding: int
    record_width: int
    secret_file: str
    input_sha256: str | None


def _sums(record: bytes, assets: int) -> tuple[int, ...]:
    return tuple(
        int.from_bytes(record[HASH_LEN + i * SUM_LEN : HASH_LEN + (i + 1) * SUM_LEN], "big")
        for i in range(assets)
    )


class TreeStore:
    """An opened tree directory. Use as a context manager (it holds file descriptors)."""

    def __init__(self, directory: Path, *, secret_file: Path | None = None) -> None:
        self.dir = directory
        tree = directory / "tree"
        meta_path = tree / "meta.json"
        if not meta_path.is_file():
            raise InputError("not a tree directory (no tree/meta.json)", file=str(directory))
        try:
            raw = json.loads(meta_path.read_text())
            if not isinstance(raw, dict):
                raise ValueError("meta.json is not an object")
            root_raw = json.loads((directory / "root.json").read_text())
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read the tree directory: {exc}", file=str(directory)) from exc
        if raw.get("store_version") != STORE_VERSION:
            raise InputError(
                "unsupported tree store version",
                file=str(meta_path),
                value=str(raw.get("store_version")),
            )
        try:
            self.root: RootDocument = parse_root_document(root_raw)
        except InvalidProof as exc:
            raise InputError(
                f"root.json: {exc.message}", file=str(directory / "root.json")
            ) from exc
        try:
            self.meta = TreeMeta(
                attestation_id=str(raw["attestation_id"]),
                as_of=str(raw["as_of"]),
                assets=tuple(AssetSpec(a["code"], a["decimals"]) for a in raw["assets"]),
                height=int(raw["height"]),
                accounts=int(raw["accounts"]),
                split=int(raw["split"]),
                leaves=int(raw["leaves"]),
                padding=int(raw["padding"]),
                record_width=int(raw["record_width"]),
                secret_file=str(raw["secret_file"]),
                input_sha256=raw.get("input_sha256"),
            )
        except (KeyError, TypeError, ValueError, InvalidProof) as exc:
            raise InputError(
                f"tree/meta.json is damaged ({type(exc).__name__}: {exc})", file=str(meta_path)
            ) from exc
        if not (1 <= self.meta.height <= 64 and 1 <= self.meta.split <= 64):
            raise InputError("tree/meta.json is damaged (height or split)", file=str(meta_path))
        secret_path = secret_file or (directory / self.meta.secret_file)
        self.secret_path = secret_path
        self._secret: bytes | None = None
        self._index_dtype = index_dtype(self.meta.split)
        self._fds: dict[str, int] = {}

    # ------------------------------------------------------------------ resources

    def __enter__(self) -> TreeStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    def _fd(self, name: str) -> int:
        if name not in self._fds:
            try:
                self._fds[name] = os.open(self.dir / "tree" / name, os.O_RDONLY)
            except OSError as exc:
                raise StoreError(f"cannot open tree file {name}: {exc.strerror}") from exc
        return self._fds[name]

    def _pread(self, name: str, size: int, offset: int) -> bytes:
        data = os.pread(self._fd(name), size, offset)
        if len(data) != size:
            raise StoreError(f"tree file {name} is truncated at offset {offset}")
        return data

    @property
    def secret(self) -> bytes:
        if self._secret is None:
            self._secret = read_secret(self.secret_path)
        return self._secret

    # ------------------------------------------------------------------ reads

    def node(self, level: int, position: int) -> bytes:
        """One stored record (hash || enc(sums)) at a level, by position."""
        width = self.meta.record_width
        return self._pread(f"level-{level:02d}.bin", width, position * width)

    def _index_record(self, i: int) -> Any:
        size = self._index_dtype.itemsize
        return np.frombuffer(self._pread("index.bin", size, i * size), dtype=self._index_dtype)[0]

    def locate(self, account_id: str) -> tuple[int, list[int]]:
        """(row, leaf positions) of an account, by binary search of the index: O(log n) reads."""
        target = account_hash(account_id)
        key = int.from_bytes(target[:8], "big")
        low, high = 0, self.meta.accounts
        while low < high:  # first record whose 8-byte prefix is >= key
            mid = (low + high) // 2
            prefix = int.from_bytes(bytes(self._index_record(mid)["hash"])[:8], "big")
            if prefix < key:
                low = mid + 1
            else:
                high = mid
        while low < self.meta.accounts:
            record = self._index_record(low)
            found = bytes(record["hash"])
            if int.from_bytes(found[:8], "big") != key:
                break
            if found == target:
                return int(record["row"]), [int(p) for p in record["pos"]]
            low += 1
        raise NotFound("account not found in this tree", value=account_id)

    def proof(self, account_id: str) -> InclusionProof:
        """The inclusion proof of one account."""
        _, positions = self.locate(account_id)
        return self._proof_from(account_id, positions, self.node)

    def _proof_from(self, account_id: str, positions: list[int], read: Any) -> InclusionProof:
        assets = len(self.meta.assets)
        if any(not 0 <= p < 1 << self.meta.height for p in positions):
            raise StoreError("the account index is damaged (a leaf position out of range)")
        leaves = []
        for part, position in sorted(enumerate(positions), key=lambda item: item[1]):
            record = read(0, position)
            path = []
            for level in range(self.meta.height):
                sibling = read(level, (position >> level) ^ 1)
                path.append(SumNode(hash=bytes(sibling[:HASH_LEN]), sums=_sums(sibling, assets)))
            leaves.append(
                ProofLeaf(
                    index=position,
                    salt=derive_salt(self.secret, account_id, part),
                    balances=_sums(record, assets),
                    path=tuple(path),
                )
            )
        return InclusionProof(
            attestation_id=self.root.attestation_id,
            as_of=self.root.as_of,
            assets=self.root.assets,
            height=self.root.height,
            account_id=account_id,
            leaves=tuple(leaves),
            root=self.root.root,
            commitment=self.root.commitment,
        )

    def account_ids(self) -> pa.Array:
        """All account ids by row (memory-mapped Arrow IPC)."""
        with pa.memory_map(str(self.dir / "tree" / "accounts.arrow")) as source:
            table = pa.ipc.open_file(source).read_all()
        return table.column("account_id").combine_chunks()

    def all_proofs(self) -> Iterator[InclusionProof]:
        """Every account's proof in one pass over memory-mapped level files, by row."""
        levels, by_row = self._bulk_views()

        def read(level: int, position: int) -> bytes:
            data: bytes = levels[level][position].tobytes()
            return data

        for start in range(0, self.meta.accounts, 4096):
            stop = min(start + 4096, self.meta.accounts)
            for row, account in enumerate(self.account_ids_slice(start, stop), start):
                yield self._proof_from(account, [int(p) for p in by_row[row]], read)

    # ------------------------------------------------------------------ bulk, fast path

    def _bulk_views(self) -> tuple[list[npt.NDArray[np.uint8]], npt.NDArray[np.int64]]:
        """Memory-mapped levels and the leaf positions of every account, by row."""
        tree = self.dir / "tree"
        width = self.meta.record_width
        levels = [
            np.memmap(tree / f"level-{k:02d}.bin", dtype=np.uint8, mode="r").reshape(-1, width)
            for k in range(self.meta.height + 1)
        ]
        index = np.fromfile(tree / "index.bin", dtype=self._index_dtype)
        by_row = np.empty((self.meta.accounts, self.meta.split), dtype=np.int64)
        by_row[index["row"].astype(np.int64)] = index["pos"]
        return levels, by_row

    def proof_texts(self, start: int, stop: int) -> list[tuple[str, str]]:
        """(account id, compact proof JSON) for account rows [start, stop), vectorised.

        Produces exactly `json.dumps(proof.to_json(), separators=(",", ":"))` of `proof()`,
        gathering each level's siblings for the whole batch with one numpy index.
        """
        if not hasattr(self, "_bulk"):
            self._bulk = self._bulk_views()
        levels, by_row = self._bulk
        assets = len(self.meta.assets)
        parts = self.meta.split
        ids = self.account_ids_slice(start, stop)
        positions = by_row[start:stop]
        # leaves of one account are listed by index; remember each one's part number
        order = np.argsort(positions, axis=1, kind="stable")
        sorted_pos = np.take_along_axis(positions, order, axis=1).reshape(-1)
        part_of = order.reshape(-1).tolist()
        own = _sum_strings(levels[0][sorted_pos], assets)
        paths: list[list[str]] = [[] for _ in range(len(sorted_pos))]
        for level in range(self.meta.height):
            sibling = levels[level][(sorted_pos >> level) ^ 1]
            hexes = sibling[:, :HASH_LEN].tobytes().hex()
            sums = _sum_strings(sibling, assets)
            for i, path in enumerate(paths):
                path.append(f'{{"hash":"{hexes[64 * i : 64 * i + 64]}","sums":[{sums[i]}]}}')
        head = json.dumps(
            {
                "format": FORMAT,
                "attestation_id": self.root.attestation_id,
                "as_of": self.root.as_of,
                "assets": [{"code": a.code, "decimals": a.decimals} for a in self.root.assets],
                "height": self.root.height,
            },
            separators=(",", ":"),
        )[:-1]
        tail = json.dumps(
            {"root": self.root.root.to_json(), "commitment": self.root.commitment.hex()},
            separators=(",", ":"),
        )[1:]
        secret = self.secret
        out = []
        for n, account in enumerate(ids):
            leaves = []
            for j in range(n * parts, (n + 1) * parts):
                salt = derive_salt(secret, account, part_of[j]).hex()
                leaves.append(
                    f'{{"index":{int(sorted_pos[j])},"salt":"{salt}","balances":[{own[j]}],'
                    f'"path":[{",".join(paths[j])}]}}'
                )
            account_json = json.dumps(account, separators=(",", ":"))
            out.append(
                (
                    account,
                    f'{head},"account_id":{account_json},"leaves":[{",".join(leaves)}],{tail}',
                )
            )
        return out

    def account_ids_slice(self, start: int, stop: int) -> list[str]:
        if not hasattr(self, "_ids"):
            self._ids = self.account_ids()
        values = self._ids.slice(start, stop - start).to_pylist()
        return [v.decode("utf-8") if isinstance(v, bytes) else v for v in values]


def _sum_strings(records: npt.NDArray[np.uint8], assets: int) -> list[str]:
    """Per record, the sums as a JSON list body: '"1","0","25"'."""
    halves = np.ascontiguousarray(records[:, HASH_LEN:]).view(">u8").reshape(-1, assets, 2)
    hi = halves[:, :, 0].astype(np.uint64)
    lo = halves[:, :, 1].astype(np.uint64)
    text = lo.astype(str).tolist()
    for i, j in np.argwhere(hi != 0).tolist():  # only sums of 2**64 base units or more
        text[i][j] = str((int(hi[i, j]) << 64) | int(lo[i, j]))
    return ['"' + '","'.join(row) + '"' for row in text]
