"""The native amount parser (verifier/inputs/_amounts.c) gives the Arrow path's base units and
its refusals: the same error (message, line, value) for the same first bad row.

Hand-computed values first, then hypothesis columns mixing valid, boundary (2**128 - 1,
2**128, negative), long (over SHORT_AMOUNT characters), over-precise and malformed amounts
over several assets and Arrow chunks, converted by both backends. The native tests skip
where the extension is not built (no compiler); the Python path is tested everywhere.
`make test` runs this file a second time with POR_NATIVE=0.
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attestations.encoding import MAX_SUM, AssetSpec
from attestations.proofs import format_units
from verifier.base.errors import InputError
from verifier.inputs import liabilities_amounts as la
from verifier.inputs.assets import read_assets
from verifier.inputs.liabilities import read_liabilities
from verifier.inputs.liabilities_lines import Source

try:
    from verifier.inputs import _amounts as native  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - the build had no C compiler
    native = None

needs_native = pytest.mark.skipif(native is None, reason="native amount parser not built")


def _source(rows: int) -> Source:
    return Source(path=Path("liabilities.csv"), kind="csv", physical_lines=rows + 1, rows=rows)


def _convert(
    module: object,
    texts: list[str],
    which: list[int],
    assets: tuple[AssetSpec, ...],
    cuts: list[int] | None = None,
    check_totals: bool = True,
) -> tuple[list[int], list[bool]] | tuple[str, int | None, str | None]:
    """(signed units, negative flags) of every row, or the refusal (message, line, value),
    converted with `la.NATIVE` set to `module`."""
    bounds = sorted({0, len(texts), *(cuts or [])})
    column = pa.chunked_array(
        [pa.array(texts[a:b], pa.string()) for a, b in itertools.pairwise(bounds)],
        pa.string(),
    )
    saved = la.NATIVE
    la.NATIVE = module  # type: ignore[assignment]
    try:
        with ThreadPoolExecutor(2) as pool:
            hi, lo, neg = la.convert_amounts(
                _source(len(texts)),
                pool,
                column,
                np.array(which, dtype=np.int16),
                assets,
                lambda *_: None,
                check_totals=check_totals,
            )
    except InputError as err:
        return (str(err), err.line, err.value)
    finally:
        la.NATIVE = saved
    units = [
        ((int(h) << 64) | int(v)) - (MAX_SUM if n else 0)
        for h, v, n in zip(hi.tolist(), lo.tolist(), neg.tolist(), strict=True)
    ]
    return units, [bool(n) for n in neg.tolist()]


BTC, ETH, USDT = AssetSpec("BTC", 8), AssetSpec("ETH", 18), AssetSpec("USDT", 6)


# ----------------------------------------------------------------------------- by hand


@pytest.mark.parametrize("module", ["native", "python"])
def test_hand_computed_units(module: str) -> None:
    if module == "native" and native is None:
        pytest.skip("native amount parser not built")
    texts = ["1.5", "-0.000", "0.00000001", ".5", "5.", "-.25", "000123.4500000000000", "0"]
    got = _convert(native if module == "native" else None, texts, [0] * len(texts), (BTC,))
    assert got == (
        [150_000_000, 0, 1, 50_000_000, 500_000_000, -25_000_000, 12_345_000_000, 0],
        [False, False, False, False, False, True, False, False],
    )


@needs_native
def test_hand_computed_boundaries_eth() -> None:
    top = "340282366920938463463.374607431768211455"  # (2**128 - 1) / 10**18
    over = "340282366920938463463.374607431768211456"
    refused = _convert(native, ["1.0000000000000000001", "1"], [0, 0], (ETH,))
    assert refused[1:] == (2, "1.0000000000000000001")
    assert "more decimal places than ETH allows (18)" in str(refused[0])
    assert _convert(native, [top, "-" + top], [0, 0], (ETH,)) == (
        [MAX_SUM - 1, -(MAX_SUM - 1)],
        [False, True],
    )
    refused = _convert(native, ["1", over], [0, 0], (ETH,))
    assert refused[1:] == (3, over)
    assert "amount reaches 2**128 base units: " in str(refused[0])
    refused = _convert(native, ["-" + over], [0], (ETH,))
    assert refused[1:] == (2, "-" + over)
    assert "amount reaches 2**128 base units in magnitude" in str(refused[0])


@needs_native
def test_refusal_order_matches_the_arrow_path() -> None:
    """Syntax beats places; a long refused amount beats every per-asset refusal; within the
    assets, the first asset's total beats the second asset's over-precise row."""
    half = format_units(MAX_SUM // 2 + 1, 6)
    long_big = "0" * 50 + "9" * 40
    cases: list[tuple[list[str], list[int]]] = [
        (["1.123456789", "x"], [0, 0]),
        (["1.123456789", long_big], [0, 1]),
        (["1", "1.123456789", half, half], [2, 1, 0, 0]),
        (["", "x"], [0, 0]),
    ]
    for texts, which in cases:
        assert _convert(native, texts, which, (USDT, BTC, ETH)) == _convert(
            None, texts, which, (USDT, BTC, ETH)
        ), texts
    refused = _convert(native, ["1", "1.123456789", half, half], [2, 1, 0, 0], (USDT, BTC, ETH))
    assert refused[1:] == (5, str(2 * (MAX_SUM // 2 + 1)))
    assert "the total of USDT reaches 2**128 base units at this row" in str(refused[0])


@needs_native
def test_bad_buffers_raise_value_error_not_crash() -> None:
    column = pa.array(["1", "2"], pa.string())
    _, offsets, data = column.buffers()
    out = [np.zeros(2, np.uint64), np.zeros(2, np.uint64)]
    flags = [np.zeros(2, np.uint8), np.zeros(2, np.uint8)]
    totals = np.zeros(3, np.uint64)
    good = {"which": np.zeros(2, np.int16), "decimals": b"\x08"}

    def call(**over: object) -> object:
        args = {**good, **over}
        return native.convert(
            offsets, data, 0, over.get("count", 2), False, args["which"], args["decimals"],
            *out, *flags, totals,
        )  # fmt: skip

    assert call() == 0
    with pytest.raises(ValueError, match="asset index"):
        call(which=np.array([0, 1], np.int16))
    with pytest.raises(ValueError, match="offsets"):
        call(count=5)
    with pytest.raises(ValueError, match="decimals"):
        call(decimals=b"\x40")
    with pytest.raises(ValueError, match="asset_index"):
        call(which=np.zeros(1, np.int16))


def test_backend_info_says_which_parser() -> None:
    info = la.backend_info()
    assert info["backend"] == ("native" if la.NATIVE is not None else "python")
    if la.NATIVE is None:
        assert "reason" in info


# ----------------------------------------------------------------------------- properties

_GARBAGE = ["", "abc", "1e5", " 1", "+1", "1..2", ".", "-", "1.2.3", "\u0663", "0x10", "1 ", "--1"]


@st.composite
def _amount(draw: st.DrawFn, decimals: int) -> str:
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(st.sampled_from(_GARBAGE))
    if kind in (1, 2):  # the 2**128 boundary, either side, with zeros around it
        units = MAX_SUM + draw(st.integers(-2, 1))
        text = format_units(units, decimals)
        text = "0" * draw(st.integers(0, 3)) * draw(st.sampled_from([1, 15])) + text
        return ("-" if draw(st.booleans()) else "") + text
    if kind == 3:  # half of 2**128: two of them overflow an asset's total
        return format_units(MAX_SUM // 2 + draw(st.integers(0, 1)), decimals)
    if kind == 4:  # exactly as many places as the asset allows, or one more
        places = decimals + draw(st.integers(0, 1))
        frac = draw(st.text("0123456789", min_size=places, max_size=places))
        return (
            draw(st.sampled_from(["", "-", "0", "12"])) + "." + frac + "0" * draw(st.integers(0, 2))
        )
    sign = draw(st.sampled_from(["", "", "-"]))
    whole = draw(st.text("0123456789", max_size=draw(st.sampled_from([3, 25, 45]))))
    frac = draw(st.text("0123456789", max_size=draw(st.sampled_from([4, decimals + 2, 40]))))
    point = draw(st.booleans()) or bool(frac)
    return sign + whole + ("." if point else "") + frac


@st.composite
def _column(draw: st.DrawFn) -> tuple[list[str], list[int], tuple[AssetSpec, ...], list[int]]:
    decimals = draw(st.lists(st.integers(0, 36), min_size=1, max_size=3))
    assets = tuple(AssetSpec(f"A{i}", d) for i, d in enumerate(decimals))
    rows = draw(st.integers(1, 12))
    which = draw(st.lists(st.integers(0, len(assets) - 1), min_size=rows, max_size=rows))
    texts = [draw(_amount(assets[a].decimals)) for a in which]
    cuts = draw(st.lists(st.integers(0, rows), max_size=3))
    return texts, which, assets, cuts


@needs_native
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_column(), st.booleans())
def test_native_matches_arrow_units_and_refusals(
    column: tuple[list[str], list[int], tuple[AssetSpec, ...], list[int]], totals: bool
) -> None:
    texts, which, assets, cuts = column
    assert _convert(native, texts, which, assets, cuts, totals) == _convert(
        None, texts, which, assets, None, totals
    )


@needs_native
@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(-(MAX_SUM - 1), MAX_SUM - 1), min_size=1, max_size=8))
def test_native_units_are_exact(values: list[int]) -> None:
    """Any in-range base units, written in whole units, come back exactly (and -0 is 0)."""
    texts = [("-" if v < 0 else "") + format_units(abs(v), 18) for v in values]
    got = _convert(native, texts, [0] * len(values), (ETH,), check_totals=False)
    assert got == (values, [v < 0 for v in values])


# ----------------------------------------------------------------------------- whole reader


def test_read_liabilities_same_on_both_paths(tmp_path: Path) -> None:
    assets_file = tmp_path / "assets.toml"
    assets_file.write_text("[assets.BTC]\ndecimals = 8\n\n[assets.ETH]\ndecimals = 18\n")
    assets = read_assets(assets_file)
    csv = tmp_path / "l.csv"
    lines = ["account_id,asset,amount"]
    for i in range(500):
        lines.append(f"acct-{i},BTC,{i}.{i:08d}")
        lines.append(f"acct-{i},ETH,-0.{i:018d}" if i % 7 == 0 else f"acct-{i},ETH,{i * 3}.5")
    csv.write_text("\n".join(lines) + "\n")
    results = []
    for module in ([native] if native is not None else []) + [None]:
        saved, la.NATIVE = la.NATIVE, module
        try:
            got = read_liabilities(csv, assets, negative="exclude")
        finally:
            la.NATIVE = saved
        results.append((got.balances.tobytes(), got.account_ids.to_pylist(), got.excluded))
    assert all(r == results[0] for r in results)
    # i = 7, 14 ... 497 (i = 0 writes -0, which is zero, not negative): 71 rows, -7 * (1 + ... + 71)
    assert results[0][2] is not None and results[0][2]["rows"] == 71
    assert results[0][2]["assets"]["ETH"]["total_base_units"] == "-17892"


# ----------------------------------------------------------------------------- the notice


def test_slow_path_notice_once_past_a_million_rows(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from verifier.inputs import native as native_info

    monkeypatch.setattr(native_info, "_seen", {"rows": 0, "told": 0})
    with caplog.at_level("WARNING", logger="verifier.inputs.native"):
        native_info.notice_slow_path(native_info.NOTICE_ROWS - 1, None)
        assert caplog.records == []
        native_info.notice_slow_path(1, None)
        native_info.notice_slow_path(5_000_000, None)  # once per process
    assert len(caplog.records) == 1
    assert "pure-Python path in use for" in caplog.text
    assert "amount parsing (" in caplog.text


def test_no_notice_when_both_are_native(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from attestations import hashing
    from verifier.inputs import native as native_info

    if native is None or hashing.native_module() is None:
        pytest.skip("native extensions not built")
    monkeypatch.setattr(hashing, "NATIVE", hashing.native_module())
    monkeypatch.setattr(native_info, "_seen", {"rows": 0, "told": 0})
    with caplog.at_level("WARNING", logger="verifier.inputs.native"):
        native_info.notice_slow_path(3_000_000, native)
    assert caplog.records == []
