"""verifier/holdings/ownership.py with fake blocks: epoch on chain, age, staleness, max-age resolution."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chains.base import BlockRef, Chain, Ownership, OwnershipCheck, ProofAge, ProofEpoch
from chains.challenge import epoch_challenge
from verifier.holdings.ownership import (
    DEFAULT_MAX_AGE_DAYS,
    EpochJudge,
    MaxAge,
    duration,
    judged,
    on_chain_problem,
    proof_age,
    resolve_max_age,
    staleness,
)
from verifier.inputs.config_values import EpochBlock, EpochConfig, OwnershipConfig

H = {n: f"{n:064x}" for n in range(200)}
EPOCH = ProofEpoch("2026-q4", 120, H[120])
LIMITS = MaxAge(92, "default")


def block(height: int, time: int | None = None, hash_: str | None = None) -> BlockRef:
    return BlockRef(Chain.BITCOIN, "regtest", height, hash_ or H[height], time)


def proven(reason: str = "BIP-137 signature by the address's key") -> OwnershipCheck:
    return OwnershipCheck("bcrt1qexample", Ownership.PROVEN, "bip137", reason)


def test_block_time_is_not_part_of_equality() -> None:
    assert block(5, 100) == block(5, 200) == block(5)
    assert hash(block(5, 100)) == hash(block(5))


def test_a_valid_proof_reports_its_age() -> None:
    age = proof_age(block(120, 1_000), block(134, 1_000 + 8_400))
    assert age == ProofAge(14, 8_400)
    verdict = judged(proven(), EPOCH, age, 9_400, "bitcoin", LIMITS)
    assert verdict.status is Ownership.PROVEN
    assert verdict.reason.startswith(
        "proven; signed for epoch 2026-q4 at block 120, 14 blocks (2 h 20 min) before the "
        "pinned block"
    )
    assert verdict.to_json()["epoch"] == {
        "id": "2026-q4",
        "height": 120,
        "hash": H[120],
        "expires": None,
    }
    assert verdict.to_json()["age"] == {"blocks": 14, "seconds": 8_400}


def test_unknown_times_give_no_seconds() -> None:
    assert proof_age(block(120), block(130, 5)).seconds is None
    assert staleness(EPOCH, ProofAge(10, None), None, "bitcoin", LIMITS) is None


def test_a_failed_signature_stays_unproven_whatever_its_age() -> None:
    bad = OwnershipCheck("a", Ownership.UNPROVEN, "bip137", "recovered key: another key")
    verdict = judged(bad, EPOCH, ProofAge(1, 1), 0, "bitcoin", LIMITS)
    assert verdict.status is Ownership.UNPROVEN
    assert "recovered key" in verdict.reason


@given(seconds=st.integers(0, 400 * 86_400), days=st.integers(1, 3660))
def test_days_limit(seconds: int, days: int) -> None:
    limits = MaxAge(days, "[ownership] max_age_days")
    verdict = judged(proven(), EPOCH, ProofAge(1, seconds), None, "bitcoin", limits)
    if seconds > days * 86_400:
        assert verdict.status is Ownership.STALE
        assert f"past the maximum age of {days} day{'' if days == 1 else 's'}" in verdict.reason
        assert f"by {duration(seconds - days * 86_400)}" in verdict.reason
    else:
        assert verdict.status is Ownership.PROVEN


@given(blocks=st.integers(0, 100_000), most=st.integers(1, 50_000))
def test_blocks_limit_is_per_chain(blocks: int, most: int) -> None:
    limits = MaxAge(92, "default", {"bitcoin": most})
    stale = staleness(EPOCH, ProofAge(blocks, None), None, "bitcoin", limits)
    assert (stale is not None) == (blocks > most)
    if stale is not None:
        assert f"by {blocks - most}" in stale
    assert staleness(EPOCH, ProofAge(blocks, None), None, "ethereum", limits) is None


def test_expiry_is_checked_against_the_pinned_block_time() -> None:
    epoch = ProofEpoch("q", 120, H[120], "2027-03-31T00:00:00Z")
    expiry = 1_806_451_200  # 2027-03-31T00:00:00Z
    assert staleness(epoch, ProofAge(1, 1), expiry, "bitcoin", LIMITS) is None
    stale = staleness(epoch, ProofAge(1, 1), expiry + 3_600, "bitcoin", LIMITS)
    assert stale is not None and "expired at 2027-03-31T00:00:00Z, 1 h before" in stale


def test_epoch_block_must_be_on_the_chain_and_not_above_the_pin() -> None:
    assert on_chain_problem(EPOCH, block(150), block(120)) is None
    foreign = on_chain_problem(EPOCH, block(150), block(120, hash_="ee" * 32))
    assert foreign is not None
    assert f"epoch 2026-q4 block 120 is not on this chain: the node has {'ee' * 32}" in foreign
    above = on_chain_problem(EPOCH, block(100), None)
    assert above is not None and "above the pinned block 100" in above


def test_max_age_resolution_order() -> None:
    assert resolve_max_age(OwnershipConfig(), None) == MaxAge(DEFAULT_MAX_AGE_DAYS, "default")
    from_pack = resolve_max_age(OwnershipConfig(), 30, "eu-mica")
    assert (from_pack.days, from_pack.source) == (
        30,
        "rule pack eu-mica parameter ownership_max_age_days",
    )
    config = OwnershipConfig(max_age_days=7, max_age_blocks={"bitcoin": 1000})
    chosen = resolve_max_age(config, 30, "eu-mica")
    assert (chosen.days, chosen.source, dict(chosen.blocks)) == (
        7,
        "[ownership] max_age_days",
        {"bitcoin": 1000},
    )


class FakeAdapter:
    chain = Chain.BITCOIN

    def __init__(self, blocks: dict[int, BlockRef]) -> None:
        self.blocks = blocks
        self.asked: list[int] = []

    async def block_at(self, height: int) -> BlockRef:
        self.asked.append(height)
        return self.blocks[height]


def test_judge_signs_the_epoch_message_and_reads_each_epoch_block_once() -> None:
    config = OwnershipConfig(epochs=(EpochConfig("2026-q4", {"bitcoin": EpochBlock(120, H[120])}),))
    pinned = block(130, 10_000)
    adapter = FakeAdapter({120: block(120, 4_000)})
    judge = EpochJudge("Ex", config, LIMITS, adapter, pinned)  # type: ignore[arg-type]
    seen: list[str] = []

    async def verify(message: str) -> OwnershipCheck:
        seen.append(message)
        return proven()

    async def run() -> list[OwnershipCheck]:
        return [await judge.check(a, "2026-q4", "bip137", verify) for a in ("a", "b")]

    verdicts = asyncio.run(run())
    assert adapter.asked == [120]
    expected = epoch_challenge("Ex", "2026-q4", block(120))
    assert seen == [expected, expected]
    assert judge.messages == {"2026-q4": expected}
    assert all(v.status is Ownership.PROVEN for v in verdicts)
    assert verdicts[0].age == ProofAge(10, 6_000)


def test_judge_refuses_an_epoch_block_the_node_does_not_have() -> None:
    config = OwnershipConfig(epochs=(EpochConfig("e", {"bitcoin": EpochBlock(120, "ab" * 32)}),))
    judge = EpochJudge("Ex", config, LIMITS, FakeAdapter({120: block(120)}), block(130))  # type: ignore[arg-type]

    async def verify(message: str) -> OwnershipCheck:
        raise AssertionError("no signature is checked for an epoch not on this chain")

    verdict = asyncio.run(judge.check("a", "e", "bip137", verify))
    assert verdict.status is Ownership.UNPROVEN
    assert verdict.epoch is not None and verdict.age is None
    assert "not on this chain" in verdict.reason


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(0, "0 s"), (59, "59 s"), (60, "1 min"), (8_400, "2 h 20 min"), (3 * 86_400, "3 d")],
)
def test_duration(seconds: int, words: str) -> None:
    assert duration(seconds) == words


def test_a_pack_may_set_the_maximum_age(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from verifier.holdings.ownership import pack_max_age_days
    from verifier.reserve.pack_file import known_packs

    source = tmp_path / "pack.toml"
    builtin = known_packs()[0]
    from importlib import resources

    text = resources.files("verifier.reserve").joinpath("packs", f"{builtin}.toml").read_text()
    text += (
        '\n[parameters.ownership_max_age_days]\nvalue = 30\nstatus = "PH"\n'
        'source = "test placeholder"\nverified_on = 2026-11-01\n'
    )
    source.write_text(text)
    days, _ = pack_max_age_days(str(source))
    assert days == 30
    assert pack_max_age_days(builtin)[0] is None  # the built-in packs do not set it
    assert pack_max_age_days(None) == (None, "")


@pytest.mark.parametrize("value", [0, 3661, 100000])
def test_a_pack_maximum_age_out_of_range_is_named(tmp_path, value) -> None:  # type: ignore[no-untyped-def]
    """The config's range (1..3660 days) holds for a pack's parameter too, named by the pack's
    key rather than surfacing later as a malformed attestation field."""
    from importlib import resources

    from verifier.base.errors import InputError
    from verifier.holdings.ownership import pack_max_age_days
    from verifier.reserve.pack_file import known_packs

    builtin = known_packs()[0]
    text = resources.files("verifier.reserve").joinpath("packs", f"{builtin}.toml").read_text()
    text += (
        f'\n[parameters.ownership_max_age_days]\nvalue = {value}\nstatus = "PH"\n'
        'source = "test placeholder"\nverified_on = 2026-11-01\n'
    )
    source = tmp_path / "pack.toml"
    source.write_text(text)
    with pytest.raises(InputError) as info:
        pack_max_age_days(str(source))
    message = str(info.value)
    assert "ownership_max_age_days" in message
    # beyond the pack format's own bound (36600) the pack loader refuses it first
    assert "1 to 3660" in message or (value > 36600 and "0 to 36600" in message)
