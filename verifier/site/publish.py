"""`por publish`: a static attestation site where customers verify their proof in the browser.

Where it sits: at the end of the flow, after `por attest` wrote ``attestation.json``,
``root.json`` and (optionally) ``report.json`` into an attestation directory. `build_site`
turns that directory into a static site (HTML, CSS, JS; no server needed; nothing fetched
from elsewhere), in four steps, each in its own module:

1. read and check the directory (verifier/site/bundle.py, `load_bundle`);
2. check that the signed report can be shown (verifier/site/shape.py);
3. render ``index.html`` (the attestation summary) and ``verify.html`` (the in-browser proof
   check, ``assets/verify.js``) from the shared templates (verifier/site/pages.py), and with
   ``--stress`` the scenarios (``stress.json``, checked by verifier/site/stress.py, and
   ``scenarios.html``);
4. write the site with its manifest, ``site.json``, atomically (verifier/site/files.py).

The site holds ``root.json``, ``attestation.json`` (byte for byte as published),
``report.json`` when there is one, the two pages, the style sheet every page shares and the
scripts; the manifest gives the SHA-256 of every file (`por serve` serves only those).

Invariants: the attestation is verified (signature and structure) and ``root.json`` must be
its ``liabilities`` member before anything is written; no inclusion proof is ever copied into
the site; every string from the documents is HTML-escaped; the pages carry a strict
Content-Security-Policy (``script-src 'self'``, no inline script or style, no connections);
the site is written atomically (a temporary directory beside the target, then a rename).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from verifier.base.outdir import guard_output
from verifier.report.html import stylesheet
from verifier.site.bundle import load_bundle
from verifier.site.files import CSP, MANIFEST, SITE_FORMAT, manifest_bytes, sha256_hex, write_site
from verifier.site.insolvency import ASSET_FILES as INSOLVENCY_ASSETS
from verifier.site.insolvency import load_plan_file
from verifier.site.pages import ASSET_FILES, asset_text, render_pages
from verifier.site.stress import load_stress

_INPUT_FILES = (
    ("attestation.json", "attestation"),
    ("root.json", "root document"),
    ("report.json", "report"),
)


@dataclass(frozen=True, slots=True)
class SiteResult:
    """What `build_site` wrote."""

    out_dir: Path
    files: Mapping[str, str]
    """Relative path -> SHA-256 (hex) of every file of the site."""
    attestation_id: str
    commitment: str


def build_site(
    attestation_dir: Path,
    out_dir: Path,
    *,
    force: bool = False,
    generated_at: str | None = None,
    stress: Path | None = None,
    plan: Path | None = None,
) -> SiteResult:
    """Build the static site for an attestation directory into `out_dir`, atomically.

    Parameters
    ----------
    attestation_dir
        ``attestation.json``, ``root.json`` and optionally ``report.json``.
    out_dir
        The site directory. Created, or replaced when it holds an earlier site (or is empty,
        or `force` is set). Never one that holds or lies inside the attestation directory or
        one of its files, or that holds a key or secret (an owner-only file).
    force
        Replace `out_dir` even if it is not a site written by this function.
    generated_at
        ISO 8601 time for the manifest (default: now, UTC).
    stress
        A ``por-stress-v1`` document (`por stress --json`) to publish as ``stress.json``
        with a ``scenarios.html`` page; it must be about the site's report.
    plan
        An insolvency distribution plan (``P/plan.json``) to publish as ``plan.json`` with
        an ``insolvency.html`` page (verifier/site/insolvency.py); its id must recompute.

    Returns
    -------
    SiteResult

    Raises
    ------
    UsageError
        `out_dir` holds or lies inside an input (the scenarios document too), or holds a
        key or secret (nothing touched).
    NotFound, InputError, InvalidProof
        As `verifier.site.bundle.load_bundle`, or `out_dir` is in the way.
    StoreError
        The site cannot be written.
    """
    guard_output(
        out_dir,
        [
            ("attestation directory", attestation_dir),
            *((what, attestation_dir / name) for name, what in _INPUT_FILES),
            *((("scenarios document", stress),) if stress is not None else ()),
            *((("distribution plan", plan),) if plan is not None else ()),
        ],
        flag="--out",
    )
    bundle = load_bundle(attestation_dir)
    files: dict[str, bytes] = {
        "root.json": bundle.root_bytes,
        "attestation.json": bundle.attestation_bytes,
    }
    if bundle.report_bytes is not None:
        files["report.json"] = bundle.report_bytes
    scenarios = load_stress(stress, bundle.report) if stress is not None else None
    if scenarios is not None:
        files["stress.json"] = scenarios.data
    plan_file = load_plan_file(plan) if plan is not None else None
    if plan_file is not None:
        files["plan.json"] = plan_file.data
    downloads = {name: sha256_hex(data) for name, data in files.items()}
    report_file = attestation_dir / "report.json"
    source = report_file if report_file.exists() else attestation_dir / "attestation.json"
    pages = render_pages(
        bundle,
        downloads,
        source,
        attestation_dir / "attestation.json",
        None if scenarios is None else scenarios.doc,
        None if plan_file is None else plan_file.doc,
    )
    files.update((name, page.encode()) for name, page in pages.items())
    files["assets/style.css"] = stylesheet().encode()
    for name in ASSET_FILES + (INSOLVENCY_ASSETS if plan_file is not None else ()):
        files[f"assets/{name}"] = asset_text(name).encode()
    manifest = {
        "format": SITE_FORMAT,
        "attestation_id": bundle.attestation["attestation_id"],
        "exchange": bundle.attestation.get("exchange"),
        "commitment": bundle.root["commitment"],
        "generated_at": generated_at or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "content_security_policy": CSP,
        "files": {name: sha256_hex(data) for name, data in sorted(files.items())},
    }
    files[MANIFEST] = manifest_bytes(manifest)
    out_dir = out_dir.absolute()
    write_site(files, out_dir, force=force)
    return SiteResult(
        out_dir=out_dir,
        files=dict(manifest["files"]),
        attestation_id=str(bundle.attestation["attestation_id"]),
        commitment=str(bundle.root["commitment"]),
    )
