"""The `--negative exclude` totals are capped at 2**128 in magnitude like every other sum.

Each excluded amount is below 2**128 in magnitude, but their total was summed without the
cap the docs state for every sum: two rows of -(2**128 - 1) BTC gave an excluded total of
-(2**129 - 2) in root.json. Now the whole-file reader, the streamed reader (the total
carried across batches), the partitioned reader (the total over partitions) and `por
liabilities build` refuse it with exit 3 naming the file, the line where the total gets
there and the running total; and a root document carrying an out-of-range or inconsistent
`excluded` member is refused by its parser (attestations/proofs.py)."""

from __future__ import annotations

import json

import pytest

from attestations.encoding import AssetSpec
from attestations.proofs import parse_root_document
from verifier.base.errors import InputError, InvalidProof
from verifier.cli.main import main
from verifier.inputs.liabilities import read_liabilities
from verifier.inputs.liabilities_cluster import read_partitions
from verifier.inputs.liabilities_stream import stream_build

M = 2**128
ASSETS = (AssetSpec("BTC", 8), AssetSpec("ETH", 18))
HEADER = "account_id,asset,amount\n"
BIG = f"-{(M - 1) // 10**8}.{(M - 1) % 10**8:08d}"  # -(2**128 - 1) satoshi


def _csv(path, body):
    path.write_text(HEADER + body)
    return path


def _filler(count):
    return "".join(f"u{i},ETH,1\n" for i in range(count))


def test_the_whole_file_reader_refuses_at_the_crossing_row(tmp_path):
    path = _csv(tmp_path / "l.csv", f"a,BTC,2\nb,BTC,{BIG}\nc,ETH,-1\nd,BTC,-0.00000001\n")
    with pytest.raises(InputError) as info:
        read_liabilities(path, ASSETS, negative="exclude")
    exc = info.value
    assert (exc.file, exc.line, exc.value) == (str(path), 5, str(-M))
    assert "BTC" in exc.message and "2**128" in exc.message and exc.exit_code == 3


def test_the_largest_total_passes(tmp_path):
    path = _csv(tmp_path / "l.csv", f"a,BTC,2\nb,BTC,{BIG}\nc,ETH,-1\n")
    data = read_liabilities(path, ASSETS, negative="exclude")
    assert data.excluded is not None
    assert data.excluded["assets"]["BTC"]["total_base_units"] == str(-(M - 1))
    # and the root document carrying it parses
    doc = _root_doc(data.excluded)
    assert parse_root_document(doc).excluded == data.excluded


def test_the_streamed_reader_carries_the_cap_across_batches(tmp_path):
    """The two big rows fall in different batches: each batch alone is below the cap."""
    path = _csv(tmp_path / "l.csv", f"b,BTC,{BIG}\n" + _filler(60) + f"c,BTC,{BIG}\n")
    with pytest.raises(InputError) as whole:
        read_liabilities(path, ASSETS, negative="exclude")
    with pytest.raises(InputError) as streamed:
        stream_build(
            path, ASSETS, tmp_path / "out", attestation_id="s", as_of="t",
            negative="exclude", batch_bytes=90,
        )  # fmt: skip
    assert str(streamed.value) == str(whole.value)
    assert (streamed.value.line, streamed.value.value) == (63, str(-(2 * M - 2)))
    assert not (tmp_path / "out").exists()


def test_the_streamed_summary_equals_the_whole_file_summary(tmp_path):
    body = f"b,BTC,-{(M // 2) // 10**8}\n" + _filler(60) + "c,BTC,-1.5\nd,ETH,-2\n"
    path = _csv(tmp_path / "l.csv", body)
    whole = read_liabilities(path, ASSETS, negative="exclude").excluded
    _, summary = stream_build(
        path, ASSETS, tmp_path / "out", attestation_id="s", as_of="t",
        negative="exclude", batch_bytes=90,
    )  # fmt: skip
    assert summary.excluded == whole
    assert list(whole["assets"]) == ["BTC", "ETH"] and whole["rows"] == 3


def test_partitions_each_below_the_cap_are_refused_together(tmp_path):
    parts = tmp_path / "parts"
    parts.mkdir()
    _csv(parts / "a.csv", f"a,BTC,{BIG}\nx,BTC,1\n")
    _csv(parts / "b.csv", f"b,BTC,{BIG}\ny,BTC,1\n")
    for name in ("a.csv", "b.csv"):
        assert read_liabilities(parts / name, ASSETS, negative="exclude").excluded is not None
    with pytest.raises(InputError) as info:
        read_partitions(parts, ASSETS, negative="exclude")
    assert info.value.value == str(-(2 * M - 2)) and "partitions" in info.value.message
    assert info.value.exit_code == 3


def test_cli_build_refuses_with_exit_3_and_writes_nothing(tmp_path, capsys):
    path = _csv(tmp_path / "l.csv", f"a,BTC,1\nb,BTC,{BIG}\nc,BTC,{BIG}\n")
    (tmp_path / "assets.toml").write_text(
        "[assets.BTC]\ndecimals = 8\n[assets.ETH]\ndecimals = 18\n"
    )
    rc = main([
        "liabilities", "build", str(path), "--assets", str(tmp_path / "assets.toml"),
        "--attestation-id", "x", "--as-of", "2026-12-05T00:00:00Z", "--out",
        str(tmp_path / "tree"), "--negative", "exclude", "--json",
    ])  # fmt: skip
    captured = capsys.readouterr()
    assert rc == 3
    doc = json.loads(captured.out)
    assert (doc["file"], doc["line"]) == (str(path), 4)
    assert "2**128" in doc["message"] and "Traceback" not in captured.err
    assert not (tmp_path / "tree").exists() or not any((tmp_path / "tree").iterdir())


# ----------------------------------------------------------------------------- the reader


def _root_doc(excluded):
    """A root document of ASSETS (real commitment) carrying `excluded`."""
    from attestations.encoding import commitment

    sums = (1, 0)
    root_hash = bytes(32)
    doc = {
        "format": "por-mst-v1",
        "attestation_id": "x",
        "as_of": "t",
        "assets": [{"code": a.code, "decimals": a.decimals} for a in ASSETS],
        "height": 1,
        "root": {"hash": root_hash.hex(), "sums": [str(s) for s in sums]},
        "commitment": commitment("x", ASSETS, 1, root_hash, sums).hex(),
    }
    if excluded is not None:
        doc["excluded"] = excluded
    return doc


def _excluded(total, rows=1, code="BTC", shown=None, **top):
    from attestations.proofs import format_units

    entry = {"rows": rows, "total_base_units": total}
    entry["total"] = shown if shown is not None else format_units(int(total), 8)
    return {"reason": "negative balances dropped", "rows": rows, "assets": {code: entry}, **top}


def test_a_good_excluded_member_parses():
    doc = _root_doc(_excluded(str(-(M - 1))))
    assert parse_root_document(doc).excluded == doc["excluded"]
    assert parse_root_document(_root_doc(None)).excluded is None


@pytest.mark.parametrize(
    ("excluded", "fragment"),
    [
        (_excluded(str(-M)), "reaches 2**128"),
        (_excluded(str(-(2 * M))), "reaches 2**128"),
        (_excluded("-" + "9" * 5000, shown="x"), "canonical negative decimal"),
        (_excluded("5"), "canonical negative decimal"),
        (_excluded("0"), "canonical negative decimal"),
        (_excluded("-05", shown="-0.00000005"), "canonical negative decimal"),
        (_excluded("-1e3", shown="x"), "canonical negative decimal"),
        (_excluded(-5, shown="-0.00000005"), "canonical negative decimal"),
        (_excluded("-5", shown="-5"), "whole units"),
        (_excluded("-5", shown=5), "whole units"),
        (_excluded("-5", code="DOGE"), "not one of the document's assets"),
        (_excluded("-5", rows=0), "rows"),
        (_excluded("-5", rows=True), "rows"),
        (_excluded("-5", rows="NaN"), "rows"),
        ({**_excluded("-5"), "rows": 2}, "sum of the assets' rows"),
        ({**_excluded("-5"), "rows": 2**64}, "excluded.rows"),
        ({**_excluded("-5"), "reason": 7}, "excluded.reason"),
        ({"rows": 1}, "missing key 'assets'"),
        ({"rows": 1, "assets": []}, "expected an object"),
        ({"rows": 1, "assets": {"BTC": "-5"}}, "expected an object"),
        ([], "expected an object"),
    ],
)
def test_a_bad_excluded_member_is_refused(excluded, fragment):
    with pytest.raises(InvalidProof) as info:
        parse_root_document(_root_doc(excluded))
    assert fragment in info.value.message, info.value.message
    assert "excluded" in info.value.message
    assert info.value.exit_code == 3


def test_verify_proof_refuses_a_root_json_with_an_excessive_excluded_total(tmp_path, capsys):
    """A published root document is read by `verify-proof --root`: out of range is exit 3."""
    from tests.cli.conftest import FIXTURES

    tree = tmp_path / "tree"
    args = [
        "liabilities", "build", str(FIXTURES / "sample.csv"), "--assets",
        str(FIXTURES / "assets.toml"), "--attestation-id", "x", "--out", str(tree),
        "--as-of", "2026-12-05T00:00:00Z",
    ]  # fmt: skip
    assert main(args) == 0
    assert main(["liabilities", "proof", str(tree), "alice", "-o", str(tmp_path / "p.json")]) == 0
    root = json.loads((tree / "root.json").read_text())
    code = root["assets"][0]["code"]
    root["excluded"] = {
        "reason": "negative balances dropped by --negative exclude",
        "rows": 2,
        "assets": {code: {"rows": 2, "total_base_units": str(-M), "total": "-1"}},
    }
    (tmp_path / "root.json").write_text(json.dumps(root))
    capsys.readouterr()
    rc = main(["verify-proof", str(tmp_path / "p.json"), "--root", str(tmp_path / "root.json")])
    assert rc == 3
    assert "reaches 2**128" in capsys.readouterr().err
