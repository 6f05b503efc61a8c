"""`por publish`: a static attestation site where customers verify their proof in the browser.

Where it sits: at the end of the flow, after `por attest` wrote ``attestation.json``,
``root.json`` and (optionally) ``report.json`` into an attestation directory. `build_site`
turns that directory into a static site (HTML, CSS, JS; no server needed; nothing fetched
from elsewhere):

- ``index.html``: the attestation summary: coverage per asset with charts, the reserve and its
  components, the pinned blocks, the wallet list with ownership status, what the attestation
  proves and what it does not, and the files to download;
- ``verify.html``: a customer drops or pastes their inclusion proof and the page verifies it
  locally (``assets/verify.js``: `por-mst-v1` with WebCrypto SHA-256 and BigInt) against the
  published root document, which is embedded in the page;
- ``root.json``, ``attestation.json`` (byte for byte as published), ``report.json`` when there
  is one, and ``site.json``: a manifest with the SHA-256 of every file (`por serve` serves
  only the files it lists).

Invariants: the attestation is verified (signature and structure) and ``root.json`` must be
its ``liabilities`` member before anything is written; no inclusion proof is ever copied into
the site; every string from the documents is HTML-escaped; the pages carry a strict
Content-Security-Policy (``script-src 'self'``, no inline script or style, no connections);
the site is written atomically (a temporary directory beside the target, then a rename).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from markupsafe import Markup

from attestations.document.sign import verify_attestation
from attestations.proofs import check_root_document, format_units, parse_root_document
from verifier.base import safejson
from verifier.base.errors import InputError, NotFound, PorError, StoreError, UsageError
from verifier.base.outdir import guard_output
from verifier.report.document import money
from verifier.report.html import (
    esc,
    number,
    render_page,
    render_sections,
    stylesheet,
    table_html,
)

SITE_FORMAT = "por-site-v1"
REPORT_FORMAT = "por-report-v1"
MANIFEST = "site.json"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'none'; font-src 'none'; object-src 'none'; media-src 'none'; "
    "frame-src 'none'; worker-src 'none'; manifest-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
"""The policy `por serve` sends; the pages carry the same one in a meta tag (minus
``frame-ancestors``, which browsers ignore there)."""
META_CSP = CSP.replace("; frame-ancestors 'none'", "")

ASSET_FILES = ("verify.js", "verify-page.js")
"""Scripts copied verbatim from verifier/site/assets into SITE/assets/."""

_SWATCH = re.compile(r'style="background:(#[0-9a-fA-F]{6})"')
_MAX_INPUT_BYTES = 64 * 1024 * 1024
_MAX_REPLACED_ENTRIES = 20_000
"""Most entries `--out` may hold when it is checked for keys and secrets before replacing."""
_INPUT_FILES = (
    ("attestation.json", "attestation"),
    ("root.json", "root document"),
    ("report.json", "report"),
)

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


@dataclass(frozen=True, slots=True)
class AttestationBundle:
    """What `build_site` reads from an attestation directory, checked."""

    attestation: Mapping[str, Any]
    """The signed ``por-attestation-v1`` document (verified)."""
    attestation_bytes: bytes
    """``attestation.json`` exactly as published."""
    root: Mapping[str, Any]
    """The root document (``por-mst-v1``): the attestation's ``liabilities`` member."""
    root_bytes: bytes
    """``root.json`` as published (or the ``liabilities`` member, serialised)."""
    report: Mapping[str, Any] | None
    """The ``por-report-v1`` report: ``report.json``, else the attestation's ``report``."""
    report_bytes: bytes | None


@dataclass(frozen=True, slots=True)
class SiteResult:
    """What `build_site` wrote."""

    out_dir: Path
    files: Mapping[str, str]
    """Relative path -> SHA-256 (hex) of every file of the site."""
    attestation_id: str
    commitment: str


# ----------------------------------------------------------------------------- reading


def read_input(path: Path, *, what: str = "file") -> bytes:
    """The bytes of a regular file, at most `_MAX_INPUT_BYTES` (a FIFO or device never blocks)."""
    name = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise NotFound(f"{what} not found", file=name) from None
    except OSError as exc:
        raise InputError(f"cannot read the {what} ({exc.strerror})", file=name) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"the {what} is not a regular file", file=name)
        if info.st_size > _MAX_INPUT_BYTES:
            raise InputError(f"the {what} is too large (over {_MAX_INPUT_BYTES} bytes)", file=name)
        with os.fdopen(os.dup(fd), "rb") as handle:
            data = handle.read(_MAX_INPUT_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read the {what} ({exc.strerror})", file=name) from None
    finally:
        os.close(fd)
    if len(data) > _MAX_INPUT_BYTES:
        raise InputError(f"the {what} is too large (over {_MAX_INPUT_BYTES} bytes)", file=name)
    return data


def _json(data: bytes, path: Path, what: str) -> Any:
    """Untrusted JSON (bounded depth and integers, no floats, no duplicate keys)."""
    return safejson.loads(data, source=str(path), strict_keys=True, what=what)


def _field(path: str, key: str | int) -> str:
    """``assets[0].coverage_ratio``: where a value sits, for messages."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    plain = re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key) is not None
    shown = key if plain else json.dumps(key)
    if not plain:
        return f"{path}[{shown}]"
    return f"{path}.{shown}" if path else shown


def _first_difference(ours: Any, signed: Any, path: str = "") -> tuple[str, Any, Any] | None:
    """The first field where `ours` differs from `signed` (types compared too: ``1`` is not
    ``true``), as (field, our value, signed value); None when they are the same JSON."""
    if type(ours) is not type(signed):
        return path, ours, signed
    if isinstance(ours, dict):
        for key in [*ours, *(k for k in signed if k not in ours)]:
            if key not in signed or key not in ours:
                return _field(path, key), ours.get(key, _MISSING), signed.get(key, _MISSING)
            found = _first_difference(ours[key], signed[key], _field(path, key))
            if found is not None:
                return found
        return None
    if isinstance(ours, list):
        for n, (a, b) in enumerate(zip(ours, signed, strict=False)):
            found = _first_difference(a, b, _field(path, n))
            if found is not None:
                return found
        if len(ours) != len(signed):
            n = min(len(ours), len(signed))
            return (
                _field(path, n),
                ours[n] if n < len(ours) else _MISSING,
                signed[n] if n < len(signed) else _MISSING,
            )
        return None
    return None if ours == signed else (path, ours, signed)


class _Missing:
    def __repr__(self) -> str:
        return "(missing)"


_MISSING: Any = _Missing()


def _shown(value: Any) -> str:
    if value is _MISSING:
        return "missing"
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _require_signed(path: Path, ours: Any, signed: Any, what: str) -> None:
    """Refuse a published file whose content is not exactly the signed `what`."""
    found = _first_difference(ours, signed)
    if found is None:
        return
    field, here, there = found
    raise InputError(
        f"differs from the {what} signed in attestation.json (a site shows only signed "
        f"content): {_shown(here)} here, {_shown(there)} signed",
        file=str(path),
        key=field or "(the whole document)",
    )


def _plain(value: Any) -> Any:
    """A verified attestation as plain dicts and lists (a deep copy: nothing shared)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _bound_commitment(report: Mapping[str, Any]) -> Any:
    binding = report.get("attestation")
    return binding.get("commitment") if isinstance(binding, Mapping) else None


def load_bundle(attestation_dir: Path) -> AttestationBundle:
    """Read and check an attestation directory (``attestation.json``, ``root.json``, ...).

    Everything the site will show comes from the signed document: ``root.json`` and
    ``report.json`` are published only when they are exactly (as JSON values) the
    attestation's ``liabilities`` and ``report`` members.

    Parameters
    ----------
    attestation_dir
        What `por attest` wrote: ``attestation.json``, ``root.json``, optionally
        ``report.json``.

    Returns
    -------
    AttestationBundle

    Raises
    ------
    NotFound
        No ``attestation.json``.
    InvalidProof
        The attestation does not verify (signature, structure), or its root document's
        commitment does not recompute.
    InputError
        A file is not acceptable JSON; ``root.json`` is not the attestation's
        ``liabilities`` member; ``report.json`` is for another attestation, is not the
        attestation's signed ``report`` member (the message names the first differing
        field), or there is no signed report to compare it with.
    """
    if not attestation_dir.is_dir():
        raise NotFound("attestation directory not found", file=str(attestation_dir))
    att_path = attestation_dir / "attestation.json"
    attestation_bytes = read_input(att_path, what="attestation file")
    doc = safejson.loads(
        attestation_bytes,
        source=str(att_path),
        parse_float=Decimal,
        strict_keys=True,
        what="attestation",
    )
    verify_attestation(doc)
    plain = _plain(doc)
    liabilities = plain["liabilities"]
    check_root_document(parse_root_document(liabilities))
    root_path = attestation_dir / "root.json"
    if root_path.exists() or root_path.is_symlink():
        root_bytes = read_input(root_path, what="root document")
        _require_signed(
            root_path, _json(root_bytes, root_path, "root document"), liabilities, "root document"
        )
    else:
        root_bytes = (json.dumps(liabilities, indent=2) + "\n").encode()
    signed = plain.get("report")
    signed_report = signed if isinstance(signed, Mapping) and "report" in signed else None
    report: Mapping[str, Any] | None = None
    report_bytes: bytes | None = None
    report_path = attestation_dir / "report.json"
    if report_path.exists() or report_path.is_symlink():
        report_bytes = read_input(report_path, what="report")
        ours = _json(report_bytes, report_path, "report")
        if not isinstance(ours, Mapping) or ours.get("report") != REPORT_FORMAT:
            raise InputError(f"the report is not a {REPORT_FORMAT} document", file=str(report_path))
        committed = _bound_commitment(ours)
        if committed is not None and committed != liabilities["commitment"]:
            raise InputError(
                "the report is for another attestation (its liabilities commitment differs)",
                file=str(report_path),
            )
        if signed is None:
            raise InputError(
                "the report is not signed: attestation.json carries no report, so its figures "
                "cannot be shown as the exchange's (remove report.json, or attest again)",
                file=str(report_path),
            )
        _require_signed(report_path, ours, signed, "report")
        report = ours
    elif signed_report is not None:
        if signed_report.get("report") != REPORT_FORMAT:
            raise InputError(
                f"the signed report is not a {REPORT_FORMAT} document", file=str(att_path)
            )
        committed = _bound_commitment(signed_report)
        if committed is not None and committed != liabilities["commitment"]:
            raise InputError(
                "the signed report is for another attestation (its liabilities commitment differs)",
                file=str(att_path),
            )
        report = signed_report
        report_bytes = (json.dumps(report, indent=2) + "\n").encode()
    return AttestationBundle(
        attestation=plain,
        attestation_bytes=attestation_bytes,
        root=liabilities,
        root_bytes=root_bytes,
        report=report,
        report_bytes=report_bytes,
    )


# ----------------------------------------------------------------------------- rendering


def _asset_text(name: str) -> str:
    return resources.files("verifier.site").joinpath("assets", name).read_text(encoding="utf-8")


def _page(title: str, active: str, body: str, scripts: Sequence[str] = ()) -> str:
    """A page in the shared layout (templates/html/site.html); `body` is already escaped."""
    return render_page(
        "site.html",
        csp=META_CSP,
        title=title,
        stylesheet="assets/style.css",
        scripts=scripts,
        nav=(("index.html", "Attestation"), ("verify.html", "Check my proof")),
        active=active,
        body=Markup(body),  # noqa: S704 - built from escaped parts (esc) in this module
    )


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], numeric: set[int]) -> str:
    """A table from pre-escaped cells (`esc`), in the pages' one style."""
    return str(
        table_html(
            [Markup(h) for h in head],  # noqa: S704 - pre-escaped
            [[Markup(c) for c in row] for row in rows],  # noqa: S704 - pre-escaped
            sorted(numeric),
        )
    )


def _strict(fragment: str) -> str:
    """Inline ``style`` attributes (chart legends) -> classes, so CSP can forbid inline style."""
    out = _SWATCH.sub(lambda m: f'class="sw-c c-{m.group(1)[1:].lower()}"', fragment)
    out = out.replace('<span class="sw" class="sw-c ', '<span class="sw ')
    if "style=" in out:
        raise StoreError("an inline style attribute would break the site's CSP")
    return out


def _colour_rules(pages: Sequence[str]) -> str:
    colours = sorted(set(re.findall(r"\bc-([0-9a-f]{6})\b", "".join(pages))))
    return "".join(f".c-{c}{{background:#{c}}}\n" for c in colours)


def _short(value: Any, keep: int = 16) -> str:
    text = str(value)
    return text if len(text) <= keep * 2 + 1 else f"{text[:keep]}…{text[-keep:]}"


def _liabilities_table(root: Mapping[str, Any]) -> str:
    rows = [
        [esc(a["code"]), esc(_whole(format_units(int(s), int(a["decimals"])), a["decimals"]))]
        for a, s in zip(root["assets"], root["root"]["sums"], strict=True)
    ]
    exact = [
        [esc(a["code"]), esc(a["decimals"]), esc(s)]
        for a, s in zip(root["assets"], root["root"]["sums"], strict=True)
    ]
    return (
        _table(["asset", "customer liabilities"], rows, {1})
        + "<details><summary>Exact totals in base units (as in root.json)</summary>"
        + _table(["asset", "decimals", "base units"], exact, {1, 2})
        + "</details>"
    )


def _whole(amount: str, decimals: Any) -> str:
    from verifier.report.html import units

    return units(amount, decimals)


def _attestation_wallets(att: Mapping[str, Any]) -> str:
    liabilities = att.get("liabilities") or {}
    decimals: dict[Any, int] = {
        a.get("code"): a["decimals"]
        for a in liabilities.get("assets") or []
        if isinstance(a, Mapping) and isinstance(a.get("decimals"), int)
    }
    rows = []
    for chain in att.get("chains") or []:
        for w in chain.get("wallets") or []:
            ownership = w.get("ownership")
            status = (
                f'<span class="note">signed ({esc(ownership.get("scheme"))}); not checked here'
                "</span>"
                if isinstance(ownership, Mapping)
                else '<span class="note">no ownership proof</span>'
            )
            balances = "<br>".join(
                f"{esc(code)} {esc(_whole(format_units(int(n), decimals[code]), decimals[code]))}"
                if code in decimals and isinstance(n, int)
                else f"{esc(code)} {esc(n)} base units"
                for code, n in sorted((w.get("balances") or {}).items())
            )
            rows.append(
                [
                    esc(w.get("label")),
                    esc(chain.get("chain")),
                    esc(w.get("class")),
                    esc(w.get("attribution")),
                    f'<span class="mono">{esc(w.get("address"))}</span>',
                    balances,
                    status,
                ]
            )
    return _table(
        ["label", "chain", "class", "attribution", "address", "balance", "ownership"], rows, set()
    )


def _reserve_statement(reserve: Mapping[str, Any]) -> str:
    """The off-chain reserve statement as published (cash, insurance, guarantees)."""
    out = []
    currency = reserve.get("currency")
    for kind in ("cash", "insurance", "guarantees"):
        items = [i for i in reserve.get(kind) or [] if isinstance(i, Mapping)]
        if not items:
            continue
        rows = []
        for item in items:
            name = item.get("name") or item.get("holder") or item.get("insurer")
            name = name or item.get("guarantor") or ""
            amount = item.get("amount") or item.get("limit") or ""
            details = ", ".join(
                f"{esc(k)} {esc(v)}"
                for k, v in item.items()
                if k not in {"name", "amount", "limit"} and not isinstance(v, Mapping | list)
            )
            rows.append([esc(kind), esc(name), esc(money(str(amount))) if amount else "", details])
        out.append(
            _table(
                ["component", "name", f"amount / limit ({esc(currency or '')})", "terms"], rows, {2}
            )
        )
    return "".join(out) or '<p class="note">No off-chain reserve statement.</p>'


def _statement_lists(proves: Sequence[str], not_proves: Sequence[str]) -> str:
    return (
        "<h3>A pass proves</h3><ul>"
        + "".join(f"<li>{esc(s)}</li>" for s in proves)
        + "</ul><h3>It does not prove</h3><ul>"
        + "".join(f"<li>{esc(s)}</li>" for s in not_proves)
        + "</ul>"
    )


def render_index(bundle: AttestationBundle, downloads: Mapping[str, str]) -> str:
    """The summary page (``index.html``)."""
    att, root, report = bundle.attestation, bundle.root, bundle.report
    exchange = att.get("exchange")
    signature = att.get("signature") or {}
    body = [
        f"<h1>Proof of reserves: {esc(exchange)}</h1>",
        f'<p class="meta">attestation <b>{esc(att.get("attestation_id"))}</b> · as of '
        f"{esc(att.get('as_of'))} · signed (Ed25519) by "
        f'<span class="mono">{esc(signature.get("public_key"))}</span> (compare it with the '
        "public key the exchange publishes: a signature proves who signed only against that "
        "key)</p>",
        f'<p class="meta">liabilities commitment <span class="mono" id="commitment">'
        f"{esc(root['commitment'])}</span></p>",
    ]
    if report is not None:
        verdict = report.get("verdict") or {}
        if verdict.get("exit_code") == 0:
            body.append('<p class="verdict ok">Covered: every check passed</p>')
        else:
            body.append(
                f'<p class="verdict bad">Not covered (exit {esc(verdict.get("exit_code"))})</p>'
            )
            body.append(
                "<ul>"
                + "".join(
                    f"<li>{esc(b.get('message'))}</li>" for b in verdict.get("breaches") or []
                )
                + "</ul>"
            )
    body.append(
        '<p class="cta"><a class="button" href="verify.html">Check that your balance is '
        "included</a> Your proof is checked in your browser and never leaves your device.</p>"
    )
    body.append("<h2>Customer liabilities</h2>")
    body.append(_liabilities_table(root))
    if report is not None:
        body.append(str(render_sections(report, "coverage", "holdings", "reserve", "combined")))
    body.append("<h2>Reserve statement (off-chain)</h2>")
    body.append(_reserve_statement(att.get("reserve") or {}))
    body.append("<h2>Pinned blocks</h2>")
    body.append(
        _table(
            ["chain", "network", "height", "block hash"],
            [
                [
                    esc(c.get("chain")),
                    esc(c.get("network")),
                    esc(c.get("height")),
                    f'<span class="mono">{esc(c.get("block_hash"))}</span>',
                ]
                for c in att.get("chains") or []
            ],
            {2},
        )
    )
    body.append("<h2>Wallets and ownership</h2>")
    if report is not None and report.get("wallets"):
        body.append(
            '<p class="note">Ownership status as the attesting verifier found it: proven means '
            "the key holder signed a message naming this exchange, this attestation and the "
            "pinned block.</p>"
        )
        body.append(str(render_sections(report, "wallets")))
    else:
        body.append(_attestation_wallets(att))
    prices = att.get("prices") or {}
    if prices:
        body.append("<h2>Prices</h2>")
        body.append(
            _table(
                ["asset", "price", "currency", "source", "time"],
                [
                    [
                        esc(code),
                        esc(number(p.get("value"))),
                        esc(p.get("currency")),
                        esc(p.get("source")),
                        esc(p.get("time")),
                    ]
                    for code, p in sorted(prices.items())
                ],
                {1},
            )
        )
    statement = (report or {}).get("statement") or {}
    body.append('<h2 id="statement">What this proves and what it does not</h2>')
    body.append(
        _statement_lists(
            list(statement.get("proves") or DEFAULT_PROVES),
            list(statement.get("does_not_prove") or DEFAULT_DOES_NOT_PROVE),
        )
    )
    body.append("<h2>Files</h2>")
    rows = [
        [
            f'<a href="{esc(name)}" download>{esc(name)}</a>',
            esc(what),
            f'<span class="mono">{esc(downloads.get(name, ""))}</span>',
        ]
        for name, what in (
            ("root.json", "liabilities root document (por-mst-v1): check your proof against it"),
            ("attestation.json", "the signed attestation (por-attestation-v1)"),
            ("report.json", "the coverage report (por-report-v1)"),
        )
        if name in downloads
    ]
    body.append(_table(["file", "what", "SHA-256"], rows, set()))
    body.append(
        '<p class="note">Auditors re-check everything with <code>por verify attestation.json'
        " --public-key &lt;the exchange's published key&gt;</code> on their own nodes; "
        "customers with <code>por verify-proof</code> or the "
        '<a href="verify.html">page in this site</a>.</p>'
    )
    title = f"Proof of reserves: {exchange} {att.get('attestation_id')}"
    return _page(title, "index.html", _strict("\n".join(body)))


def _embed_json(value: Any) -> str:
    """JSON safe inside a ``<script type="application/json">`` element."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_verify(bundle: AttestationBundle) -> str:
    """The proof-check page (``verify.html``); the root document is embedded, not fetched."""
    att, root = bundle.attestation, bundle.root
    commitment = root["commitment"]
    body = [
        "<h1>Check that your balance is included</h1>",
        '<p class="privacy" id="privacy"><b>Nothing is uploaded.</b> Your proof is checked '
        "here, in this page, by your own browser (SHA-256 from WebCrypto, exact integer sums). "
        "The page sends nothing anywhere and makes no network request after it has loaded; "
        "you may disconnect from the network before you check.</p>",
        f'<p class="meta">Published attestation <b id="published-id">'
        f"{esc(att.get('attestation_id'))}</b> of {esc(att.get('exchange'))}, as of "
        f"{esc(root.get('as_of'))}; commitment "
        f'<span class="mono" id="published-commitment">{esc(commitment)}</span></p>',
        '<form id="proof-form" class="proof-form" novalidate>',
        '<label class="drop" id="drop" for="proof-file">'
        "<span><b>Drop your proof file here</b>, or choose it "
        "(<code>proof-….json</code>, from your exchange account)</span>"
        '<input type="file" id="proof-file" accept=".json,application/json"></label>',
        '<label for="proof-text">or paste the proof (JSON)</label>',
        '<textarea id="proof-text" rows="8" spellcheck="false" autocomplete="off" '
        'autocapitalize="off" aria-describedby="privacy"></textarea>',
        '<div class="actions"><button type="submit" id="verify-button">Verify</button>'
        '<button type="button" id="clear-button" class="secondary">Clear</button></div>',
        "</form>",
        '<section id="result" class="result" aria-live="polite" tabindex="-1"></section>',
        '<noscript><p class="verdict bad">This check needs JavaScript. Without it, verify '
        "with the command-line tool: <code>por verify-proof proof.json --root root.json"
        "</code>.</p></noscript>",
        "<h2>What the page checks</h2>",
        "<ol>",
        "<li>The file is a <code>por-mst-v1</code> inclusion proof and every field is "
        "well-formed.</li>",
        "<li>Each of your leaves is recomputed from its salt, your account id and your balances, "
        "then hashed up the tree with its siblings; both children's sums are bound into each "
        "parent.</li>",
        "<li>The result equals the root in the proof, and the commitment recomputes from the "
        "attestation id, the assets, the height and the root.</li>",
        "<li>That commitment and root equal the ones published on this site (root.json).</li>",
        "</ol>",
        _statement_lists(
            [s.format(commitment=_short(commitment)) for s in CUSTOMER_PROVES],
            CUSTOMER_DOES_NOT_PROVE,
        ),
        f'<script type="application/json" id="por-published-root">{_embed_json(root)}</script>',
    ]
    title = f"Check your proof: {att.get('exchange')} {att.get('attestation_id')}"
    return _page(title, "verify.html", "\n".join(body), scripts=ASSET_FILES)


# ----------------------------------------------------------------------------- report shape

_NUMBER_TEXT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
MAX_NUMBER_DIGITS = 200
"""Longest decimal string a page shows as a number (a ratio has 28 digits; display
arithmetic works to 999 digits, so a longer figure could not be shown exactly)."""
_TEXT = (str, type(None))


def _check_numbers(value: Any, field: str, source: Path) -> None:
    """Refuse a decimal string too long to display exactly, naming its field."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            _check_numbers(item, _field(field, str(key)), source)
    elif isinstance(value, list):
        for n, item in enumerate(value):
            _check_numbers(item, _field(field, n), source)
    elif (
        isinstance(value, str) and len(value) > MAX_NUMBER_DIGITS and _NUMBER_TEXT.fullmatch(value)
    ):
        raise InputError(
            f"the signed document cannot be shown: a number of {len(value)} characters "
            f"(at most {MAX_NUMBER_DIGITS})",
            file=str(source),
            key=field,
        )


_OBJECT = (Mapping, type(None))
_LIST = (list, type(None))


def _check_report_shape(report: Mapping[str, Any], source: Path) -> None:
    """Refuse a signed report whose fields the pages read have another type than
    `build_report` writes (a signature proves who wrote it, not that it is well-formed)."""

    def need(value: Any, field: str, kinds: tuple[type, ...], expected: str) -> None:
        if not isinstance(value, kinds):
            raise InputError(
                f"the signed report cannot be shown: {_shown(value)} where {expected} is expected",
                file=str(source),
                key=field,
            )

    def each(value: Any, field: str) -> list[tuple[str, Mapping[str, Any]]]:
        need(value, field, _LIST, "a list")
        out = []
        for n, item in enumerate(value or []):
            need(item, f"{field}[{n}]", (Mapping,), "an object")
            out.append((f"{field}[{n}]", item))
        return out

    def obj(value: Any, field: str) -> Mapping[str, Any]:
        need(value, field, _OBJECT, "an object")
        return value or {}

    def texts(parent: Mapping[str, Any], field: str, keys: Sequence[str]) -> None:
        for key in keys:
            need(parent.get(key), f"{field}.{key}", _TEXT, "a decimal string")

    verdict = obj(report.get("verdict"), "verdict")
    each(verdict.get("breaches"), "verdict.breaches")
    totals = obj(report.get("totals"), "totals")
    obj(totals.get("value_by_class"), "totals.value_by_class")
    texts(totals, "totals", ["cold_share"])
    obj(report.get("settings"), "settings")
    combined = obj(report.get("combined"), "combined")
    texts(
        combined,
        "combined",
        ["ratio", "threshold", "capped_holdings_value", "eligible_reserve", "liabilities_value"],
    )
    for field, asset in each(report.get("assets"), "assets"):
        obj(asset.get("by_class"), f"{field}.by_class")
        texts(asset, field, ["coverage_ratio", "threshold", "cold_share"])
    reserve = report.get("reserve")
    if isinstance(reserve, Mapping):
        obj(reserve.get("pack"), "reserve.pack")
        required = obj(reserve.get("required"), "reserve.required")
        texts(required, "reserve.required", ["amount"])
        eligible = obj(reserve.get("eligible"), "reserve.eligible")
        texts(eligible, "reserve.eligible", ["total"])
        need(eligible.get("components"), "reserve.eligible.components", _LIST, "a list")
        for n, component in enumerate(eligible.get("components") or []):
            if isinstance(component, Mapping):
                field = f"reserve.eligible.components[{n}]"
                need(component.get("gates"), f"{field}.gates", _LIST, "a list")
        need(reserve.get("checks"), "reserve.checks", _LIST, "a list")
    for field, wallet in each(report.get("wallets"), "wallets"):
        obj(wallet.get("ownership"), f"{field}.ownership")
        obj(wallet.get("balances"), f"{field}.balances")
    statement = obj(report.get("statement"), "statement")
    for key in ("proves", "does_not_prove"):
        field = f"statement.{key}"
        need(statement.get(key), field, _LIST, "a list of strings")
        for n, line in enumerate(statement.get(key) or []):
            need(line, f"{field}[{n}]", (str,), "a string")


# ----------------------------------------------------------------------------- writing


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _is_site(path: Path) -> bool:
    try:
        manifest = _json(
            read_input(path / MANIFEST, what="site manifest"), path / MANIFEST, "manifest"
        )
    except PorError:
        return False
    return isinstance(manifest, dict) and manifest.get("format") == SITE_FORMAT


def _private_kind(path: Path, mode: int) -> str:
    """What an owner-only file most likely is, for the message (its content is never shown)."""
    if path.name == "secret.key":
        return "tree secret"
    head = b""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            head = os.read(fd, 64)
        finally:
            os.close(fd)
    if b"PRIVATE KEY" in head:
        return "signing key"
    return f"private file (mode {mode:04o})"


def _keys_and_secrets(out_dir: Path) -> list[tuple[str, Path | None]]:
    """Owner-only files under `out_dir` (signing keys and tree secrets are mode 0600): the
    things replacing `out_dir` must never delete, whatever --force says."""

    def cannot(exc: OSError) -> None:
        raise UsageError(
            f"--out {out_dir}: cannot check {exc.filename} for keys and secrets before "
            f"replacing the directory ({exc.strerror}); choose another --out"
        )

    seen = 0
    for root, dirs, names in os.walk(out_dir, onerror=cannot):
        for name in sorted(names) + sorted(dirs):
            seen += 1
            if seen > _MAX_REPLACED_ENTRIES:
                raise UsageError(
                    f"--out {out_dir} holds more than {_MAX_REPLACED_ENTRIES} files; it is not "
                    "a site, and replacing it would delete them (choose another --out)"
                )
            path = Path(root) / name
            try:
                info = os.lstat(path)
            except OSError as exc:
                cannot(exc)
                continue
            if stat.S_ISREG(info.st_mode) and not info.st_mode & 0o077:
                return [(_private_kind(path, stat.S_IMODE(info.st_mode)), path)]
    return []


def _check_replaceable(out_dir: Path, force: bool) -> None:
    """Before anything is written: may `out_dir` be replaced, and does it hold nothing to keep?

    An earlier site or an empty directory is replaced; any other directory only with
    `force`; and never one that holds a key or secret (checked with or without `force`).
    """
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise InputError("the output path exists and is not a directory", file=str(out_dir))
    if not (force or _is_site(out_dir) or not any(out_dir.iterdir())):
        raise InputError(
            "the output directory exists and is not a site from `por publish` "
            "(use --force to replace it)",
            file=str(out_dir),
        )
    if not out_dir.is_symlink():  # a link is replaced, never what it points to
        guard_output(out_dir, _keys_and_secrets(out_dir), flag="--out")


def _install(tmp: Path, out_dir: Path) -> None:
    """Move the finished site into place; the directory it replaces goes (`_check_replaceable`)."""
    if not out_dir.exists() and not out_dir.is_symlink():
        os.replace(tmp, out_dir)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
    os.replace(out_dir, old / "site")
    try:
        os.replace(tmp, out_dir)
    except OSError:
        os.replace(old / "site", out_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _render(
    bundle: AttestationBundle, downloads: Mapping[str, str], source: Path, attestation: Path
) -> list[str]:
    """Both pages. The signed documents are shape-checked only as far as `verify_attestation`
    goes; a signed report whose fields have unexpected types is refused, naming the file."""
    if bundle.report is not None:
        _check_report_shape(bundle.report, source)
        _check_numbers(bundle.report, "", source)
    _check_numbers(bundle.attestation.get("reserve"), "reserve", attestation)
    try:
        return [render_index(bundle, downloads), render_verify(bundle)]
    except PorError:
        raise
    except (AttributeError, TypeError, KeyError, IndexError, ValueError, ArithmeticError) as exc:
        raise InputError(
            "the signed attestation or report cannot be shown: a field has an unexpected type "
            f"or value ({type(exc).__name__})",
            file=str(source),
        ) from None


def build_site(
    attestation_dir: Path,
    out_dir: Path,
    *,
    force: bool = False,
    generated_at: str | None = None,
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

    Returns
    -------
    SiteResult

    Raises
    ------
    UsageError
        `out_dir` holds or lies inside an input, or holds a key or secret (nothing touched).
    NotFound, InputError, InvalidProof
        As `load_bundle`, or `out_dir` is in the way.
    StoreError
        The site cannot be written.
    """
    guard_output(
        out_dir,
        [
            ("attestation directory", attestation_dir),
            *((what, attestation_dir / name) for name, what in _INPUT_FILES),
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
    downloads = {name: _sha(data) for name, data in files.items()}
    report_file = attestation_dir / "report.json"
    source = report_file if report_file.exists() else attestation_dir / "attestation.json"
    index, verify = _render(bundle, downloads, source, attestation_dir / "attestation.json")
    files["index.html"] = index.encode()
    files["verify.html"] = verify.encode()
    css = stylesheet() + "/* chart legend swatches (generated per site) */\n"
    css += _colour_rules([index, verify])
    files["assets/style.css"] = css.encode()
    for name in ASSET_FILES:
        files[f"assets/{name}"] = _asset_text(name).encode()
    manifest = {
        "format": SITE_FORMAT,
        "attestation_id": bundle.attestation["attestation_id"],
        "exchange": bundle.attestation.get("exchange"),
        "commitment": bundle.root["commitment"],
        "generated_at": generated_at or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "content_security_policy": CSP,
        "files": {name: _sha(data) for name, data in sorted(files.items())},
    }
    files[MANIFEST] = (json.dumps(manifest, indent=2) + "\n").encode()

    out_dir = out_dir.absolute()
    _check_replaceable(out_dir, force)
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    except OSError as exc:
        raise StoreError(f"{out_dir}: cannot create the site ({exc.strerror})") from exc
    try:
        for name, data in files.items():
            path = tmp / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            path.chmod(0o644)
            path.parent.chmod(0o755)
        _install(tmp, out_dir)
    except OSError as exc:
        raise StoreError(f"{out_dir}: cannot write the site ({exc.strerror})") from exc
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(tmp)
    return SiteResult(
        out_dir=out_dir,
        files=dict(manifest["files"]),
        attestation_id=str(bundle.attestation["attestation_id"]),
        commitment=str(bundle.root["commitment"]),
    )


# ----------------------------------------------------------------------------- reading a site

_SITE_NAME = re.compile(
    r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}(?:/[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}){0,7}"
)
"""A file name a manifest may list: relative, ``/``-separated, no ``.``/``..``, no hidden part."""
_DIGEST = re.compile(r"[0-9a-f]{64}")
MAX_SITE_FILES = 1000


def read_site_file(site_dir: Path, name: str) -> bytes:
    """A file of a site, never through a symbolic link nor from outside the site directory.

    Raises
    ------
    NotFound
        No such file.
    InputError
        `name` is not a plain relative name, a part of its path is a symbolic link or not
        a directory, the file is not a regular file, it resolves outside `site_dir`, or it
        is too large.
    """
    if not _SITE_NAME.fullmatch(name):
        raise InputError("not a plain relative file name", file=str(site_dir), value=name)
    base = Path(os.path.realpath(site_dir))
    path = base
    for part in name.split("/"):
        path = path / part
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            raise NotFound("site file not found", file=str(path)) from None
        except OSError as exc:
            raise InputError(
                f"cannot read the site file ({exc.strerror})", file=str(path)
            ) from None
        if stat.S_ISLNK(info.st_mode):
            raise InputError(
                "is a symbolic link; a site serves only its own regular files", file=str(path)
            )
    real = os.path.realpath(path)
    if real == str(base) or os.path.commonpath([real, str(base)]) != str(base):
        raise InputError("resolves outside the site directory", file=str(path))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise InputError(f"cannot read the site file ({exc.strerror})", file=str(path)) from None
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode) or (opened.st_dev, opened.st_ino) != (
            info.st_dev,
            info.st_ino,
        ):
            raise InputError("is not a regular file of the site", file=str(path))
        with os.fdopen(os.dup(fd), "rb") as handle:
            data = handle.read(_MAX_INPUT_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read the site file ({exc.strerror})", file=str(path)) from None
    finally:
        os.close(fd)
    if len(data) > _MAX_INPUT_BYTES:
        raise InputError("the site file is too large", file=str(path))
    return data


def read_manifest(site_dir: Path) -> dict[str, Any]:
    """The manifest of a site built by `build_site` (``site.json``), checked.

    Raises
    ------
    NotFound
        No site there.
    InputError
        The manifest is not acceptable JSON, not a ``por-site-v1`` manifest, or lists a
        file by a name that is not a plain relative name, or without a SHA-256.
    """
    path = site_dir / MANIFEST
    if not site_dir.is_dir():
        raise NotFound("site directory not found", file=str(site_dir))
    data = _json(read_site_file(site_dir, MANIFEST), path, "site manifest")
    if not isinstance(data, dict) or data.get("format") != SITE_FORMAT:
        raise InputError(f"not a {SITE_FORMAT} manifest", file=str(path))
    files = data.get("files")
    if not isinstance(files, dict) or not files:
        raise InputError("the manifest lists no files", file=str(path), key="files")
    if len(files) > MAX_SITE_FILES:
        raise InputError(
            f"the manifest lists {len(files)} files (at most {MAX_SITE_FILES})",
            file=str(path),
            key="files",
        )
    for name, digest in files.items():
        if not _SITE_NAME.fullmatch(name) or name == MANIFEST:
            raise InputError(
                "the manifest lists a file that is not a plain relative name inside the site",
                file=str(path),
                key="files",
                value=name,
            )
        if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
            raise InputError(
                "the manifest gives no SHA-256 (64 lowercase hex digits) for a file",
                file=str(path),
                key=f"files.{name}",
            )
    return data


__all__ = [
    "CSP",
    "MANIFEST",
    "META_CSP",
    "SITE_FORMAT",
    "AttestationBundle",
    "SiteResult",
    "build_site",
    "load_bundle",
    "read_input",
    "read_manifest",
    "read_site_file",
    "render_index",
    "render_verify",
]
