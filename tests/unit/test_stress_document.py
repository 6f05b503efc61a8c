"""The por-stress-v1 document: every key it has is specified in docs/stress.md, no number is
a float, and the JSON round-trips."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stress_fixture import base, scenario

from verifier.stress.document import stress_document
from verifier.stress.engine import evaluate_all
from verifier.stress.sweep import sweep

DOC = Path(__file__).resolve().parents[2] / "docs" / "stress.md"


def keys(node: Any, out: set[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            out.add(key)
            keys(value, out)
    elif isinstance(node, list):
        for value in node:
            keys(value, out)


def document() -> dict[str, Any]:
    b = base()
    shocks = (
        '[[scenarios.shocks]]\nkind = "loss"\nvendor = "signco"\nshare = "0.3"\n'
        '[[scenarios.shocks]]\nkind = "price"\nasset = "BTC"\nchange = "0.5"\n'
    )
    return stress_document(
        evaluate_all(b, [scenario(shocks)]), sweep(b), generated_at="2026-06-01T00:00:00Z"
    )


def test_every_key_is_specified() -> None:
    found: set[str] = set()
    doc = document()
    for s in doc["scenarios"]:
        s.pop("shocks")  # the scenario file's own keys, specified in its table
    keys(doc, found)
    table = DOC.read_text(encoding="utf-8").split("## The document")[1]
    # each key is named in the table: as a path (`scenarios[].made_whole`) or in a row's
    # list of members (`{order, kind, ...}`)
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    specified = {w for row in rows for w in re.findall(r"[a-z_]+", row)}
    assert found - specified == set()


def test_no_float_and_round_trip() -> None:
    doc = document()
    text = json.dumps(doc)
    assert json.loads(text, parse_float=lambda s: (_ for _ in ()).throw(AssertionError(s))) == doc
    assert doc["stress"] == "por-stress-v1" and doc["sweep"]["peril"] == "hack"
