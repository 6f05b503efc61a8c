"""The leaf helpers every layer uses on hostile input: bounded JSON, masking, output guard,
and the CLI's last-resort handler (no traceback without --debug)."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import verifier.cli.main as cli
from verifier.base.errors import InputError, UsageError
from verifier.base.outdir import guard_output
from verifier.base.redact import MASK, mask_dsn, mask_text, mask_url
from verifier.base.safejson import MAX_DEPTH, load_path, loads

# ----------------------------------------------------------------------------- safejson


def test_deep_nesting_is_refused_even_with_a_raised_recursion_limit():
    import eth_account  # noqa: F401  (imports py_ecc, which raises the limit to 100000)

    assert sys.getrecursionlimit() >= 100000
    for doc in ("[" * 100_000, '{"a":' * 100_000, "[" * (MAX_DEPTH * 2) + "]" * (MAX_DEPTH * 2)):
        with pytest.raises(InputError, match="nested more than"):
            loads(doc, source="deep.json")
    assert sys.getrecursionlimit() >= 100000  # restored


def test_nesting_up_to_the_cap_is_accepted():
    depth = MAX_DEPTH
    assert loads("[" * depth + "]" * depth, source="x") == eval("[" * depth + "]" * depth)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ("9" * 5000, "5000 digits"),
        ("-" + "9" * 201, "201 digits"),
        ("1.5", "non-integer number"),
        ("NaN", "NaN"),
        ("[Infinity]", "Infinity"),
        ('{"a": 1, "a": 2}', "twice"),
        ("", "not JSON"),
        ("{", "not JSON"),
        (b"\xff\xfe", "not valid UTF-8"),
        (b"\xef\xbb\xbf{}", "not JSON"),
    ],
)
def test_hostile_documents_are_named_input_errors(doc, message):
    with pytest.raises(InputError, match=message) as caught:
        loads(doc, source="f.json", strict_keys=True)
    assert caught.value.file == "f.json"


def test_decimals_are_exact_and_bounded():
    assert loads('{"v": 0.1}', source="x", parse_float=Decimal) == {"v": Decimal("0.1")}
    assert loads("1e400", source="x", parse_float=Decimal) == Decimal("1e400")
    with pytest.raises(InputError, match="exponent"):
        loads("1e999999999", source="x", parse_float=Decimal)


def test_error_lines_are_counted(tmp_path):
    bad = tmp_path / "b.json"
    bad.write_bytes(b'{\n"a": 1,\n"b": }\n')
    with pytest.raises(InputError) as caught:
        load_path(bad, what="proof file")
    assert caught.value.line == 3
    with pytest.raises(InputError, match="not found"):
        load_path(tmp_path / "missing.json", what="proof file")
    with pytest.raises(InputError, match="directory"):
        load_path(tmp_path, what="proof file")


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(), st.lists))
def test_round_trip_of_ordinary_json(value):
    import json

    assert loads(json.dumps(value), source="x") == value


# ----------------------------------------------------------------------------- redact


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("http://user:hunter2@host:8332/", "hunter2"),
        ("https://mainnet.infura.io/v3/9aa3d95b3bc440fa88ea12eaa4456161", "9aa3d95b3bc440fa88"),
        ("https://eth.g.alchemy.com/v2/abcDEF123ghiJKL456mnoP", "abcDEF123ghiJKL456mnoP"),
        ("postgresql://u@h/db?password=s3cretpw&sslmode=require", "s3cretpw"),
        ("http://h/rpc?apikey=abc123xyz", "abc123xyz"),
        ("http://user:pw12@[::1", "pw12"),
        ("http://[::1:pw@x", "pw@x"),
    ],
)
def test_mask_url_hides_the_secret(url, secret):
    masked = mask_url(url)
    assert secret not in masked
    assert secret not in mask_text(f"cannot reach {url}: refused")


def test_mask_url_keeps_what_is_not_secret():
    assert mask_url("http://127.0.0.1:8545") == "http://127.0.0.1:8545"
    assert mask_url("http://rpc@host/") == "http://rpc@host/"
    assert mask_url("http://u:p@h/x?sslmode=require") == f"http://u:{MASK}@h/x?sslmode=require"
    assert mask_text("plain words", ["sekrit"]) == "plain words"
    assert mask_text("the sekrit leaked", ["sekrit"]) == f"the {MASK} leaked"
    assert "hunter2" not in mask_dsn("host=db password='hunter2' dbname=por")


# ----------------------------------------------------------------------------- outdir


def test_guard_output_refuses_an_output_that_holds_or_sits_in_an_input(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    csv = data / "x.csv"
    csv.write_text("a")
    with pytest.raises(UsageError, match=r"contains the input file"):
        guard_output(data, [("input file", csv)], flag="--out")
    with pytest.raises(UsageError, match="contains"):
        guard_output(tmp_path, [("signing key", csv)], flag="--out")
    with pytest.raises(UsageError, match="lies inside"):
        guard_output(data / "site", [("attestation directory", data)], flag="--out")
    link = tmp_path / "link"
    link.symlink_to(data)
    with pytest.raises(UsageError):
        guard_output(link, [("input file", csv)], flag="--out")
    guard_output(tmp_path / "elsewhere", [("input file", csv), ("secret", None)], flag="--out")


# ----------------------------------------------------------------------------- CLI last resort


def test_an_unexpected_exception_is_one_line_without_traceback(monkeypatch, capsys):
    def boom(*_a, **_k):
        raise KeyError("http://u:pw1234@host/")

    monkeypatch.setattr(cli, "_main", boom)
    assert cli.main(["liabilities", "sample", "--json"]) == 4
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert "internal error (KeyError)" in captured.err
    assert "pw1234" not in captured.err + captured.out
    assert '"exit_code": 4' in captured.out
    monkeypatch.setenv("POR_DEBUG", "1")
    with pytest.raises(KeyError):
        cli.main(["liabilities", "sample"])
    monkeypatch.delenv("POR_DEBUG")
    with pytest.raises(KeyError):
        cli.main(["--debug", "liabilities", "sample"])


def test_no_traceback_from_a_real_process_on_deep_json(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000)
    por = Path(sys.executable).with_name("por")
    for args in (["verify-proof", str(deep)], ["verify", str(deep)]):
        done = subprocess.run(
            [str(por), *args], capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 3, (args, done.returncode, done.stderr[-300:])
        assert "Traceback" not in done.stderr
        assert "nested more than" in done.stderr and str(deep) in done.stderr


def test_a_bad_option_value_holding_a_password_is_masked(capsys):
    assert cli.main(["liabilities", "sample", "--accounts", "http://u:sekrit99@h/"]) == 2
    captured = capsys.readouterr()
    assert "sekrit99" not in captured.err + captured.out
    assert "Invalid value for '--accounts'" in " ".join(captured.err.split())
