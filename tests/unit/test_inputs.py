"""verifier.inputs.liabilities: read_assets and read_liabilities, called directly.

Every rejected input must raise `InputError` whose `.file`, `.line` and `.value` name the
place and the value (CSV: header = line 1, first data row = line 2; JSON Lines: first
line = line 1), and amounts must convert exactly to integer base units (never rounded).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from attestations.encoding import AssetSpec
from verifier.base.errors import InputError
from verifier.inputs.assets import read_assets
from verifier.inputs.liabilities import read_liabilities

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "liabilities"
MAX = 2**128
HEADER = "account_id,asset,amount\n"

ASSETS = (AssetSpec("BTC", 8), AssetSpec("ETH", 18), AssetSpec("USDT", 6))
CODES = [a.code for a in ASSETS]

SAMPLE_BALANCES = {
    "alice": {"BTC": 150_000_000, "ETH": 2_000_000_000_000_000_001, "USDT": 100_000_000},
    "bob": {"BTC": 1, "ETH": 0, "USDT": 500_000},
    "carol": {"BTC": 0, "ETH": 340_282_366_920_938_463_463_374_607_431, "USDT": 0},
    "dave": {"BTC": 0, "ETH": 0, "USDT": 12_345_678_123_456},
    "erin": {"BTC": 2_100_000_000, "ETH": 0, "USDT": 0},
}


# ----------------------------------------------------------------------------- helpers


def balances_of(liabilities) -> dict[str, dict[str, int]]:
    """{account_id: {code: base units}} from the columnar (n, A, 2) '>u8' balances."""
    codes = [a.code for a in liabilities.assets]
    out = {}
    for raw, row in zip(liabilities.account_ids.to_pylist(), liabilities.balances, strict=True):
        account = raw.decode() if isinstance(raw, bytes) else raw
        out[account] = {
            code: (int(hi) << 64) | int(lo) for code, (hi, lo) in zip(codes, row, strict=True)
        }
    return out


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def jsonl(*rows: dict) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def row(account: str, asset: str, amount) -> dict:
    return {"account_id": account, "asset": asset, "amount": amount}


def read_csv(tmp_path: Path, body: str, **kw):
    return read_liabilities(write(tmp_path, "liabilities.csv", HEADER + body), ASSETS, **kw)


def csv_error(tmp_path: Path, body: str, **kw) -> tuple[InputError, Path]:
    path = write(tmp_path, "liabilities.csv", HEADER + body)
    with pytest.raises(InputError) as info:
        read_liabilities(path, ASSETS, **kw)
    return info.value, path


def jsonl_error(tmp_path: Path, text: str, **kw) -> tuple[InputError, Path]:
    path = write(tmp_path, "liabilities.jsonl", text)
    with pytest.raises(InputError) as info:
        read_liabilities(path, ASSETS, **kw)
    return info.value, path


def assert_names(exc: InputError, path: Path, line: int | None, value: str | None) -> None:
    """The error names the file, the line and the value, as attributes and in the message."""
    assert exc.file == str(path)
    assert exc.line == line
    assert str(path) in str(exc)
    if line is not None:
        assert f"line {line}" in str(exc)
    if value is not None:
        assert exc.value == value
        assert repr(value if len(value) <= 80 else value[:77] + "...") in str(exc)
    assert exc.exit_code == 3


# ----------------------------------------------------------------------------- assets TOML


def test_read_assets_fixture_sorted_with_decimals():
    assets = read_assets(FIXTURES / "assets.toml")
    assert assets == ASSETS


def test_read_assets_sorts_by_ascii_code(tmp_path):
    codes = ["AB", "A_", "A0", "A.B", "A-B", "Z9"]
    text = "".join(f'[assets."{c}"]\ndecimals = {i}\n' for i, c in enumerate(codes))
    assets = read_assets(write(tmp_path, "a.toml", text))
    assert [a.code for a in assets] == ["A-B", "A.B", "A0", "AB", "A_", "Z9"]
    assert {a.code: a.decimals for a in assets} == {c: i for i, c in enumerate(codes)}


def test_read_assets_decimals_bounds_inclusive(tmp_path):
    text = "[assets.ZERO]\ndecimals = 0\n[assets.MAXD]\ndecimals = 36\n"
    assets = read_assets(write(tmp_path, "a.toml", text))
    assert assets == (AssetSpec("MAXD", 36), AssetSpec("ZERO", 0))


def test_read_assets_allows_255_assets(tmp_path):
    text = "".join(f"[assets.A{i:03d}]\ndecimals = 2\n" for i in range(255))
    assert len(read_assets(write(tmp_path, "a.toml", text))) == 255


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        pytest.param("", "assets", "no [assets", id="empty-file"),
        pytest.param("[other]\nx = 1\n", "assets", "no [assets", id="no-assets-table"),
        pytest.param("assets = 5\n", "assets", "no [assets", id="assets-not-table"),
        pytest.param("[assets]\n", "assets", "no [assets", id="assets-empty"),
        pytest.param("[assets.btc]\ndecimals = 8\n", "assets.btc", "[A-Z0-9._-]", id="lowercase"),
        pytest.param('[assets."B TC"]\ndecimals = 8\n', "assets.B TC", "[A-Z0-9._-]", id="space"),
        pytest.param(
            "[assets.ABCDEFGHIJKLMNOPQ]\ndecimals = 8\n",
            "assets.ABCDEFGHIJKLMNOPQ",
            "[A-Z0-9._-]",
            id="code-17-chars",
        ),
        pytest.param("[assets.BTC]\n", "assets.BTC.decimals", "missing", id="no-decimals"),
        pytest.param("[assets]\nBTC = 8\n", "assets.BTC", "must be a table", id="not-a-table"),
        pytest.param(
            '[assets.BTC]\ndecimals = "8"\n', "assets.BTC.decimals", "integer", id="decimals-string"
        ),
        pytest.param(
            "[assets.BTC]\ndecimals = 8.0\n", "assets.BTC.decimals", "integer", id="decimals-float"
        ),
        pytest.param(
            "[assets.BTC]\ndecimals = true\n", "assets.BTC.decimals", "integer", id="decimals-bool"
        ),
        pytest.param(
            "[assets.BTC]\ndecimals = -1\n", "assets.BTC.decimals", "0..36", id="decimals-negative"
        ),
        pytest.param(
            "[assets.BTC]\ndecimals = 37\n", "assets.BTC.decimals", "0..36", id="decimals-37"
        ),
        pytest.param(
            "[assets.BTC]\ndecimals = 8\nprecision = 2\n",
            "assets.BTC.precision",
            "unknown key",
            id="unknown-key",
        ),
    ],
)
def test_read_assets_rejects(tmp_path, text, key, fragment):
    path = write(tmp_path, "assets.toml", text)
    with pytest.raises(InputError) as info:
        read_assets(path)
    exc = info.value
    assert exc.file == str(path)
    assert exc.key == key
    assert fragment in str(exc)
    assert exc.exit_code == 3


def test_read_assets_rejects_256_assets(tmp_path):
    text = "".join(f"[assets.A{i:03d}]\ndecimals = 2\n" for i in range(256))
    path = write(tmp_path, "a.toml", text)
    with pytest.raises(InputError, match="at most 255") as info:
        read_assets(path)
    assert info.value.file == str(path)


@pytest.mark.parametrize(
    "text",
    [
        "[assets.BTC\ndecimals = 8\n",
        "[assets.BTC]\ndecimals = 8\n[assets.BTC]\ndecimals = 2\n",  # duplicate table
        "[assets.BTC]\ndecimals = = 8\n",
    ],
    ids=["unclosed-table", "duplicate-asset", "syntax"],
)
def test_read_assets_invalid_toml(tmp_path, text):
    path = write(tmp_path, "assets.toml", text)
    with pytest.raises(InputError, match="not valid TOML") as info:
        read_assets(path)
    assert info.value.file == str(path)


def test_read_assets_not_utf8(tmp_path):
    path = write(tmp_path, "assets.toml", b"[assets.BTC]\ndecimals = 8 # \xff\xfe\n")
    with pytest.raises(InputError) as info:
        read_assets(path)
    assert info.value.file == str(path)


def test_read_assets_missing_file(tmp_path):
    path = tmp_path / "nope.toml"
    with pytest.raises(InputError, match="not found") as info:
        read_assets(path)
    assert info.value.file == str(path)


# ----------------------------------------------------------------------------- good input


def test_sample_csv_converts_exactly():
    data = read_liabilities(FIXTURES / "sample.csv", read_assets(FIXTURES / "assets.toml"))
    assert balances_of(data) == SAMPLE_BALANCES
    assert data.assets == ASSETS
    assert data.excluded is None
    assert data.stats["rows"] == 8
    assert data.stats["accounts"] == 5
    assert data.balances.dtype.str == ">u8"
    assert data.balances.shape == (5, 3, 2)


def test_sample_jsonl_matches_csv():
    assets = read_assets(FIXTURES / "assets.toml")
    from_csv = read_liabilities(FIXTURES / "sample.csv", assets)
    from_jsonl = read_liabilities(FIXTURES / "sample.jsonl", assets)
    assert balances_of(from_jsonl) == balances_of(from_csv) == SAMPLE_BALANCES


def test_input_sha256_is_the_file_digest():
    data = read_liabilities(FIXTURES / "sample.csv", ASSETS)
    assert data.input_sha256 == hashlib.sha256((FIXTURES / "sample.csv").read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("asset", "amount", "units"),
    [
        ("BTC", "1", 100_000_000),
        ("BTC", "0", 0),
        ("BTC", "-0", 0),
        ("BTC", "-0.000", 0),
        ("BTC", ".5", 50_000_000),
        ("BTC", "5.", 500_000_000),
        ("BTC", "0.00000001", 1),
        ("BTC", "1.500000000", 150_000_000),  # trailing zeros beyond the decimals are exact
        ("BTC", "1.50000000000000000000", 150_000_000),
        ("BTC", "007.25", 725_000_000),
        ("BTC", "21000000", 2_100_000_000_000_000),
        ("USDT", "0.000001", 1),
        ("USDT", "12345678.123456", 12_345_678_123_456),
        ("ETH", "0.000000000000000001", 1),
        ("ETH", "1.000000000000000001", 10**18 + 1),
        ("ETH", "123456789.123456789012345678", 123_456_789_123_456_789_012_345_678),
        # 2**128 - 1 wei, the largest value the format holds
        ("ETH", "340282366920938463463.374607431768211455", MAX - 1),
        ("ETH", "340282366920938463463.3746074317682114550000", MAX - 1),
    ],
)
def test_amount_conversion_exact(tmp_path, asset, amount, units):
    data = read_csv(tmp_path, f"acct,{asset},{amount}\n")
    expected = dict.fromkeys(CODES, 0)
    expected[asset] = units
    assert balances_of(data) == {"acct": expected}


def test_zero_decimal_asset_up_to_2_pow_128_minus_1(tmp_path):
    assets = (AssetSpec("PTS", 0),)
    path = write(tmp_path, "l.csv", HEADER + f"a,PTS,{MAX - 2}\nb,PTS,1.0\n")
    data = read_liabilities(path, assets)
    assert balances_of(data) == {"a": {"PTS": MAX - 2}, "b": {"PTS": 1}}
    path = write(tmp_path, "m.csv", HEADER + f"a,PTS,{MAX - 1}\n")
    assert balances_of(read_liabilities(path, assets)) == {"a": {"PTS": MAX - 1}}
    path = write(tmp_path, "n.csv", HEADER + f"a,PTS,1\nb,PTS,{MAX}\n")
    with pytest.raises(InputError, match=r"2\*\*128") as info:
        read_liabilities(path, assets)
    assert_names(info.value, path, 3, str(MAX))


def test_zero_decimal_asset_rejects_fraction(tmp_path):
    assets = (AssetSpec("PTS", 0),)
    path = write(tmp_path, "l.csv", HEADER + "a,PTS,1\nb,PTS,1.5\n")
    with pytest.raises(InputError) as info:
        read_liabilities(path, assets)
    assert_names(info.value, path, 3, "1.5")
    assert "decimal places" in str(info.value)


def test_36_decimal_asset_near_2_pow_128(tmp_path):
    assets = (AssetSpec("TINY", 36),)
    ok = "340.282366920938463463374607431768211455"  # (2**128 - 1) / 10**36
    path = write(tmp_path, "l.csv", HEADER + f"a,TINY,{ok}\n")
    assert balances_of(read_liabilities(path, assets)) == {"a": {"TINY": MAX - 1}}
    too_big = "340.282366920938463463374607431768211456"
    path = write(tmp_path, "m.csv", HEADER + f"a,TINY,{too_big}\n")
    with pytest.raises(InputError, match=r"2\*\*128") as info:
        read_liabilities(path, assets)
    assert_names(info.value, path, 2, too_big)


def test_total_of_exactly_2_pow_128_minus_1_is_accepted(tmp_path):
    a, b = MAX // 3, MAX - 1 - MAX // 3
    path = write(tmp_path, "p.csv", HEADER + f"x,PTS,{a}\ny,PTS,{b}\n")
    data = read_liabilities(path, (AssetSpec("PTS", 0),))
    assert balances_of(data) == {"x": {"PTS": a}, "y": {"PTS": b}}
    assert a + b == MAX - 1


def test_account_ids_kept_verbatim(tmp_path):
    data = read_csv(tmp_path, '"a,b",BTC,1\nA,BTC,2\na,BTC,3\nünï,BTC,4\n" pad ",BTC,5\n')
    got = balances_of(data)
    assert {k: v["BTC"] for k, v in got.items()} == {
        "a,b": 100_000_000,
        "A": 200_000_000,
        "a": 300_000_000,
        "ünï": 400_000_000,
        " pad ": 500_000_000,
    }


def test_account_id_of_exactly_256_bytes_is_accepted(tmp_path):
    ascii_id = "x" * 256
    multibyte_id = "é" * 128  # 256 UTF-8 bytes
    data = read_csv(tmp_path, f"{ascii_id},BTC,1\n{multibyte_id},BTC,2\n")
    assert set(balances_of(data)) == {ascii_id, multibyte_id}


def test_csv_columns_in_any_order_and_bom_and_crlf(tmp_path):
    text = "\ufeffamount,account_id,asset\r\n1.5,alice,BTC\r\n\r\n2,bob,USDT\r\n"
    data = read_liabilities(write(tmp_path, "l.csv", text), ASSETS)
    assert balances_of(data) == {
        "alice": {"BTC": 150_000_000, "ETH": 0, "USDT": 0},
        "bob": {"BTC": 0, "ETH": 0, "USDT": 2_000_000},
    }


def test_jsonl_detected_by_content_without_suffix(tmp_path):
    path = write(tmp_path, "liabilities.txt", jsonl(row("a", "BTC", "1")))
    assert balances_of(read_liabilities(path, ASSETS))["a"]["BTC"] == 100_000_000


def test_sum_duplicates_adds_exactly(tmp_path):
    data = read_csv(
        tmp_path,
        "a,BTC,1\nb,BTC,2\na,BTC,0.00000001\na,ETH,0.1\na,BTC,.5\na,ETH,0.2\n",
        sum_duplicates=True,
    )
    assert balances_of(data) == {
        "a": {"BTC": 150_000_001, "ETH": 300_000_000_000_000_000, "USDT": 0},
        "b": {"BTC": 200_000_000, "ETH": 0, "USDT": 0},
    }


def test_sum_duplicates_up_to_2_pow_128_minus_1(tmp_path):
    a, b = MAX // 2, MAX // 2 - 1
    path = write(tmp_path, "l.csv", HEADER + f"x,PTS,{a}\nx,PTS,{b}\n")
    data = read_liabilities(path, (AssetSpec("PTS", 0),), sum_duplicates=True)
    assert balances_of(data) == {"x": {"PTS": MAX - 1}}


def test_sum_duplicates_reaching_2_pow_128_is_an_error(tmp_path):
    path = write(tmp_path, "l.csv", HEADER + f"y,PTS,1\nx,PTS,{MAX // 2}\nx,PTS,{MAX // 2}\n")
    with pytest.raises(InputError, match=r"2\*\*128") as info:
        read_liabilities(path, (AssetSpec("PTS", 0),), sum_duplicates=True)
    assert info.value.file == str(path)
    assert info.value.line in (3, 4)


def test_negative_exclude_records_count_and_total_per_asset(tmp_path):
    data = read_csv(
        tmp_path,
        "a,BTC,1\nb,BTC,-2\nc,BTC,-0.5\nc,ETH,-0.000000000000000001\na,USDT,5\nd,USDT,-.25\n",
        negative="exclude",
    )
    assert balances_of(data) == {"a": {"BTC": 100_000_000, "ETH": 0, "USDT": 5_000_000}}
    excluded = data.excluded
    assert excluded["rows"] == 4
    assets = excluded["assets"]
    assert set(assets) == {"BTC", "ETH", "USDT"}
    assert assets["BTC"]["rows"] == 2
    assert abs(int(assets["BTC"]["total_base_units"])) == 250_000_000
    assert assets["BTC"]["total"].lstrip("-") == "2.5"
    assert assets["ETH"]["rows"] == 1
    assert abs(int(assets["ETH"]["total_base_units"])) == 1
    assert assets["ETH"]["total"].lstrip("-") == "0.000000000000000001"
    assert assets["USDT"]["rows"] == 1
    assert abs(int(assets["USDT"]["total_base_units"])) == 250_000
    assert data.stats["excluded_rows"] == 4


def test_negative_exclude_keeps_positive_rows_of_the_same_account(tmp_path):
    data = read_csv(tmp_path, "a,BTC,-1\na,ETH,3\n", negative="exclude")
    assert balances_of(data) == {"a": {"BTC": 0, "ETH": 3 * 10**18, "USDT": 0}}
    assert data.excluded["rows"] == 1
    assert list(data.excluded["assets"]) == ["BTC"]
    assert abs(int(data.excluded["assets"]["BTC"]["total_base_units"])) == 100_000_000


def test_negative_exclude_totals_are_exact_near_2_pow_128(tmp_path):
    big = "340282366920938463463.374607431768211455"  # (2**128 - 1) wei
    almost = "340282366920938463463.374607431768211454"  # (2**128 - 2) wei
    data = read_csv(
        tmp_path,
        f"a,ETH,1\nb,ETH,-{almost}\nd,ETH,-0.000000000000000001\n",
        negative="exclude",
    )
    eth = data.excluded["assets"]["ETH"]
    assert eth["rows"] == 2
    assert int(eth["total_base_units"]) == -(MAX - 1)  # the largest total there is
    assert eth["total"] == f"-{big}"
    assert balances_of(data) == {"a": {"BTC": 0, "ETH": 10**18, "USDT": 0}}
    # capped like every sum: the row where the excluded total reaches 2**128 is refused
    exc, path = csv_error(tmp_path, f"a,ETH,1\nb,ETH,-{big}\nc,ETH,-{big}\n", negative="exclude")
    assert_names(exc, path, 4, str(-2 * (MAX - 1)))
    assert "2**128" in str(exc)


def test_negative_exclude_still_rejects_too_many_decimals(tmp_path):
    exc, path = csv_error(tmp_path, "a,BTC,1\nb,BTC,-0.000000001\n", negative="exclude")
    assert_names(exc, path, 3, "-0.000000001")
    assert "decimal places" in str(exc)


def test_negative_exclude_with_nothing_left_is_an_error(tmp_path):
    exc, path = csv_error(tmp_path, "a,BTC,-1\nb,ETH,-2\n", negative="exclude")
    assert exc.file == str(path)


def test_no_negative_rows_means_no_excluded_record(tmp_path):
    data = read_csv(tmp_path, "a,BTC,1\nb,BTC,-0\n", negative="exclude")
    assert data.excluded is None


# ----------------------------------------------------------------------------- bad CSV rows


@pytest.mark.parametrize(
    ("body", "line", "value", "fragment"),
    [
        pytest.param("a,BTC,1\nb,BTC,-1\n", 3, "-1", "negative", id="negative"),
        pytest.param("a,ETH,-0.5\n", 2, "-0.5", "negative", id="negative-first-row"),
        pytest.param("a,BTC,1.123456789\n", 2, "1.123456789", "decimal places", id="9-decimals"),
        pytest.param(
            "a,USDT,1\nb,USDT,0.0000001\n", 3, "0.0000001", "decimal places", id="usdt-7-decimals"
        ),
        pytest.param(
            "a,ETH,0.0000000000000000001\n",
            2,
            "0.0000000000000000001",
            "decimal places",
            id="eth-19-decimals",
        ),
        pytest.param(
            "a,BTC,1.1234567890\n", 2, "1.1234567890", "decimal places", id="9-decimals-then-zero"
        ),
        pytest.param("a,BTC,abc\n", 2, "abc", "not a decimal number", id="letters"),
        pytest.param("a,BTC,1e5\n", 2, "1e5", "not a decimal number", id="exponent"),
        pytest.param("a,BTC,1,5\n", 2, "a,BTC,1,5", "3 fields", id="comma-decimal"),
        pytest.param("a,BTC,+1\n", 2, "+1", "not a decimal number", id="plus-sign"),
        pytest.param("a,BTC,1 \n", 2, "1 ", "not a decimal number", id="trailing-space"),
        pytest.param("a,BTC,.\n", 2, ".", "not a decimal number", id="lone-dot"),
        pytest.param("a,BTC,-\n", 2, "-", "not a decimal number", id="lone-minus"),
        pytest.param("a,BTC,1.2.3\n", 2, "1.2.3", "not a decimal number", id="two-dots"),
        pytest.param("a,BTC,NaN\n", 2, "NaN", "not a decimal number", id="nan"),
        pytest.param("a,BTC,1_000\n", 2, "1_000", "not a decimal number", id="underscore"),
        pytest.param("a,BTC,1\nb,BTC,\n", 3, None, "empty amount", id="empty-amount"),
        pytest.param("a,DOGE,1\n", 2, "DOGE", "unknown asset", id="unknown-asset"),
        pytest.param("a,BTC,1\na,btc,1\n", 3, "btc", "unknown asset", id="asset-lowercase"),
        pytest.param("a,BTC,1\nb,,1\n", 3, "", "unknown asset", id="asset-empty"),
        pytest.param("a,BTC,1\na,BTC,2\n", 3, "a,BTC", "duplicate", id="duplicate"),
        pytest.param(
            "a,BTC,1\nb,ETH,1\nc,BTC,1\nb,ETH,2\n",
            5,
            "b,ETH",
            "first seen on line 3",
            id="duplicate-names-first-line",
        ),
        pytest.param("a,BTC,1\n,BTC,1\n", 3, None, "empty account id", id="empty-account"),
        pytest.param("x" * 257 + ",BTC,1\n", 2, "x" * 257, "256 bytes", id="account-257"),
        pytest.param("é" * 129 + ",BTC,1\n", 2, "é" * 129, "256 bytes", id="account-258-utf8"),
        pytest.param(
            "a,ETH,340282366920938463463.374607431768211456\n",
            2,
            "340282366920938463463.374607431768211456",
            "2**128",
            id="eth-2-pow-128",
        ),
        pytest.param(f"a,USDT,{'9' * 60}\n", 2, "9" * 60, "2**128", id="huge"),
        pytest.param("a,BTC,1\nb,BTC,1,2\n", 3, "b,BTC,1,2", "3 fields", id="four-fields"),
        pytest.param("a,BTC,1\nb,BTC\n", 3, "b,BTC", "3 fields", id="two-fields"),
    ],
)
def test_csv_bad_row(tmp_path, body, line, value, fragment):
    exc, path = csv_error(tmp_path, body)
    assert_names(exc, path, line, value)
    assert fragment in str(exc)


def test_duplicate_message_names_both_lines(tmp_path):
    exc, path = csv_error(tmp_path, "a,BTC,1\n\nb,BTC,2\na,BTC,3\n")
    assert_names(exc, path, 5, "a,BTC")
    assert "first seen on line 2" in str(exc)
    assert "--sum-duplicates" in str(exc)


def test_negative_message_suggests_exclude(tmp_path):
    exc, _ = csv_error(tmp_path, "a,BTC,-1\n")
    assert "--negative exclude" in str(exc)


def test_line_numbers_count_blank_lines_and_crlf(tmp_path):
    exc, path = csv_error(tmp_path, "\na,BTC,1\r\n\r\n\nb,BTC,oops\r\n")
    assert_names(exc, path, 6, "oops")


def test_long_value_is_shortened_in_message_but_kept_on_the_error(tmp_path):
    exc, _ = csv_error(tmp_path, "y" * 300 + ",BTC,1\n")
    assert exc.value == "y" * 300
    assert "y" * 77 + "..." in str(exc)
    assert "y" * 81 not in str(exc)


# ----------------------------------------------------------------------------- bad files


def test_empty_file(tmp_path):
    path = write(tmp_path, "liabilities.csv", "")
    with pytest.raises(InputError, match="empty") as info:
        read_liabilities(path, ASSETS)
    assert info.value.file == str(path)


def test_blank_lines_only(tmp_path):
    path = write(tmp_path, "liabilities.csv", "\n\n\r\n")
    with pytest.raises(InputError, match="empty") as info:
        read_liabilities(path, ASSETS)
    assert info.value.file == str(path)


def test_header_only(tmp_path):
    path = write(tmp_path, "liabilities.csv", HEADER)
    with pytest.raises(InputError, match="no rows") as info:
        read_liabilities(path, ASSETS)
    assert info.value.file == str(path)


def test_empty_jsonl_file(tmp_path):
    path = write(tmp_path, "liabilities.jsonl", "")
    with pytest.raises(InputError, match="empty") as info:
        read_liabilities(path, ASSETS)
    assert info.value.file == str(path)


@pytest.mark.parametrize(
    "header",
    [
        "alice,BTC,1",
        "account,asset,amount",
        "account_id,asset",
        "account_id,asset,amount,note",
        "account_id,asset,asset",
    ],
)
def test_header_required(tmp_path, header):
    path = write(tmp_path, "liabilities.csv", header + "\nbob,BTC,1\n")
    with pytest.raises(InputError, match="header") as info:
        read_liabilities(path, ASSETS)
    assert_names(info.value, path, 1, header)


def test_missing_file(tmp_path):
    path = tmp_path / "missing.csv"
    with pytest.raises(InputError, match="not found") as info:
        read_liabilities(path, ASSETS)
    assert info.value.file == str(path)


def test_header_with_spaces_after_commas_is_input_error_not_crash(tmp_path):
    """`account_id, asset, amount` passes the header check (names are stripped) but the
    Arrow table keeps " asset"; the reader must either accept the file or raise InputError,
    never a KeyError."""
    path = write(tmp_path, "liabilities.csv", "account_id, asset, amount\na,BTC,1\n")
    try:
        data = read_liabilities(path, ASSETS)
    except InputError as exc:
        assert exc.file == str(path)
        assert exc.line == 1
    else:
        assert balances_of(data) == {"a": {"BTC": 100_000_000, "ETH": 0, "USDT": 0}}


def test_csv_not_utf8_names_the_line(tmp_path):
    path = write(tmp_path, "liabilities.csv", HEADER.encode() + b"a,BTC,1\nb\xff,BTC,1\n")
    with pytest.raises(InputError) as info:
        read_liabilities(path, ASSETS)
    assert info.value.file == str(path)
    assert info.value.line == 3


def test_csv_quoted_newline_line_number(tmp_path):
    # physical lines: 1 header, 2-3 the quoted id "a\nb", 4 the bad amount
    path = write(tmp_path, "liabilities.csv", HEADER + '"a\nb",BTC,1\nc,BTC,x\n')
    with pytest.raises(InputError) as info:
        read_liabilities(path, ASSETS)
    exc = info.value
    if exc.value == "x":
        assert exc.line == 4, str(exc)
    else:  # rejecting the multi-line record itself, at the line where it starts
        assert exc.line == 2, str(exc)


def test_trailing_zeros_are_exact_however_many(tmp_path):
    """docs/spec/por-mst-v1.md and inputs.py: trailing zeros beyond the decimals are exact and fine, so
    1.5 followed by 80 zeros is 150000000 sats (and certainly does not 'reach 2**128')."""
    amount = "1.5" + "0" * 80
    try:
        data = read_csv(tmp_path, f"a,BTC,{amount}\n")
    except InputError as exc:
        pytest.fail(f"exact amount rejected: {exc}")
    assert balances_of(data)["a"]["BTC"] == 150_000_000


def test_total_reaching_2_pow_128_names_file_line_and_value(tmp_path):
    exc, path = csv_error(
        tmp_path,
        "a,ETH,200000000000000000000\nb,BTC,1\nc,ETH,200000000000000000000\n",
    )
    assert exc.file == str(path)
    assert "ETH" in str(exc)
    assert "2**128" in str(exc)
    assert exc.value is not None
    # the row at which the running ETH total first reaches 2**128
    assert exc.line == 4, str(exc)


def test_total_reaching_2_pow_128_is_rejected_even_at_exactly(tmp_path):
    a = MAX // 2
    path = write(tmp_path, "l.csv", HEADER + f"x,PTS,{a}\ny,PTS,{MAX - a}\n")
    with pytest.raises(InputError, match=r"2\*\*128") as info:
        read_liabilities(path, (AssetSpec("PTS", 0),))
    assert info.value.file == str(path)


# ----------------------------------------------------------------------------- JSON Lines


def test_jsonl_first_line_is_line_1(tmp_path):
    exc, path = jsonl_error(tmp_path, jsonl(row("a", "BTC", "-3")))
    assert_names(exc, path, 1, "-3")


@pytest.mark.parametrize(
    ("second", "value", "fragment"),
    [
        pytest.param(row("b", "BTC", 1), "1", "string", id="int-amount"),
        pytest.param(row("b", "BTC", 1.5), "1.5", "string", id="float-amount"),
        pytest.param(row("b", "BTC", "-1"), "-1", "negative", id="negative"),
        pytest.param(
            row("b", "BTC", "0.123456789"), "0.123456789", "decimal places", id="decimals"
        ),
        pytest.param(row("b", "XRP", "1"), "XRP", "unknown asset", id="unknown-asset"),
        pytest.param(row("a", "BTC", "2"), "a,BTC", "duplicate", id="duplicate"),
        pytest.param(row("b", "BTC", "ten"), "ten", "not a decimal number", id="letters"),
        pytest.param(row("b", "BTC", ""), None, "empty amount", id="empty-amount"),
        pytest.param(row("", "BTC", "1"), None, "empty account id", id="empty-account"),
        pytest.param(row("z" * 257, "BTC", "1"), "z" * 257, "256 bytes", id="account-257"),
        pytest.param(
            {"account_id": "b", "asset": "BTC"}, None, "missing amount", id="missing-amount"
        ),
        pytest.param(row("b", "BTC", None), None, "missing amount", id="null-amount"),
        pytest.param(row(7, "BTC", "1"), "7", "string", id="int-account"),
    ],
)
def test_jsonl_bad_second_line(tmp_path, second, value, fragment):
    exc, path = jsonl_error(tmp_path, jsonl(row("a", "BTC", "1"), second))
    assert_names(exc, path, 2, value)
    assert fragment in str(exc)


def test_jsonl_not_an_object(tmp_path):
    exc, path = jsonl_error(tmp_path, jsonl(row("a", "BTC", "1")) + "[1, 2]\n")
    assert_names(exc, path, 2, "[1, 2]")


def test_jsonl_not_json(tmp_path):
    exc, path = jsonl_error(tmp_path, jsonl(row("a", "BTC", "1")) + "a,BTC,1\n")
    assert exc.file == str(path)
    assert exc.line == 2


def test_jsonl_unexpected_key(tmp_path):
    bad = {**row("b", "BTC", "1"), "note": "x"}
    exc, path = jsonl_error(tmp_path, jsonl(row("a", "BTC", "1"), bad))
    assert exc.file == str(path)
    assert exc.line == 2
    assert exc.key == "note"


def test_jsonl_blank_lines_are_counted(tmp_path):
    text = "\n" + jsonl(row("a", "BTC", "1")) + "\n\n" + jsonl(row("b", "BTC", "x"))
    exc, path = jsonl_error(tmp_path, text)
    assert_names(exc, path, 5, "x")


def test_jsonl_whitespace_only_line_is_counted_as_a_line(tmp_path):
    text = jsonl(row("a", "BTC", "1")) + "   \n" + jsonl(row("b", "BTC", "x"))
    exc, path = jsonl_error(tmp_path, text)
    assert_names(exc, path, 3, "x")


def test_jsonl_two_objects_on_one_line_error_names_that_line(tmp_path):
    text = json.dumps(row("a", "BTC", "1")) + json.dumps(row("b", "BTC", "x")) + "\n"
    exc, path = jsonl_error(tmp_path, text)
    assert exc.file == str(path)
    assert exc.line == 1, f"the file has one line, the error says {exc.line}: {exc}"


def test_jsonl_duplicate_key_names_the_line(tmp_path):
    text = (
        jsonl(row("a", "BTC", "1"))
        + '{"account_id": "b", "asset": "BTC", "amount": "1", "amount": "2"}\n'
    )
    exc, path = jsonl_error(tmp_path, text)
    assert exc.file == str(path)
    assert exc.line == 2, str(exc)


def test_jsonl_sum_duplicates_and_negative_exclude(tmp_path):
    path = write(
        tmp_path,
        "l.jsonl",
        jsonl(
            row("a", "ETH", "1"),
            row("a", "ETH", "0.5"),
            row("b", "ETH", "-2"),
            row("c", "USDT", "3"),
        ),
    )
    data = read_liabilities(path, ASSETS, negative="exclude", sum_duplicates=True)
    assert balances_of(data) == {
        "a": {"BTC": 0, "ETH": 15 * 10**17, "USDT": 0},
        "c": {"BTC": 0, "ETH": 0, "USDT": 3_000_000},
    }
    assert data.excluded["rows"] == 1
    assert data.excluded["assets"]["ETH"]["rows"] == 1
    assert abs(int(data.excluded["assets"]["ETH"]["total_base_units"])) == 2 * 10**18


def test_invalid_negative_mode(tmp_path):
    path = write(tmp_path, "l.csv", HEADER + "a,BTC,1\n")
    with pytest.raises(InputError):
        read_liabilities(path, ASSETS, negative="clamp")
