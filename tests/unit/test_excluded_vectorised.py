"""`excluded_summary` (verifier/inputs/liabilities_columns.py) adds up the excluded negative
amounts with numpy limbs; here against Python integers, amounts up to 2**128 - 1 in
magnitude (the reader's limit), including the carry cases -2**64 and -1."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from attestations.encoding import AssetSpec
from verifier.inputs.liabilities_columns import excluded_summary

ASSETS = (AssetSpec("BTC", 8), AssetSpec("ETH", 18))
M = 2**128


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(
                st.sampled_from([-1, -(2**64), -(2**64) - 1, -(M - 1), 0, 1, 2**64]),
                st.integers(-(M - 1), M - 1),
            ),
            st.integers(0, 1),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_totals_are_exact(rows):
    values = [v for v, _ in rows]
    hi = np.array([(v % M) >> 64 for v in values], np.uint64)
    lo = np.array([(v % M) & (2**64 - 1) for v in values], np.uint64)
    negative = np.array([v < 0 for v in values])
    assets = np.array([a for _, a in rows], np.int16)
    if not negative.any():
        return
    summary = excluded_summary(negative, assets, hi, lo, ASSETS)
    assert summary["rows"] == int(negative.sum())
    for a, spec in enumerate(ASSETS):
        mine = [v for v, k in rows if v < 0 and k == a]
        if mine:
            entry = summary["assets"][spec.code]
            assert (entry["rows"], entry["total_base_units"]) == (len(mine), str(sum(mine)))
        else:
            assert spec.code not in summary["assets"]
