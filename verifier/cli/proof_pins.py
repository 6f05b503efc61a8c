"""What a caller pins a por-mst-v1 proof to: the published root document or commitment.

Where it sits: the CLI side of handing out one proof (`por liabilities proof --root FILE |
--commitment HEX`). A proofs container or a tree directory is checked against the root
document it carries itself; a swapped one (an older tree, another exchange's) is
self-consistent, so only a pin the caller got from the exchange's publication says the
proof belongs to the tree it must. The options mean what they mean to `por verify-proof`
(verifier/cli/proofs.py): --root is the public root.json, --commitment its 64 hex digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from attestations.proofs import RootDocument, parse_proof, parse_root_document, verify_proof
from verifier.base import safejson
from verifier.base.errors import InputError, InvalidProof, UsageError


@dataclass(frozen=True)
class Pin:
    """The published root document or commitment a proof must match (at most one)."""

    root: RootDocument | None = None
    commitment: bytes | None = None

    @property
    def kind(self) -> str | None:
        """The pin's kind, "root" or "commitment"; None when nothing is pinned."""
        if self.root is not None:
            return "root"
        return "commitment" if self.commitment is not None else None


def read_pin(root_file: Path | None, commitment_hex: str | None) -> Pin:
    """The pin from --root FILE / --commitment HEX, read before any work is done.

    Both at once is a usage error (exit 2), as for `por verify-proof`; an unreadable or
    malformed root document, or a commitment that is not 64 hex digits, is exit 3. The
    root document is read with duplicate keys refused, as the attestation is: a lenient
    reader keeps the last of two "commitment"s, another reader the first.
    """
    if root_file is not None and commitment_hex is not None:
        raise UsageError("give --root or --commitment, not both")
    if root_file is not None:
        try:
            raw = safejson.load_path(root_file, what="root document", strict_keys=True)
            return Pin(root=parse_root_document(raw))
        except InvalidProof as exc:
            raise InputError(f"root document: {exc.message}", file=str(root_file)) from None
    if commitment_hex is not None:
        text = commitment_hex.strip().lower()
        if not re.fullmatch(r"[0-9a-f]{64}", text):
            raise InputError("--commitment must be 64 hex digits", value=commitment_hex)
        return Pin(commitment=bytes.fromhex(text))
    return Pin()


def check_pin(proof: dict[str, Any], pin: Pin, source: Path) -> None:
    """Refuse (`InvalidProof`, exit 3) a proof that is not of the pinned tree.

    The message names the file the proof came from and both commitments (expected and
    found), or the fields in which it differs from the pinned root document.
    """
    if pin.kind is None:
        return
    try:
        verify_proof(
            parse_proof(proof), published_root=pin.root, published_commitment=pin.commitment
        )
    except InvalidProof as exc:
        detail = exc.message.removeprefix(f"{exc.check}: ")
        raise InvalidProof(exc.check, f"{source}: {detail}; no proof written") from None
