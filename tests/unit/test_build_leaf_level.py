"""Leaves gathered and hashed in one pass (attestations/levels.py `leaf_level`, the native
`_sha256batch.leaf_level`) give the records the spec defines, on both backends.

The definition is attestations/encoding.py's `leaf_hash` / `pad_hash` per leaf, written out
here leaf by leaf; the native pass is also compared with the numpy gathers it replaces on
random batches, and every buffer it is handed with a wrong length or an index out of range
is refused (ValueError), never read past.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attestations import hashing
from attestations.encoding import leaf_hash, pad_hash
from attestations.levels import leaf_level

try:
    from attestations import _sha256batch as native  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - the build had no compiler or libssl-dev
    native = None

needs_native = pytest.mark.skipif(native is None, reason="native extension not built")


@pytest.fixture(params=["native", "python"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "native":
        if native is None:
            pytest.skip("native extension not built")
        monkeypatch.setattr(hashing, "NATIVE", native)
    else:
        monkeypatch.setattr(hashing, "NATIVE", None)
    return str(request.param)


Columns = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _columns(rows: int, parts: int, assets: int, pads: int, seed: int) -> Columns:
    rng = np.random.default_rng(seed)
    salts = rng.integers(0, 256, (rows * parts, 32), dtype=np.uint8)
    hashes = rng.integers(0, 256, (rows, 32), dtype=np.uint8)
    balances = rng.integers(0, 2**63, (rows * parts, assets, 2), dtype=np.uint64).astype(">u8")
    pad_salts = rng.integers(0, 256, (pads, 32), dtype=np.uint8)
    return salts, hashes, balances, pad_salts


def _expected(
    index: np.ndarray,
    salts: np.ndarray,
    hashes: np.ndarray,
    balances: np.ndarray,
    pad_salts: np.ndarray,
    parts: int,
) -> list[bytes]:
    """The spec, leaf by leaf."""
    real, assets = len(salts), balances.shape[1]
    out = []
    for j in index.tolist():
        if j < real:
            values = [(int(h) << 64) | int(v) for h, v in balances[j].tolist()]
            sums = balances[j].tobytes()
            out.append(leaf_hash(salts[j].tobytes(), hashes[j // parts].tobytes(), values) + sums)
        else:
            out.append(pad_hash(pad_salts[j - real].tobytes()) + bytes(16 * assets))
    return out


def test_by_hand_one_account_leaf_and_one_padding_leaf(backend: str) -> None:
    salts = np.frombuffer(bytes(range(32)), np.uint8).reshape(1, 32)
    hashes = np.frombuffer(bytes([9]) * 32, np.uint8).reshape(1, 32)
    balances = np.array([[[0, 5], [1, 0]]], dtype=">u8")  # 5 and 2**64
    pad_salts = np.frombuffer(bytes([7]) * 32, np.uint8).reshape(1, 32)
    got = leaf_level(np.array([1, 0]), salts, hashes, balances, pad_salts, 1, 2)
    assert got.shape == (2, 64)
    assert got[0].tobytes() == pad_hash(bytes([7]) * 32) + bytes(32)
    assert got[1, :32].tobytes() == leaf_hash(bytes(range(32)), bytes([9]) * 32, (5, 2**64))
    assert got[1, 32:].tobytes() == (5).to_bytes(16, "big") + (2**64).to_bytes(16, "big")


@settings(max_examples=40, deadline=None)
@given(
    rows=st.integers(1, 12),
    parts=st.integers(1, 3),
    assets=st.integers(1, 4),
    pads=st.integers(0, 6),
    seed=st.integers(0, 2**32 - 1),
)
def test_both_backends_give_the_spec_records(
    rows: int, parts: int, assets: int, pads: int, seed: int
) -> None:
    salts, hashes, balances, pad_salts = _columns(rows, parts, assets, pads, seed)
    index = np.random.default_rng(seed).permutation(rows * parts + pads).astype(np.int64)
    expected = _expected(index, salts, hashes, balances, pad_salts, parts)
    saved = hashing.NATIVE
    try:
        for module in (native, None) if native is not None else (None,):
            hashing.NATIVE = module
            got = leaf_level(index, salts, hashes, balances, pad_salts, parts, assets)
            assert [row.tobytes() for row in got] == expected
    finally:
        hashing.NATIVE = saved


def test_an_empty_range(backend: str) -> None:
    salts, hashes, balances, pad_salts = _columns(2, 1, 1, 1, 0)
    got = leaf_level(np.zeros(0, np.int64), salts, hashes, balances, pad_salts, 1, 1)
    assert got.shape == (0, 48)


@pytest.mark.parametrize("bad", [-1, 4, 2**62])
def test_an_index_out_of_range_is_refused(backend: str, bad: int) -> None:
    salts, hashes, balances, pad_salts = _columns(2, 1, 1, 2, 0)
    with pytest.raises(ValueError, match="out of range"):
        leaf_level(np.array([0, bad]), salts, hashes, balances, pad_salts, 1, 1)


@needs_native
def test_native_refuses_mismatched_buffers() -> None:
    salts, hashes, balances, pad_salts = _columns(4, 2, 2, 1, 0)
    enc = balances.view(np.uint8).reshape(8, -1)
    index = np.arange(3, dtype=np.int64)
    out = np.empty((3, 64), np.uint8)
    native.leaf_level(out, index, salts, hashes, enc, pad_salts, 2, 2)  # the right lengths
    bad_calls = [
        (np.empty((3, 63), np.uint8), index, salts, hashes, enc, pad_salts, 2, 2),
        (out, index, salts, hashes[:3], enc, pad_salts, 2, 2),  # hashes != real / parts
        (out, index, salts, hashes, enc[:7], pad_salts, 2, 2),
        (out, index, salts[:, :31].copy(), hashes, enc, pad_salts, 2, 2),
        (out, index.astype(np.int32), salts, hashes, enc, pad_salts, 2, 2),
        (out, index, salts, hashes, enc, pad_salts[:, :5].copy(), 2, 2),
        (out, index, salts, hashes, enc, pad_salts, 0, 2),
        (out, index, salts, hashes, enc, pad_salts, 2, 256),
        (out, index, salts[:7], hashes, enc[:7], pad_salts, 2, 2),  # real not a multiple
    ]
    for args in bad_calls:
        with pytest.raises(ValueError):
            native.leaf_level(*args)


def test_hashes_and_salts_into_a_given_array(backend: str) -> None:
    """Phase A writes into the build's own arrays (`out=`): the same bytes as a new array;
    an array of the wrong shape, type or layout is refused."""
    ids = [b"alice", b"bob", b"", b"x" * 300]
    offsets = np.concatenate([[0], np.cumsum([len(x) for x in ids])]).astype(np.int64)
    data = np.frombuffer(b"".join(ids), np.uint8)
    rows = np.full((6, 32), 1, np.uint8)
    hashing.hash_varlen(b"\x04", offsets, data, out=rows[1:5])
    assert rows[1:5].tobytes() == hashing.hash_varlen(b"\x04", offsets, data).tobytes()
    assert rows[0].tobytes() == rows[5].tobytes() == bytes([1]) * 32  # nothing else touched
    salts = np.empty((8, 32), np.uint8)
    hashing.hmac_varlen(b"k" * 32, offsets, data, 2, out=salts)
    assert salts.tobytes() == hashing.hmac_varlen(b"k" * 32, offsets, data, 2).tobytes()
    strided = np.empty((8, 32), np.uint8)[::2]
    bads: list[Any] = [np.empty((3, 32), np.uint8), np.empty((4, 32), np.int8), strided]
    for bad in bads:
        with pytest.raises(ValueError, match="out must be"):
            hashing.hash_varlen(b"\x04", offsets, data, out=bad)
