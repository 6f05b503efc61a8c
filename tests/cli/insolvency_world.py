"""The insolvency world the CLI, browser and integration tests share: the estates on the
sample tree (fixtures/liabilities/sample.csv; the figures by hand are in
tests/cli/test_insolvency_plan.py), the claims → plan → proof bundles steps run through
`por` itself, and the independent verifier tests/conformance/minimal_mst.py.

Each suite runs `por` its own way (the `por` fixture, `main`, a subprocess), so the steps
take `run`: a callable that runs one `por` command and fails the test unless it exits 0.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

AS_OF_DATE = "2025-06-30"
"""The commencement date: the sample tree is built as of 2025-06-30T00:00:00Z."""
ACCOUNTS = ("alice", "bob", "carol", "dave", "erin")
IN_KIND = """policy = "in-kind"
exchange = "Example"

[assets.BTC]
on_chain = "15"
[assets.ETH]
on_chain = "340282366923"
[assets.USDT]
on_chain = "0"
"""
"""15 BTC for T = 2250000001 sat, ETH in full, USDT nothing."""
MIXED = """policy = "mixed"

[valuation]
date = 2025-07-01
currency = "USD"
decimals = 2
prices = { BTC = "100000", ETH = "2500.5", USDT = "1" }

[assets.BTC]
on_chain = "15"
[assets.ETH]
on_chain = "340282366923"
[assets.USDT]
on_chain = "0"

[fiat]
reserve = "1000"
"""
"""IN_KIND's assets in kind plus a USD pool of 1000.00."""

Run = Callable[..., Any]
"""Runs one `por` command (its arguments, paths allowed) and fails the test unless it exits 0."""


def por_fixture_runner(por: Callable[..., Any]) -> Run:
    """`run` for the `por` fixture of tests/cli/conftest.py (a result with rc and err)."""

    def run(*args: object) -> None:
        res = por(*args)
        assert res.rc == 0, res.err

    return run


def make_claims(run: Run, tree: Path, out: Path) -> Path:
    """`por insolvency claims` of `tree` at AS_OF_DATE into `out`."""
    run(
        "insolvency", "claims", "--tree", tree, "--as-of", AS_OF_DATE, "--out", out,
        "--workers", "1",
    )  # fmt: skip
    return out


def make_world(
    run: Run, tree: Path, work: Path, estate: str, accounts: Iterable[str] = ACCOUNTS
) -> dict[str, Path]:
    """Claims (work/D), the plan of `estate` (work/P) and each account's bundle
    (work/bundles/ACCOUNT.json) from the liabilities tree `tree`."""
    claims = make_claims(run, tree, work / "D")
    (work / "estate.toml").write_text(estate)
    run(
        "insolvency", "plan", "--claims", claims, "--estate", work / "estate.toml",
        "--out", work / "P",
    )  # fmt: skip
    bundles = work / "bundles"
    for account in accounts:
        run(
            "insolvency", "proof", "--plan", work / "P", "--claims", claims,
            "--account", account, "--out", bundles / f"{account}.json",
        )  # fmt: skip
    return {"D": claims, "P": work / "P", "bundles": bundles}


def minimal_mst() -> ModuleType:
    """tests/conformance/minimal_mst.py, the verifier written from the spec alone (loaded once)."""
    name = "_insolvency_minimal_mst"
    if name not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "conformance" / "minimal_mst.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]
