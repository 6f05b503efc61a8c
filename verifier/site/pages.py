"""The site's two pages, rendered from the templates every page shares.

Where it sits: between verifier/site/bundle.py (the checked attestation directory) and
verifier/site/publish.py (which writes the files). `render_index` is the attestation summary
(``index.html``): the verdict, customer liabilities, the report's coverage, holdings, reserve
and combined sections, the off-chain reserve statement, pinned blocks, wallets, prices, what
the attestation proves and what it does not, and the files to download. `render_verify` is
the proof-check page (``verify.html``): a customer drops or pastes their inclusion proof and
``assets/verify.js`` checks it in the browser against the root document embedded in the page.
`render_scenarios` (``scenarios.html``, with `por publish --stress`) shows the incident
scenarios evaluated against the site's report, in the sections of verifier/stress/html.py.

Invariants: the pages are Jinja2 templates (verifier/report/templates/site_*.html, extending
the shared base.html) with autoescape, so every string from the documents is escaped; this
module builds values, never HTML; nothing on a page is inline script or inline style (the
site's Content-Security-Policy forbids both): the embedded root document is JSON in a
``<script type="application/json">`` element, escaped by Jinja's ``tojson``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from attestations.proofs import format_units
from verifier.base.errors import InputError, PorError
from verifier.report.figures import money, units
from verifier.report.html import block_rows, price_rows, render_page, report_view
from verifier.site.bundle import AttestationBundle
from verifier.site.files import META_CSP
from verifier.site.insolvency import NAV_ENTRY as INSOLVENCY_NAV
from verifier.site.insolvency import PAGE as INSOLVENCY_PAGE
from verifier.site.insolvency import render_insolvency
from verifier.site.shape import check_numbers, check_report_shape
from verifier.stress.html import render_stress_page, stress_view

ASSET_FILES = ("verify.js", "check-page.js", "verify-page.js")
"""Scripts copied verbatim from verifier/site/assets into SITE/assets/."""
NAV = (("index.html", "Attestation"), ("verify.html", "Check my proof"))
SCENARIOS_NAV = (*NAV, ("scenarios.html", "Scenarios"))
"""The navigation of a site published with scenarios (`por publish --stress`)."""

DEFAULT_PROVES = (
    "The exchange committed to one total per asset for its customer liabilities (the Merkle sum "
    "tree root and its commitment, published here as root.json); each customer can check, with "
    "their own inclusion proof, that their balances are counted in those totals.",
    "The attestation document is signed by the exchange's Ed25519 key, so nobody changed the "
    "figures after the exchange published them.",
)
DEFAULT_DOES_NOT_PROVE = (
    "It is a point-in-time check at the pinned blocks, not an audit: it says nothing about "
    "other times, and assets may have been borrowed for the moment of the snapshot.",
    "It does not show that the liabilities are complete: accounts left out of the tree are "
    "found only by the customers who check their own proofs.",
    "It does not show that the exchange has no other debts, or that the off-chain reserve "
    "(cash, insurance, guarantees) exists beyond the statements it relies on.",
)
CUSTOMER_PROVES = (
    "A valid proof shows that your account, with the balances shown, is one of the leaves "
    "whose sums make up the published liability totals (commitment {commitment}).",
)
CUSTOMER_DOES_NOT_PROVE = (
    "A valid proof does not show that the exchange holds enough assets; that is what the "
    "coverage figures on the attestation page, checked by an auditor on their own nodes, "
    "are about.",
    "It does not show that other customers' balances are included; each customer has to check "
    "their own.",
)
_DOWNLOADS = (
    ("root.json", "liabilities root document (por-mst-v1): check your proof against it"),
    ("attestation.json", "the signed attestation (por-attestation-v1)"),
    ("report.json", "the coverage report (por-report-v1)"),
    ("stress.json", "the incident scenarios evaluated against that report (por-stress-v1)"),
    ("plan.json", "the insolvency distribution plan (por-plan-v1): check your bundle against it"),
)


def asset_text(name: str) -> str:
    """A file of verifier/site/assets (the in-browser verifier)."""
    return resources.files("verifier.site").joinpath("assets", name).read_text(encoding="utf-8")


def _site_page(template: str, active: str, nav: Any = NAV, **context: Any) -> str:
    """A page in the site's layout (site.html): the style sheet linked, the navigation."""
    return render_page(
        template,
        csp=META_CSP,
        stylesheet="assets/style.css",
        nav=nav,
        active=active,
        **context,
    )


def _short(value: Any, keep: int = 16) -> str:
    text = str(value)
    return text if len(text) <= keep * 2 + 1 else f"{text[:keep]}…{text[-keep:]}"


def _liabilities(root: Mapping[str, Any]) -> dict[str, list[list[Any]]]:
    """The committed totals per asset, in whole units and (behind a toggle) in base units."""
    pairs = list(zip(root["assets"], root["root"]["sums"], strict=True))
    return {
        "rows": [
            [a["code"], units(format_units(int(s), int(a["decimals"])), a["decimals"])]
            for a, s in pairs
        ],
        "exact": [[a["code"], a["decimals"], s] for a, s in pairs],
    }


def _attestation_wallets(att: Mapping[str, Any]) -> list[list[Any]]:
    """The wallets as the attestation lists them (when there is no report to show them):
    balances in whole units, the ownership proof as signed (not checked here)."""
    decimals: dict[Any, int] = {
        a.get("code"): a["decimals"]
        for a in (att.get("liabilities") or {}).get("assets") or []
        if isinstance(a, Mapping) and isinstance(a.get("decimals"), int)
    }
    rows = []
    for chain in att.get("chains") or []:
        for w in chain.get("wallets") or []:
            ownership = w.get("ownership")
            status = (
                f"signed ({ownership.get('scheme')}); not checked here"
                if isinstance(ownership, Mapping)
                else "no ownership proof"
            )
            balances = [
                f"{code} {units(format_units(int(n), decimals[code]), decimals[code])}"
                if code in decimals and isinstance(n, int)
                else f"{code} {n} base units"
                for code, n in sorted((w.get("balances") or {}).items())
            ]
            rows.append(
                [
                    w.get("label"),
                    chain.get("chain"),
                    w.get("class"),
                    w.get("attribution"),
                    w.get("address"),
                    balances,
                    status,
                ]
            )
    return rows


def _reserve_statement(reserve: Mapping[str, Any]) -> list[list[Any]]:
    """The off-chain reserve statement as published: one row per cash account, policy or
    guarantee (its name, amount or limit, and its other terms)."""
    rows = []
    for kind in ("cash", "insurance", "guarantees"):
        for item in reserve.get(kind) or []:
            if not isinstance(item, Mapping):
                continue
            name = item.get("name") or item.get("holder") or item.get("insurer")
            name = name or item.get("guarantor") or ""
            amount = item.get("amount") or item.get("limit") or ""
            terms = ", ".join(
                f"{k} {v}"
                for k, v in item.items()
                if k not in {"name", "amount", "limit"} and not isinstance(v, Mapping | list)
            )
            rows.append([kind, name, money(str(amount)) if amount else "", terms])
    return rows


def render_index(bundle: AttestationBundle, downloads: Mapping[str, str], nav: Any = NAV) -> str:
    """The summary page (``index.html``; template site_index.html)."""
    att, root, report = bundle.attestation, bundle.root, bundle.report
    view = None
    if report is not None:
        view = report_view(report)
        view["show_exit"] = False
    statement = (report or {}).get("statement") or {}
    reserve = att.get("reserve") or {}
    return _site_page(
        "site_index.html",
        "index.html",
        nav,
        title=f"Proof of reserves: {att.get('exchange')} {att.get('attestation_id')}",
        att=att,
        public_key=(att.get("signature") or {}).get("public_key"),
        commitment=root["commitment"],
        v=view,
        liabilities=_liabilities(root),
        reserve_currency=reserve.get("currency") or "",
        reserve_rows=_reserve_statement(reserve),
        blocks=block_rows(att.get("chains")),
        wallets=None if view is not None and view["wallets"] else _attestation_wallets(att),
        prices=price_rows(att.get("prices")),
        proves=list(statement.get("proves") or DEFAULT_PROVES),
        does_not_prove=list(statement.get("does_not_prove") or DEFAULT_DOES_NOT_PROVE),
        files=[[name, what, downloads[name]] for name, what in _DOWNLOADS if name in downloads],
    )


def render_verify(bundle: AttestationBundle, nav: Any = NAV) -> str:
    """The proof-check page (``verify.html``; template site_verify.html); the root document
    is embedded, not fetched."""
    att, root = bundle.attestation, bundle.root
    commitment = root["commitment"]
    return _site_page(
        "site_verify.html",
        "verify.html",
        nav,
        title=f"Check your proof: {att.get('exchange')} {att.get('attestation_id')}",
        scripts=ASSET_FILES,
        att=att,
        root=root,
        commitment=commitment,
        proves=[s.format(commitment=_short(commitment)) for s in CUSTOMER_PROVES],
        does_not_prove=CUSTOMER_DOES_NOT_PROVE,
    )


def render_scenarios(
    bundle: AttestationBundle,
    stress: Mapping[str, Any],
    nav: Sequence[tuple[str, str]] = SCENARIOS_NAV,
) -> str:
    """The scenarios page (``scenarios.html``; verifier/stress/templates/site_scenarios.html):
    what a scenario is, each scenario's outcome and charts, the sweep. `nav` is the site's
    (with --plan it lists the insolvency page too)."""
    return render_stress_page(
        "site_scenarios.html",
        csp=META_CSP,
        stylesheet="assets/style.css",
        nav=nav,
        active="scenarios.html",
        title=f"Incident scenarios: {bundle.attestation.get('exchange')}",
        v=stress_view(stress),
    )


def render_pages(
    bundle: AttestationBundle,
    downloads: Mapping[str, str],
    source: Path,
    attestation: Path,
    stress: Mapping[str, Any] | None = None,
    plan: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """The pages, by file name (``scenarios.html`` too when `stress`, a checked
    ``por-stress-v1`` document, is given). The signed documents are shape-checked only as far
    as `verify_attestation` goes; a signed report whose fields have unexpected types is
    refused, naming the file (`source`: report.json, else attestation.json)."""
    if bundle.report is not None:
        check_report_shape(bundle.report, source)
        check_numbers(bundle.report, "", source)
    check_numbers(bundle.attestation.get("reserve"), "reserve", attestation)
    nav = NAV if stress is None else SCENARIOS_NAV
    if plan is not None:  # `por publish --plan`: the insolvency distribution page
        nav = (*nav, INSOLVENCY_NAV)
    try:
        pages = {
            "index.html": render_index(bundle, downloads, nav),
            "verify.html": render_verify(bundle, nav),
        }
        if stress is not None:
            pages["scenarios.html"] = render_scenarios(bundle, stress, nav)
        if plan is not None:
            pages[INSOLVENCY_PAGE] = render_insolvency(bundle.attestation, plan, nav)
        return pages
    except PorError:
        raise
    except (AttributeError, TypeError, KeyError, IndexError, ValueError, ArithmeticError) as exc:
        raise InputError(
            "the signed attestation or report cannot be shown: a field has an unexpected type "
            f"or value ({type(exc).__name__})",
            file=str(source),
        ) from None
