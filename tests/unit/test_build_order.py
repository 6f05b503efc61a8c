"""The fast orders of attestations/ordering.py equal one sort by the full key.

`sort_prefixes` packs the row number into the keys' low bits and sorts values; it must give
exactly ``argsort(keys, kind="stable")`` and the positions of equal keys, including when the
displaced bits tie (keys drawn from a few values, keys differing only in their low bits).
`account_order` must equal the spec's sort by the whole account hash and refuse a collision;
the build in input order must equal the build of the same rows already in account order.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attestations.build import Liabilities, build_tree
from attestations.encoding import AssetSpec
from attestations.ordering import account_order, sort_prefixes, tie_runs
from tests.unit.account_order_helper import in_account_order
from verifier.base.errors import InputError

# keys that tie often: a few high parts, low bits free or fixed
key = st.one_of(
    st.integers(0, 2**64 - 1),
    st.sampled_from([0, 1, 2**63, 2**64 - 1, 5 << 40]),
    st.tuples(st.integers(0, 3), st.integers(0, 2**20)).map(lambda t: (t[0] << 62) | t[1]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(key, max_size=300))
def test_sort_prefixes_is_a_stable_argsort(keys: list[int]) -> None:
    array = np.array(keys, dtype=np.uint64)
    order, same = sort_prefixes(array)
    expected = np.argsort(array, kind="stable")
    assert order.dtype == np.int64
    assert order.tolist() == expected.tolist()
    ordered = array[expected]
    assert same.tolist() == np.flatnonzero(ordered[1:] == ordered[:-1]).tolist()


@settings(max_examples=100, deadline=None)
@given(st.lists(key, max_size=300))
def test_sort_prefixes_on_two_threads(keys: list[int]) -> None:
    """The two-thread sort (one thread per half of the key space) gives the same order."""
    from attestations import ordering

    array = np.array(keys, dtype=np.uint64)
    saved = ordering.PARALLEL_SORT_MIN
    ordering.PARALLEL_SORT_MIN = 0
    try:
        order, _ = sort_prefixes(array)
    finally:
        ordering.PARALLEL_SORT_MIN = saved
    assert order.tolist() == np.argsort(array, kind="stable").tolist()


def test_sort_prefixes_by_hand() -> None:
    # 4 rows: 2 index bits; rows 0 and 2 differ only in those bits, rows 1 and 3 are equal
    keys = np.array([0b111, 9 << 8, 0b100, 9 << 8], dtype=np.uint64)
    order, same = sort_prefixes(keys)
    assert order.tolist() == [2, 0, 1, 3]
    assert same.tolist() == [2]


def test_tie_runs() -> None:
    assert tie_runs(np.array([], np.int64)) == []
    assert tie_runs(np.array([2, 3, 7], np.int64)) == [(2, 5), (7, 9)]


def _hashes(prefixes: list[bytes], tails: list[bytes]) -> np.ndarray:
    rows = [p + t for p, t in zip(prefixes, tails, strict=True)]
    return np.frombuffer(b"".join(rows), np.uint8).reshape(-1, 32)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([bytes(8), bytes([1]) * 8, bytes(7) + b"\x02"]),
            st.binary(min_size=24, max_size=24),
        ),
        min_size=1,
        max_size=40,
        unique_by=lambda t: t[1],
    )
)
def test_account_order_is_the_sort_by_whole_hash(rows: list[tuple[bytes, bytes]]) -> None:
    hashes = _hashes([p for p, _ in rows], [t for _, t in rows])
    offsets = np.zeros(len(rows) + 1, np.int64)
    got = account_order(hashes, offsets, np.zeros(0, np.uint8))
    assert got.tolist() == sorted(range(len(rows)), key=lambda i: hashes[i].tobytes())


def test_account_order_refuses_a_collision() -> None:
    hashes = _hashes([bytes(8)] * 3, [bytes([1]) * 24, bytes([2]) * 24, bytes([1]) * 24])
    offsets = np.array([0, 1, 2, 3], np.int64)
    data = np.frombuffer(b"abc", np.uint8)
    with pytest.raises(InputError, match="same account hash") as caught:
        account_order(hashes, offsets, data)
    assert caught.value.value == "c"


def test_input_order_build_equals_account_order_build(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Leaves hashed straight from the input's rows (no copy into account order) give the
    tree of the same rows already in account order: every file, split 1 and 2, both pool
    sizes (workers=2 takes the thread pool above the pool threshold)."""
    import pyarrow as pa


    n = 20_000
    rng = np.random.default_rng(11)
    ids = pa.array([f"user-{i}" for i in rng.permutation(n)])
    balances = rng.integers(0, 2**40, (n, 2, 2), dtype=np.uint64).astype(">u8")
    balances[:, :, 0] = 0
    assets = (AssetSpec("BTC", 8), AssetSpec("ETH", 18))
    secret = tmp_path / "secret.key"
    secret.write_text("cd" * 32 + "\n")
    secret.chmod(0o600)
    shuffled = Liabilities(assets=assets, account_ids=ids, balances=balances)
    ordered_ids, ordered_balances = in_account_order(shuffled, 1)
    in_order = Liabilities(assets=assets, account_ids=ordered_ids, balances=ordered_balances)
    for split, workers in ((1, 2), (2, 1)):
        trees = []
        for name, data in (("shuffled", shuffled), ("ordered", in_order)):
            out = tmp_path / f"{name}-{split}"
            build_tree(
                data,
                out,
                attestation_id="o",
                as_of="x",
                split=split,
                secret_file=secret,
                workers=workers,
            )
            trees.append(
                {
                    p.relative_to(out).as_posix(): p.read_bytes()
                    for p in sorted(out.rglob("*"))
                    if p.is_file() and p.name != "meta.json"
                }
            )
        assert trees[0] == trees[1]


def test_a_collision_stops_the_build_and_leaves_nothing(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Two ids with one account hash (forced here: every id hashes alike) are refused while
    the salts are still being derived; the background writes are waited for and the temp
    directory removed."""
    import pyarrow as pa

    from attestations import build

    def same_hash(prefix, offsets, data, *, threads=None, out=None):  # type: ignore[no-untyped-def]
        out[:] = 7
        return out

    monkeypatch.setattr(build, "hash_varlen", same_hash)
    n = 20_000
    data = Liabilities(
        assets=(AssetSpec("BTC", 8),),
        account_ids=pa.array([f"u{i}" for i in range(n)]),
        balances=np.ones((n, 1, 2), dtype=">u8"),
    )
    with pytest.raises(InputError, match="same account hash"):
        build_tree(data, tmp_path / "t", attestation_id="c", as_of="x", workers=2)
    assert list(tmp_path.iterdir()) == []
