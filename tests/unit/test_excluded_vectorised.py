"""`excluded_summary` (verifier/inputs/liabilities_columns.py) adds up the excluded negative
amounts with numpy limbs; here against Python integers, amounts up to 2**128 - 1 in
magnitude (the reader's limit), including the carry cases -2**64 and -1. A total reaching
2**128 in magnitude is refused at the row where it gets there, and a summary carried over
from earlier rows (the streamed reader's batches) adds up to the summary of all rows."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attestations.encoding import AssetSpec
from verifier.base.errors import InputError
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
    negative, assets, hi, lo = _columns(rows)
    if not negative.any():
        return
    crossing = _first_crossing(rows)
    if crossing is not None:
        with pytest.raises(InputError) as info:
            excluded_summary(negative, assets, hi, lo, ASSETS)
        assert "reaches 2**128" in info.value.message
        assert info.value.value == str(crossing)
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


def _columns(rows):
    values = [v for v, _ in rows]
    hi = np.array([(v % M) >> 64 for v in values], np.uint64)
    lo = np.array([(v % M) & (2**64 - 1) for v in values], np.uint64)
    negative = np.array([v < 0 for v in values], dtype=bool)
    assets = np.array([a for _, a in rows], np.int16)
    return negative, assets, hi, lo


def _first_crossing(rows, start=(0, 0)):
    """The running excluded total (negative) of the first asset to reach -2**128, by Python
    integers in asset order, as the refusal names it; None when no asset's does."""
    for a in range(len(ASSETS)):
        running = start[a]
        for v, k in rows:
            if v < 0 and k == a:
                running += v
                if running <= -M:
                    return running
    return None


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(-(M - 1), -(M // 3)) | st.integers(-5, 5), st.integers(0, 1)),
        min_size=2,
        max_size=12,
    ),
    st.data(),
)
def test_carried_summaries_add_up_and_stay_capped(rows, data):
    cut = data.draw(st.integers(1, len(rows) - 1))
    head, tail = rows[:cut], rows[cut:]
    whole_crossing = _first_crossing(rows)
    negative, assets, hi, lo = _columns(head)
    if _first_crossing(head) is not None:
        return  # refused within the first part: the test above covers it
    carried = excluded_summary(negative, assets, hi, lo, ASSETS) if negative.any() else None
    negative, assets, hi, lo = _columns(tail)
    if whole_crossing is not None:
        with pytest.raises(InputError) as info:
            excluded_summary(negative, assets, hi, lo, ASSETS, carried=carried)
        before = tuple(
            int(carried["assets"][s.code]["total_base_units"])
            if carried and s.code in carried["assets"]
            else 0
            for s in ASSETS
        )
        assert info.value.value == str(_first_crossing(tail, before))
        return
    summary = excluded_summary(negative, assets, hi, lo, ASSETS, carried=carried)
    negative, assets, hi, lo = _columns(rows)
    if not negative.any():
        return
    assert summary == excluded_summary(negative, assets, hi, lo, ASSETS)


def test_a_total_of_exactly_2_128_minus_1_passes_and_one_more_unit_is_refused():
    rows = [(-(M // 2), 0), (-(M // 2 - 1), 0)]
    negative, assets, hi, lo = _columns(rows)
    summary = excluded_summary(negative, assets, hi, lo, ASSETS)
    assert summary["assets"]["BTC"]["total_base_units"] == str(-(M - 1))
    negative, assets, hi, lo = _columns([*rows, (-1, 1), (-1, 0)])
    with pytest.raises(InputError) as info:
        excluded_summary(negative, assets, hi, lo, ASSETS)
    assert info.value.value == str(-M)
