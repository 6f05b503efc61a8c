"""Registry of liabilities-proof formats: ours (`por`) and other exchanges' published ones.

Where it sits: `verifier/external/check.py` reads the files and calls `verify(name, inp)` or
`detect(inp)`; each format lives in its own pure module beside this one (`okx.py`,
`bybit.py`, `bitget.py`, `bitmex.py`, `binance2022.py`, `coinex.py`, `por.py`).

Invariants: `detect` names exactly one format or raises `InputError` saying that none or
several fit; a format that needs a second file (okx-v2's tree) raises `UsageError` without it;
every `InvalidProof` that `verify` raises names the file it is about.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal

from attestations.formats import (
    binance2022,
    bitget,
    bitmex,
    bitunix,
    bybit,
    coinex,
    gate,
    htx_zk,
    lemon,
    mexc,
    okx,
    por,
    swissborg,
)
from attestations.formats.common import FormatResult, ProofInput
from attestations.formats.published_root import ROOT_KEYS, compare_root
from verifier.base import safejson
from verifier.base.errors import InputError, InvalidProof, UsageError

__all__ = [
    "FORMATS",
    "NAMES",
    "FormatResult",
    "FormatSpec",
    "ProofInput",
    "check_options",
    "detect",
    "verify",
]


@dataclass(frozen=True, slots=True)
class FormatSpec:
    """One registered format."""

    name: str
    summary: str
    weaknesses: tuple[str, ...]
    looks_like: Callable[[ProofInput], bool]
    verify: Callable[[ProofInput], FormatResult]
    needs_tree: bool = False
    published_root: bool = True
    """The exchange publishes a root this proof can be checked against: ``--root`` applies.
    False: ``--root`` is a usage error naming the format."""
    root_in_format: bool = False
    """The format reads ``inp.root`` itself (its own root or audit-roots file) and reports
    ``root_matches``; otherwise the registry compares the computed root with the hash the
    ``--root`` file holds (`attestations/formats/published_root.py`)."""
    needs_root: bool = False
    """``--root`` is required (the proof cannot be checked without the published file)."""
    root_keys: tuple[str, ...] = ROOT_KEYS
    """The keys under which a JSON ``--root`` file holds the root hash, tried in order."""
    takes_credential: bool = False
    """Reads the user's secret credential (``--credential-file`` / ``--credential-env``)."""
    needs_credential: bool = False
    takes_batch_proof: bool = False
    """Reads ``--batch-proof FILE`` (zk trees' published batch proofs)."""
    takes_assets: bool = False
    """Reads ``--assets N`` (the asset-list length of the published version)."""


FORMATS: dict[str, FormatSpec] = {
    spec.name: spec
    for spec in (
        FormatSpec(
            por.NAME, "por-mst-v1 inclusion proof", por.WEAKNESSES, por.looks_like, por.verify
        ),
        FormatSpec(
            okx.V1, "OKX Merkle path file", okx.WEAKNESSES_V1, okx.looks_like_v1, okx.verify_v1
        ),
        FormatSpec(
            okx.V2,
            "OKX user info file + full liabilities tree (--tree)",
            okx.WEAKNESSES_V2,
            okx.looks_like_v2,
            okx.verify_v2,
            needs_tree=True,
        ),
        FormatSpec(
            bybit.NAME, "Bybit Merkle path file", bybit.WEAKNESSES, bybit.looks_like, bybit.verify
        ),
        FormatSpec(
            bitget.NAME,
            "Bitget Merkle path file",
            bitget.WEAKNESSES,
            bitget.looks_like,
            bitget.verify,
        ),
        FormatSpec(
            bitmex.NAME,
            "BitMEX full liabilities tree",
            bitmex.WEAKNESSES,
            bitmex.looks_like,
            bitmex.verify,
        ),
        FormatSpec(
            binance2022.NAME,
            "Binance 2022 auditor tree level files",
            binance2022.WEAKNESSES,
            binance2022.looks_like,
            binance2022.verify,
        ),
        FormatSpec(
            coinex.NAME,
            "CoinEx Merkle path file",
            coinex.WEAKNESSES,
            coinex.looks_like,
            coinex.verify,
        ),
        FormatSpec(
            gate.NAME,
            "Gate.io zk account tree user_config.json (--batch-proof proof.csv, --assets N)",
            gate.WEAKNESSES,
            gate.looks_like,
            gate.verify,
            takes_batch_proof=True,
            takes_assets=True,
        ),
        FormatSpec(
            htx_zk.NAME,
            "HTX V2 zk account tree user_config.json (--batch-proof proof0.csv, --assets N)",
            htx_zk.WEAKNESSES,
            htx_zk.looks_like,
            htx_zk.verify,
            takes_batch_proof=True,
            takes_assets=True,
        ),
        FormatSpec(
            bitunix.NAME,
            "Bitunix Merkle path file (full SHA-256, sums rounded to each asset's precision)",
            bitunix.WEAKNESSES,
            bitunix.looks_like,
            bitunix.verify,
            root_keys=("merkleLeaf", *ROOT_KEYS),
        ),
        FormatSpec(
            mexc.NAME,
            "MEXC Merkle path file (pathList by level, 128-bit hashes)",
            mexc.WEAKNESSES,
            mexc.looks_like,
            mexc.verify,
        ),
        FormatSpec(
            swissborg.NAME,
            "SwissBorg user liabilities file (--root auditRoots.json, the credential)",
            swissborg.WEAKNESSES,
            swissborg.looks_like,
            swissborg.verify,
            root_in_format=True,
            needs_root=True,
            takes_credential=True,
            needs_credential=True,
        ),
        FormatSpec(
            lemon.NAME,
            "Lemon Cash proof rows (--root root.json)",
            lemon.WEAKNESSES,
            lemon.looks_like,
            lemon.verify,
            root_in_format=True,
            needs_root=True,
        ),
    )
}
NAMES = (*FORMATS, "auto")


def detect(inp: ProofInput) -> str:
    """The one format whose shape `inp` has.

    Raises
    ------
    InputError
        No format fits, or more than one does (named); a file meant as JSON that cannot be
        read as JSON says why (nesting, a huge number, not UTF-8, a syntax error).
    """
    # the main file alone decides: a multi-file format is recognised without its companions
    inp = replace(inp, tree=None, nonce=None, root=None, root_name=None, credential=None)
    inp = replace(inp, batch_proof=None, assets=None)
    fits = [name for name, spec in FORMATS.items() if spec.looks_like(inp)]
    if not fits and inp.data.lstrip()[:1] in (b"{", b"["):
        # it means to be JSON: if it cannot be read, that is the better message
        safejson.loads(inp.data, source=inp.name, parse_float=Decimal, what="proof file")
    if not fits:
        raise InputError(
            f"no known proof format fits this file (known: {', '.join(FORMATS)}); give --format",
            file=inp.name,
        )
    if len(fits) > 1:
        raise InputError(
            f"more than one proof format fits this file ({', '.join(fits)}); give --format",
            file=inp.name,
        )
    return fits[0]


def verify(name: str, inp: ProofInput) -> FormatResult:
    """Verify `inp` as format `name` (``auto``: detect first); with ``inp.root``, also that the
    proof's root is the published one (``details["root_matches"]``).

    Raises
    ------
    UsageError
        Unknown format; a file or value the format needs is missing (okx-v2's tree, a
        required --root or credential); an option the format does not read was given.
    InvalidProof
        A check failed (``.check`` names it; ``"published root"`` for a --root mismatch).
    """
    if name == "auto":
        name = detect(inp)
    if name not in FORMATS:
        raise UsageError(f"unknown format {name!r} (one of: {', '.join(NAMES)})")
    spec = FORMATS[name]
    check_options(spec, inp)
    try:
        result = spec.verify(inp)
        if inp.root is None or spec.root_in_format or "root_matches" in result.details:
            return result
        compare_root(result.root, inp.root, spec.root_keys, inp.root_name or "--root")
    except InvalidProof as exc:
        detail = exc.message.removeprefix(f"{exc.check}: ")
        if detail.startswith(f"{inp.name}:"):
            raise
        # the format modules name the field; say which file it is in
        raise InvalidProof(exc.check, f"{inp.name}: {detail}") from None
    published = (f"the root matches the published root ({inp.root_name or '--root'})",)
    return replace(
        result,
        checks=result.checks + published,
        details={**result.details, "root_matches": True},
    )


def check_options(spec: FormatSpec, inp: ProofInput) -> None:
    """Refuse an input the format needs and lacks, or one it would silently ignore.

    Raises
    ------
    UsageError
        Naming the option and the format (exit 2).
    """
    name = spec.name
    if spec.needs_tree and inp.tree is None:
        raise UsageError(f"--format {name} needs --tree FILE (the full liabilities tree)")
    if inp.root is not None and not spec.published_root:
        raise UsageError(f"--root: {name} publishes no root to compare with")
    if inp.root is None and spec.needs_root:
        raise UsageError(f"--format {name} needs --root FILE (the published root file)")
    if inp.credential is not None and not spec.takes_credential:
        raise UsageError(f"--credential-file/--credential-env: {name} reads no credential")
    if inp.credential is None and spec.needs_credential:
        raise UsageError(
            f"--format {name} needs the user's credential: --credential-file FILE or "
            "--credential-env VAR"
        )
    if inp.batch_proof is not None and not spec.takes_batch_proof:
        raise UsageError(f"--batch-proof: {name} has no batch proofs")
    if inp.assets is not None and not spec.takes_assets:
        raise UsageError(f"--assets: {name} has no asset-count parameter")
