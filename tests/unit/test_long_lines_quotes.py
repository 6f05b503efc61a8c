"""A quoted CSV field that runs over a line end (a line break inside quotes, or a quote never
closed) is refused naming the line where it starts, on every reader alike
(verifier/inputs/liabilities_csv.py `check_one_row_per_line`).

Why: Arrow reads CSV with ``newlines_in_values=False`` (its quote-aware chunker costs a fifth
of the read), and then reads such a field whole inside a block but cut across a block
boundary — where pyarrow 26 drops rows without a word: a file of 200,000 accounts with
one unclosed quote built a tree of 189,624 accounts, exit 0. The streamed reader named a
wrong line. Blank lines and quotes that stay on their line keep reading as before.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from attestations.encoding import AssetSpec
from verifier.base.errors import InputError
from verifier.inputs.liabilities import read_liabilities
from verifier.inputs.liabilities_lines import READ_BLOCK_BYTES
from verifier.inputs.liabilities_stream import stream_build

ASSETS = (AssetSpec("BTC", 8),)


def outcome(run):
    try:
        return ("read", run())
    except InputError as exc:
        return ("refused", exc.line, str(exc))


def in_memory(path: Path, tmp: Path) -> object:
    data = read_liabilities(path, ASSETS)
    return sorted(data.account_ids.to_pylist())


def streamed(path: Path, tmp: Path, batch_bytes: int = 8 << 20) -> object:
    stream_build(
        path,
        ASSETS,
        tmp / "s",
        attestation_id="x",
        as_of="t",
        force=True,
        batch_bytes=batch_bytes,
    )
    import pyarrow.ipc

    with pyarrow.OSFile(str(tmp / "s" / "tree" / "accounts.arrow")) as handle:
        ids = pyarrow.ipc.open_file(handle).read_all().column(0).to_pylist()
    return sorted(ids)


def body(rows: int, bad: str | None = None, at: int = 0) -> list[str]:
    lines = ["account_id,asset,amount", *(f'"user-{i:07d}",BTC,1' for i in range(rows))]
    if bad is not None:
        lines.insert(at, bad)
    return lines


def test_quoted_line_break_is_refused_streamed(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("\n".join(body(300, '"multi\nline",BTC,1', 120)) + "\n")
    for batch in (8 << 20, 200):
        kind, line, message = outcome(lambda b=batch: streamed(path, tmp_path, b))
        assert (kind, line) == ("refused", 121)
        assert "runs over the line end" in message


def test_unclosed_quote_is_refused_streamed(tmp_path):
    """Rows after the quote are not lost: the file is refused at the quote's line."""
    path = tmp_path / "in.csv"
    path.write_text("\n".join(body(80_000, '"open,BTC,1', 40_000)) + "\n")
    kind, line, message = outcome(lambda: streamed(path, tmp_path))
    assert (kind, line) == ("refused", 40_001)
    assert "quote that is not closed" in message


def test_quoted_break_named_before_a_later_fault_streamed(tmp_path):
    """Mid-stream faults name their line only once every row is known to be on one line."""
    lines = body(300, '"multi\nline",BTC,1', 20)
    lines.append("late,BTC,-1")
    path = tmp_path / "in.csv"
    path.write_text("\n".join(lines) + "\n")
    kind, line, message = outcome(lambda: streamed(path, tmp_path, 100))
    assert (kind, line) == ("refused", 21)
    assert "runs over the line end" in message


@pytest.mark.parametrize(
    "lines",
    [
        # blank lines: rows and lines differ, quotes on their own lines
        ["account_id,asset,amount", "", '"a",BTC,1', "", "", '"b ""x""",BTC,2', ""],
        # a literal quote inside an unquoted field, and a quoted comma
        ["account_id,asset,amount", 'a"b,BTC,1', '"c,d",BTC,2', "", "e,BTC,3"],
    ],
)
def test_quotes_on_their_line_read_alike(tmp_path, lines):
    path = tmp_path / "in.csv"
    path.write_text("\n".join(lines) + "\n")
    assert outcome(lambda: in_memory(path, tmp_path)) == outcome(
        lambda: streamed(path, tmp_path, 16)
    )
    assert outcome(lambda: in_memory(path, tmp_path))[0] == "read"


def boundary_file(path: Path) -> int:
    """A quoted line break a few bytes before Arrow's first block boundary; its line."""
    lines = ["account_id,asset,amount"]
    size = len(lines[0]) + 1
    i = 0
    while READ_BLOCK_BYTES - size > 60:
        lines.append(f"u{i:07d},BTC,1")
        size += len(lines[-1]) + 1
        i += 1
    fill = READ_BLOCK_BYTES - 3 - size - len('"m",BTC,1')
    lines.append("f" * fill + ",BTC,1")
    lines.append('"m\nx",BTC,1')
    lines += [f"v{k},BTC,1" for k in range(100)]
    path.write_text("\n".join(lines) + "\n")
    return len(lines) - 100


@pytest.mark.parametrize(
    "case",
    ["interior", "boundary", "unclosed"],
)
def test_in_memory_refuses_as_streamed(tmp_path, case):
    path = tmp_path / "in.csv"
    if case == "interior":
        path.write_text("\n".join(body(300, '"multi\nline",BTC,1', 120)) + "\n")
    elif case == "boundary":
        boundary_file(path)
    else:
        path.write_text("\n".join(body(80_000, '"open,BTC,1', 40_000)) + "\n")
    whole = outcome(lambda: in_memory(path, tmp_path))
    assert whole[0] == "refused"
    assert whole == outcome(lambda: streamed(path, tmp_path))
