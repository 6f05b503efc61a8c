"""Build the liabilities tree on a Dask cluster: `por liabilities build … --cluster ADDRESS`.

Where it sits: the cluster twin of `read_liabilities` + `attestations.build.build_tree` (and
of liabilities_stream.py's streamed build). The input is one liabilities file or a
directory of partitions (CSV, JSON Lines; `partition_files`), each account in one
partition, as a warehouse export partitioned by account. The scheduler spreads the work
units of attestations/build_parts.py over the workers; this client keeps the master
secret, computes the salts, writes the tree directory and installs it like `build_tree`:
root, commitment, every level, index and proof are the same bytes as the one-machine build
of the same rows and secret (tests/unit/test_build_cluster.py).

  1. workers read and check their partitions (the file reader of verifier/inputs/
     liabilities.py) and cut each one's accounts into B account-hash ranges;
  2. per range, a worker orders its accounts by account hash: the tree's rows are the
     ranges one after the other, so the client learns each range's first row, and gets
     its ids and account hashes (accounts.arrow and index.bin are the client's files);
  3. the client derives the salts (HMAC under the master secret) of each range and sends
     them to the worker that holds the range, which splits the balances, hashes the leaves
     and cuts them into B order buckets by salt; the client sends the padding salts;
  4. per order bucket, a worker sorts its leaves by salt; from the counts, the client knows
     each bucket's first position; the worker hashes every node of its positions' subtrees
     and returns the level slices; the client writes them, hashes the few nodes over two
     buckets up to the root, and installs the directory.

Trust model (docs/liabilities.md "On a cluster"): the master secret never leaves the client
(not in argv, not to the scheduler, not to a worker). A worker sees the rows of the
partitions it reads, the salts of the leaves it hashes, and the split seed
(`derive_seed(secret, "split")`, which says nothing about salts or order): the same as
it would learn by reading those partitions, plus their salts. Use TLS
(`tls://` scheduler addresses, Dask's security settings) between machines one does not
trust the network of.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import operator
import os
import re
import shutil
import socket
import stat
import tempfile
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from attestations.build import (
    BuildResult,
    Liabilities,
    Progress,
    binary_ids,
    check_request,
    finish_tree,
    index_dtype,
    make_temp_dir,
    no_progress,
    open_secret,
    pad_salt_blocks,
)
from attestations.build_parts import (
    Accounts,
    account_bucket,
    bucket_totals,
    by_account_hash,
    leaf_buckets,
    missing_nodes,
    order_bucket,
    padding_buckets,
    subtree_slices,
)
from attestations.encoding import MAX_SUM, SALT_LEN, AssetSpec, derive_seed, tree_height
from attestations.hashing import hmac_varlen
from attestations.levels import record_width
from attestations.proofs import format_units
from verifier.base.errors import InputError, PorError, SumOverflow, UsageError
from verifier.inputs.liabilities import read_liabilities
from verifier.inputs.liabilities_parquet import PARQUET_SUFFIXES, read_parquet

PARTITION_KINDS = {
    ".csv": "CSV",
    ".jsonl": "JSON Lines",
    ".ndjson": "JSON Lines",
    ".parquet": "Parquet",
}
PAD_BLOCK = 1 << 20
MAX_BUCKET_BITS = 9
ROWS_PER_BUCKET = 1 << 20  # input rows an account bucket is cut for (estimated)
BYTES_PER_ROW = 32  # a CSV row of the sample is 38 bytes: fewer rows than estimated
DASK_PORT = 8786  # the scheduler's default port, as Dask's own client assumes
PROBE_SECONDS = 10


class ClusterUnavailable(PorError):
    """The scheduler cannot be reached, or the cluster failed (exit 4)."""


def partition_files(path: Path) -> list[Path]:
    """The partitions of an input: the file itself, or a directory's data files by path.

    Subdirectories are read too (a hive layout, ``year=2026/part-0.parquet``; the key in
    the directory name is not a column), symbolic links followed; a directory reached twice
    (a link loop, two links to one directory) is refused, as data left out or counted twice
    would be. Names starting with ``_`` or ``.`` (``_SUCCESS``, ``.crc`` files of warehouse
    exports) are skipped; anything else must be a regular file of one format for the whole
    input: CSV, JSON Lines or Parquet."""
    if not path.is_dir():
        return [path]
    files: list[Path] = []
    _walk(path, files, set())
    if not files:
        raise InputError("the input directory holds no partitions", file=str(path))
    kinds = {PARTITION_KINDS[f.suffix.lower()]: f for f in files}
    if len(kinds) > 1:
        (one, a), (other, b) = list(kinds.items())[:2]
        raise InputError(
            f"partitions of two formats ({partition_name(path, a)} is {one}, "
            f"{partition_name(path, b)} is {other}): "
            "a directory input holds one format",
            file=str(path),
        )
    return files


def _walk(directory: Path, files: list[Path], seen: set[tuple[int, int]]) -> None:
    try:
        info = directory.stat()
        entries = sorted(directory.iterdir())
    except OSError as exc:
        raise InputError(
            f"cannot read the directory: {exc.strerror or exc}", file=str(directory)
        ) from None
    if (info.st_dev, info.st_ino) in seen:
        raise InputError("directory reached twice (a symbolic link loop?)", file=str(directory))
    seen.add((info.st_dev, info.st_ino))
    for entry in entries:
        if entry.name.startswith(("_", ".")):
            continue
        try:
            mode = entry.stat().st_mode
        except OSError as exc:  # a dangling link, a link loop (ELOOP)
            raise InputError(
                f"cannot read partition: {exc.strerror or exc}", file=str(entry)
            ) from None
        if stat.S_ISDIR(mode):
            _walk(entry, files, seen)
        elif not stat.S_ISREG(mode):  # never opened: reading a FIFO would wait forever
            raise InputError("not a regular file (a FIFO, socket or device?)", file=str(entry))
        elif entry.suffix.lower() not in PARTITION_KINDS:
            raise InputError(
                "not a liabilities partition (.csv, .jsonl, .ndjson or .parquet expected)",
                file=str(entry),
            )
        else:
            files.append(entry)


def partition_name(root: Path, file: Path) -> str:
    """A partition's name in messages and the input hash: its path under the directory."""
    return file.name if file == root else file.relative_to(root).as_posix()


def read_partition(
    path: Path,
    assets: tuple[AssetSpec, ...],
    *,
    negative: str = "error",
    sum_duplicates: bool = False,
    progress: Progress = no_progress,
) -> Liabilities:
    """One partition (or input file) read and checked by the reader of its format."""
    reader = read_parquet if path.suffix.lower() in PARQUET_SUFFIXES else read_liabilities
    return reader(path, assets, negative=negative, sum_duplicates=sum_duplicates, progress=progress)


def partitions_sha256(digests: list[tuple[str, str]]) -> str:
    """One input hash for a directory: SHA-256 of its ``sha256sum`` listing (by name)."""
    listing = "".join(f"{digest}  {name}\n" for name, digest in sorted(digests))
    return hashlib.sha256(listing.encode()).hexdigest()


def merge_excluded(parts: list[dict[str, Any] | None]) -> dict[str, Any] | None:
    """The `--negative exclude` summaries of the partitions added into one."""
    present = [p for p in parts if p]
    if not present:
        return None
    assets: dict[str, Any] = {}
    for part in present:
        for code, entry in part["assets"].items():
            seen = assets.setdefault(code, {"rows": 0, "total_base_units": 0})
            seen["rows"] += entry["rows"]
            seen["total_base_units"] += int(entry["total_base_units"])
    merged = dict(present[0])
    merged["rows"] = sum(int(p["rows"]) for p in present)
    merged["assets"] = assets
    return merged


def read_partitions(
    path: Path,
    assets: tuple[AssetSpec, ...],
    *,
    negative: str = "error",
    sum_duplicates: bool = False,
    progress: Progress = no_progress,
) -> Liabilities:
    """A directory of partitions read on this machine into one `Liabilities` (the
    one-machine build of the same input a cluster build must equal)."""
    files = partition_files(path)
    if len(files) == 1 and files[0] == path:
        return read_partition(
            path, assets, negative=negative, sum_duplicates=sum_duplicates, progress=progress
        )
    names = [partition_name(path, f) for f in files]
    parts = [
        read_partition(f, assets, negative=negative, sum_duplicates=sum_duplicates) for f in files
    ]
    pieces = [
        by_account_hash(p.account_ids, p.balances, name, 0)[0]
        for p, name in zip(parts, names, strict=True)
    ]
    whole = account_bucket(pieces)  # refuses an account in two partitions
    return Liabilities(
        assets=assets,
        account_ids=whole.ids,
        balances=whole.balances,
        excluded=_finish_excluded(merge_excluded([p.excluded for p in parts]), assets),
        input_sha256=partitions_sha256(
            [(name, str(p.input_sha256)) for p, name in zip(parts, names, strict=True)]
        ),
        stats={"rows": sum(int(p.stats.get("rows", 0)) for p in parts)},
    )


def _finish_excluded(
    merged: dict[str, Any] | None, assets: tuple[AssetSpec, ...]
) -> dict[str, Any] | None:
    """Totals back to the strings of `excluded_summary`, assets in the asset-list order."""
    if merged is None:
        return None
    per_asset = {}
    for spec in assets:
        entry = merged["assets"].get(spec.code)
        if entry is not None:
            total = int(entry["total_base_units"])
            if total <= -MAX_SUM:  # each partition's is capped; their sum must be too
                raise InputError(
                    f"the total of the {spec.code} rows excluded as negative, over all "
                    "partitions, reaches 2**128 base units in magnitude",
                    value=str(total),
                )
            per_asset[spec.code] = {
                "rows": entry["rows"],
                "total_base_units": str(total),
                "total": format_units(total, spec.decimals),
            }
    return {**merged, "assets": per_asset}


# ----------------------------------------------------------------------------- the cluster


CLUSTER_FORM = re.compile(r"^(local:(?P<n>[0-9]{1,3})|(?P<url>(tcp|tls)://[^\s]+))$")


@contextlib.contextmanager
def connect(spec: str) -> Iterator[Any]:
    """A Dask client: ``local:N`` starts N worker processes here; ``tcp://HOST:PORT`` (or
    ``tls://``) joins a running scheduler. Exit 2 without Dask or on a bad form, 4 when
    the scheduler cannot be reached."""
    match = CLUSTER_FORM.match(spec)
    if match is None or (match["n"] is not None and not 1 <= int(match["n"]) <= 256):
        raise UsageError(
            f"--cluster {spec!r}: expected local:N (1..256 workers) or tcp://HOST:PORT"
        )
    try:
        # typed as Any: distributed ships no complete type information
        distributed: Any = importlib.import_module("distributed")
    except ImportError:
        raise UsageError(
            "--cluster needs Dask, an optional extra: pip install 'por[cluster]'"
        ) from None
    cluster: Any = None
    try:
        if match["n"] is not None:
            cluster = distributed.LocalCluster(
                n_workers=int(match["n"]),
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=50,
            )
            client = distributed.Client(cluster)
        else:
            _probe(spec, match["url"])
            client = distributed.Client(match["url"], timeout="15s")
    except (OSError, TimeoutError, RuntimeError) as exc:  # RuntimeError: a worker did not start
        if cluster is not None:
            cluster.close()
        raise ClusterUnavailable(
            f"cannot reach the Dask scheduler {spec}: {type(exc).__name__}"
        ) from None
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _probe(spec: str, url: str) -> None:
    """One TCP connection to the scheduler's port first: Dask's client retries a refused
    connection until its timeout, and "nothing listens there" deserves an answer at once."""
    try:
        parts = urllib.parse.urlsplit(url)
        host, port = parts.hostname, parts.port or DASK_PORT
    except ValueError:  # a port that is not a number in 0..65535
        host = None
    if not host or parts.path or parts.query or parts.fragment:
        raise UsageError(f"--cluster {spec!r}: expected tcp://HOST:PORT (or tls://HOST:PORT)")
    try:
        socket.create_connection((host, port), timeout=PROBE_SECONDS).close()
    except (OSError, UnicodeError) as exc:  # refused, no route, unknown host, timed out
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise ClusterUnavailable(f"cannot reach the Dask scheduler {spec}: {reason}") from None


def _read_part(
    path: str,
    name: str,
    assets: tuple[AssetSpec, ...],
    negative: str,
    sum_duplicates: bool,
    bits: int,
) -> tuple[list[Accounts], dict[str, Any]]:
    """On a worker: one partition read, checked and cut into account-hash ranges."""
    data = read_partition(Path(path), assets, negative=negative, sum_duplicates=sum_duplicates)
    meta = {
        "name": name,
        "sha256": data.input_sha256,
        "excluded": data.excluded,
        "rows": int(data.stats.get("rows", 0)),
    }
    return by_account_hash(data.account_ids, data.balances, name, bits), meta


def bucket_bits(files: list[Path], workers: int) -> int:
    """2**bits buckets: at least four a worker, and few enough rows in each that what the
    client holds at a time (one bucket's ids, salts, level slices and index rows) does not
    grow with the input. Rows are estimated before reading: a Parquet footer's count, else
    one row per `BYTES_PER_ROW` bytes of text (an over-estimate: more buckets, not bigger)."""
    rows = 0
    for f in files:
        try:
            if f.suffix.lower() in PARQUET_SUFFIXES:
                rows += pq.ParquetFile(f).metadata.num_rows
            else:
                rows += f.stat().st_size // BYTES_PER_ROW
        except (OSError, pa.ArrowException):
            continue  # the reader names what is wrong with it
    by_size = max(0, -(-rows // ROWS_PER_BUCKET) - 1).bit_length()
    return min(MAX_BUCKET_BITS, max((4 * workers - 1).bit_length(), by_size))


def _send(client: Any, data: Any) -> Any:
    """`data` on the cluster under a key of its own. Dask's default key is the hash of the
    contents, so every empty bucket's salts (an empty array) got the same key: the future
    of one, dropped once its task was submitted, released the key the others' tasks still
    waited on, and the build ended "FutureCancelledError: lost dependencies" on inputs of a
    few accounts (most buckets empty)."""
    return client.scatter(data, hash=False)


def _ids_and_totals(accounts: Accounts) -> tuple[pa.Array, list[int]]:
    return accounts.ids, bucket_totals(accounts)


def _hashes(accounts: Accounts) -> Any:
    return accounts.hashes


def _slices_and_leaves(rows: Any, start: int, assets: int) -> tuple[list[Any], Any]:
    return subtree_slices(rows, start, assets), np.asarray(rows["leaf"], dtype="<u8")


def cluster_build(
    path: Path,
    assets: tuple[AssetSpec, ...],
    out_dir: Path,
    *,
    cluster: str,
    attestation_id: str,
    as_of: str,
    split: int = 1,
    secret_file: Path | None = None,
    force: bool = False,
    negative: str = "error",
    sum_duplicates: bool = False,
    progress: Progress = no_progress,
) -> tuple[BuildResult, Liabilities]:
    """Build on the cluster `cluster` names; the result and the input's summary."""
    files = partition_files(path)
    for f in files:
        if not f.is_file():
            raise InputError("liabilities file not found", file=str(f))
    check_request(out_dir, attestation_id=attestation_id, split=split, force=force)
    with connect(cluster) as client:
        workers = max(1, len(client.scheduler_info()["workers"]))
        bits = bucket_bits(files, workers)
        secret, new_secret = open_secret(out_dir, secret_file)
        tmp, tree_dir = make_temp_dir(out_dir)
        try:
            job = _Job(client, assets, tree_dir, secret, split, bits, progress)
            shell = job.read(
                files, [partition_name(path, f) for f in files], negative, sum_duplicates
            )
            root_record, height = job.tree()
            result = finish_tree(
                tmp,
                out_dir,
                root_record=root_record,
                liabilities=shell,
                accounts=job.count,
                attestation_id=attestation_id,
                as_of=as_of,
                height=height,
                parts=split,
                secret=secret,
                secret_file=secret_file,
                new_secret=new_secret,
            )
        except SumOverflow as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise InputError(f"a tree sum reaches 2**128 ({exc.message})") from exc
        except (OSError, TimeoutError) as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise ClusterUnavailable(f"the cluster failed: {type(exc).__name__}: {exc}") from None
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return result, shell


class _Job:
    """One cluster build: the futures on the workers and the files the client writes."""

    def __init__(
        self,
        client: Any,
        assets: tuple[AssetSpec, ...],
        tree_dir: Path,
        secret: bytes,
        parts: int,
        bits: int,
        progress: Progress,
    ) -> None:
        self.client, self.assets, self.tree_dir = client, assets, tree_dir
        self.secret, self.parts, self.bits, self.progress = secret, parts, bits, progress
        self.width = record_width(len(assets))
        self.count = 0

    def read(
        self, files: list[Path], names: list[str], negative: str, sum_duplicates: bool
    ) -> Liabilities:
        """Steps 1 and 2: partitions read on the workers, account ranges ordered."""
        submit, ranges = self.client.submit, range(1 << self.bits)
        reads = [
            submit(_read_part, str(f), name, self.assets, negative, sum_duplicates, self.bits)
            for f, name in zip(files, names, strict=True)
        ]
        metas = self.client.gather([submit(operator.itemgetter(1), r) for r in reads])
        self.progress("read and check partitions", len(files), len(files))
        pieces = [submit(operator.itemgetter(0), r) for r in reads]
        self.buckets = [
            submit(account_bucket, [submit(operator.getitem, p, h) for p in pieces]) for h in ranges
        ]
        self.first_rows: list[int] = []
        sums = [0] * len(self.assets)
        ids_writer = _AccountsFile(self.tree_dir / "accounts.arrow")
        seed = derive_seed(self.secret, b"split")
        self.leaves = []
        infos = [submit(_ids_and_totals, bucket) for bucket in self.buckets]
        for h, info in enumerate(infos):
            ids, bucket_sums = info.result()
            info.release()
            self.first_rows.append(self.count)
            for a, total in enumerate(bucket_sums):
                sums[a] += total
            ids_writer.write(ids)
            offsets, data = binary_ids(ids)
            salts = hmac_varlen(self.secret, offsets, data, self.parts)
            # sent at once: the client keeps no salt (nor id) of a finished bucket
            self.leaves.append(
                submit(
                    leaf_buckets,
                    self.buckets[h],
                    _send(self.client, salts),
                    first_row=self.count,
                    parts=self.parts,
                    seed=seed,
                    bits=self.bits,
                )
            )
            self.count += len(ids)
            del ids, offsets, data, salts
            self.progress("order accounts, derive salts", h + 1, 1 << self.bits)
        ids_writer.close()
        self.first_rows.append(self.count)
        for total, spec in zip(sums, self.assets, strict=True):
            if total >= MAX_SUM:
                raise InputError(f"the total of {spec.code} reaches 2**128", value=str(total))
        if self.count == 0:
            raise InputError("no accounts to commit (every row was excluded?)")
        return Liabilities(
            assets=self.assets,
            account_ids=pa.array([], pa.string()),
            balances=np.zeros((0, len(self.assets), 2), ">u8"),
            excluded=_finish_excluded(merge_excluded([m["excluded"] for m in metas]), self.assets),
            input_sha256=(
                metas[0]["sha256"]
                if len(metas) == 1
                else partitions_sha256([(m["name"], m["sha256"]) for m in metas])
            ),
            stats={"rows": sum(m["rows"] for m in metas)},
        )

    def tree(self) -> tuple[bytes, int]:
        """Steps 3 and 4: leaves, order buckets, subtrees; the root record and the height."""
        submit, getitem, buckets = self.client.submit, operator.getitem, range(1 << self.bits)
        real = self.count * self.parts
        height = tree_height(real)
        padding = []
        done = 0
        for block in pad_salt_blocks(self.secret, (1 << height) - real, block=PAD_BLOCK):
            salts = np.frombuffer(block, dtype=np.uint8).reshape(-1, SALT_LEN)
            padding.append(
                submit(
                    padding_buckets,
                    _send(self.client, salts),
                    done,
                    real,
                    len(self.assets),
                    self.bits,
                )
            )
            done += len(salts)
        ordered = [
            submit(order_bucket, [submit(getitem, piece, s) for piece in self.leaves + padding])
            for s in buckets
        ]
        counts = self.client.gather([submit(len, o) for o in ordered])
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(int).tolist()
        levels = _LevelFiles(self.tree_dir, height, self.width)
        covered: list[list[tuple[int, int]]] = [[] for _ in range(height + 1)]
        spill = tempfile.TemporaryDirectory(prefix="positions-", dir=self.tree_dir)
        with spill, open(self.tree_dir / "positions.bin", "wb") as positions:
            positions.truncate(8 << height)
            where = _Positions(Path(spill.name), self.first_rows, self.parts)
            work = [
                submit(_slices_and_leaves, o, start, len(self.assets))
                for o, start in zip(ordered, starts, strict=True)
            ]
            for n, (future, start) in enumerate(zip(work, starts, strict=True)):
                slices, leaf_ids = future.result()
                future.release()
                for level, first, records in slices:
                    levels.write(level, first, records)
                    covered[level].append((first, first + len(records) // self.width))
                os.pwrite(positions.fileno(), leaf_ids.tobytes(), start * 8)
                where.add(leaf_ids, start, real)
                self.progress("hash leaves and subtrees", n + 1, len(work))
                del slices, leaf_ids
            where.close()
            root = missing_nodes(covered, height, len(self.assets), levels.read, levels.write_array)
            levels.close()
            self._write_index(where)
        return root, height

    def _write_index(self, where: _Positions) -> None:
        """index.bin account bucket by account bucket (rows are in account-hash order)."""
        with open(self.tree_dir / "index.bin", "wb") as out:
            for h, bucket in enumerate(self.buckets):
                hashes = self.client.submit(_hashes, bucket).result()
                first, end = self.first_rows[h], self.first_rows[h + 1]
                index = np.empty(end - first, dtype=index_dtype(self.parts))
                index["hash"] = np.ascontiguousarray(hashes).view("V32").reshape(-1)
                index["row"] = np.arange(first, end, dtype=np.uint64)
                index["pos"] = where.bucket(h).reshape(end - first, self.parts)
                out.write(index.tobytes())
                self.progress("write the index", h + 1, len(self.buckets))


class _Positions:
    """Each account leaf's position, spilled to one file per account bucket as the order
    buckets come back (in any order of leaf), read back one account bucket at a time."""

    def __init__(self, directory: Path, first_rows: list[int], parts: int) -> None:
        self.parts = parts
        self.bounds = np.asarray(first_rows, dtype=np.uint64) * np.uint64(parts)
        self.paths = [directory / f"{h}.bin" for h in range(len(first_rows) - 1)]
        self.files = [open(path, "wb") for path in self.paths]  # noqa: SIM115 (closed in close)

    def add(self, leaf_ids: Any, start: int, real: int) -> None:
        account = np.flatnonzero(leaf_ids < real)
        pairs = np.empty(len(account), dtype=[("leaf", "<u8"), ("pos", "<u8")])
        pairs["leaf"] = leaf_ids[account]
        pairs["pos"] = account + start
        owner = np.searchsorted(self.bounds, pairs["leaf"], side="right") - 1
        for h in np.unique(owner).tolist():
            self.files[h].write(pairs[owner == h].tobytes())

    def close(self) -> None:
        for handle in self.files:
            handle.close()

    def bucket(self, h: int) -> Any:
        """Positions of bucket h's leaves in leaf-id order; its spill file is removed."""
        pairs = np.fromfile(self.paths[h], dtype=[("leaf", "<u8"), ("pos", "<u8")])
        self.paths[h].unlink()
        out = np.empty(int(self.bounds[h + 1] - self.bounds[h]), dtype=np.uint64)
        out[(pairs["leaf"] - self.bounds[h]).astype(np.int64)] = pairs["pos"]
        return out


class _AccountsFile:
    """accounts.arrow written range by range (account ids by row)."""

    def __init__(self, path: Path) -> None:
        self.sink = pa.OSFile(str(path), "wb")
        self.writer = pa.ipc.new_file(self.sink, pa.schema([("account_id", pa.string())]))

    def write(self, ids: pa.Array) -> None:
        if len(ids):
            self.writer.write_batch(pa.record_batch([ids.cast(pa.string())], names=["account_id"]))

    def close(self) -> None:
        self.writer.close()
        self.sink.close()


class _LevelFiles:
    """The level files, preallocated, written and read at record offsets."""

    def __init__(self, tree_dir: Path, height: int, width: int) -> None:
        self.width = width
        self.fds = []
        for k in range(height + 1):
            path = tree_dir / f"level-{k:02d}.bin"
            with open(path, "wb") as handle:
                handle.truncate((1 << (height - k)) * width)
            self.fds.append(os.open(path, os.O_RDWR))

    def write(self, level: int, first: int, records: bytes) -> None:
        os.pwrite(self.fds[level], records, first * self.width)

    def write_array(self, level: int, first: int, records: Any) -> None:
        self.write(level, first, records.tobytes())

    def read(self, level: int, first: int, count: int) -> Any:
        raw = os.pread(self.fds[level], count * self.width, first * self.width)
        return np.frombuffer(raw, dtype=np.uint8).reshape(count, self.width).copy()

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)
