"""Before a `por reconcile --every` loop starts: the config loads and names every input a run reads.

A config that is wrong at start is wrong at every run, so the loop refuses it at once
(exit 3) instead of failing one run per interval forever. The keys are those
`load_inputs` (pipeline.py) reads; a config edited into a wrong state while the loop runs
fails that run only (stored, alerted), so the next edit can fix it.
"""

from __future__ import annotations

from pathlib import Path

from verifier.base.errors import InputError
from verifier.inputs.config import load_config


def check_reconcile_config(config_file: Path) -> None:
    """Raise the first problem of the config, as `load_config` does, and a key every run of
    `por reconcile` needs and this config lacks."""
    config = load_config(config_file)
    r = config.reconcile
    needed = [
        ("liabilities.root", r.root or r.liabilities_file),
        ("liabilities.assets", r.assets_file if r.root is None else r.root),
        ("prices.file", r.prices),
        ("reserve.statement", r.statement),
        ("reserve.pack", r.pack),
    ]
    for key, value in needed:
        if value is None:
            raise InputError(
                "missing (needed by reconcile, attest and verify)", file=str(config.path), key=key
            )
