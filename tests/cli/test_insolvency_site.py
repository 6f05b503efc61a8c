"""`por publish` with a plan: the plan is checked whole before it is shown, and every page's
navigation lists the insolvency page (issue 15).

The Scenarios page of a site published with both `--stress` and `--plan` had a fixed
navigation without the insolvency link; a plan whose figures disagree with each other was
published as long as its id recomputed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_insolvency_verify import MIXED, _make
from tests.unit.test_stress_pages import _stress_for, builder
from verifier.base.errors import InvalidProof
from verifier.insolvency.verify import compute_plan_id
from verifier.site.publish import build_site


@pytest.fixture
def world(por: Any, built: Path, tmp_path: Path) -> dict[str, Path]:
    att_dir, _ = builder.make_attestation_dir(tmp_path / "att")
    return {**_make(por, built, tmp_path, MIXED), "att": att_dir}


def test_every_page_links_the_insolvency_page(world: dict[str, Path], tmp_path: Path) -> None:
    stress = _stress_for(world["att"], tmp_path)
    out = tmp_path / "site"
    build_site(world["att"], out, stress=stress, plan=world["P"] / "plan.json")
    for page in ("index.html", "verify.html", "scenarios.html", "insolvency.html"):
        text = (out / page).read_text()
        assert 'href="insolvency.html"' in text and 'href="scenarios.html"' in text, page


def test_an_inconsistent_plan_is_not_published(world: dict[str, Path], tmp_path: Path) -> None:
    plan = json.loads((world["P"] / "plan.json").read_text())
    plan["estate"]["assets"]["BTC"]["on_chain"] = "1"  # available no longer on_chain + recovered
    plan["plan_id"] = compute_plan_id(plan)
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    with pytest.raises(InvalidProof, match="available is not on_chain"):
        build_site(world["att"], tmp_path / "site", plan=tmp_path / "plan.json")
    assert not (tmp_path / "site").exists()
