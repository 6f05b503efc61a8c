"""Messages whose count can be 1 say "1 day", "1 block" (verifier.base.console.plural),
never "1 days" or "1 blocks"."""

from __future__ import annotations

from chains.base import ProofAge, ProofEpoch
from verifier.holdings.ownership import DAY, MaxAge, staleness

EPOCH = ProofEpoch(id="e1", height=100, hash="00" * 32)


def test_a_one_day_limit_says_one_day() -> None:
    reason = staleness(EPOCH, ProofAge(5, 2 * DAY), None, "bitcoin", MaxAge(1, "default"))
    assert reason is not None
    assert "maximum age of 1 day (default)" in reason and "1 days" not in reason


def test_one_block_over_a_one_block_limit_says_block_twice_in_the_singular_and_plural() -> None:
    limits = MaxAge(92, "default", {"bitcoin": 1})
    reason = staleness(EPOCH, ProofAge(2, None), None, "bitcoin", limits)
    assert reason is not None
    assert "2 blocks before the pinned block, past the maximum of 1 block (" in reason
    assert "1 blocks" not in reason
