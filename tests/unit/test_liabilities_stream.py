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


# --- several faults in one file: which one each reader names --------------------------------

BIG = "2000000000000000000000000000000"  # 2e30 BTC = 2e38 base units: two of them reach 2**128


def fault(kind: str, tag: str) -> list[str]:
    """The lines of one fault of `kind`, its account ids marked by `tag` (so two faults of a
    file never make a third, such as a duplicate, between them). The per-asset faults sit
    in other assets than the total (BTC) so that the order between assets is tested."""
    return {
        "negative": [f"{tag}-n,ETH,-1"],
        "places": [f"{tag}-p,USDT,0.0000001"],
        "unknown asset": [f"{tag}-u,DOGE,1"],
        "duplicate": [f"{tag}-d,ETH,1", f"{tag}-d,ETH,2"],
        "empty id": [f",USDT,{len(tag)}"],
        "long id": [tag * 300 + ",BTC,1"],
        "nul id": [f"{tag}\x00,BTC,1"],
        "not a number": [f"{tag}-s,ETH,1e5"],
        "empty amount": [f"{tag}-e,USDT,"],
        "fields": [f"{tag}-f,BTC,1,9"],
        "total": [f"{tag}-t1,BTC,{BIG}", f"{tag}-t2,BTC,{BIG}"],
        "huge": [f"{tag}-h,ETH," + "9" * 80],
    }[kind]


KINDS = [  # BAD's kinds, a NUL in an id, and an asset's total
    "duplicate",
    "empty amount",
    "empty id",
    "fields",
    "huge",
    "long id",
    "negative",
    "not a number",
    "nul id",
    "places",
    "total",
    "unknown asset",
]
PAIRS = [(a, b) for a in KINDS for b in KINDS if a != b]


def batch_of_rows(path, batch_bytes):
    """Which batch each data row of `path` falls in when streamed by `batch_bytes`."""
    from verifier.inputs.liabilities import _open
    from verifier.inputs.liabilities_stream import _batches

    # the same rows, the wrong field count made parsable (that fault is met at the parse,
    # before any batch), so that the batches are cut as the real run cuts them
    clean = path.with_name("clean" + path.suffix)
    text = path.read_text(encoding="utf-8")
    clean.write_text(text.replace(",1,9\n", ",1;9\n").replace(', "extra": "9"}', "}"))
    source, _ = _open(clean, "error")
    source.rows = -2
    out = []
    for number, batch in enumerate(_batches(source, batch_bytes)):
        out += [number] * batch.num_rows
    clean.unlink()
    return out


def one_later_batch(path, faulty):
    """A batch size that puts the rows `faulty` in one batch after a clean one."""
    for batch_bytes in range(200, 5000, 100):
        where = batch_of_rows(path, batch_bytes)
        if len({where[r] for r in faulty}) == 1 and where[faulty[0]] > 0:
            return batch_bytes
    raise AssertionError("no batch size gives the layout the test is about")


def refusal(call):
    with pytest.raises(InputError) as caught:
        call()
    return str(caught.value), caught.value.line


def streamed(path, tmp_path, batch_bytes, **kw):
    out = tmp_path / "out"
    return refusal(
        lambda: stream_build(
            path, ASSETS, out, attestation_id="s", as_of="t", batch_bytes=batch_bytes, **kw
        )
    )


@pytest.mark.parametrize("negative", ["error", "exclude"])
@pytest.mark.parametrize("first_kind, second_kind", PAIRS)
def test_two_faults_in_one_later_batch(tmp_path, first_kind, second_kind, negative):
    """Both faults in one batch after clean ones (running totals carried in): the streamed
    reader names what the whole-file reader names, message, line and value."""
    one, two = fault(first_kind, "a"), fault(second_kind, "b")
    before = rows(30)
    path = write_csv(tmp_path / "in.csv", [*before, *one, *two, *rows(2)])
    batch_bytes = one_later_batch(path, range(len(before), len(before) + len(one) + len(two)))
    whole = refusal(lambda: read_liabilities(path, ASSETS, negative=negative))
    assert streamed(path, tmp_path, batch_bytes, negative=negative) == whole


@pytest.mark.parametrize("first_kind, second_kind", PAIRS)
def test_two_faults_in_different_batches(tmp_path, first_kind, second_kind):
    """Faults in different batches: the earlier batch's fault is named (what the whole-file
    reader names for the file without the later fault), except that a duplicate row is
    only seen once every batch is read, and that a parse fault (here a wrong field count)
    is met when its read block is parsed, before the batches cut from that block."""
    one, two = fault(first_kind, "a"), fault(second_kind, "b")
    before, between = rows(20), rows(20)
    path = write_csv(tmp_path / "in.csv", [*before, *one, *between, *two, *rows(2)])
    where = batch_of_rows(path, 90)
    last_of_one = len(before) + len(one) - 1
    assert where[last_of_one] < where[last_of_one + len(between) + 1]  # the layout tested
    if first_kind == "duplicate" or second_kind == "fields":
        expected = refusal(lambda: read_liabilities(path, ASSETS))
    else:
        alone = write_csv(tmp_path / "alone.csv", [*before, *one, *between])
        expected = refusal(lambda: read_liabilities(alone, ASSETS))
        expected = (expected[0].replace("alone.csv", "in.csv"), expected[1])
        alone.unlink()
    assert streamed(path, tmp_path, 90) == expected


DUPLICATES = [  # (account, asset) keys repeated in an order unlike the key order
    "zeta,BTC,1",
    "alpha,ETH,1",
    "mid,BTC,1",
    "alpha,BTC,1",
    "mid,BTC,2",  # line 6: the earliest repeat (of line 4)
    "zeta,BTC,3",
    "alpha,ETH,2",
    "mid,BTC,3",
]


@pytest.mark.parametrize("batch_bytes", [1, 90, 1 << 20])
def test_the_first_repeat_in_the_file_is_named(tmp_path, batch_bytes):
    """One rule on both paths: the earliest line repeating an (account, asset) of an
    earlier line, named with the line of its first occurrence — not the first in key or
    bucket order (many accounts spread over several buckets)."""
    filler = [f"acct-{i:05d},USDT,1" for i in range(3000)]
    path = write_csv(tmp_path / "in.csv", [*filler[:1500], *DUPLICATES, *filler[1500:]])
    whole = refusal(lambda: read_liabilities(path, ASSETS))
    assert whole == (
        f"{path}: line 1506: duplicate (account, asset) row; first seen on line 1504 "
        "(use --sum-duplicates to add them up): 'mid,BTC'",
        1506,
    )
    assert streamed(path, tmp_path, batch_bytes) == whole


def test_the_first_repeat_across_buckets(tmp_path, monkeypatch):
    """Several buckets, each with its own repeats: the smallest line across them wins."""
    import verifier.inputs.liabilities_stream as stream

    monkeypatch.setattr(stream, "BUCKET_ROWS", 4)  # many buckets for a small file
    lines = [f"k{i},BTC,1" for i in range(200)] + [f"k{i},BTC,2" for i in range(199, -1, -1)]
    path = write_csv(tmp_path / "in.csv", lines)
    whole = refusal(lambda: read_liabilities(path, ASSETS))
    assert whole[1] == 202 and "first seen on line 201" in whole[0]  # k199, repeated first
    assert streamed(path, tmp_path, 90) == whole


def test_summed_duplicates_reaching_2_128_name_the_first_in_the_file():
    """--sum-duplicates: of two keys whose sums reach 2**128, the one whose running sum gets
    there first in the input, named at its first row. (Through a file this refusal is never
    met: the asset's total, checked before, bounds every group's sum; the rule is tested on
    the keys directly.)"""
    import numpy as np

    from verifier.inputs.liabilities_columns import find_duplicates

    half = 1 << 127  # two of these reach 2**128
    # input rows 10..14: key 1 at rows 10, 13 (reaches at 13); key 5 at 11, 12 (at 12), so
    # key order (key 1 first) and file order disagree
    key = np.array([1, 5, 5, 1, 3], dtype=np.int64)
    units = np.array([half, half, half, half, 7], dtype=object)
    hi = np.array([int(u) >> 64 for u in units], dtype=np.uint64)
    lo = np.array([int(u) & (2**64 - 1) for u in units], dtype=np.uint64)
    ids = pa.array(["a", "b", "c"])
    rows_in = np.arange(10, 15, dtype=np.int64)
    found = find_duplicates(key, hi, lo, ids, ASSETS, rows_in, sum_duplicates=True)
    assert found is not None
    assert (found.at, found.first_seen, found.value, found.summed) == (12, 11, "b", True)
    # as refused duplicates: the earliest repeat (row 12, of row 11), not key 1's
    found = find_duplicates(key, hi, lo, ids, ASSETS, rows_in, sum_duplicates=False)
    assert found is not None
    assert (found.at, found.first_seen, found.value) == (12, 11, "b,USDT")


def as_jsonl(line: str) -> str:
    """A CSV fault line as a JSON Lines row: a fourth field becomes an unknown key."""
    import json

    fields = line.split(",")
    row = dict(zip(("account_id", "asset", "amount", "extra"), fields, strict=False))
    return json.dumps(row)


@pytest.mark.parametrize("other", [k for k in KINDS if k != "duplicate"] + ["duplicate"])
@pytest.mark.parametrize("null_first", [True, False])
def test_null_id_and_another_fault_in_jsonl(tmp_path, other, null_first):
    """JSON Lines, where an account id can be null: a null id and a fault of every other
    kind in one batch (after clean batches) give the whole-file reader's refusal."""
    null = ['{"account_id": null, "asset": "BTC", "amount": "1"}']
    faults = [as_jsonl(line) for line in fault(other, "b")]
    pair = [*null, *faults] if null_first else [*faults, *null]
    before = [as_jsonl(line.replace('"', "")) for line in rows(30)]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join([*before, *pair]) + "\n", encoding="utf-8")
    batch_bytes = one_later_batch(path, range(len(before), len(before) + len(pair)))
    whole = refusal(lambda: read_liabilities(path, ASSETS))
    assert streamed(path, tmp_path, batch_bytes) == whole


def test_a_file_changed_while_it_is_streamed_is_refused(tmp_path, monkeypatch):
    """The scan (hash, lines) and the batches read the file one after the other; a write
    in between would pair one file's hash with another's rows."""
    from verifier.inputs import liabilities_stream

    path = write_csv(tmp_path / "in.csv", rows(40))
    real = liabilities_stream._batches

    def batches_then_append(source, batch_bytes):
        yield from real(source, batch_bytes)
        with path.open("a") as handle:
            handle.write("late,BTC,1\n")

    monkeypatch.setattr(liabilities_stream, "_batches", batches_then_append)
    with pytest.raises(InputError, match="changed while it was read"):
        stream_build(path, ASSETS, tmp_path / "out", attestation_id="s", as_of="t")
    assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]
