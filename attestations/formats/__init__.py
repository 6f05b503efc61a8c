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
from dataclasses import dataclass
from decimal import Decimal

from attestations.formats import binance2022, bitget, bitmex, bybit, coinex, okx, por
from attestations.formats.common import FormatResult, ProofInput
from verifier.base import safejson
from verifier.base.errors import InputError, InvalidProof, UsageError

__all__ = ["FORMATS", "NAMES", "FormatResult", "FormatSpec", "ProofInput", "detect", "verify"]


@dataclass(frozen=True, slots=True)
class FormatSpec:
    """One registered format."""

    name: str
    summary: str
    weaknesses: tuple[str, ...]
    looks_like: Callable[[ProofInput], bool]
    verify: Callable[[ProofInput], FormatResult]
    needs_tree: bool = False


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
    """Verify `inp` as format `name` (``auto``: detect first).

    Raises
    ------
    UsageError
        Unknown format, or okx-v2 without the tree file.
    InvalidProof
        A check failed (``.check`` names it).
    """
    if name == "auto":
        name = detect(inp)
    if name not in FORMATS:
        raise UsageError(f"unknown format {name!r} (one of: {', '.join(NAMES)})")
    spec = FORMATS[name]
    if spec.needs_tree and inp.tree is None:
        raise UsageError(f"--format {name} needs --tree FILE (the full liabilities tree)")
    try:
        return spec.verify(inp)
    except InvalidProof as exc:
        detail = exc.message.removeprefix(f"{exc.check}: ")
        if detail.startswith(f"{inp.name}:"):
            raise
        # the format modules name the field; say which file it is in
        raise InvalidProof(exc.check, f"{inp.name}: {detail}") from None
