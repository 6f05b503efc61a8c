"""Our own `por-mst-v1` inclusion proofs, seen through the foreign-format interface.

Where it sits: `attestations/formats/` registers it as format ``por`` so that `--format auto`
can tell our proofs from other exchanges'. The verification itself is
`attestations.proofs.verify_proof`; this module only maps its `VerifiedProof` to a
`FormatResult`. (`por verify-proof --root/--commitment` keeps using `attestations.proofs`.)
"""

from __future__ import annotations

from attestations.encoding import FORMAT
from attestations.formats.common import FormatResult, ProofInput, load_json, try_json
from attestations.proofs import format_units, parse_proof, verify_proof

NAME = "por"
WEAKNESSES = (
    "one account's inclusion only: completeness of the tree needs the full-tree audit "
    "(`por liabilities audit`) by someone holding the tree",
    "without the published root document or commitment (--root/--commitment) the proof is "
    "only self-consistent",
    "an account split over several leaves: nothing binds the number of parts, so a proof "
    "that leaves one out still verifies and shows the sum of the leaves it holds",
)


def looks_like(inp: ProofInput) -> bool:
    doc = try_json(inp.data)
    return isinstance(doc, dict) and doc.get("format") == FORMAT and "leaves" in doc


def verify(inp: ProofInput) -> FormatResult:
    """Verify a `por-mst-v1` proof (parents bind both children's hashes and sums)."""
    proof = parse_proof(load_json(inp.data, "the proof file", inp.name))
    result = verify_proof(proof)
    return FormatResult(
        format=NAME,
        valid=True,
        checks=result.checks,
        balances=result.balances_whole(),
        root=proof.root.hash.hex(),
        totals={
            a.code: format_units(s, a.decimals)
            for a, s in zip(proof.assets, proof.root.sums, strict=True)
        },
        weaknesses=WEAKNESSES,
        details={
            "account_id": result.account_id,
            "attestation_id": result.attestation_id,
            "commitment": result.commitment.hex(),
            "warnings": list(result.warnings),
        },
    )
