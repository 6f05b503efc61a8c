"""Read a tree directory written by `attestations.build` and cut inclusion proofs from it.

One proof costs O(log n) reads: a binary search of the sorted account index (one read
per step), then for each of the account's leaves one read per level of the tree. Nothing
is rebuilt and the tree is never loaded whole; `all_proofs` maps the files once and walks
every account in a single pass.

A tree directory is private data the exchange keeps, but it can still be damaged (a bad
disk, a half-copied backup, a hand edit). Opening one therefore checks everything that is
O(1) to check: meta.json and root.json are bounded JSON with the expected keys and types,
they describe the same tree, root.json's commitment recomputes, and every tree file is
there with exactly the size the shape implies. Whatever is wrong is an `InputError` or an
`InvalidProof` (exit 3) naming the file and the check — never a traceback. The contents
are checked where they are read: `accounts.arrow` fully validated before use, the index
before the bulk path trusts it, and every proof verified against root.json before it is
handed out (`checked_proof`, `checked_proof_texts`), so a damaged tree or a wrong secret
yields an error, never a proof that does not verify.

It stays one module: `TreeStore` is one object over the open files (the checks on opening,
the single proof and the bulk walk share its descriptors, maps and record layout), and
cutting the class apart would split that layout across files.
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

from attestations.build import LEAF_ORDERS, STORE_VERSION, index_dtype, read_secret
from attestations.encoding import (
    FORMAT,
    HASH_LEN,
    SALT_LEN,
    SUM_LEN,
    AssetSpec,
    account_hash,
    check_assets,
    derive_salt,
    enc,
)
from attestations.levels import add128, leaf_records, parent_level, split_sums
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
from verifier.base import safejson
from verifier.base.errors import InputError, InvalidProof, NotFound, StoreError

MAX_HEIGHT = 64
"""Leaf positions are stored as u64: no tree is higher."""

ID_TYPES = (pa.string(), pa.large_string(), pa.binary(), pa.large_binary())


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
    leaf_order: str = "salt"
    """``salt`` or ``shuffle`` (`attestations.build.LEAF_ORDERS`); absent in meta.json:
    ``shuffle``, a tree of an earlier release."""


def _sums(record: bytes, assets: int) -> tuple[int, ...]:
    return tuple(
        int.from_bytes(record[HASH_LEN + i * SUM_LEN : HASH_LEN + (i + 1) * SUM_LEN], "big")
        for i in range(assets)
    )


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _parse_meta(raw: Any, meta_path: Path) -> TreeMeta:
    """meta.json as a `TreeMeta`, every key type- and range-checked."""
    where = str(meta_path)

    def damaged(key: str, why: str, value: Any = None) -> InvalidProof:
        shown = "" if value is None else f" (found {_shown(value)})"
        return InvalidProof("tree metadata", f"{where}: key {key!r} {why}{shown}")

    if not isinstance(raw, dict):
        raise InvalidProof("tree metadata", f"{where}: not a JSON object")
    if raw.get("store_version") != STORE_VERSION:
        raise InputError(
            "unsupported tree store version", file=where, value=_shown(raw.get("store_version"))
        )

    def need(key: str) -> Any:
        if key not in raw:
            raise damaged(key, "is missing")
        return raw[key]

    def integer(key: str, low: int, high: int) -> int:
        value = need(key)
        if type(value) is not int or not low <= value <= high:
            raise damaged(key, f"must be an integer in {low}..{high}", value)
        return value

    def text(key: str) -> str:
        value = need(key)
        if not isinstance(value, str) or not value:
            raise damaged(key, "must be a non-empty string", value)
        return value

    raw_assets = need("assets")
    if not isinstance(raw_assets, list):
        raise damaged("assets", "must be a list", raw_assets)
    try:
        assets = []
        for item in raw_assets:
            if not isinstance(item, dict) or set(item) != {"code", "decimals"}:
                raise damaged("assets", "must list {code, decimals} objects", item)
            assets.append(AssetSpec(item["code"], item["decimals"]))
        checked = check_assets(assets)
    except InvalidProof as exc:
        if exc.check == "tree metadata":
            raise
        raise damaged("assets", exc.message) from None
    height = integer("height", 1, MAX_HEIGHT)
    accounts = integer("accounts", 1, 1 << MAX_HEIGHT)
    split = integer("split", 1, 64)
    leaves = integer("leaves", 1, 1 << MAX_HEIGHT)
    padding = integer("padding", 0, 1 << MAX_HEIGHT)
    width = integer("record_width", 1, 1 << 16)
    if width != HASH_LEN + SUM_LEN * len(checked):
        raise damaged("record_width", f"must be {HASH_LEN + SUM_LEN * len(checked)}", width)
    if leaves != accounts * split:
        raise damaged("leaves", f"must be accounts x split = {accounts * split}", leaves)
    if leaves + padding != 1 << height:
        raise damaged("padding", f"leaves + padding must be 2**height = {1 << height}", padding)
    input_sha256 = raw.get("input_sha256")
    if input_sha256 is not None and not isinstance(input_sha256, str):
        raise damaged("input_sha256", "must be a string", input_sha256)
    leaf_order = raw.get("leaf_order", "shuffle")
    if leaf_order not in LEAF_ORDERS:
        raise damaged("leaf_order", f"must be one of {', '.join(LEAF_ORDERS)}", leaf_order)
    return TreeMeta(
        attestation_id=text("attestation_id"),
        as_of=text("as_of"),
        assets=checked,
        height=height,
        accounts=accounts,
        split=split,
        leaves=leaves,
        padding=padding,
        record_width=width,
        secret_file=text("secret_file"),
        input_sha256=input_sha256,
        leaf_order=leaf_order,
    )


class TreeStore:
    """An opened tree directory. Use as a context manager (it holds file descriptors)."""

    def __init__(self, directory: Path, *, secret_file: Path | None = None) -> None:
        self.dir = directory
        tree = directory / "tree"
        meta_path = tree / "meta.json"
        root_path = directory / "root.json"
        self.root_path = root_path
        if not meta_path.is_file():
            raise InputError("not a tree directory (no tree/meta.json)", file=str(directory))
        raw = safejson.load_path(meta_path, what="tree metadata (meta.json)")
        self.meta = _parse_meta(raw, meta_path)
        root_raw = safejson.load_path(root_path, what="root document")
        try:
            self.root: RootDocument = parse_root_document(root_raw)
        except InvalidProof as exc:
            raise InputError(f"root.json: {exc.message}", file=str(root_path)) from exc
        try:
            check_root_document(self.root)
        except InvalidProof:
            raise InvalidProof(
                "commitment", f"{root_path}: the commitment does not recompute from its fields"
            ) from None
        meta = self.meta
        differ = [
            name
            for name, mine, theirs in (
                ("attestation_id", meta.attestation_id, self.root.attestation_id),
                ("as_of", meta.as_of, self.root.as_of),
                ("assets", meta.assets, self.root.assets),
                ("height", meta.height, self.root.height),
            )
            if mine != theirs
        ]
        stated = raw.get("commitment")
        if stated is not None and stated != self.root.commitment.hex():
            differ.append("commitment")
        if differ:
            raise InvalidProof(
                "root document",
                f"{root_path} does not describe the stored tree: it differs from {meta_path} "
                f"in {', '.join(differ)}",
            )
        self._index_dtype = index_dtype(meta.split)
        self._check_files()
        secret_path = secret_file or (directory / meta.secret_file)
        self.secret_path = secret_path
        self._secret: bytes | None = None
        self._fds: dict[str, int] = {}

    def _check_files(self) -> None:
        """Every tree file present, a regular file, of exactly the size the shape implies."""
        meta = self.meta
        expected = {
            f"level-{k:02d}.bin": (1 << (meta.height - k)) * meta.record_width
            for k in range(meta.height + 1)
        }
        expected["index.bin"] = meta.accounts * self._index_dtype.itemsize
        expected["positions.bin"] = (1 << meta.height) * 8
        expected["accounts.arrow"] = -1  # any size; its content is validated when read
        for name, size in expected.items():
            path = self.dir / "tree" / name
            try:
                found = path.stat()
            except FileNotFoundError:
                raise InputError("tree file missing", file=str(path)) from None
            except OSError as exc:
                raise StoreError(f"{path}: cannot read the tree file ({exc.strerror})") from None
            if not path.is_file():
                raise InputError("tree file is not a regular file", file=str(path))
            if size >= 0 and found.st_size != size:
                what = "truncated" if found.st_size < size else "too long"
                raise InvalidProof(
                    "tree",
                    f"{path} has {found.st_size} bytes, the tree's shape needs {size} ({what})",
                )

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
            path = self.dir / "tree" / name
            try:
                self._fds[name] = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                raise InputError("tree file missing", file=str(path)) from None
            except OSError as exc:
                raise StoreError(f"{path}: cannot open the tree file ({exc.strerror})") from None
        return self._fds[name]

    def _pread(self, name: str, size: int, offset: int) -> bytes:
        try:
            data = os.pread(self._fd(name), size, offset)
        except OSError as exc:
            raise StoreError(f"{self.dir / 'tree' / name}: cannot read ({exc.strerror})") from None
        if len(data) != size:
            raise InvalidProof(
                "tree", f"{self.dir / 'tree' / name} is truncated at offset {offset}"
            )
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
        try:
            target = account_hash(account_id)
        except UnicodeEncodeError:  # e.g. a lone surrogate from an undecodable argument
            raise NotFound("account id is not valid UTF-8 text", value=account_id) from None
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
        """The inclusion proof of one account (not yet checked: see `checked_proof`)."""
        _, positions = self.locate(account_id)
        return self._proof_from(account_id, positions, self.node)

    def checked_proof(self, account_id: str) -> tuple[InclusionProof, str]:
        """One account's proof and its JSON text, verified against root.json first."""
        proof = self.proof(account_id)
        text = json.dumps(proof.to_json(), indent=2) + "\n"
        self.check_proof_text(account_id, text)
        return proof, text

    def check_proof_text(self, account_id: str, text: str) -> None:
        """Verify a proof exactly as it will be handed out, against this tree's root.json.

        What a customer's verifier does (`verify_proof` with the published root document):
        each leaf recomputed from its salt, the account id and its balances, walked up its
        path to root.json's root, and the commitment recomputed. O(height) hashes. A failure
        means the tree files, accounts.arrow or the secret are damaged or not this tree's.
        """
        try:
            verify_proof(parse_proof(json.loads(text)), published_root=self.root)
        except InvalidProof as exc:
            raise InvalidProof(
                "proof",
                f"the proof of account {_shown(account_id)} cut from {self.dir} does not verify "
                f"against {self.root_path} ({exc.message}); refused. The tree files or the "
                f"secret file {self.secret_path} are damaged or not this tree's: run "
                f"`por liabilities audit {self.dir}`",
            ) from None

    def _proof_from(self, account_id: str, positions: list[int], read: Any) -> InclusionProof:
        assets = len(self.meta.assets)
        if any(not 0 <= p < 1 << self.meta.height for p in positions):
            raise InvalidProof(
                "index",
                f"{self.dir / 'tree' / 'index.bin'}: account {_shown(account_id)} has a leaf "
                "position outside the tree",
            )
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
        """All account ids by row (memory-mapped Arrow IPC), validated in full.

        Refuses (exit 3, naming the file) anything but one non-null UTF-8 column
        ``account_id`` with one entry per account: a damaged Arrow file is never read past
        its validation (a corrupt offset would otherwise read out of bounds).
        """
        path = self.dir / "tree" / "accounts.arrow"

        def damaged(why: str) -> InvalidProof:
            return InvalidProof("accounts", f"{path}: {why}")

        try:
            with pa.memory_map(str(path)) as source:
                table = pa.ipc.open_file(source).read_all()
            table.validate(full=True)
        except FileNotFoundError:
            raise InputError("tree file missing", file=str(path)) from None
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise damaged(f"not a readable Arrow IPC file ({type(exc).__name__})") from None
        if "account_id" not in table.column_names:
            raise damaged("has no account_id column")
        column = table.column("account_id").combine_chunks()
        if column.type not in ID_TYPES:
            raise damaged(f"account_id is of type {column.type}, not a string")
        if len(column) != self.meta.accounts:
            raise damaged(f"holds {len(column)} account ids, the tree has {self.meta.accounts}")
        if column.null_count:
            raise damaged("an account id is null")
        if pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
            # the same bytes viewed as UTF-8 text (no copy); validation checks the encoding
            text_type = pa.string() if pa.types.is_binary(column.type) else pa.large_string()
            column = pa.Array.from_buffers(
                text_type, len(column), column.buffers(), null_count=0, offset=column.offset
            )
            try:
                column.validate(full=True)
            except pa.ArrowException:
                raise damaged("an account id is not valid UTF-8") from None
        return column

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
        """Memory-mapped levels and the leaf positions of every account, by row.

        The index is checked before it is trusted: every row named exactly once, every
        position inside the tree (so no account is left with uninitialised positions).
        """
        tree = self.dir / "tree"
        width = self.meta.record_width
        levels = [
            np.memmap(tree / f"level-{k:02d}.bin", dtype=np.uint8, mode="r").reshape(-1, width)
            for k in range(self.meta.height + 1)
        ]
        index = self.bulk_index()
        rows, positions = index["row"], index["pos"]
        by_row = np.empty((self.meta.accounts, self.meta.split), dtype=np.int64)
        by_row[rows.astype(np.int64)] = positions
        return levels, by_row

    def bulk_index(self) -> npt.NDArray[Any]:
        """The account index in its stored order (by account hash), memory-mapped.

        Checked before a bulk path trusts it: every row named exactly once, every position
        inside the tree (so no account is left with uninitialised positions).
        """
        tree = self.dir / "tree"
        index = np.memmap(tree / "index.bin", dtype=self._index_dtype, mode="r")
        rows, positions = index["row"], index["pos"]
        where = tree / "index.bin"
        if len(index) != self.meta.accounts:
            raise InvalidProof("index", f"{where} holds {len(index)} entries, not one per account")
        if int(rows.max(initial=0)) >= self.meta.accounts:
            raise InvalidProof("index", f"{where}: an entry names a row beyond the accounts")
        if int(positions.max(initial=0)) >= 1 << self.meta.height:
            raise InvalidProof("index", f"{where}: an entry points outside the leaves")
        seen = np.zeros(self.meta.accounts, dtype=bool)
        seen[rows.astype(np.int64)] = True
        if not seen.all():
            raise InvalidProof("index", f"{where}: an account is missing (another listed twice)")
        return index

    def checked_proof_texts(self, start: int, stop: int) -> list[tuple[str, str]]:
        """`proof_texts`, each proof verified against root.json before it is returned.

        Every proof is verified as a customer's verifier would, vectorised over the batch
        on exactly the values its text is rendered from: each leaf recomputed from its
        derived salt, the account id and its stored balances, hashed up its path of stored
        siblings (sums added with the 2**128 check), and the result compared with
        root.json's root hash and sums; root.json's commitment was checked on opening.
        The first proof of the batch also goes through the public verifier as text
        (`check_proof_text`), which guards the rendering itself. A failure is reported with
        the public verifier's reason for the first failing account.
        """
        texts, bad = self._proof_texts(start, stop, verify=True)
        for n in [0, *bad[:1]] if texts else []:
            self.check_proof_text(*texts[n])
        if bad:  # the public verifier accepted it, the vectorised walk did not: still refuse
            raise InvalidProof(
                "proof",
                f"the proof of account {_shown(texts[bad[0]][0])} cut from {self.dir} does not "
                f"verify against {self.root_path}; refused. Run `por liabilities audit "
                f"{self.dir}`",
            )
        return texts

    def proof_texts(self, start: int, stop: int) -> list[tuple[str, str]]:
        """(account id, compact proof JSON) for account rows [start, stop), vectorised.

        Produces exactly `json.dumps(proof.to_json(), separators=(",", ":"))` of `proof()`,
        gathering each level's siblings for the whole batch with one numpy index. Not
        checked: see `checked_proof_texts`.
        """
        return self._proof_texts(start, stop, verify=False)[0]

    def _proof_texts(
        self, start: int, stop: int, *, verify: bool
    ) -> tuple[list[tuple[str, str]], list[int]]:
        """The texts of `proof_texts` and, when `verify`, the batch positions (0-based) of
        the accounts whose proofs do not walk up to root.json's root."""
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
        own_records = levels[0][sorted_pos]
        own = _sum_strings(own_records, assets)
        secret = self.secret
        salts = [derive_salt(secret, ids[j // parts], part_of[j]) for j in range(len(sorted_pos))]
        walk = None
        failed = np.zeros(len(sorted_pos), dtype=bool)
        if verify:
            hashes = b"".join(account_hash(a) * parts for a in ids)
            walk = leaf_records(
                np.frombuffer(b"".join(salts), np.uint8).reshape(-1, SALT_LEN),
                np.frombuffer(hashes, np.uint8).reshape(-1, HASH_LEN),
                np.ascontiguousarray(own_records[:, HASH_LEN:]),
            )
        paths: list[list[str]] = [[] for _ in range(len(sorted_pos))]
        for level in range(self.meta.height):
            sibling = levels[level][(sorted_pos >> level) ^ 1]
            if walk is not None:
                walk = _walk_up(walk, sibling, (sorted_pos >> level) & 1, assets, failed)
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
        bad: list[int] = []
        if walk is not None:
            expected = np.frombuffer(self.root.root.hash + enc(self.root.root.sums), dtype=np.uint8)
            wrong = ((walk != expected).any(axis=1) | failed).reshape(-1, parts).any(axis=1)
            bad = np.flatnonzero(wrong).tolist()
        out = []
        for n, account in enumerate(ids):
            leaves = []
            for j in range(n * parts, (n + 1) * parts):
                salt = salts[j].hex()
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
        return out, bad

    def account_ids_slice(self, start: int, stop: int) -> list[str]:
        if not hasattr(self, "_ids"):
            self._ids = self.account_ids()
        values = self._ids.slice(start, stop - start).to_pylist()
        return [v.decode("utf-8") if isinstance(v, bytes) else v for v in values]


def _walk_up(
    current: npt.NDArray[np.uint8],
    sibling: npt.NDArray[np.uint8],
    is_right: npt.NDArray[Any],
    assets: int,
    failed: npt.NDArray[np.bool_],
) -> npt.NDArray[np.uint8]:
    """One level up for a batch of paths: each node paired with its sibling, in order.

    A path whose sum reaches 2**128 is marked in `failed` (its proof does not verify) and
    carried on with zero sums, so the other paths of the batch are still checked.
    """
    width = current.shape[1]
    right = (is_right == 1)[:, None]
    pairs = np.empty((len(current), 2, width), dtype=np.uint8)
    pairs[:, 0] = np.where(right, sibling, current)
    pairs[:, 1] = np.where(right, current, sibling)
    hi, lo = split_sums(pairs.reshape(-1, width), assets)
    _, _, over = add128(hi[0::2], lo[0::2], hi[1::2], lo[1::2])
    overflowed = over.any(axis=1)
    if overflowed.any():
        failed |= overflowed
        pairs[overflowed, :, HASH_LEN:] = 0
    return parent_level(pairs.reshape(-1, width), assets)


def _sum_strings(records: npt.NDArray[np.uint8], assets: int) -> list[str]:
    """Per record, the sums as a JSON list body: '"1","0","25"'."""
    halves = np.ascontiguousarray(records[:, HASH_LEN:]).view(">u8").reshape(-1, assets, 2)
    hi = halves[:, :, 0].astype(np.uint64)
    lo = halves[:, :, 1].astype(np.uint64)
    text = lo.astype(str).tolist()
    for i, j in np.argwhere(hi != 0).tolist():  # only sums of 2**64 base units or more
        text[i][j] = str((int(hi[i, j]) << 64) | int(lo[i, j]))
    return ['"' + '","'.join(row) + '"' for row in text]
