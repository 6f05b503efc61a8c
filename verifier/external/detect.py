"""Which proof format a file is: `por verify-proof --format auto` (the default).

Sits beside check.py: it reads the file as check.py does and asks every format of
`attestations/formats/` whether the file has its shape — the main file alone: a multi-file
format (SwissBorg's user file, Gate's user_config.json) is recognised without its --root,
credential or batch proofs, and no format claims those companions
(tests/unit/test_format_detection.py checks every sample). A file none of them fits that
looks like JSON is read as a por proof (our own format, `por`, is one of them).
"""

from __future__ import annotations

from pathlib import Path

from attestations.formats import detect
from verifier.external.check import load_proof_input


def detect_proof_format(proof_file: Path) -> str:
    """The one format whose shape `proof_file` has: a name of `FORMATS`, or "por" for a
    JSON-shaped (or empty) file none fits (`attestations.formats.detect` with that
    fallback). Anything else no format fits, or that several fit, is exit 3 naming the
    file and asking for --format."""
    inp = load_proof_input(proof_file, None, None)  # --tree and --nonce do not change the shape
    return detect(inp, fallback="por", source=str(proof_file))
