"""The vectorised `--split` (attestations/build.py `split_balances`) against its definition.

The definition (docs/liabilities.md, the build's docstring): for each account and asset,
``parts - 1`` 64-bit draws from Philox keyed by the split seed, in C order over
(account, asset, cut), sorted; cut points ``v * r >> 64``; pieces are the differences. The
reference below is that definition written with Python integers, one account at a time (the
loop the build used before it was vectorised); the build must give the same bytes.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from attestations import build
from attestations.build import split_balances

MAX = (1 << 128) - 1


def reference_split(balances: np.ndarray, parts: int, seed: int) -> np.ndarray:
    count, assets, _ = balances.shape
    gen = np.random.Generator(np.random.Philox(key=seed & ((1 << 128) - 1)))
    cuts = np.sort(gen.integers(0, 2**64, size=(count, assets, parts - 1), dtype=np.uint64), axis=2)
    out = np.zeros((count * parts, assets, 2), dtype=">u8")
    for row in range(count):
        for a in range(assets):
            value = (int(balances[row, a, 0]) << 64) | int(balances[row, a, 1])
            previous = 0
            for part, r in enumerate([*cuts[row, a].tolist(), None]):
                point = value if r is None else (value * r) >> 64
                piece = point - previous
                previous = point
                out[row * parts + part, a, 0] = piece >> 64
                out[row * parts + part, a, 1] = piece & ((1 << 64) - 1)
    return out


def as_matrix(values: list[list[int]]) -> np.ndarray:
    out = np.zeros((len(values), len(values[0]), 2), dtype=">u8")
    for i, row in enumerate(values):
        for a, v in enumerate(row):
            out[i, a] = (v >> 64, v & ((1 << 64) - 1))
    return out


def to_ints(matrix: np.ndarray) -> list[list[int]]:
    return [[(int(h) << 64) | int(lo) for h, lo in row] for row in matrix]


amounts = st.one_of(
    st.just(0),
    st.just(MAX),
    st.integers(0, 2**64 - 1),
    st.integers(2**64 - 2, 2**64 + 2),
    st.integers(0, MAX),
)


@settings(max_examples=150, deadline=None)
@given(
    st.integers(1, 4).flatmap(
        lambda a: st.lists(st.lists(amounts, min_size=a, max_size=a), min_size=1, max_size=12)
    ),
    st.integers(2, 7),
    st.integers(0, 2**256 - 1),
)
def test_vectorised_split_is_the_definition(values, parts, seed):
    balances = as_matrix(values)
    got = split_balances(balances, parts, seed)
    assert got.tobytes() == reference_split(balances, parts, seed).tobytes()
    # and the parts add up to every balance, exactly
    pieces = to_ints(got)
    for row, account in enumerate(values):
        for a, value in enumerate(account):
            assert sum(pieces[row * parts + p][a] for p in range(parts)) == value


def test_blocks_draw_the_same_stream_as_one_draw(monkeypatch):
    """Rows split in several blocks give the bytes of one block (the Philox stream is shared)."""
    rng = np.random.default_rng(3)
    values = [[int(x) for x in rng.integers(0, 2**62, size=3)] for _ in range(37)]
    balances = as_matrix(values)
    whole = split_balances(balances, 3, 99)
    monkeypatch.setattr(build, "SPLIT_BLOCK", 5)
    assert split_balances(balances, 3, 99).tobytes() == whole.tobytes()
    assert whole.tobytes() == reference_split(balances, 3, 99).tobytes()


def test_hand_figures():
    """v = 100, r = 2**63 (a half): the cut is 50, the pieces 50 and 50 — by hand."""
    hi, lo = build._cut_point(
        np.array([0], np.uint64), np.array([100], np.uint64), np.array([1 << 63], np.uint64)
    )
    assert (int(hi[0]), int(lo[0])) == (0, 50)
    # the largest operands: v = 2**128 - 1, r = 2**64 - 1, against Python integers
    v = MAX
    r = 2**64 - 1
    hi, lo = build._cut_point(
        np.array([v >> 64], np.uint64),
        np.array([v & (2**64 - 1)], np.uint64),
        np.array([r], np.uint64),
    )
    assert (int(hi[0]) << 64) | int(lo[0]) == (v * r) >> 64
    a_hi, a_lo = build._mul64(np.array([2**64 - 1], np.uint64), np.array([2**64 - 1], np.uint64))
    assert (int(a_hi[0]) << 64) | int(a_lo[0]) == (2**64 - 1) ** 2
