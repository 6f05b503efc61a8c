"""The build's early scan (verifier/inputs/liabilities_lines.py `prefetch_scan`): the reader
takes it only for the very file it scanned, and it never starts on anything but a regular
file the in-memory reader reads (a FIFO must not hang a thread, a directory or a Parquet
file is not scanned)."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from attestations.encoding import AssetSpec
from verifier.base.errors import InputError
from verifier.inputs import liabilities_lines
from verifier.inputs.liabilities import read_liabilities
from verifier.inputs.liabilities_lines import prefetch_scan, prefetched_scan

ASSETS = (AssetSpec("BTC", 8),)


def _write(path: Path, rows: int) -> bytes:
    body = "account_id,asset,amount\n" + "".join(f"a{i},BTC,0.{i:08d}\n" for i in range(rows))
    path.write_text(body)
    return body.encode()


def test_the_reader_takes_the_prefetched_scan_of_the_same_file(tmp_path: Path) -> None:
    path = tmp_path / "l.csv"
    body = _write(path, 50)
    prefetch_scan(path)
    future = liabilities_lines._PREFETCHED[str(path)][1]
    data = read_liabilities(path, ASSETS)
    assert future.done()  # the reader waited on this one: it took it
    assert str(path) not in liabilities_lines._PREFETCHED
    assert data.input_sha256 == hashlib.sha256(body).hexdigest()


def test_a_file_changed_after_the_prefetch_is_scanned_again(tmp_path: Path) -> None:
    path = tmp_path / "l.csv"
    _write(path, 50)
    prefetch_scan(path)
    liabilities_lines._PREFETCHED[str(path)][1].result(timeout=30)
    time.sleep(0.01)
    body = _write(path, 60)  # another size and mtime: the old scan must not be used
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert prefetched_scan(path) is None
    prefetch_scan(path)
    body = _write(path, 70)
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 2 * 10**9))
    data = read_liabilities(path, ASSETS)
    assert data.input_sha256 == hashlib.sha256(body).hexdigest()
    assert data.stats["rows"] == 70


def test_the_scan_error_reaches_the_reader_as_before(tmp_path: Path) -> None:
    path = tmp_path / "l.csv"
    path.write_bytes(b"account_id,asset,amount\na,BTC,1\rb,BTC,2\n")
    prefetch_scan(path)
    with pytest.raises(InputError, match="line 2: a carriage return"):
        read_liabilities(path, ASSETS)


@pytest.mark.parametrize("kind", ["fifo", "dir", "parquet", "empty", "missing"])
def test_nothing_but_a_readable_regular_file_is_prefetched(tmp_path: Path, kind: str) -> None:
    path = tmp_path / ("in.parquet" if kind == "parquet" else "in.csv")
    if kind == "fifo":
        os.mkfifo(path)  # opening it would block a thread forever
    elif kind == "dir":
        path.mkdir()
    elif kind == "parquet":
        path.write_bytes(b"PAR1 not really")
    elif kind == "empty":
        path.write_bytes(b"")
    prefetch_scan(path)
    assert str(path) not in liabilities_lines._PREFETCHED
    assert prefetched_scan(path) is None


def test_a_rewrite_in_place_with_its_mtime_put_back_is_scanned_again(tmp_path: Path) -> None:
    """cp -p, rsync --inplace -t, touch -r keep device, inode, size and mtime; the ctime
    still moves (an outside tester's repro recorded the old file's hash for the new rows)."""
    path = tmp_path / "l.csv"
    _write(path, 50)
    st = path.stat()
    prefetch_scan(path)
    liabilities_lines._PREFETCHED[str(path)][1].result(timeout=30)
    time.sleep(0.02)
    body = path.read_bytes().replace(b"a1,", b"b1,", 1)  # same size
    with path.open("r+b") as handle:  # in place: same inode
        handle.write(body)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # mtime put back
    assert path.stat().st_mtime_ns == st.st_mtime_ns and path.stat().st_size == st.st_size
    data = read_liabilities(path, ASSETS)
    assert data.input_sha256 == hashlib.sha256(body).hexdigest()
    assert "b1" in data.account_ids.to_pylist()


def test_a_file_changed_while_it_is_read_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scan (hash, lines) and Arrow's parse read the file apart; a write in between
    would pair one file's hash with another's rows."""
    from verifier.inputs import liabilities

    path = tmp_path / "l.csv"
    _write(path, 50)
    real = liabilities.read_csv_table  # type: ignore[attr-defined]

    def read_then_append(source: object) -> object:
        table = real(source)  # type: ignore[arg-type]
        with path.open("a") as handle:
            handle.write("late,BTC,1\n")
        return table

    monkeypatch.setattr(liabilities, "read_csv_table", read_then_append)
    with pytest.raises(InputError, match="changed while it was read"):
        read_liabilities(path, ASSETS)
