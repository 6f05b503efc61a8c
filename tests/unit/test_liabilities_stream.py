"""The streamed reader + out-of-core build (verifier/inputs/liabilities_stream.py) against
`read_liabilities` + `build_tree`: the same files for the same rows and secret, and the same
refusal (message, file, line, value) for every hostile input, with batches of a few rows
so that every fault also sits past a batch seam."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.ipc
import pytest

from attestations.build import build_tree
from attestations.encoding import AssetSpec
from verifier.base.errors import InputError
from verifier.inputs.liabilities import read_liabilities
from verifier.inputs.liabilities_stream import stream_build

ASSETS = (AssetSpec("BTC", 8), AssetSpec("ETH", 18), AssetSpec("USDT", 6))


def rows(count: int) -> list[str]:
    out = []
    for i in range(count):
        out.append(f"user-{i},BTC,{i}.{i:08d}")
        if i % 3:
            out.append(f"user-{i},ETH,{i * 7}.5")
        if i % 4 == 0:
            out.append(f'"user-{i}",USDT,0{i}.000001')
    return out


def write_csv(path, lines):
    path.write_text("\n".join(["account_id,asset,amount", *lines]) + "\n", encoding="utf-8")
    return path


def write_jsonl(path, lines):
    import json

    out = []
    for line in lines:
        a, b, c = line.replace('"', "").split(",")
        out.append(json.dumps({"account_id": a, "asset": b, "amount": c}))
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


def tree_files(out):
    files = {}
    for p in sorted(out.rglob("*")):
        if not p.is_file():
            continue
        if p.name == "accounts.arrow":
            with pa.OSFile(str(p)) as f:
                files[p.name] = pyarrow.ipc.open_file(f).read_all().column(0).to_pylist()
        else:
            files[p.relative_to(out).as_posix()] = p.read_bytes()
    return files


def both(tmp_path, path, *, split=1, negative="error", sum_duplicates=False, batch=120):
    secret = tmp_path / "secret.key"
    if not secret.exists():
        secret.write_text("0f" * 32 + "\n")
        secret.chmod(0o600)
    kw = {"attestation_id": "s", "as_of": "2026-12-05T00:00:00Z", "split": split}
    kw["secret_file"] = secret
    data = read_liabilities(path, ASSETS, negative=negative, sum_duplicates=sum_duplicates)
    build_tree(data, tmp_path / "whole", **kw)
    stream_build(
        path,
        ASSETS,
        tmp_path / "streamed",
        negative=negative,
        sum_duplicates=sum_duplicates,
        batch_bytes=batch,
        **kw,
    )
    return tree_files(tmp_path / "whole"), tree_files(tmp_path / "streamed")


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
@pytest.mark.parametrize("split", [1, 3])
def test_streamed_equals_whole(tmp_path, kind, split):
    write = write_csv if kind == "csv" else write_jsonl
    path = write(tmp_path / f"in.{kind}", rows(60))
    whole, streamed = both(tmp_path, path, split=split)
    assert whole == streamed


def test_exclusions_and_duplicates_sum_alike(tmp_path):
    lines = [*rows(40), "user-3,BTC,-1.5", "user-7,ETH,-2", "gone,USDT,-4", "user-5,BTC,2.25"]
    path = write_csv(tmp_path / "in.csv", lines)
    whole, streamed = both(tmp_path, path, negative="exclude", sum_duplicates=True)
    assert whole == streamed
    assert b'"rows": 3' in streamed["root.json"]


def test_one_batch_per_row_and_one_big_batch(tmp_path):
    path = write_csv(tmp_path / "in.csv", rows(25))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    w1, s1 = both(tmp_path / "a", path, batch=1)
    w2, s2 = both(tmp_path / "b", path, batch=1 << 20)
    assert w1 == s1 and w2 == s2


BAD = {
    "negative": ["user-1,BTC,1", "user-2,BTC,-1"],
    "places": ["user-1,BTC,1", "user-2,BTC,0.000000001"],
    "unknown asset": ["user-1,BTC,1", "user-2,DOGE,1"],
    "duplicate": ["user-1,BTC,1", "user-2,BTC,1", "user-1,BTC,2"],
    "empty id": ["user-1,BTC,1", ",BTC,1"],
    "long id": ["user-1,BTC,1", "x" * 257 + ",BTC,1"],
    "not a number": ["user-1,BTC,1", "user-2,BTC,1e5"],
    "empty amount": ["user-1,BTC,1", "user-2,BTC,"],
    "fields": ["user-1,BTC,1", "user-2,BTC,1,9"],
    "total": [
        "a,USDT,200000000000000000000000000000000",
        "b,USDT,200000000000000000000000000000000",
    ],
    "huge": ["a,BTC," + "9" * 80],
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_same_refusal(tmp_path, name):
    lines = [*rows(90), *BAD[name], *rows(3)]  # past the first batches (1 KiB)
    path = write_csv(tmp_path / "in.csv", lines)
    with pytest.raises(InputError) as whole:
        read_liabilities(path, ASSETS)
    with pytest.raises(InputError) as streamed:
        stream_build(path, ASSETS, tmp_path / "out", attestation_id="s", as_of="t", batch_bytes=90)
    assert str(streamed.value) == str(whole.value)
    assert streamed.value.line == whole.value.line  # a line, not only a message
    assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_blank_lines_keep_line_numbers(tmp_path):
    path = tmp_path / "in.csv"
    body = "".join(f"u-{i},BTC,1\n" for i in range(120))
    path.write_text("account_id,asset,amount\n\nuser-1,BTC,1\n\n\n" + body + "user-2,BTC,-1\n")
    with pytest.raises(InputError) as whole:
        read_liabilities(path, ASSETS)
    with pytest.raises(InputError) as streamed:
        stream_build(path, ASSETS, tmp_path / "out", attestation_id="s", as_of="t", batch_bytes=16)
    assert str(streamed.value) == str(whole.value)
    assert whole.value.line == 126


@pytest.mark.parametrize(
    "text",
    [
        "account_id,asset,amount\n",
        "account,asset,amount\nuser-1,BTC,1\n",
        "account_id,asset,amount\nuser-1,BTC,1\ruser-2,BTC,1\n",
    ],
)
def test_file_level_refusals(tmp_path, text):
    path = tmp_path / "in.csv"
    path.write_text(text)
    with pytest.raises(InputError) as whole:
        read_liabilities(path, ASSETS)
    with pytest.raises(InputError) as streamed:
        stream_build(path, ASSETS, tmp_path / "out", attestation_id="s", as_of="t")
    assert str(streamed.value) == str(whole.value)


def test_jsonl_null_row_and_number(tmp_path):
    for body in (
        '{"account_id":"a","asset":"BTC","amount":"1"}\nnull\n',
        '{"account_id":"a","asset":"BTC","amount":1}\n',
    ):
        path = tmp_path / "in.jsonl"
        path.write_text(body)
        with pytest.raises(InputError) as whole:
            read_liabilities(path, ASSETS)
        with pytest.raises(InputError) as streamed:
            stream_build(path, ASSETS, tmp_path / "out", attestation_id="s", as_of="t")
        assert str(streamed.value) == str(whole.value)


def test_jsonl_object_over_two_lines_is_named_as_such(tmp_path):
    """Refused for not being one object per line (as the whole-file reader refuses it),
    not for a later fault whose line could not be trusted."""
    good = "".join(f'{{"account_id":"u{i}","asset":"BTC","amount":"1"}}\n' for i in range(80))
    body = good + '{"account_id":"x",\n"asset":"BTC","amount":"1"}\n' + good
    body += '{"account_id":"y","asset":"BTC","amount":"-1"}\n'
    path = tmp_path / "in.jsonl"
    path.write_text(body)
    with pytest.raises(InputError) as whole:
        read_liabilities(path, ASSETS)
    with pytest.raises(InputError) as streamed:
        stream_build(path, ASSETS, tmp_path / "out", attestation_id="s", as_of="t", batch_bytes=1)
    assert str(streamed.value) == str(whole.value)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "first, second",
    [
        (
            '{"account_id":null,"asset":"BTC","amount":"1"}',
            '{"account_id":"b","asset":"DOGE","amount":"1"}',
        ),
        (
            '{"account_id":null,"asset":"BTC","amount":"1"}',
            '{"account_id":"b","asset":"BTC","amount":"x"}',
        ),
        (
            '{"account_id":"","asset":"BTC","amount":"1"}',
            '{"account_id":"b","asset":"DOGE","amount":"1"}',
        ),
        (
            '{"account_id":"a","asset":"BTC","amount":"-1"}',
            '{"account_id":"b","asset":"DOGE","amount":"1"}',
        ),
    ],
)
def test_two_faults_in_one_batch_give_the_whole_file_readers_refusal(tmp_path, first, second):
    """Within a batch the streamed reader checks in the whole-file reader's order (assets,
    amounts, then account ids, then signs), so a file with two faults in one batch is
    refused with the same one (faults in different batches: the earlier batch's)."""
    path = tmp_path / "in.jsonl"
    path.write_text(f'{{"account_id":"z","asset":"BTC","amount":"1"}}\n{first}\n{second}\n')
    with pytest.raises(InputError) as whole:
        read_liabilities(path, ASSETS)
    with pytest.raises(InputError) as streamed:
        stream_build(path, ASSETS, tmp_path / "out", attestation_id="s", as_of="t")
    assert str(streamed.value) == str(whole.value)
    assert streamed.value.line == whole.value.line == 3
