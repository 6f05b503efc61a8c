"""The site's "Insolvency distribution" page: `por publish … --plan P/plan.json`.

Where it sits: a step of `por publish` (verifier/site/publish.py) beside the attestation's
pages (verifier/site/pages.py). `load_plan_file` reads and checks the administrator's plan
(verifier/insolvency/verify.py: shape, and its id must recompute), which the site publishes
byte for byte as ``plan.json``; `render_insolvency` renders ``insolvency.html`` (template
site_insolvency.html), where a customer drops their por-insolvency-proof-v1 bundle and
``assets/insolvency.js`` checks it in the browser against the plan embedded in the page
(the same checks as `por insolvency verify`), with verify.js's tree checks.

Invariants: as every page of the site, no inline script or style (the plan is JSON in a
``<script type="application/json">`` element, escaped by Jinja's ``tojson``), every string
escaped; a plan whose id does not recompute, or that is not consistent with itself
(verifier/insolvency/consistency.py), is refused (exit 3) before anything is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from attestations.proofs import format_units
from verifier.base import safejson
from verifier.base.errors import InputError, InvalidProof
from verifier.insolvency.verify import (
    compute_plan_id,
    load_plan,
    plan_alone_problems,
    plan_figures,
)
from verifier.reconcile.numbers import floor_ratio, percent_of
from verifier.report.figures import units
from verifier.report.html import render_page
from verifier.site.files import META_CSP

PAGE = "insolvency.html"
NAV_ENTRY = (PAGE, "Insolvency distribution")
SCRIPTS = ("verify.js", "check-page.js", "insolvency.js", "insolvency-page.js")
"""Scripts of the page, from verifier/site/assets (verify.js and check-page.js are shared with
verify.html)."""
ASSET_FILES = ("insolvency.js", "insolvency-page.js")
"""Scripts this page adds to the site's assets/."""

PROVES = (
    "A valid bundle shows that your claim, with the amounts shown, is one leaf of the claims "
    "register the administrator committed to (claims commitment {claims}), and that your "
    "distribution is one leaf of the published distribution (commitment {distribution}).",
    "It shows that your distribution is exactly what the published rule gives for your claim "
    "with the plan's figures (total claims, amount distributable and the remainder cutoff), "
    "and that the distribution's totals are the plan's.",
)
DOES_NOT_PROVE = (
    "It does not show that the estate (what the administrator found and recovered) is "
    "complete or correctly valued: the plan states its sources; creditors' committees and "
    "the court check them.",
    "It does not show that you have been paid: the administrator reconciles the payouts made "
    "against the plan; check your own account or bank statement.",
    "It does not show that other customers' claims are right; each customer checks their own.",
)


@dataclass(frozen=True, slots=True)
class PlanFile:
    """A checked plan and its bytes, published as ``plan.json``."""

    data: bytes
    doc: dict[str, Any]


def load_plan_file(path: Path) -> PlanFile:
    """plan.json, read strictly and checked: its shape, and its id must recompute."""
    doc = load_plan(path)
    if compute_plan_id(doc) != doc.get("plan_id"):
        raise InvalidProof(
            "plan_id",
            f"{path}: the plan's id does not recompute from its content; refusing to publish it",
        )
    problems = plan_alone_problems(doc)  # every figure the page shows is checked first
    if problems:
        raise InvalidProof(
            "plan consistency", f"{path}: {'; '.join(problems)}; refusing to publish it"
        )
    return PlanFile(data=safejson.read_input(path, what="plan"), doc=doc)


def _ratio(numerator: int, denominator: int) -> str:
    ratio = floor_ratio(numerator, denominator)
    return "-" if ratio is None else percent_of(ratio)


def _asset_rows(plan: Mapping[str, Any]) -> list[list[str]]:
    """Per asset: total claims, available, distributable, recovery ratio, how it is paid."""
    rows = []
    for code, f in plan_figures(plan).items():

        def shown(n: int, decimals: int = f.decimals) -> str:
            return units(format_units(n, decimals), decimals)

        rows.append(
            [
                code,
                shown(f.total),
                shown(f.available),
                shown(f.distributable),
                _ratio(f.distributable, f.total),
                "in kind" if f.in_kind else "in fiat",
            ]
        )
    return rows


def _fiat_figures(fiat: Mapping[str, Any] | None) -> dict[str, str]:
    """The fiat pool for reading: amounts in the currency, the recovery floored."""
    if fiat is None:
        return {}
    decimals = int(fiat["decimals"])
    pool, claims = int(fiat["distributable"]), int(fiat["claims_value"])
    return {
        "fiat_pool": units(format_units(pool, decimals), decimals),
        "fiat_claims": units(format_units(claims, decimals), decimals),
        "fiat_ratio": _ratio(pool, claims),
    }


def _text_list(value: Any) -> list[str]:
    return (
        [str(v) for v in value]
        if isinstance(value, Sequence) and not isinstance(value, str)
        else []
    )


def render_insolvency(
    attestation: Mapping[str, Any], plan: Mapping[str, Any], nav: Sequence[tuple[str, str]]
) -> str:
    """``insolvency.html``: the plan's figures and rule, and the bundle check."""
    claims = plan.get("claims") or {}
    distribution = plan.get("distribution") or {}
    root = distribution.get("root") or {}
    claims_commitment = str(claims.get("commitment"))
    distribution_commitment = str(root.get("commitment"))
    fiat = plan.get("fiat") if isinstance(plan.get("fiat"), Mapping) else None
    try:
        rows = _asset_rows(plan)
        pool = _fiat_figures(fiat)
    except InputError:
        raise
    except (TypeError, ValueError, KeyError, ArithmeticError) as exc:
        raise InputError(f"the plan cannot be shown ({type(exc).__name__})") from None
    return render_page(
        "site_insolvency.html",
        csp=META_CSP,
        stylesheet="assets/style.css",
        nav=nav,
        active=PAGE,
        scripts=SCRIPTS,
        # the signed attestation's name: the plan's `exchange` is bound by nothing a
        # customer can check, so the page does not show it (spec §3.2)
        title=f"Insolvency distribution: {attestation.get('exchange')}",
        exchange=attestation.get("exchange"),
        plan=plan,
        policy=plan.get("policy"),
        claims_commitment=claims_commitment,
        claims_as_of=claims.get("as_of"),
        distribution_commitment=distribution_commitment,
        rows=rows,
        fiat=fiat,
        **pool,
        rules_text=_text_list(plan.get("rules_text")),
        proves=[
            s.format(
                claims=claims_commitment[:16] + "…", distribution=distribution_commitment[:16] + "…"
            )
            for s in PROVES
        ],
        does_not_prove=DOES_NOT_PROVE,
    )


__all__ = ["ASSET_FILES", "NAV_ENTRY", "PAGE", "PlanFile", "load_plan_file", "render_insolvency"]
