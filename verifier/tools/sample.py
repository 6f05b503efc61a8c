"""Generate sample liabilities (long form CSV or JSON Lines) for the demo and benchmarks.

Deterministic for a seed. Balances follow a heavy-tailed distribution (most customers hold
little, a few hold a lot) and about one holding in ten is zero, as in real exchange data.
Amounts are produced as exact decimal strings by Arrow's decimal formatting from integer
base units: no float ever touches an amount. Up to `BLOCK_ACCOUNTS` accounts the file is one
table from one random stream; beyond that it is written block by block (each block of each
asset from its own stream, seeded by the seed, the asset's position and the block's), so a
file of any size is written in memory bounded by a block and Arrow's 2 GiB string columns are
never reached. The same seed still writes the same file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from attestations.encoding import AssetSpec

# code, decimals, typical holding in base units (log-normal median)
SAMPLE_ASSETS: tuple[tuple[str, int, int], ...] = (
    ("BTC", 8, 5_000_000),  # 0.05 BTC
    ("ETH", 18, 800_000_000_000_000_000),  # 0.8 ETH
    ("USDT", 6, 1_500_000_000),  # 1,500 USDT
    ("SOL", 9, 20_000_000_000),
    ("USDC", 6, 900_000_000),
    ("XRP", 6, 700_000_000),
    ("DOGE", 8, 300_000_000_000),
    ("ADA", 6, 1_000_000_000),
)


def sample_assets(count: int) -> tuple[AssetSpec, ...]:
    """The first `count` sample assets (more than 8 get synthetic codes T08, T09, …)."""
    specs = [AssetSpec(code, dec) for code, dec, _ in SAMPLE_ASSETS[:count]]
    specs += [AssetSpec(f"T{i:02d}", 6) for i in range(len(specs), count)]
    return tuple(sorted(specs, key=lambda s: s.code.encode()))


def assets_toml(assets: tuple[AssetSpec, ...]) -> str:
    return "".join(f"[assets.{a.code}]\ndecimals = {a.decimals}\n\n" for a in assets)


BLOCK_ACCOUNTS = 1_000_000  # accounts per written block above which the file is streamed


def _median(code: str) -> int:
    for name, _, median in SAMPLE_ASSETS:
        if name == code:
            return median
    return 1_000_000_000


def sample_table(accounts: int, assets: tuple[AssetSpec, ...], seed: int = 7) -> pa.Table:
    """A long-form table account_id, asset, amount (strings): every account holds every asset."""
    rng = np.random.default_rng(seed)
    ids = _ids(0, accounts)
    id_col = pa.concat_arrays([ids] * len(assets)) if assets else ids
    amounts = [_amounts(rng, spec, accounts) for spec in assets]
    return _table(id_col, assets, amounts, accounts)


def sample_blocks(
    accounts: int, assets: tuple[AssetSpec, ...], seed: int = 7
) -> Iterator[pa.Table]:
    """The rows of the sample file in order, as tables of at most `BLOCK_ACCOUNTS` rows.

    Up to `BLOCK_ACCOUNTS` accounts: `sample_table` itself (the files written before blocks
    existed are unchanged). Beyond: for each asset, each block of accounts from its own
    random stream (seed, asset position, block number).
    """
    if accounts <= BLOCK_ACCOUNTS:
        yield sample_table(accounts, assets, seed)
        return
    for position, spec in enumerate(assets):
        for block, start in enumerate(range(0, accounts, BLOCK_ACCOUNTS)):
            count = min(BLOCK_ACCOUNTS, accounts - start)
            rng = np.random.default_rng([seed, position, block])
            yield _table(_ids(start, count), (spec,), [_amounts(rng, spec, count)], count)


def _ids(start: int, count: int) -> pa.Array:
    return pa.array([f"acct-{i:08d}" for i in range(start, start + count)], type=pa.string())


def _table(
    id_col: pa.Array, assets: tuple[AssetSpec, ...], amounts: list[pa.Array], accounts: int
) -> pa.Table:
    asset_chunks = [pa.array([spec.code] * accounts, type=pa.string()) for spec in assets]
    return pa.table(
        {
            "account_id": id_col,
            "asset": pa.concat_arrays(asset_chunks) if asset_chunks else pa.array([], pa.string()),
            "amount": pa.concat_arrays(amounts) if amounts else pa.array([], pa.string()),
        }
    )


def _amounts(rng: np.random.Generator, spec: AssetSpec, accounts: int) -> pa.Array:
    """`accounts` heavy-tailed amounts of `spec` as whole-unit decimal strings."""
    median = _median(spec.code)
    # heavy-tailed units: median * 2**N(0, 1.6); computed on integers via a 2**k table
    shifts = np.clip(np.round(rng.normal(0, 1.6, accounts)).astype(np.int64), -20, 20)
    base = rng.integers(median // 2 + 1, median + median // 2 + 2, accounts, dtype=np.int64)
    up = np.maximum(shifts, 0).astype(np.uint64)
    down = np.maximum(-shifts, 0).astype(np.uint64)
    b = base.astype(np.uint64)
    lo = (b << up) >> down
    # bits shifted past 64 go to the high half (only where the shift is up)
    hi = np.where(up > 0, b >> (np.uint64(64) - np.maximum(up, np.uint64(1))), 0).astype(np.uint64)
    zero = rng.random(accounts) < 0.1  # float-ok: a coin flip, not an amount
    lo[zero] = 0
    hi[zero] = 0
    raw = np.empty((accounts, 2), dtype="<u8")
    raw[:, 0], raw[:, 1] = lo, hi
    digits = pc.cast(
        pa.Array.from_buffers(pa.decimal128(38, 0), accounts, [None, pa.py_buffer(raw.tobytes())]),
        pa.string(),
    )
    return _point(digits, spec.decimals)


def _point(digits: pa.Array, decimals: int) -> pa.Array:
    """Integer base-unit strings to whole-unit decimal strings ("150000000", 8 -> "1.50000000")."""
    if decimals == 0:
        return digits
    padded = pc.utf8_lpad(digits, width=decimals + 1, padding="0")
    whole = pc.utf8_slice_codeunits(padded, start=0, stop=-decimals)
    frac = pc.utf8_slice_codeunits(padded, start=-decimals)
    return pc.binary_join_element_wise(whole, frac, ".")


def write_sample(path: Path, accounts: int, assets: tuple[AssetSpec, ...], seed: int = 7) -> int:
    """Write a sample CSV (or JSON Lines for a .jsonl path); returns the number of rows.

    Written block by block to a temporary name beside `path`, renamed when complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    rows = 0
    try:
        if path.suffix.lower() in {".jsonl", ".ndjson"}:
            import json

            with tmp.open("w", encoding="utf-8") as handle:
                for table in sample_blocks(accounts, assets, seed):
                    cols = [table.column(c).to_pylist() for c in ("account_id", "asset", "amount")]
                    for a, s, v in zip(*cols, strict=True):
                        handle.write(json.dumps({"account_id": a, "asset": s, "amount": v}) + "\n")
                    rows += table.num_rows
        else:
            options = pa_csv.WriteOptions(quoting_style="needed")
            writer: pa_csv.CSVWriter | None = None
            try:
                for table in sample_blocks(accounts, assets, seed):
                    if writer is None:
                        writer = pa_csv.CSVWriter(tmp, table.schema, write_options=options)
                    writer.write_table(table)
                    rows += table.num_rows
            finally:
                if writer is not None:
                    writer.close()
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return rows
