"""Shared fixtures for the end-to-end CLI tests: run `main([...])` in-process, capture output."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from verifier.cli.main import main

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "liabilities"
AS_OF = "2025-06-30T00:00:00Z"


@dataclass
class Result:
    rc: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    @property
    def err_flat(self) -> str:
        """stderr with line wrapping undone (rich may wrap long messages)."""
        return " ".join(self.err.split())


@pytest.fixture(autouse=True)
def _wide_console(monkeypatch):
    # rich wraps stderr at 80 columns when it is not a terminal; keep messages on one line
    monkeypatch.setenv("COLUMNS", "100000")


@pytest.fixture
def por(capsys):
    """por(*args) -> Result: run the CLI in-process and capture stdout and stderr."""

    def run(*args: Any) -> Result:
        capsys.readouterr()
        rc = main([str(a) for a in args])
        captured = capsys.readouterr()
        return Result(rc, captured.out, captured.err)

    return run


@pytest.fixture
def inputs(tmp_path) -> dict[str, Path]:
    """Copies of the committed fixtures in a private work directory."""
    work = tmp_path / "in"
    work.mkdir()
    out = {}
    for name in ("sample.csv", "sample.jsonl", "assets.toml"):
        shutil.copy(FIXTURES / name, work / name)
        out[name] = work / name
    return out


@pytest.fixture
def built(por, inputs, tmp_path) -> Path:
    """A tree built from the sample CSV (split 1, default secret location)."""
    out = tmp_path / "tree"
    res = por(
        "liabilities",
        "build",
        inputs["sample.csv"],
        "--assets",
        inputs["assets.toml"],
        "--attestation-id",
        "att-2025-06",
        "--out",
        out,
        "--as-of",
        AS_OF,
    )
    assert res.rc == 0, res.err
    return out
