"""`por`'s entry point runs OpenBLAS on one thread (verifier/cli/main.py `entrypoint`): por
does no linear algebra, and numpy's BLAS pool would otherwise spin on the cores a build
hashes on. A value the user set is kept."""

from __future__ import annotations

import gc

import pytest

from verifier.cli import main as cli_main


def _run(monkeypatch: pytest.MonkeyPatch) -> str | None:
    seen: dict[str, str | None] = {}

    def fake_main() -> int:
        import os

        seen["value"] = os.environ.get("OPENBLAS_NUM_THREADS")
        return 0

    monkeypatch.setattr(cli_main, "main", fake_main)
    try:
        with pytest.raises(SystemExit) as stop:
            cli_main.entrypoint()
    finally:
        gc.unfreeze()  # entrypoint freezes the heap for a process about to end
    assert stop.value.code == 0
    return seen["value"]


def test_one_blas_thread_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    assert _run(monkeypatch) == "1"


def test_the_users_value_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "4")
    assert _run(monkeypatch) == "4"
