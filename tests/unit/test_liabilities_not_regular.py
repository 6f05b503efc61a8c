"""A liabilities input that exists but is not a regular file (a FIFO, /dev/stdin from a
pipe) is refused as such, not as "not found", and never opened (a FIFO would block)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from attestations.encoding import AssetSpec
from verifier.base.errors import InputError
from verifier.inputs.liabilities import read_liabilities


def test_a_fifo_is_not_a_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "in.csv"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file") as refused:
        read_liabilities(fifo, (AssetSpec("BTC", 8),))
    assert refused.value.file == str(fifo)


def test_a_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="liabilities file not found"):
        read_liabilities(tmp_path / "nope.csv", (AssetSpec("BTC", 8),))
