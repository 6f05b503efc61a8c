"""verifier/report/document.py `report_digest`: a saved report's id is unchanged, and an
integer JCS would refuse (a rule pack parameter beyond 2**53 - 1) still gets an id."""

from __future__ import annotations

import json
from pathlib import Path

from verifier.report.document import report_digest

DEMO = Path(__file__).resolve().parents[1] / "browser" / "demo-report.json"


def test_the_demo_report_keeps_its_id() -> None:
    doc = json.loads(DEMO.read_text(encoding="utf-8"))
    assert report_digest(doc) == doc["report_id"]


def test_an_integer_beyond_two_to_the_53_is_hashed_not_refused() -> None:
    doc = json.loads(DEMO.read_text(encoding="utf-8"))
    doc["reserve"]["parameters"][0]["value"] = 10**20
    digest = report_digest(doc)
    assert digest.startswith("sha256:") and digest != doc["report_id"]
