"""Which proof format a file is: `por verify-proof --format auto` (the default).

Sits beside check.py: it reads the file as check.py does and asks every format of
`attestations/formats/` whether the file has its shape — the main file alone: a multi-file
format (SwissBorg's user file, Gate's user_config.json) is recognised without its --root,
credential or batch proofs, and no format claims those companions
(tests/unit/test_format_detection.py checks every sample). Our own por-mst-v1 proofs are not
among those formats; a file none of them fits that looks like JSON is read as a por proof.
"""

from __future__ import annotations

from pathlib import Path

from attestations.formats import FORMATS
from verifier.base.errors import InputError
from verifier.external.check import load_proof_input


def detect_proof_format(proof_file: Path) -> str:
    """The one format whose shape `proof_file` has: a name of `FORMATS`, or "por".

    A file no format fits that is JSON-shaped (or empty) is read as a por proof, as before
    detection existed: a damaged por proof is then refused with the field that is wrong,
    not with "no format fits". Anything else no format fits, or that several fit, is exit 3
    naming the file and asking for --format."""
    inp = load_proof_input(proof_file, None, None)  # --tree and --nonce do not change the shape
    fits = [name for name, spec in FORMATS.items() if spec.looks_like(inp)]
    if len(fits) == 1:
        return fits[0]
    if len(fits) > 1:
        raise InputError(
            f"more than one proof format fits this file ({', '.join(fits)}); give --format",
            file=str(proof_file),
        )
    if not proof_file.is_dir() and inp.data.lstrip()[:1] in (b"", b"{", b"[", b'"'):
        return "por"
    raise InputError(
        f"no known proof format fits this file (known: {', '.join(FORMATS)}); give --format",
        file=str(proof_file),
    )
