"""The native account dictionary (verifier/inputs/_ids.c) gives exactly Arrow's
dictionary_encode: the same distinct values in first-occurrence order and the same index
for every row, whatever the chunking (sliced chunks with an offset, large_string, empty and
long ids, unicode, many repeats), so the reader refuses the same row first and builds the
same root.

Hand-computed values, the Encoder's own refusals (offsets outside the data, short
buffers, more distinct values than its limit), hypothesis columns compared with Arrow,
then whole reads and builds on both paths. The native tests skip where the extension is
not built (no compiler). `make test` runs this file a second time with POR_NATIVE=0.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attestations.build import build_tree
from verifier.base.errors import InputError
from verifier.inputs import liabilities_columns as lc
from verifier.inputs import native
from verifier.inputs.assets import read_assets
from verifier.inputs.liabilities import read_liabilities
from verifier.inputs.liabilities_lines import Source

try:
    from verifier.inputs import _ids  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - the build had no C compiler
    _ids = None

needs_native = pytest.mark.skipif(_ids is None, reason="native account dictionary not built")


def _source(rows: int) -> Source:
    return Source(path=Path("liabilities.csv"), kind="csv", physical_lines=rows + 1, rows=rows)


def _encode(
    module: object, column: pa.ChunkedArray
) -> tuple[pa.Array, list[int]] | tuple[str, int | None]:
    """`dictionary` of `column` with `native.IDS` set to `module`: (values, indices), or the
    refusal (message, line)."""
    saved = native.IDS
    native.IDS = module  # type: ignore[assignment]
    try:
        values, rows = lc.dictionary(_source(len(column)), column, "account id")
    except InputError as err:
        return (str(err), err.line)
    finally:
        native.IDS = saved
    return values, rows.tolist()


def _chunked(ids: Sequence[str | None], cuts: list[int], wide: bool, pad: int) -> pa.ChunkedArray:
    """`ids` as chunks cut at `cuts`, each a slice (offset `pad`) of a longer array."""
    kind = pa.large_string() if wide else pa.string()
    bounds = sorted({0, len(ids), *cuts})
    chunks = [
        pa.array(["x"] * pad + list(ids[a:b]) + ["y"], kind).slice(pad, b - a)
        for a, b in itertools.pairwise(bounds)
    ]
    return pa.chunked_array(chunks, kind)


def _same(column: pa.ChunkedArray) -> None:
    """Native and Arrow agree exactly on `column`: values (type included) and indices."""
    got, want = _encode(_ids, column), _encode(None, column)
    if isinstance(want[0], str):
        assert got == want
        return
    assert isinstance(got[0], pa.Array) and isinstance(want[0], pa.Array)
    assert got[0].type == want[0].type
    assert got[0].equals(want[0]), (got[0].to_pylist(), want[0].to_pylist())
    assert got[1] == want[1]


# ----------------------------------------------------------------------------- by hand


@needs_native
def test_hand_computed_first_occurrence_order() -> None:
    column = _chunked(["b", "a", "b", "", "c", "a", ""], [2, 5], wide=False, pad=3)
    values, rows = _encode(_ids, column)
    assert isinstance(values, pa.Array)
    assert values.to_pylist() == ["b", "a", "", "c"]
    assert rows == [0, 1, 0, 2, 3, 1, 2]


@needs_native
def test_encoder_by_hand() -> None:
    data = b"bob" + b"al" + b"bob" + b"al"
    offsets = np.array([0, 3, 5, 8, 10], np.int32)
    out = np.full(4, -1, np.int32)
    encoder = _ids.Encoder(0, 7)  # grows from the smallest table
    assert encoder.add(offsets.tobytes(), data, 0, 4, False, out) == 2
    assert out.tolist() == [0, 1, 0, 1]
    offs, bytes_ = encoder.values(True)
    assert np.frombuffer(offs, np.int64).tolist() == [0, 3, 5] and bytes_ == b"bobal"
    # a second chunk continues the numbering
    more = np.array([0, 2, 5], np.int32)
    out2 = np.full(2, -1, np.int32)
    assert encoder.add(more.tobytes(), b"alcat", 0, 2, False, out2) == 3
    assert out2.tolist() == [1, 2]
    assert encoder.values(False)[1] == b"bobalcat" and encoder.distinct == 3


@needs_native
@pytest.mark.parametrize(
    ("offsets", "data", "start", "count", "out", "match"),
    [
        ([0, 3, 9], b"abcdef", 0, 2, 2, "row 1: offsets outside the data"),
        ([0, 4, 2], b"abcdef", 0, 2, 2, "row 1: offsets outside the data"),
        ([-1, 2], b"abcdef", 0, 1, 1, "row 0: offsets outside the data"),
        ([0, 2], b"abcdef", 0, 2, 2, "offsets shorter than the rows"),
        ([0, 2, 4], b"abcdef", 1, 2, 2, "offsets shorter than the rows"),
        ([0, 2, 4], b"abcdef", 0, 2, 1, "out shorter than the rows"),
        ([0, 2, 4], b"abcdef", -1, 1, 1, "negative start or count"),
    ],
)
def test_encoder_refuses_bad_buffers(
    offsets: list[int], data: bytes, start: int, count: int, out: int, match: str
) -> None:
    encoder = _ids.Encoder(4, 1)
    with pytest.raises(ValueError, match=match):
        encoder.add(
            np.array(offsets, np.int32).tobytes(),
            data,
            start,
            count,
            False,
            np.zeros(out, np.int32),
        )


@needs_native
def test_encoder_unusable_after_bad_offsets() -> None:
    encoder = _ids.Encoder(4, 1)
    with pytest.raises(ValueError):
        encoder.add(
            np.array([0, 1, 99], np.int32).tobytes(), b"ab", 0, 2, False, np.zeros(2, np.int32)
        )
    with pytest.raises(RuntimeError, match="unusable"):
        encoder.values(False)


@needs_native
def test_encoder_refuses_read_only_out_and_bad_arguments() -> None:
    encoder = _ids.Encoder(4, 1)
    with pytest.raises(TypeError):
        encoder.add(np.array([0, 1], np.int32).tobytes(), b"a", 0, 1, False, bytes(4))
    with pytest.raises(ValueError, match="limit"):
        _ids.Encoder(4, 1, limit=2**31)
    with pytest.raises(ValueError, match="expected"):
        _ids.Encoder(-1, 1)


@needs_native
def test_limit_raises_instead_of_wrapping() -> None:
    encoder = _ids.Encoder(4, 1, limit=3)
    offsets = np.array([0, 1, 2, 3, 4], np.int32).tobytes()
    with pytest.raises(OverflowError, match="more than 3 distinct"):
        encoder.add(offsets, b"abcd", 0, 4, False, np.zeros(4, np.int32))
    ok = _ids.Encoder(4, 1, limit=3)
    assert ok.add(offsets, b"abca", 0, 4, False, np.zeros(4, np.int32)) == 3


@needs_native
def test_too_many_ids_is_an_input_error_naming_the_file() -> None:
    class Small:
        LIMIT = 2

        @staticmethod
        def Encoder(expected: int, seed: int) -> object:
            return _ids.Encoder(expected, seed, limit=2)

    column = pa.chunked_array([pa.array(["a", "b", "a", "c"])])
    message, _ = _encode(Small, column)
    assert isinstance(message, str)
    assert "more than 2 distinct account ids" in message and "liabilities.csv" in message


@needs_native
def test_values_outlive_the_chunks_they_point_into() -> None:
    """The Encoder holds each chunk's data buffer: the values it builds after the column
    is gone are still the ids (no use after free)."""
    encoder = _ids.Encoder(4, 3)
    out = np.zeros(3, np.int32)
    chunk = pa.array(["long-id-" * 40, "z", "long-id-" * 40])
    _, offsets, data = chunk.buffers()
    encoder.add(offsets, data, 0, 3, False, out)
    del chunk, offsets, data
    gc.collect()
    filler = [bytes(1000) for _ in range(2000)]  # reuse freed memory, if any was freed
    offs, bytes_ = encoder.values(False)
    del filler
    assert bytes_ == ("long-id-" * 40 + "z").encode() and out.tolist() == [0, 1, 0]
    assert np.frombuffer(offs, np.int32).tolist() == [0, 320, 321]


@needs_native
def test_any_seed_gives_the_same_encoding() -> None:
    """The seed changes only where values sit in the table, never the result."""
    ids = [f"{i % 97}-{'é' * (i % 5)}" for i in range(3000)]
    offsets = np.cumsum([0] + [len(s.encode()) for s in ids]).astype(np.int64)
    data = "".join(ids).encode()
    results = set()
    for seed in (0, 1, 2**64 - 1, int.from_bytes(os.urandom(8), "little")):
        out = np.zeros(len(ids), np.int32)
        encoder = _ids.Encoder(0, seed)
        encoder.add(offsets.tobytes(), data, 0, len(ids), True, out)
        results.add((out.tobytes(), encoder.values(True)))
    assert len(results) == 1


# ----------------------------------------------------------------------------- properties

_ID = st.one_of(
    st.sampled_from(["", "a", "alice", "bob", "b\x00b", "ü", "客户-1"]),
    st.text(max_size=20),
    st.text("ab", min_size=15, max_size=18),  # around the 16-byte step of the hash
    st.text(min_size=250, max_size=300),  # over MAX_ACCOUNT_ID_BYTES
)


@needs_native
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(_ID, min_size=1, max_size=8),
    st.lists(st.integers(0, 7), min_size=1, max_size=60),
    st.lists(st.integers(0, 60), max_size=4),
    st.booleans(),
    st.integers(0, 3),
)
def test_native_equals_arrow(
    pool: list[str], picks: list[int], cuts: list[int], wide: bool, pad: int
) -> None:
    """Many repeats of a few ids, cut into chunks that are slices of longer arrays."""
    ids = [pool[p % len(pool)] for p in picks]
    _same(_chunked(ids, [c for c in cuts if c <= len(ids)], wide, pad))


@needs_native
@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=40), min_size=1, max_size=200), st.booleans())
def test_native_equals_arrow_mostly_distinct(ids: list[str], wide: bool) -> None:
    _same(_chunked(ids, [len(ids) // 3, len(ids) // 2], wide, 1))


@needs_native
@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.text(max_size=5)), min_size=1, max_size=30),
    st.lists(st.integers(0, 30), max_size=3),
)
def test_missing_id_named_alike(ids: list[str | None], cuts: list[int]) -> None:
    _same(_chunked(ids, [c for c in cuts if c <= len(ids)], False, 2))


@needs_native
def test_empty_chunks_and_a_large_column() -> None:
    empty = pa.chunked_array([], pa.string())
    assert _encode(_ids, empty)[0].equals(_encode(None, empty)[0])  # type: ignore[union-attr]
    ids = [f"acct-{i * 7919 % 40_000}" for i in range(120_000)]
    parts = [pa.array([], pa.string()), pa.array(ids[:50_000]), pa.array(ids[50_000:])]
    _same(pa.chunked_array(parts))


# ----------------------------------------------------------------------------- whole reader


def _write(tmp_path: Path, lines: list[str]) -> tuple[Path, Path]:
    assets = tmp_path / "assets.toml"
    assets.write_text("[assets.BTC]\ndecimals = 8\n\n[assets.ETH]\ndecimals = 18\n")
    csv = tmp_path / "l.csv"
    csv.write_text("\n".join(["account_id,asset,amount", *lines]) + "\n")
    return csv, assets


def _both_paths(csv: Path, assets: Path) -> list[object]:
    results: list[object] = []
    for module in ([_ids] if _ids is not None else []) + [None]:
        saved, native.IDS = native.IDS, module
        try:
            got = read_liabilities(csv, read_assets(assets), negative="exclude")
            results.append((got.balances.tobytes(), got.account_ids.to_pylist()))
        except InputError as err:
            results.append((str(err), err.line, err.value))
        finally:
            native.IDS = saved
    return results


@pytest.mark.parametrize(
    "bad",
    [
        "" + ",BTC,1",  # empty id
        "x" * 257 + ",BTC,1",  # too long
        '"a\x00b",BTC,1',  # NUL
        "acct-3,BTC,2",  # duplicate (account, asset)
    ],
)
def test_read_refuses_the_same_row_on_both_paths(tmp_path: Path, bad: str) -> None:
    lines = [f"acct-{i},{'BTC' if i % 2 else 'ETH'},{i}.5" for i in range(40)]
    lines[25:25] = [bad]
    results = _both_paths(*_write(tmp_path, lines))
    assert all(r == results[0] for r in results)
    assert isinstance(results[0], tuple) and isinstance(results[0][0], str)
    assert "l.csv" in results[0][0]


def test_build_gives_the_same_root_on_both_paths(tmp_path: Path) -> None:
    lines = []
    for i in range(3000):
        lines.append(f"acct-{i * 31 % 3000},BTC,{i}.{i:08d}")
        lines.append(f"acct-{i * 31 % 3000},ETH,{i * 3}.5")
    csv, assets = _write(tmp_path, lines)
    secret = tmp_path / "secret.key"
    secret.write_text("ab" * 32)
    secret.chmod(0o600)
    roots = []
    for module in ([_ids] if _ids is not None else []) + [None]:
        saved, native.IDS = native.IDS, module
        try:
            data = read_liabilities(csv, read_assets(assets))
        finally:
            native.IDS = saved
        out = tmp_path / f"tree-{module is None}"
        result = build_tree(data, out, attestation_id="ids", as_of="x", secret_file=secret)
        roots.append((result.root, data.account_ids.to_pylist()[:3]))
    assert all(r == roots[0] for r in roots)
    assert roots[0][1] == ["acct-0", "acct-31", "acct-62"]  # first-occurrence order


# ----------------------------------------------------------------------------- info


def test_ids_info_says_which_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    info = native.native_info()
    assert set(info) == {"hashing", "amounts", "ids"}
    assert info["ids"]["backend"] == ("native" if native.IDS is not None else "python")
    assert native.ids_info(SimpleNamespace()) == {"backend": "native"}  # type: ignore[arg-type]
    monkeypatch.setenv("POR_NATIVE", "0")
    assert native.ids_info(None) == {"backend": "python", "reason": "POR_NATIVE=0"}
    assert native._load("_ids") is None
    monkeypatch.setenv("POR_NATIVE", "1")
    assert "not built" in native.ids_info(None)["reason"]


@needs_native
@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.int8, ">i4", np.uint8])
def test_out_must_be_native_int32(dtype: Any) -> None:
    offsets = np.array([0, 1, 2], np.int32).tobytes()
    out = np.zeros(8, dtype)
    with pytest.raises(ValueError, match=r"int32|shorter"):
        _ids.Encoder(4, 1).add(offsets, b"ab", 0, 2, False, out)
    assert not out.any()  # nothing written


@needs_native
def test_add_while_values_copies_is_refused_not_a_crash() -> None:
    """values() copies with the GIL released; an add() from another thread meanwhile would
    grow what it copies (an outside tester crashed the process so). Either call may win;
    the other is refused with RuntimeError, and the values are never torn."""
    count = 300_000
    first = pa.array([f"a{i:07d}-{'x' * 40}" for i in range(count)])
    more = pa.array([f"b{i:07d}" for i in range(count)])
    for trial in range(4):
        encoder = _ids.Encoder(16, trial)
        encoder.add(*first.buffers()[1:], 0, count, False, np.zeros(count, np.int32))
        got: dict[str, object] = {}
        started = threading.Event()

        def copy(
            encoder: Any = encoder, got: dict[str, object] = got, started: Any = started
        ) -> None:
            started.set()
            try:
                got["values"] = encoder.values(False)
            except RuntimeError as exc:
                got["values"] = exc

        thread = threading.Thread(target=copy)
        thread.start()
        started.wait()
        with contextlib.suppress(RuntimeError):  # the other thread was copying
            encoder.add(*more.buffers()[1:], 0, count, False, np.zeros(count, np.int32))
        thread.join()
        values = got["values"]
        if not isinstance(values, RuntimeError):
            assert isinstance(values, tuple)
            ends = np.frombuffer(values[0], np.int32)
            assert len(ends) - 1 in {count, 2 * count}
            assert ends[-1] == len(values[1])
