"""What `por verify-proof` reads beside the proof file: --root, the credential, --batch-proof
and --assets.

Where it sits: `verifier/external/check.py` reads the proof file and calls `load_companions`
to fill the rest of the `ProofInput` (attestations/formats/common.py) the format modules read;
`verifier/cli/proofs.py` builds `Companions` from its options (light: importing this module
loads no proof format). The credential itself is read by `verifier/external/credential.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from verifier.base import safejson
from verifier.base.errors import UsageError
from verifier.base.logs import register_secret
from verifier.external.credential import read_credential

if TYPE_CHECKING:
    from attestations.formats.common import ProofInput

MAX_ASSETS = 100_000
"""Largest `--assets N`: far above any published asset list (Gate's is 800)."""


@dataclass(frozen=True, slots=True)
class Companions:
    """What `por verify-proof` was given beside the proof, `--tree` and `--nonce`."""

    root: Path | None = None
    """`--root FILE`: the exchange's published root (a hash, or its root file)."""
    credential_file: Path | None = None
    credential_env: str | None = None
    """`--credential-env VAR`: the name of the variable holding the credential."""
    batch_proof: Path | None = None
    assets: int | None = None


def load_companions(inp: ProofInput, given: Companions) -> tuple[ProofInput, list[str]]:
    """`inp` with the companion files and values read in, and warnings about them.

    Raises
    ------
    UsageError
        `--assets` out of 1..`MAX_ASSETS`; both credential options; an unset variable (2).
    InputError
        A companion file that cannot be read (3), named.
    """
    if given.assets is not None and not 1 <= given.assets <= MAX_ASSETS:
        raise UsageError(f"--assets must be 1..{MAX_ASSETS:,}")
    credential, warnings = read_credential(given.credential_file, given.credential_env)
    register_secret(credential)  # masked in every log line and message from now on
    root = None if given.root is None else safejson.read_input(given.root, what="root file")
    batch = (
        None
        if given.batch_proof is None
        else safejson.read_input(given.batch_proof, what="batch proof file")
    )
    inp = replace(
        inp,
        root=root,
        root_name=None if given.root is None else str(given.root),
        credential=credential,
        batch_proof=batch,
        assets=given.assets,
    )
    return inp, warnings


def given_placeholders(inp: ProofInput, given: Companions) -> ProofInput:
    """`inp` with an empty placeholder for each companion given, unread: enough for the
    registry's `check_options` to refuse, before any file is opened, what the format does
    not read or lacks."""
    return replace(
        inp,
        root=None if given.root is None else b"",
        root_name=None if given.root is None else str(given.root),
        credential=None if given.credential_file is None and given.credential_env is None else "",
        batch_proof=None if given.batch_proof is None else b"",
        assets=given.assets,
    )
