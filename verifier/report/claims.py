"""What a coverage check proves and what it does not, in plain words, for one reconciliation.

Where it sits: verifier/report/document.py puts these sentences in every ``por-report-v1``
document (its ``statement`` member); the terminal, the HTML page and the site show them
from there.

Invariants: every report carries the limits of the check — a point in time, not an audit
(RULES.md: the PCAOB and SEC warnings that a proof of reserves is not an audit); control
of keys, not exclusive control; liabilities as committed, completeness not proven — and an
epoch proof's sentences say what an epoch signature shows and what its age limit does not
close (DESIGN.md, "Coverage").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from verifier.base.console import plural
from verifier.reconcile.result import Reconciliation


def statement(rec: Reconciliation) -> dict[str, list[str]]:
    """What a pass proves and what it does not, in plain words, for this reconciliation.

    Parameters
    ----------
    rec
        The reconciliation the report is about.

    Returns
    -------
    dict
        ``{"proves": [...], "does_not_prove": [...]}``, sentences.
    """
    blocks = "; ".join(
        f"{c.chain} {c.network} block {c.height} ({c.block_hash})" for c in rec.chains
    )
    sources = sorted({f"{p.source} at {p.time}" for p in rec.prices.values()})
    commitment = rec.liabilities.commitment or "(no commitment given)"
    proves = [
        f"At the pinned blocks only ({blocks or 'none'}), the listed addresses held the "
        "listed balances, as read from the verifier's own nodes.",
        *_ownership_proves(rec),
        f"The liabilities are the per-asset totals the exchange committed to in its Merkle "
        f"sum tree (commitment {commitment}); each customer can check that their own "
        "balances are included with their inclusion proof.",
        "Coverage is computed per asset (a surplus in one asset never offsets a shortfall in "
        "another) and, combined, at the stated prices with the eligible off-chain reserve "
        "as the rule pack assessed it.",
    ]
    does_not = [
        "This is a point-in-time check, not an audit. The PCAOB (investor advisory, 8 March "
        "2023) and SEC staff have warned that proof-of-reserves reports are not audits and "
        "give no assurance about an exchange's solvency or its controls.",
        "Balances are proven at the pinned blocks only: assets may have been borrowed before "
        "and returned after, and nothing is said about any other moment.",
        "Ownership means control of the keys when the message was signed, not exclusive "
        "control: the same coins may be pledged, lent, encumbered or claimed by someone else, "
        "and keys may be shared.",
        *_epoch_does_not_prove(rec),
        "Liabilities are what the exchange committed to. Inclusion proofs show that an "
        "account was included, not that every account, or every other obligation of the "
        "exchange (loans, fees, off-tree balances), was; completeness is not proven.",
        "Values use the prices given"
        + (f" ({'; '.join(sources)})" if sources else "")
        + "; market prices move, and a large holding may not be saleable at them.",
        "The off-chain reserve (cash, insurance, guarantees) is taken from the exchange's "
        "statement and assessed by the rule pack; this tool does not confirm it with banks, "
        "trustees or insurers.",
        "Unproven and custodial holdings are excluded from coverage"
        + (" (custodial ones were counted here, as configured)" if rec.count_custodial else "")
        + "; the exchange's own holdings never count as customer backing.",
    ]
    return {"proves": proves, "does_not_prove": does_not}


def _epoch_holdings(rec: Reconciliation) -> list[Any]:
    return [h for h in rec.holdings if h.epoch is not None]


def _ownership_proves(rec: Reconciliation) -> list[str]:
    """What a proven address shows: today's challenge names the pinned block; an epoch
    proof names a block the signer saw, earlier than the pinned one."""
    point = (
        "For each address marked proven, the holder of its keys signed a message naming this "
        "exchange, this attestation and the pinned block, so the signature cannot be an old "
        "one or another exchange's."
    )
    epochs = _epoch_holdings(rec)
    if not epochs:
        return [point]
    ids = ", ".join(sorted({str(h.epoch["id"]) for h in epochs}))
    sentences = [
        f"For each address proven by an ownership epoch ({ids}), the holder of its keys signed "
        "a message naming this exchange, the epoch and an epoch block on this chain, so the "
        "signature was made at or after that block and is not another exchange's; it was "
        "accepted because it is younger than the maximum age"
        + (f" ({_max_age_words(rec.max_age)})" if rec.max_age else "")
        + ". Older ones are reported stale and counted as unproven."
    ]
    if len(epochs) < len(rec.holdings):
        sentences.insert(0, point.replace("each address marked", "each other address marked"))
    return sentences


def _max_age_words(max_age: Mapping[str, Any]) -> str:
    days = max_age.get("days")
    text = f"{plural(days, 'day') if isinstance(days, int) else f'{days} days'}, "
    text += f"{max_age.get('source')}"
    blocks = max_age.get("blocks") or {}
    if blocks:
        text += "; " + ", ".join(
            f"{chain} {plural(n, 'block') if isinstance(n, int) else f'{n} blocks'}"
            for chain, n in sorted(blocks.items())
        )
    return text


def _epoch_does_not_prove(rec: Reconciliation) -> list[str]:
    if not _epoch_holdings(rec):
        return []
    return [
        "An epoch signature shows control of the key when it was signed (at or after the "
        "epoch block), not at the pinned block: the keys may have changed hands since. The "
        "maximum age applied"
        + (f" ({_max_age_words(rec.max_age)})" if rec.max_age else "")
        + " limits how old that control may be, it does not close the gap."
    ]
