"""Generate sample liabilities (long form CSV or JSON Lines) for the demo and benchmarks.

Deterministic for a seed. Balances follow a heavy-tailed distribution (most customers hold
little, a few hold a lot) and about one holding in ten is zero, as in real exchange data.
Amounts are produced as exact decimal strings by Arrow's decimal formatting from integer
base units: no float ever touches an amount.
"""

from __future__ import annotations

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


def _median(code: str) -> int:
    for name, _, median in SAMPLE_ASSETS:
        if name == code:
            return median
    return 1_000_000_000


def sample_table(accounts: int, assets: tuple[AssetSpec, ...], seed: int = 7) -> pa.Table:
    """A long-form table account_id, asset, amount (strings): every account holds every asset."""
    rng = np.random.default_rng(seed)
    ids = pa.array([f"acct-{i:08d}" for i in range(accounts)], type=pa.string())
    id_col = pa.concat_arrays([ids] * len(assets)) if assets else ids
    asset_chunks, amount_chunks = [], []
    for spec in assets:
        median = _median(spec.code)
        # heavy-tailed units: median * 2**N(0, 1.6); computed on integers via a 2**k table
        shifts = np.clip(np.round(rng.normal(0, 1.6, accounts)).astype(np.int64), -20, 20)
        base = rng.integers(median // 2 + 1, median + median // 2 + 2, accounts, dtype=np.int64)
        up = np.maximum(shifts, 0).astype(np.uint64)
        down = np.maximum(-shifts, 0).astype(np.uint64)
        b = base.astype(np.uint64)
        lo = (b << up) >> down
        # bits shifted past 64 go to the high half (only where the shift is up)
        hi = np.where(up > 0, b >> (np.uint64(64) - np.maximum(up, np.uint64(1))), 0).astype(
            np.uint64
        )
        zero = rng.random(accounts) < 0.1  # float-ok: a coin flip, not an amount
        lo[zero] = 0
        hi[zero] = 0
        raw = np.empty((accounts, 2), dtype="<u8")
        raw[:, 0], raw[:, 1] = lo, hi
        digits = pc.cast(
            pa.Array.from_buffers(
                pa.decimal128(38, 0), accounts, [None, pa.py_buffer(raw.tobytes())]
            ),
            pa.string(),
        )
        amount_chunks.append(_point(digits, spec.decimals))
        asset_chunks.append(pa.array([spec.code] * accounts, type=pa.string()))
    return pa.table(
        {
            "account_id": id_col,
            "asset": pa.concat_arrays(asset_chunks),
            "amount": pa.concat_arrays(amount_chunks),
        }
    )


def _point(digits: pa.Array, decimals: int) -> pa.Array:
    """Integer base-unit strings to whole-unit decimal strings ("150000000", 8 -> "1.50000000")."""
    if decimals == 0:
        return digits
    padded = pc.utf8_lpad(digits, width=decimals + 1, padding="0")
    whole = pc.utf8_slice_codeunits(padded, start=0, stop=-decimals)
    frac = pc.utf8_slice_codeunits(padded, start=-decimals)
    return pc.binary_join_element_wise(whole, frac, ".")


def write_sample(path: Path, accounts: int, assets: tuple[AssetSpec, ...], seed: int = 7) -> int:
    """Write a sample CSV (or JSON Lines for a .jsonl path); returns the number of rows."""
    table = sample_table(accounts, assets, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    if path.suffix.lower() in {".jsonl", ".ndjson"}:
        import json

        with tmp.open("w", encoding="utf-8") as handle:
            cols = [table.column(c).to_pylist() for c in ("account_id", "asset", "amount")]
            for a, s, v in zip(*cols, strict=True):
                handle.write(json.dumps({"account_id": a, "asset": s, "amount": v}) + "\n")
    else:
        pa_csv.write_csv(table, tmp, write_options=pa_csv.WriteOptions(quoting_style="needed"))
    tmp.replace(path)
    return int(table.num_rows)
