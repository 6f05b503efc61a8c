"""verifier/base/atomic.py `write_atomic`: the one atomic writer (fsync of file and
directory, mode, the caller's error, no temporary file left behind)."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from verifier.base.atomic import write_atomic
from verifier.base.errors import PorError, StoreError


def test_writes_whole_file_with_mode_and_fsyncs_file_then_directory(monkeypatch, tmp_path):
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    target = tmp_path / "sub" / "out.json"
    write_atomic(target, b"{}\n", mode=0o600)
    assert target.read_bytes() == b"{}\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert synced == ["file", "dir"]
    assert [p.name for p in target.parent.iterdir()] == ["out.json"]


def test_a_refused_write_keeps_the_old_file_and_leaves_no_temporary(monkeypatch, tmp_path):
    target = tmp_path / "out.json"
    target.write_bytes(b"old")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(PorError) as caught:
        write_atomic(target, b"new")
    assert caught.value.message == f"cannot write {target}: {os.strerror(errno.ENOSPC)}"
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_the_caller_names_its_error(monkeypatch, tmp_path):
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(StoreError, match=r"--report-dir x: out\.json was not written"):
        write_atomic(
            tmp_path / "out.json",
            b"data",
            error=lambda exc: StoreError(f"--report-dir x: out.json was not written ({exc})"),
        )
    assert list(tmp_path.iterdir()) == []


def test_a_directory_that_cannot_be_synced_is_not_a_failure(monkeypatch, tmp_path):
    real_open = os.open

    def no_dirs(path: Any, flags: int, *args: Any) -> int:
        if Path(path).is_dir():
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", no_dirs)
    write_atomic(tmp_path / "out.json", b"data")
    assert (tmp_path / "out.json").read_bytes() == b"data"


def test_a_directory_fsync_that_fails_is_reported(monkeypatch, tmp_path):
    real_fsync = os.fsync

    def dir_io_error(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", dir_io_error)
    with pytest.raises(PorError, match="cannot write"):
        write_atomic(tmp_path / "out.json", b"data")
