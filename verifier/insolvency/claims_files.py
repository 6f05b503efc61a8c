"""The claims directory: write it whole from a `Register`, and read it back checked.

Where it sits: after claims.py (which reads and audits the source tree) and before the plan,
which opens a claims directory with `read_claims`. The layout (docs/spec/por-insolvency-v1.md):

    D/claims.json        the public claims document (por-claims-v1), mode 0644
    D/register.csv       one row per (account, asset) with a non-zero claim, mode 0600
    D/register.parquet   the same rows (pyarrow), mode 0600
    D/tree/              the claims tree: por-mst-v1, split 1, its own new secret
                         (D/tree/secret.key, 0600, never printed); `por liabilities proof
                         D/tree ID` cuts a customer's claim proof from it

D is built in a temporary directory beside it and renamed into place only when complete;
`--force` replaces an old D at that last moment. claims.json binds the exports by sha256
and carries the claims tree's root.json verbatim, so `read_claims` detects an edited
export, total, price or root and names the file and the check.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from pydantic import Field

from attestations.build import Liabilities, build_tree
from attestations.proofs import RootDocument, check_root_document, parse_root_document
from verifier.base import safejson
from verifier.base.errors import InputError, InvalidProof
from verifier.inputs.file_schemas import FileModel, PlainText, integer, pattern, validate
from verifier.insolvency.claims import (
    Register,
    Valuation,
    add_texts,
    dec_text,
    value_of,
    values_of,
)

CLAIMS_FORMAT = "por-claims-v1"
REGISTER_CSV = "register.csv"
REGISTER_PARQUET = "register.parquet"
EXPORTS = (REGISTER_CSV, REGISTER_PARQUET)
UNITS_TYPE = pa.decimal256(39, 0)
"""Parquet `units`: an exact integer type that holds every balance below 2**128."""
REGISTER_SCHEMA = pa.schema(
    [
        ("account_id", pa.string()),
        ("asset", pa.string()),
        ("units", UNITS_TYPE),
        ("decimals", pa.int16()),
        ("value", pa.string()),
    ]
)
NOT_COVERED = (
    "balances the exchange did not commit to the liabilities tree (fiat cash balances, "
    "assets outside its asset list): claims for them are lodged with the administrator",
    "disputed, contingent and late-filed claims, and any claim lodged after the commencement date",
    "set-off, fees, interest and price changes after the commencement date",
    "the exchange's own and affiliates' accounts: the register lists every account of the "
    "tree; the tree does not mark them, the administrator must",
)
"""What every register leaves out; claims_document adds what this register excluded."""

Progress = Callable[[str, int, int], None]


def no_progress(phase: str, done: int, total: int) -> None:
    return None


# ----------------------------------------------------------------------------- the rows


def register_table(
    register: Register, valuation: Valuation | None, progress: Progress = no_progress
) -> pa.Table:
    """The register rows, sorted by account_id then asset (UTF-8 byte order)."""
    parts = []
    for a, asset in enumerate(register.assets):
        progress("register rows", a, len(register.assets))
        units = register.units(a)
        keep = np.flatnonzero(units != 0)
        if not len(keep):
            continue
        kept = units[keep]
        if kept.dtype == object:
            units_array = pa.array([str(u) for u in kept.tolist()]).cast(UNITS_TYPE)
        else:
            units_array = pa.array(kept, type=pa.uint64()).cast(UNITS_TYPE)
        price = None if valuation is None else valuation.prices.get(asset.code)
        values = None if price is None else values_of(kept, asset.decimals, price)
        parts.append(
            pa.table(
                {
                    "account_id": register.account_ids.take(pa.array(keep)).cast(pa.string()),
                    "asset": pa.array([asset.code] * len(keep), pa.string()),
                    "units": units_array,
                    "decimals": pa.array(np.full(len(keep), asset.decimals, np.int16)),
                    "value": pa.array(values, pa.string())
                    if values is not None
                    else pa.nulls(len(keep), pa.string()),
                },
                schema=REGISTER_SCHEMA,
            )
        )
    progress("register rows", len(register.assets), len(register.assets))
    table = pa.concat_tables(parts)
    return table.sort_by([("account_id", "ascending"), ("asset", "ascending")])


RECORD_KEY = b"por-claims"
"""register.parquet's own record of claims.json's facts that no tree binds (`record_of`)."""
RECORD_FIELDS = ("exchange", "as_of", "valuation", "source", "attestation_id", "not_covered")


def record_of(doc: dict[str, Any]) -> bytes:
    """What the register records of its claims.json: the exchange, the commencement date,
    the valuation, the source liabilities (the link to the published commitment), the
    claims tree's id and what is not covered, as canonical JSON. read_claims compares it
    with claims.json, so claims.json cannot be edited alone: the register's sha256 is bound
    in claims.json's `files`."""
    return json.dumps({k: doc[k] for k in RECORD_FIELDS}, sort_keys=True).encode()


def write_exports(table: pa.Table, directory: Path, record: bytes | None = None) -> dict[str, str]:
    """register.csv and register.parquet (0600) in `directory`; {name: sha256}. `record`
    (claims.json's facts, `record_of`) goes into the Parquet file's metadata."""
    csv_path, parquet_path = directory / REGISTER_CSV, directory / REGISTER_PARQUET
    for path in (csv_path, parquet_path):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    pa_csv.write_csv(table, str(csv_path))
    if record is not None:
        table = table.replace_schema_metadata({RECORD_KEY: record})
    pq.write_table(table, str(parquet_path))
    for path in (csv_path, parquet_path):
        os.chmod(path, 0o600)
    return {path.name: sha256_file(path) for path in (csv_path, parquet_path)}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ----------------------------------------------------------------------------- claims.json


def claims_document(
    register: Register,
    valuation: Valuation | None,
    root: RootDocument,
    *,
    as_of: str,
    exchange: str | None,
    notes: Sequence[str],
    files: dict[str, str],
) -> dict[str, Any]:
    """claims.json (por-claims-v1), field by field as the spec lists them."""
    assets = []
    for a, (asset, total) in enumerate(zip(register.assets, register.totals, strict=True)):
        price = None if valuation is None else valuation.prices.get(asset.code)
        assets.append(
            {
                "code": asset.code,
                "decimals": asset.decimals,
                "customers": register.customers_of(a),
                "total_units": str(total),
                "price": None if price is None else dec_text(price),
                "total_value": None
                if valuation is None
                else ("0" if price is None else value_of(total, asset.decimals, price)),
            }
        )
    return {
        "claims": CLAIMS_FORMAT,
        "exchange": exchange,
        "as_of": as_of,
        "valuation": None if valuation is None else valuation.to_json(),
        "source": register.source.to_json(),
        "attestation_id": root.attestation_id,
        "root": root.to_json(),
        "assets": assets,
        "customers": register.customers,
        "total_value": None
        if valuation is None
        else add_texts([str(a["total_value"]) for a in assets]),
        "not_covered": not_covered(register, notes),
        "files": files,
    }


def not_covered(register: Register, notes: Sequence[str]) -> list[str]:
    """The fixed statements, what this source tree excluded, and the administrator's notes."""
    out = list(NOT_COVERED)
    excluded = register.source.excluded
    if excluded:
        out.append(
            f"{excluded.get('rows', '?')} negative balance rows excluded when the source tree "
            f"was built ({excluded.get('reason', 'see its root.json')}); per asset: "
            + json.dumps(excluded.get("assets", {}), sort_keys=True)
        )
    if register.zero_accounts:
        out.append(
            f"{register.zero_accounts} accounts of the source tree with a zero balance in every "
            "asset: no claim, not in the register"
        )
    return out + [n for n in notes if n.strip()]


# ----------------------------------------------------------------------------- D, whole


def write_claims(
    register: Register,
    valuation: Valuation | None,
    out_dir: Path,
    *,
    attestation_id: str,
    as_of: str,
    exchange: str | None = None,
    notes: Sequence[str] = (),
    force: bool = False,
    workers: int = 0,
    progress: Progress = no_progress,
) -> dict[str, Any]:
    """Build the claims directory `out_dir` atomically; returns claims.json's document."""
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError("output path exists and is not a directory", file=str(out_dir))
    if out_dir.is_dir() and any(out_dir.iterdir()) and not force:
        raise InputError(
            "output directory exists and is not empty (use --force to replace it)",
            file=str(out_dir),
        )
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        os.chmod(tmp, 0o700)
        built = build_tree(
            Liabilities(register.assets, register.account_ids, register.balances),
            tmp / "tree",
            attestation_id=attestation_id,
            as_of=as_of,
            split=1,  # one leaf per customer: the plan's remainder rule keys on it
            workers=workers,
            progress=progress,
        )
        facts = claims_document(
            register, valuation, built.root, as_of=as_of, exchange=exchange, notes=notes, files={}
        )
        files = write_exports(register_table(register, valuation, progress), tmp, record_of(facts))
        doc = {**facts, "files": files}
        claims_path = tmp / "claims.json"
        claims_path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        os.chmod(claims_path, 0o644)
        _install(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return doc


def _install(tmp: Path, out_dir: Path) -> None:
    """Rename the finished `tmp` into place; an old `out_dir` is moved aside first and
    removed last, or put back should the rename fail."""
    old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}") if out_dir.exists() else None
    try:
        if old is not None:
            out_dir.rename(old)
        tmp.rename(out_dir)
    except BaseException:
        if old is not None and not os.path.lexists(out_dir):
            with contextlib.suppress(OSError):
                old.rename(out_dir)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# ----------------------------------------------------------------------------- reading D

_INT = re.compile(r"0|[1-9][0-9]{0,38}")
_DEC = re.compile(r"(0|[1-9][0-9]*)(\.[0-9]*[1-9])?")
_HEX64 = re.compile(r"[0-9a-f]{64}")
IntText = Annotated[str, pattern(_INT, "must be a base-unit integer string")]
DecText = Annotated[str, pattern(_DEC, "must be a plain decimal string (no exponent)")]
Hex64 = Annotated[str, pattern(_HEX64, "must be 64 lowercase hex digits")]
Format = Annotated[str, pattern(re.compile(re.escape(CLAIMS_FORMAT)), f"must be {CLAIMS_FORMAT}")]
Count = Annotated[int, integer(0, 1 << 64)]


class AssetEntry(FileModel):
    code: PlainText
    decimals: Annotated[int, integer(0, 255)]
    customers: Count
    total_units: IntText
    price: DecText | None
    total_value: DecText | None


class SourceEntry(FileModel):
    attestation_id: PlainText
    commitment: Hex64
    as_of: PlainText


class ValuationEntry(FileModel):
    date: PlainText
    currency: PlainText
    prices: dict[str, DecText]


class ClaimsFile(FileModel):
    """claims.json as written by `write_claims` (unknown keys refused)."""

    claims: Format
    exchange: PlainText | None
    as_of: PlainText
    valuation: ValuationEntry | None
    source: SourceEntry
    attestation_id: PlainText
    root: dict[str, Any]
    assets: list[AssetEntry] = Field(min_length=1)
    customers: Count
    total_value: DecText | None
    not_covered: list[PlainText]
    files: dict[str, Hex64]


@dataclass(frozen=True)
class Claims:
    """A claims directory, checked: its document, the claims tree's root and totals."""

    directory: Path
    doc: ClaimsFile
    root: RootDocument
    totals: dict[str, int]
    prices: dict[str, Decimal] | None
    sha256: str
    """claims.json's own SHA-256 (the plan records it: `claims.sha256`)."""


def read_claims(directory: Path) -> Claims:
    """Open claims directory `directory`, checking claims.json against itself, the claims
    tree's root.json and the exports' sha256. Exit 3 naming the file and the check."""
    path = directory / "claims.json"
    if not path.is_file():
        raise InputError("not a claims directory (no claims.json)", file=str(directory))
    doc = validate(ClaimsFile, safejson.load_path(path, what="claims document"), str(path))

    def bad(check: str, why: str) -> InvalidProof:
        return InvalidProof(check, f"{path}: {why}")

    try:
        root = parse_root_document(doc.root)
        check_root_document(root)
    except InvalidProof as exc:
        raise bad(
            "root", f"'root' is not a valid por-mst-v1 root document ({exc.message})"
        ) from None
    tree_root = directory / "tree" / "root.json"
    if safejson.load_path(tree_root, what="claims tree root document") != doc.root:
        raise bad("root", f"'root' differs from {tree_root}")
    if root.attestation_id != doc.attestation_id or root.as_of != doc.as_of:
        raise bad("root", "'attestation_id' or 'as_of' differs from the root's")
    codes = [(a.code, a.decimals) for a in doc.assets]
    if codes != [(a.code, a.decimals) for a in root.assets]:
        raise bad("assets", "the asset list differs from the claims root's")
    totals = {a.code: int(a.total_units) for a in doc.assets}
    if tuple(totals.values()) != root.root.sums:
        raise bad("totals", "'total_units' differ from the claims root's sums")
    prices = _check_values(doc, bad)
    if set(doc.files) != set(EXPORTS):
        raise bad("files", f"'files' must list exactly {', '.join(EXPORTS)}")
    for name, digest in doc.files.items():
        export = directory / name
        if not export.is_file() or sha256_file(export) != digest:
            raise InvalidProof(
                "files", f"{export}: its sha256 is not the one {path} records (edited or missing)"
            )
    _check_record(directory / REGISTER_PARQUET, safejson.load_path(path, what="claims"), bad)
    return Claims(directory, doc, root, totals, prices, sha256_file(path))


def _check_record(
    parquet: Path, raw: dict[str, Any], bad: Callable[[str, str], InvalidProof]
) -> None:
    """claims.json's unbound facts (source commitment, valuation, exchange, dates, notes)
    must be the ones the register recorded when it was written (`record_of`)."""
    try:
        metadata = pq.read_schema(parquet).metadata or {}
    except (OSError, pa.ArrowException):
        raise bad("record", f"{parquet} cannot be read as Parquet") from None
    record = metadata.get(RECORD_KEY)
    if record is None:
        raise bad("record", f"{parquet} holds no record of claims.json ({RECORD_KEY.decode()})")
    if record != record_of(raw):
        try:
            kept = json.loads(record)
        except ValueError:
            kept = {}
        kept = kept if isinstance(kept, dict) else {}
        changed = [k for k in RECORD_FIELDS if kept.get(k) != raw.get(k)]
        raise bad(
            "record",
            f"{', '.join(changed) or 'its facts'} differ from what {parquet.name} recorded when "
            "the register was written (claims.json edited since)",
        )


def _check_values(
    doc: ClaimsFile, bad: Callable[[str, str], InvalidProof]
) -> dict[str, Decimal] | None:
    """Each asset's value = units x price exactly, and the total is their sum."""
    if doc.valuation is None:
        if doc.total_value is not None or any(
            a.price is not None or a.total_value is not None for a in doc.assets
        ):
            raise bad("values", "values without a valuation")
        return None
    prices = {code: Decimal(p) for code, p in doc.valuation.prices.items()}
    for a in doc.assets:
        price = prices.get(a.code)
        if (None if price is None else dec_text(price)) != a.price:
            raise bad("values", f"the price of {a.code} differs from the valuation's")
        expected = "0" if price is None else value_of(int(a.total_units), a.decimals, price)
        if a.total_value != expected or (price is None and a.total_units != "0"):
            raise bad("values", f"'total_value' of {a.code} is not its units at its price")
    if set(prices) - {a.code for a in doc.assets}:
        raise bad("values", "the valuation prices an asset the register does not hold")
    if doc.total_value != add_texts([str(a.total_value) for a in doc.assets]):
        raise bad("values", "'total_value' is not the sum of the assets' values")
    return prices
