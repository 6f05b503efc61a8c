"""One maximum line length for every liabilities reader (verifier/inputs/liabilities_lines.py
`MAX_LINE_BYTES`): a line of exactly the limit is read, one byte more is refused naming the
file, the line and the limit — in memory, streamed (--out-of-core) and as a directory
partition, CSV and JSON Lines, LF and CRLF, wherever the line falls against Arrow's blocks.
Before, the in-memory reader refused a line over ~2 MiB with Arrow's "straddling object"
and no line number while the streamed one read it, depending on where the line fell."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attestations.encoding import AssetSpec
from verifier.base.errors import InputError
from verifier.inputs.liabilities import read_liabilities
from verifier.inputs.liabilities_cluster import read_partitions
from verifier.inputs.liabilities_lines import (
    MAX_LINE_BYTES,
    READ_BLOCK_BYTES,
    LineLengths,
    first_long_line,
    scan_file,
)
from verifier.inputs.liabilities_stream import stream_build

ASSETS = (AssetSpec("BTC", 8),)
HEADER = b"account_id,asset,amount"


def row(kind: str, account: str, amount: str) -> bytes:
    if kind == "csv":
        return f"{account},BTC,{amount}".encode()
    return json.dumps({"account_id": account, "asset": "BTC", "amount": amount}).encode()


def long_row(kind: str, length: int) -> bytes:
    """A valid row of exactly `length` bytes: its amount zero-padded (1 BTC)."""
    short = row(kind, "long", "1")
    return row(kind, "long", "0" * (length - len(short)) + "1")


def write(path: Path, kind: str, before: int, length: int, *, crlf: bool = False) -> int:
    """A file whose line after `before` filler bytes (about) is `length` bytes long; returns
    that line's number."""
    end = b"\r\n" if crlf else b"\n"
    lines = [HEADER] if kind == "csv" else []
    size = sum(len(x) + len(end) for x in lines)
    i = 0
    while size < before:
        lines.append(row(kind, f"u{i:07d}", "1"))
        size += len(lines[-1]) + len(end)
        i += 1
    number = len(lines) + 1
    lines.append(long_row(kind, length))
    lines += [row(kind, f"v{k}", "2") for k in range(50)]
    path.write_bytes(end.join(lines) + end)
    assert len(path.read_bytes().split(end)[number - 1]) == length
    return number


def in_memory(path: Path, tmp: Path) -> int:
    return len(read_liabilities(path, ASSETS).account_ids)


def streamed(path: Path, tmp: Path) -> int:
    built, _ = stream_build(path, ASSETS, tmp / "s", attestation_id="x", as_of="t", force=True)
    return built.accounts


def streamed_small(path: Path, tmp: Path) -> int:
    """Batches of a few rows: the long line lies across batch seams."""
    built, _ = stream_build(
        path, ASSETS, tmp / "b", attestation_id="x", as_of="t", force=True, batch_bytes=300
    )
    return built.accounts


def partition(path: Path, tmp: Path) -> int:
    """The file as one partition of a directory input (read through the same reader)."""
    folder = tmp / "parts"
    folder.mkdir(exist_ok=True)
    other = folder / f"other{path.suffix}"
    other.write_bytes(
        (HEADER + b"\n" if path.suffix == ".csv" else b"") + row(path.suffix[1:], "w", "3") + b"\n"
    )
    (folder / path.name).write_bytes(path.read_bytes())
    return len(read_partitions(folder, ASSETS).account_ids) - 1


READERS = {
    "in-memory": in_memory,
    "streamed": streamed,
    "streamed-small-batches": streamed_small,
    "partition": partition,
}


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("kind", ["csv", "jsonl"])
@pytest.mark.parametrize("crlf", [False, True])
def test_both_sides_of_the_limit(tmp_path, reader, kind, crlf):
    path = tmp_path / f"in.{kind}"
    number = write(path, kind, 2000, MAX_LINE_BYTES, crlf=crlf)
    accounts = READERS[reader](path, tmp_path)
    assert accounts == number - (1 if kind == "csv" else 0) - 1 + 1 + 50
    number = write(path, kind, 2000, MAX_LINE_BYTES + 1, crlf=crlf)
    with pytest.raises(InputError) as refused:
        READERS[reader](path, tmp_path)
    assert refused.value.line == number
    assert Path(str(refused.value.file)).name == path.name  # the partition: its copy
    assert f"line of {MAX_LINE_BYTES + 1:,} bytes" in str(refused.value)
    assert f"limit of {MAX_LINE_BYTES:,}" in str(refused.value)


# where the line at the limit starts against Arrow's first block boundary: wholly inside,
# ending on it, straddling it by one byte, starting on it
PLACES = [
    READ_BLOCK_BYTES - MAX_LINE_BYTES - 200,
    READ_BLOCK_BYTES - MAX_LINE_BYTES,
    READ_BLOCK_BYTES - 40,
    READ_BLOCK_BYTES,
]


@pytest.mark.parametrize("before", PLACES)
@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_the_limit_is_read_wherever_it_falls(tmp_path, before, kind):
    path = tmp_path / f"in.{kind}"
    write(path, kind, before, MAX_LINE_BYTES)
    counts = {name: READERS[name](path, tmp_path) for name in ("in-memory", "streamed")}
    assert counts["in-memory"] == counts["streamed"] > 50


@pytest.mark.parametrize("length", [READ_BLOCK_BYTES - 5, 3 * READ_BLOCK_BYTES // 2, 17 << 20])
@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_lines_beyond_arrows_block_are_refused_with_their_number(tmp_path, length, kind):
    """The lengths the outside tester tried: Arrow's own refusal (no line number) or
    acceptance, depending on the reader, before."""
    path = tmp_path / f"in.{kind}"
    number = write(path, kind, 5000, length)
    for name in ("in-memory", "streamed"):
        with pytest.raises(InputError) as refused:
            READERS[name](path, tmp_path)
        assert refused.value.line == number, name
        assert "straddling" not in str(refused.value)


def test_last_line_without_line_end_and_first_line(tmp_path):
    path = tmp_path / "in.csv"
    path.write_bytes(HEADER + b"\n" + long_row("csv", MAX_LINE_BYTES + 1))
    for name in ("in-memory", "streamed"):
        with pytest.raises(InputError) as refused:
            READERS[name](path, tmp_path)
        assert refused.value.line == 2
    path.write_bytes(b"a" * (MAX_LINE_BYTES + 1) + b"\nx,BTC,1\n")
    with pytest.raises(InputError) as refused:
        read_liabilities(path, ASSETS)
    assert refused.value.line == 1


def test_a_bare_cr_is_named_before_the_long_line_it_makes(tmp_path):
    """CR-only line ends make the whole file one long line: the \\r is the news."""
    path = tmp_path / "in.csv"
    body = b"\r".join([HEADER, *(row("csv", f"u{i:06d}", "1") for i in range(10000))])
    path.write_bytes(body + b"\r")
    for name in ("in-memory", "streamed"):
        with pytest.raises(InputError, match="carriage return") as refused:
            READERS[name](path, tmp_path)
        assert refused.value.line == 1


def test_scan_and_standalone_check_agree(tmp_path):
    path = tmp_path / "in.csv"
    number = write(path, "csv", 3 << 20, MAX_LINE_BYTES + 7)
    with pytest.raises(InputError) as refused:
        scan_file(path)
    alone = first_long_line(path)
    assert alone is not None and str(alone) == str(refused.value)
    assert alone.line == number
    write(path, "csv", 3 << 20, MAX_LINE_BYTES)
    assert first_long_line(path) is None
    assert scan_file(path).lines > 50


def naive_first_long(data: bytes, limit: int) -> tuple[int, int] | None:
    start = 0
    for line in data.split(b"\n")[:-1] + ([data.rsplit(b"\n", 1)[-1]] if data else []):
        length = len(line) - (line.endswith(b"\r") and start + len(line) < len(data))
        if length > limit:
            return start, length
        start += len(line) + 1
    return None


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(st.tuples(st.integers(0, 40), st.booleans()), min_size=0, max_size=30),
    limit=st.integers(1, 24),
    cuts=st.lists(st.integers(1, 50), min_size=1, max_size=8),
    end_open=st.booleans(),
)
def test_line_lengths_match_a_naive_split(lines, limit, cuts, end_open):
    """Whatever the block sizes, the first line over the limit (start, length) is found
    exactly, CRLF counting as a line end, as splitting the whole file at \\n finds it."""
    data = b"".join(b"x" * n + (b"\r\n" if crlf else b"\n") for n, crlf in lines)
    if end_open:
        data += b"y" * cuts[0]
    lengths = LineLengths(limit)
    at = 0
    k = 0
    while at < len(data):
        size = cuts[k % len(cuts)]
        lengths.feed(data[at : at + size])
        at += size
        k += 1
    lengths.end()
    assert lengths.first_long == naive_first_long(data, limit)
