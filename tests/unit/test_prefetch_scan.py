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
