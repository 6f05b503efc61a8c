"""verifier.inputs.liabilities on hostile liabilities files: exact amounts or a named refusal (issue 10).

Each case is a file an attacker or an unlucky operator could hand to `por liabilities
build`. The reader must either give the exact base units (checked against Python's
`Decimal`) or refuse with `InputError` naming the file, the line and the value, decided
before any step that could wrap, round or crash: amounts of 2**256 and more (which the
decimal256 cast wraps), digits far past an asset's decimals, invalid UTF-8 in JSON Lines,
CR-only or stray CR line ends, NUL bytes, byte order marks, deep nesting, huge JSON numbers.
The CLI tests run the same files through `por liabilities build`: exit 3, one message with
file, line and value, no traceback, nothing left in --out.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal, localcontext
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attestations.encoding import AssetSpec
from verifier.base.errors import InputError
from verifier.cli.main import main
from verifier.inputs.assets import read_assets
from verifier.inputs.liabilities import read_liabilities

MAX = 2**128
SHORT_AMOUNT = 39  # longer amount strings cannot go to the decimal256 cast as they are
HEADER = "account_id,asset,amount\n"
ASSETS = (AssetSpec("BTC", 8), AssetSpec("ETH", 18), AssetSpec("PTS", 0), AssetSpec("X36", 36))
DECIMALS = {a.code: a.decimals for a in ASSETS}
ASSETS_TOML = "".join(f"[assets.{a.code}]\ndecimals = {a.decimals}\n" for a in ASSETS)

BIG = 2**256 + 5  # wrapped to 5 by the decimal256 cast before the fix
BIG_MINUS = 2**256 - 5  # as a negative amount, wrapped to -5


# ----------------------------------------------------------------------------- helpers


def balances_of(liabilities) -> dict[str, dict[str, int]]:
    codes = [a.code for a in liabilities.assets]
    out = {}
    for raw, row in zip(liabilities.account_ids.to_pylist(), liabilities.balances, strict=True):
        account = raw.decode() if isinstance(raw, bytes) else raw
        out[account] = {
            code: (int(hi) << 64) | int(lo) for code, (hi, lo) in zip(codes, row, strict=True)
        }
    return out


def write(path: Path, content: str | bytes) -> Path:
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def jsonl_row(account: str, asset: str, amount: str) -> str:
    return json.dumps({"account_id": account, "asset": asset, "amount": amount}) + "\n"


def shown(value: str) -> str:
    """How InputError shows a value in its message."""
    return repr(value if len(value) <= 80 else value[:77] + "...")


def refused(path: Path, line: int, value: str | None, fragment: str, **kw) -> InputError:
    with pytest.raises(InputError) as info:
        read_liabilities(path, ASSETS, **kw)
    exc = info.value
    assert exc.file == str(path), str(exc)
    assert exc.line == line, str(exc)
    assert f"{path}: line {line}: " in str(exc)
    assert fragment in str(exc), str(exc)
    if value is not None:
        assert exc.value == value, str(exc)
        assert shown(value) in str(exc)
    assert exc.exit_code == 3
    return exc


# ----------------------------------------------------------------------------- 1. 2**128 and up


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
@pytest.mark.parametrize(
    ("amount", "negative", "fragment"),
    [
        pytest.param(str(BIG), "error", "reaches 2**128", id="2**256+5"),
        pytest.param(f"-{BIG}", "exclude", "2**128 base units in magnitude", id="-(2**256+5)"),
        pytest.param(f"-{BIG}", "error", "2**128 base units in magnitude", id="-(2**256+5)-err"),
        pytest.param(f"-{BIG_MINUS}", "exclude", "in magnitude", id="-(2**256-5)"),
        pytest.param(str(2**255), "error", "reaches 2**128", id="2**255"),
        pytest.param(str(2**256 * 10**40 + 1), "error", "reaches 2**128", id="116-digits"),
        pytest.param("1" + "0" * 5000, "error", "reaches 2**128", id="5001-digits"),
        pytest.param("-" + "9" * 100_000, "exclude", "in magnitude", id="-100k-nines"),
        pytest.param("0" * 300 + str(MAX // 10**8) + "." + "7" * 8, "error", "2**128", id="zeros"),
        pytest.param(f"{MAX // 10**8}.{MAX % 10**8:08d}", "error", "2**128", id="2**128-btc"),
        pytest.param(
            f"-{MAX // 10**8}.{MAX % 10**8:08d}", "exclude", "in magnitude", id="-2**128-btc"
        ),
    ],
)
def test_amount_reaching_2_pow_128_is_refused_before_any_cast(
    tmp_path, kind, amount, negative, fragment
):
    if kind == "csv":
        path = write(tmp_path / "l.csv", HEADER + "bob,BTC,1\n" + f"alice,BTC,{amount}\n")
        line = 3
    else:
        path = write(
            tmp_path / "l.jsonl", jsonl_row("bob", "BTC", "1") + jsonl_row("alice", "BTC", amount)
        )
        line = 2
    refused(path, line, amount, fragment, negative=negative)


def test_largest_amounts_in_long_spellings_are_exact(tmp_path):
    """2**128 - 1 base units, spelled with hundreds of zeros before and after."""
    units = MAX - 1
    btc = f"{'0' * 400}{units // 10**8}.{units % 10**8:08d}{'0' * 400}"
    x36 = f"{units // 10**36}.{units % 10**36:036d}" + "0" * 50
    path = write(
        tmp_path / "l.csv",
        HEADER + f"a,BTC,{btc}\nb,X36,{x36}\nc,PTS,{'0' * 64}{units}\nd,ETH,{'0' * 41}1\n",
    )
    got = balances_of(read_liabilities(path, ASSETS))
    assert got["a"]["BTC"] == units
    assert got["b"]["X36"] == units
    assert got["c"]["PTS"] == units
    assert got["d"]["ETH"] == 10**18


def test_excluded_totals_stay_exact_for_long_negative_amounts(tmp_path):
    units = MAX // 2 - 1  # 2 * units + 1 = 2**128 - 1: the largest total there is
    long_negative = f"-{'0' * 100}{units // 10**8}.{units % 10**8:08d}{'0' * 100}"
    path = write(
        tmp_path / "l.csv",
        HEADER
        + f"a,BTC,{long_negative}\nb,BTC,{long_negative}\nc,BTC,-0.{'0' * 7}1{'0' * 60}\n"
        + f"d,BTC,-{'0' * 80}\ne,BTC,2\n",
    )
    data = read_liabilities(path, ASSETS, negative="exclude")
    assert data.excluded is not None
    assert data.excluded["rows"] == 3  # -0 (however spelled) is zero, not negative
    btc = data.excluded["assets"]["BTC"]
    assert btc["rows"] == 3
    assert int(btc["total_base_units"]) == -(2 * units + 1) == -(MAX - 1)
    assert balances_of(data) == {
        "d": {"BTC": 0, "ETH": 0, "PTS": 0, "X36": 0},
        "e": {"BTC": 200_000_000, "ETH": 0, "PTS": 0, "X36": 0},
    }


def test_a_long_amount_row_does_not_hide_a_short_bad_row(tmp_path):
    """The slow path for long amounts must not skip the checks of the others."""
    path = write(tmp_path / "l.csv", HEADER + f"a,BTC,1{'0' * 60}.5\nb,BTC,1.123456789\n")
    refused(path, 2, f"1{'0' * 60}.5", "2**128")
    path = write(tmp_path / "m.csv", HEADER + f"a,BTC,{'0' * 60}1.5\nb,BTC,1.123456789\n")
    refused(path, 3, "1.123456789", "decimal places")
    path = write(tmp_path / "n.csv", HEADER + f"a,BTC,{'0' * 60}1.5\nb,BTC,12x\n")
    refused(path, 3, "12x", "not a decimal number")
    path = write(tmp_path / "o.csv", HEADER + f"a,BTC,{'0' * 60}1.5\nb,BTC,-1\n")
    refused(path, 3, "-1", "negative amount")


# ----------------------------------------------------------------------------- 2. far decimals


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
@pytest.mark.parametrize(
    ("asset", "amount"),
    [
        pytest.param("BTC", "1." + "0" * 200 + "1", id="btc-1.0(200)1"),
        pytest.param("BTC", "-1." + "0" * 200 + "1", id="btc-negative"),
        pytest.param("BTC", "0." + "0" * 8 + "1" + "0" * 40, id="btc-9th-then-zeros"),
        pytest.param("PTS", "7." + "0" * 5000 + "3", id="pts-5000-zeros"),
        pytest.param("X36", "0." + "0" * 36 + "1", id="x36-37th"),
        pytest.param("ETH", "." + "0" * 18 + "5" + "0" * 100, id="eth-no-whole"),
    ],
)
def test_nonzero_digit_past_the_decimals_is_refused_however_far(tmp_path, kind, asset, amount):
    if kind == "csv":
        path = write(tmp_path / "l.csv", HEADER + f"a,{asset},{amount}\n")
        line = 2
    else:
        path = write(tmp_path / "l.jsonl", jsonl_row("a", asset, amount))
        line = 1
    refused(path, line, amount, "more decimal places", negative="exclude")


@pytest.mark.parametrize(
    ("asset", "amount", "units"),
    [
        pytest.param("BTC", "1." + "0" * 500, 100_000_000, id="1.+500-zeros"),
        pytest.param("BTC", "0" * 500 + "1.5", 150_000_000, id="500-leading-zeros"),
        pytest.param("BTC", "0" * 500 + "1." + "0" * 500, 100_000_000, id="both"),
        pytest.param("BTC", "0" * 40, 0, id="zero"),
        pytest.param("BTC", "-" + "0" * 40 + "." + "0" * 40, 0, id="negative-zero"),
        pytest.param("BTC", "." + "0" * 7 + "1" + "0" * 100, 1, id="one-sat"),
        pytest.param("PTS", "0" * 4000 + "42." + "0" * 4000, 42, id="pts-8000-zeros"),
        pytest.param("X36", "." + "9" * 36 + "0" * 10, 10**36 - 1, id="x36-all-places"),
        pytest.param("ETH", "0" * 40 + "12.5", 125 * 10**17, id="eth"),
    ],
)
def test_leading_and_trailing_zeros_are_exact_however_many(tmp_path, asset, amount, units):
    assert len(amount) > SHORT_AMOUNT  # each one takes the long-amount path
    path = write(tmp_path / "l.csv", HEADER + f"a,{asset},{amount}\nb,BTC,1\n")
    data = read_liabilities(path, ASSETS)
    assert balances_of(data)["a"][asset] == units
    assert data.excluded is None
    jpath = write(tmp_path / "l.jsonl", jsonl_row("a", asset, amount) + jsonl_row("b", "BTC", "1"))
    assert balances_of(read_liabilities(jpath, ASSETS))["a"][asset] == units


# ----------------------------------------------------------------------------- property


def _amounts() -> st.SearchStrategy[str]:
    digits = st.text("0123456789", max_size=60)
    lots_of_zeros = st.sampled_from([0, 0, 0, 1, 2, 30, 80, 500, 5000])
    long_digits = st.sampled_from(["", "", "", "", "1" + "0" * 76, "9" * 5000, str(BIG)])

    @st.composite
    def build(draw: st.DrawFn) -> str:
        whole = "0" * draw(lots_of_zeros) + draw(digits) + draw(long_digits)
        frac = draw(digits) + "0" * draw(lots_of_zeros)
        point = draw(st.booleans()) or not whole
        if not whole and not frac:
            whole = "0"
        sign = "-" if draw(st.booleans()) else ""
        return sign + whole + ("." + frac if point else "")

    edges = st.sampled_from(
        [str(MAX - 1), str(MAX), f"-{MAX}", str(BIG), f"-{BIG_MINUS}", "1." + "0" * 200 + "1"]
    )
    return st.one_of(build(), edges)


def _expected(amount: str, decimals: int) -> int | str:
    """Base units by Python's Decimal (precision to spare), or the refusal's message."""
    with localcontext() as ctx:
        ctx.prec = len(amount) + decimals + 10
        units = Decimal(amount).scaleb(decimals)
        if units != units.to_integral_value():
            return "more decimal places"
        if abs(units) >= MAX:
            return "2**128"
        return int(units)


@settings(
    max_examples=250,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(amount=_amounts(), asset=st.sampled_from(ASSETS), as_jsonl=st.booleans())
def test_property_exact_or_refused(tmp_path_factory, amount, asset, as_jsonl):
    work = tmp_path_factory.mktemp("prop")
    if as_jsonl:
        path = write(
            work / "l.jsonl", jsonl_row("filler", "BTC", "1") + jsonl_row("x", asset.code, amount)
        )
        line = 2
    else:
        path = write(work / "l.csv", HEADER + f"filler,BTC,1\nx,{asset.code},{amount}\n")
        line = 3
    expected = _expected(amount, asset.decimals)
    if isinstance(expected, str):
        refused(path, line, amount, expected, negative="exclude")
        return
    data = read_liabilities(path, ASSETS, negative="exclude")
    if expected < 0:
        assert "x" not in balances_of(data)
        assert data.excluded is not None
        assert data.excluded["assets"][asset.code]["total_base_units"] == str(expected)
    else:
        assert balances_of(data)["x"][asset.code] == expected
        assert data.excluded is None


# ----------------------------------------------------------------------------- 3. JSONL UTF-8

GOOD = b'{"account_id": "a", "asset": "BTC", "amount": "1"}\n'


@pytest.mark.parametrize(
    ("second", "fragment"),
    [
        pytest.param(b'{"account_id": "b\xff", "asset": "BTC", "amount": "1"}\n', "UTF-8", id="id"),
        pytest.param(
            b'{"account_id": "\xc3\x28b", "asset": "BTC", "amount": "1"}\n', "UTF-8", id="id-c3"
        ),
        pytest.param(
            b'{"account_id": "b\xed\xa0\x80", "asset": "BTC", "amount": "1"}\n',
            "UTF-8",
            id="id-encoded-surrogate",
        ),
        pytest.param(
            b'{"account_id": "b", "asset": "BT\xfe", "amount": "1"}\n', "UTF-8", id="asset"
        ),
        pytest.param(
            b'{"account_id": "b", "asset": "BTC", "amount": "1\x80"}\n', "UTF-8", id="amount"
        ),
        pytest.param(
            b'{"account_id": "b\\ud800", "asset": "BTC", "amount": "1"}\n',
            "lone surrogate",
            id="id-surrogate-escape",
        ),
        pytest.param(
            b'{"account_id": "b", "asset": "BTC", "amount": "1\\udc80"}\n',
            "lone surrogate",
            id="amount-surrogate-escape",
        ),
        pytest.param(
            b'{"account_id": "b\\u0000", "asset": "BTC", "amount": "1"}\n', "NUL", id="id-nul"
        ),
    ],
)
def test_jsonl_invalid_text_is_refused_at_its_line(tmp_path, second, fragment):
    path = write(tmp_path / "l.jsonl", GOOD + second + GOOD.replace(b'"a"', b'"c"'))
    refused(path, 2, None, fragment)


def test_jsonl_deep_nesting_is_refused_at_its_line(tmp_path):
    deep = b'{"account_id": ' + b"[" * 100_000 + b"]" * 100_000 + b', "asset": "BTC"}\n'
    path = write(tmp_path / "l.jsonl", GOOD + deep)
    refused(path, 2, None, "nested more than")


def test_jsonl_brackets_inside_strings_are_not_nesting(tmp_path):
    path = write(tmp_path / "l.jsonl", GOOD + jsonl_row("[" * 250, "BTC", "2").encode() + b"\n")
    assert balances_of(read_liabilities(path, ASSETS))["[" * 250]["BTC"] == 200_000_000


def test_jsonl_huge_number_amount_is_named_not_converted(tmp_path):
    line = b'{"account_id": "b", "asset": "BTC", "amount": ' + b"7" * 5000 + b"}\n"
    path = write(tmp_path / "l.jsonl", GOOD + line)
    refused(path, 2, "7" * 5000, "must be a JSON string")


def test_jsonl_bom_with_blank_lines_reads(tmp_path):
    """A BOM on line 1 of a file that takes the line-by-line check (blank lines)."""
    path = write(
        tmp_path / "l.jsonl", b"\xef\xbb\xbf" + GOOD + b"\n" + GOOD.replace(b'"a"', b'"b"')
    )
    assert set(balances_of(read_liabilities(path, ASSETS))) == {"a", "b"}


def _read_in_subprocess(paths: list[Path]) -> list[dict]:
    """read_liabilities of each file in one child process: a SIGSEGV fails the test, not
    the whole session."""
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from attestations.encoding import AssetSpec\n"
        "from verifier.base.errors import InputError\n"
        "from verifier.inputs.liabilities import read_liabilities\n"
        "for name in sys.argv[1:]:\n"
        "    try:\n"
        "        read_liabilities(Path(name), (AssetSpec('BTC', 8),))\n"
        "        print(json.dumps({'ok': True}), flush=True)\n"
        "    except InputError as exc:\n"
        "        print(json.dumps({'line': exc.line, 'message': str(exc)}), flush=True)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *map(str, paths)],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 0, (
        f"exit {done.returncode} (-11 is SIGSEGV) on {paths[len(results)]}: {done.stderr[-500:]}"
    )
    return results


def test_jsonl_null_row_across_an_arrow_block_boundary_is_refused_not_a_crash(tmp_path):
    """pyarrow's JSON reader segfaults when a top-level null starts one of its 1 MiB
    blocks; here the null line starts 0 to 5 bytes before the 1 MiB mark (every split
    of "null" between por's own 1 MiB scan blocks too)."""
    row = '{"account_id":"a%07d","asset":"BTC","amount":"1"}\n'
    empty = '{"account_id":"","asset":"BTC","amount":"1"}\n'
    paths, lines = [], []
    for before in (0, 1, 2, 3, 4, 5):
        start = (1 << 20) - before
        body = "".join(row % i for i in range((start - 200) // len(row % 0)))
        body += empty.replace('""', '"' + "p" * (start - len(body) - len(empty)) + '"')
        assert len(body) == start
        paths.append(write(tmp_path / f"l{before}.jsonl", body + "null\n" + row % 9_999_999))
        lines.append(body.count("\n") + 1)
    assert _read_in_subprocess(paths) == [
        {"line": line, "message": f"{path}: line {line}: not a JSON object: 'null'"}
        for path, line in zip(paths, lines, strict=True)
    ]


def test_jsonl_null_rows_are_refused_not_a_crash(tmp_path):
    cases = {  # text: line of the null row
        "null\n": 1,
        "  null\n" + GOOD.decode(): 1,
        "\n\nnull": 3,
        "\ufeffnull\n": 1,
        GOOD.decode() + "\t null \n": 2,
        GOOD.decode() + "null" + GOOD.decode(): 2,
    }
    paths = [write(tmp_path / f"l{i}.jsonl", text) for i, text in enumerate(cases)]
    for got, line in zip(_read_in_subprocess(paths), cases.values(), strict=True):
        assert got.get("line") == line, got
        assert "not a JSON object" in got["message"]


def test_jsonl_null_inside_values_is_fine(tmp_path):
    path = write(
        tmp_path / "l.jsonl", jsonl_row("null", "BTC", "1") + jsonl_row("nullx null", "BTC", "2")
    )
    assert set(balances_of(read_liabilities(path, ASSETS))) == {"null", "nullx null"}


# ----------------------------------------------------------------------------- 4. line ends


@pytest.mark.parametrize(
    ("body", "line", "fragment"),
    [
        pytest.param(b"a,BTC,1\rb,BTC,2\r", 2, "carriage return", id="cr-only-body"),
        pytest.param(b"a,BTC,1\rb,BTC,x\r", 2, "carriage return", id="cr-only-bad-amount"),
        pytest.param(b"a,BTC,1\nb,BTC,2\rc,BTC,3\n", 3, "carriage return", id="cr-mid-file"),
        pytest.param(b"a,BTC,1\nb\rq,BTC,2\nc,BTC,x\n", 3, "carriage return", id="cr-in-id"),
        pytest.param(b'a,BTC,1\r\n"b\rq",BTC,2\r\n', 3, "carriage return", id="cr-in-quoted"),
        pytest.param(b"a,BTC,1\nb,BTC,2\n\rc,BTC,x\n", 4, "carriage return", id="cr-line-start"),
        pytest.param(b"a,BTC,1\r\nb,BTC,2\r", 3, "carriage return", id="cr-at-eof"),
        pytest.param(b"a,BTC,1\r\r\nb,BTC,2\r\n", 2, "carriage return", id="cr-cr-lf"),
        pytest.param(b"a,BTC,1\r\nb,BTC,2\nc,BTC,x\r\n", 4, "not a decimal", id="mixed-crlf-lf"),
        pytest.param(b"a,BTC,1\n\r\n\nb,BTC,x\r\n", 5, "not a decimal", id="mixed-blank-lines"),
        pytest.param(b"a,BTC,1\r\nb,BTC,1,2\nc,BTC,1\n", 3, "3 fields", id="mixed-field-count"),
        pytest.param(b"a,BTC,1\nb\x00q,BTC,2\nc,BTC,3\n", 3, "NUL", id="nul-in-id"),
        pytest.param(b"a,BTC,1\nb,BTC,2\x00\n", 3, "not a decimal", id="nul-in-amount"),
        pytest.param(b"a,BTC,1\nb,BT\x00C,2\n", 3, "unknown asset", id="nul-in-asset"),
        pytest.param(b"a,BTC,1\n\x00\x00\x00\nb,BTC,2\n", 3, "3 fields", id="nul-line"),
    ],
)
def test_csv_line_ends_and_nul_bytes(tmp_path, body, line, fragment):
    path = write(tmp_path / "l.csv", HEADER.encode() + body)
    refused(path, line, None, fragment)


def test_cr_only_header_is_the_carriage_return_error(tmp_path):
    path = write(tmp_path / "l.csv", HEADER.replace("\n", "\r") + "a,BTC,1\r")
    exc = refused(path, 1, None, "CR-only")
    assert exc.value is not None and exc.value.startswith("account_id,asset,amount\r")


def test_mixed_line_ends_and_bom_read_correctly(tmp_path):
    body = b"\xef\xbb\xbf" + HEADER.encode() + b"a,BTC,1\r\nb,ETH,2\n\r\nc,PTS,3\r\nd,BTC,4"
    data = read_liabilities(write(tmp_path / "l.csv", body), ASSETS)
    got = balances_of(data)
    assert got["a"]["BTC"] == 10**8 and got["b"]["ETH"] == 2 * 10**18
    assert got["c"]["PTS"] == 3 and got["d"]["BTC"] == 4 * 10**8


def test_bom_csv_error_line_numbers(tmp_path):
    path = write(tmp_path / "l.csv", b"\xef\xbb\xbf" + HEADER.encode() + b"a,BTC,1\nb,BTC,x\n")
    refused(path, 3, "x", "not a decimal")


def test_utf16_file_is_refused_not_crashed(tmp_path):
    path = write(tmp_path / "l.csv", (HEADER + "a,BTC,1\n").encode("utf-16"))
    with pytest.raises(InputError) as info:
        read_liabilities(path, ASSETS)
    assert info.value.file == str(path) and info.value.line == 1


@pytest.mark.parametrize("crlf_split", [True, False])
def test_carriage_return_at_a_read_block_boundary(tmp_path, crlf_split):
    """The scan reads 1 MiB blocks: a \\r\\n split across two is fine, a bare \\r is not."""
    block = 1 << 20
    rows = []
    size = len(HEADER)
    n = 0
    while size < block - 40:
        text = f"acct{n},BTC,1\r\n"
        rows.append(text)
        size += len(text)
        n += 1
    pad = block - 1 - size - len(",BTC,1")  # so that the next \r is the block's last byte
    rows.append("p" * pad + ",BTC,1" + ("\r\n" if crlf_split else "\rq,BTC,1\n"))
    rows.append("last,BTC,2\n")
    content = (HEADER + "".join(rows)).encode()
    assert content[block - 1 : block] == b"\r"
    path = write(tmp_path / "l.csv", content)
    if crlf_split:
        data = read_liabilities(path, ASSETS)
        assert balances_of(data)["last"]["BTC"] == 2 * 10**8
    else:
        refused(path, n + 2, None, "carriage return")


def test_csv_field_over_128_kib_in_a_bad_file_is_named(tmp_path):
    """Python's csv module refuses fields over 128 KiB; the diagnosis must not crash."""
    path = write(tmp_path / "l.csv", HEADER + "a,BTC,1\n" + "x" * 200_000 + ",BTC,1,9\n")
    refused(path, 3, None, "3 fields")


# ----------------------------------------------------------------------------- CLI


@pytest.fixture
def build(tmp_path, capsys, monkeypatch):
    """build(name, content, *flags) -> (rc, stdout, stderr, --out): `por liabilities build`."""
    monkeypatch.setenv("COLUMNS", "100000")
    monkeypatch.delenv("POR_DEBUG", raising=False)
    assets = write(tmp_path / "assets.toml", ASSETS_TOML)

    def run(name: str, content: str | bytes, *flags: str) -> tuple[int, str, str, Path]:
        source = write(tmp_path / name, content)
        out = tmp_path / f"tree-{name}"
        capsys.readouterr()
        rc = main(
            [
                *("liabilities", "build", str(source), "--assets", str(assets)),
                *("--attestation-id", "x", "--out", str(out), "--as-of", "2025-06-30T00:00:00Z"),
                *flags,
            ]
        )
        captured = capsys.readouterr()
        return rc, captured.out, captured.err, out

    return run


def _assert_cli_refused(result, path: Path, line: int, value: str | None, fragment: str) -> None:
    rc, _, text, out = result
    flat = " ".join(text.split())
    assert rc == 3, text
    assert f"{path}: line {line}: " in flat, text
    assert fragment in flat, text
    if value is not None:
        assert " ".join(shown(value).split()) in flat, text
    assert "Traceback" not in text and "internal error" not in text, text
    assert not out.exists() or not any(out.iterdir()), "nothing may be left in --out"


@pytest.mark.parametrize(
    ("name", "content", "flags", "line", "value", "fragment"),
    [
        pytest.param(
            "big.csv", HEADER + f"alice,BTC,{BIG}\n", (), 2, str(BIG), "2**128", id="2**256+5"
        ),
        pytest.param(
            "negbig.csv",
            HEADER + f"bob,BTC,1\nalice,BTC,-{BIG}\n",
            ("--negative", "exclude"),
            3,
            f"-{BIG}",
            "2**128",
            id="-(2**256+5)-exclude",
        ),
        pytest.param(
            "negbig2.csv",
            HEADER + f"bob,BTC,1\nalice,BTC,-{BIG_MINUS}\n",
            ("--negative", "exclude"),
            3,
            f"-{BIG_MINUS}",
            "2**128",
            id="-(2**256-5)-exclude",
        ),
        pytest.param(
            "big.jsonl",
            jsonl_row("bob", "BTC", "1") + jsonl_row("alice", "BTC", str(BIG)),
            (),
            2,
            str(BIG),
            "2**128",
            id="jsonl-2**256+5",
        ),
        pytest.param(
            "far.csv",
            HEADER + "alice,BTC,1." + "0" * 200 + "1\n",
            (),
            2,
            "1." + "0" * 200 + "1",
            "more decimal places",
            id="1.0(200)1",
        ),
        pytest.param(
            "utf8.jsonl",
            GOOD + b'{"account_id": "b\xff", "asset": "BTC", "amount": "1"}\n',
            (),
            2,
            None,
            "UTF-8",
            id="jsonl-invalid-utf8",
        ),
        pytest.param(
            "mac.csv",
            (HEADER + "a,BTC,1\nb,BTC,2\n").replace("\n", "\r"),
            (),
            1,
            None,
            "carriage return",
            id="cr-only",
        ),
        pytest.param(
            "stray.csv",
            HEADER + "a,BTC,1\nb\r,BTC,2\n",
            (),
            3,
            "b\r,BTC,2",
            "carriage return",
            id="stray-cr",
        ),
        pytest.param(
            "deep.jsonl",
            GOOD + b'{"account_id": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n",
            (),
            2,
            None,
            "nested",
            id="jsonl-deep",
        ),
    ],
)
def test_cli_build_refuses_with_file_line_and_value(
    build, tmp_path, name, content, flags, line, value, fragment
):
    result = build(name, content, *flags)
    _assert_cli_refused(result, tmp_path / name, line, value, fragment)


def test_cli_build_long_spellings_give_exact_totals(build):
    units = MAX - 1
    half = MAX // 2 - 1  # two excluded rows of it stay below 2**128 in magnitude
    content = (
        HEADER
        + f"a,BTC,1.{'0' * 500}\n"
        + f"b,BTC,{'0' * 300}1.5\n"
        + f"c,PTS,{'0' * 50}{units}.{'0' * 50}\n"
        + f"d,ETH,-{'0' * 60}{half // 10**18}.{half % 10**18:018d}\n"
        + f"e,ETH,-{'0' * 60}{half // 10**18}.{half % 10**18:018d}\n"
    )
    rc, stdout, stderr, out = build("long.csv", content, "--negative", "exclude", "--json")
    assert rc == 0, stderr
    doc = json.loads(stdout)
    assert doc["totals"]["BTC"] == "2.5"
    assert doc["totals"]["PTS"] == str(units)
    assert doc["excluded"]["assets"]["ETH"]["total_base_units"] == str(-2 * half)
    assert os.path.exists(out / "root.json")


# ----------------------------------------------------------------------------- assets TOML


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        pytest.param("[assets.BTC]\ndecimals = " + "1" * 5000 + "\n", "digits", id="huge-int"),
        pytest.param("a = " + "[" * 100_000 + "]" * 100_000 + "\n", "nested", id="deep-array"),
        pytest.param("a = " + "{b = " * 50_000 + "1" + "}" * 50_000, "nested", id="deep-table"),
    ],
)
def test_assets_toml_hostile_is_input_error(tmp_path, text, fragment):
    path = write(tmp_path / "assets.toml", text)
    with pytest.raises(InputError) as info:
        read_assets(path)
    assert info.value.file == str(path)
    assert fragment in str(info.value)


def test_assets_toml_with_some_nesting_still_reads(tmp_path):
    path = write(tmp_path / "assets.toml", "x = " + "[" * 40 + "]" * 40 + "\n" + ASSETS_TOML)
    assert read_assets(path) == tuple(sorted(ASSETS, key=lambda a: a.code.encode()))
