"""What `por verify` found (`Verification`), and the small helpers its checks share.

Where it sits: under the verification of an attestation (verifier/jobs/verify.py). Every
check appends to one `Verification`: a line in `checks` for what was decided, a line in
`discrepancies` for what the document gets wrong (exit 3), a `warning` for what was taken
on the document's word; none is fatal until the end, so the auditor sees them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from attestations.document.model import Attestation, ChainEntry, WalletEntry
from verifier.base.errors import EXIT_INFRA, EXIT_INVALID, EXIT_OK, EXIT_SHORTFALL, ChainError
from verifier.holdings.ownership import MaxAge
from verifier.reconcile.result import Reconciliation

NOT_RECHECKED = "contract-wallet signature: re-checked on a node only"


@dataclass
class Verification:
    """What `por verify` found."""

    attestation_id: str
    public_key: str
    signer_pinned: bool = False
    """True when the signature was checked against a key the auditor gave (--public-key,
    --public-key-file or the auditor config), not only the key the document carries."""
    checks: list[str] = field(default_factory=list)
    discrepancies: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    reconciliation: Reconciliation | None = None
    report: dict[str, Any] | None = None
    node_error: ChainError | None = None
    """The auditor's node failed: what it should have re-read was not (exit 4, "not
    verified"; a document already found wrong stays exit 3)."""
    epoch_proofs: int = 0
    """Epoch proofs (not custodial) in the document."""
    epochs_on_node: set[str] = field(default_factory=set)
    """The epoch proofs (chain:address) whose epoch block, block times and expiry the
    auditor's node decided."""
    epochs_on_trust: list[str] = field(default_factory=list)
    """The epoch proofs counted proven with facts only a node can tell (the epoch block's
    hash, the expiry, the age in seconds) taken from the document."""

    @property
    def epochs_rechecked_on_node(self) -> bool | None:
        """None: no epoch proof; True: every one decided on the auditor's node."""
        if not self.epoch_proofs:
            return None
        return len(self.epochs_on_node) == self.epoch_proofs

    @property
    def verdict_note(self) -> str | None:
        """What a VALID verdict must say with it: some epoch proof counted proven on the
        document's word for what only a node can tell."""
        if self.epochs_on_trust:
            return "epoch proofs partly taken on trust: verify with --config naming your nodes"
        return None

    @property
    def exit_code(self) -> int:
        if self.discrepancies:
            return EXIT_INVALID
        if self.node_error is not None:
            return EXIT_INFRA
        if self.reconciliation is not None and self.reconciliation.exit_code != EXIT_OK:
            return EXIT_SHORTFALL
        return EXIT_OK

    def to_json(self) -> dict[str, Any]:
        return {
            "format": "por-verification-v1",
            "attestation_id": self.attestation_id,
            "public_key": self.public_key,
            "signer_pinned": self.signer_pinned,
            "valid": not self.discrepancies and self.node_error is None,
            "checks": self.checks,
            "discrepancies": self.discrepancies,
            "warnings": self.warnings,
            "epochs_rechecked_on_node": self.epochs_rechecked_on_node,
            "node_error": None if self.node_error is None else self.node_error.to_json(),
            "exit_code": self.exit_code,
            "report": self.report,
        }


def short(value: Any, limit: int = 80) -> str:
    """`value` for a message: cut to `limit` characters (the document is hostile input)."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def wallet_key(chain: ChainEntry, wallet: WalletEntry) -> str:
    """``chain:address``: how verdicts and messages name a wallet."""
    return f"{chain.block.chain.value}:{wallet.address}"


def document_limits(doc: Attestation) -> MaxAge:
    """The maximum proof age the document states it applied (`settings.ownership_max_age`)."""
    # parse_attestation refuses a document whose proofs name an epoch without its limits
    assert doc.max_age is not None
    return MaxAge(doc.max_age.days, doc.max_age.source, dict(doc.max_age.blocks))
