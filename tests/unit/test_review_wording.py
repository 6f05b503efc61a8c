"""Wording that must say one thing one way: both node adapters give up in the same words,
an epoch proof's reason names the epoch's challenge (not "this attestation's"), a stale
proof names its epoch once, and library loggers stay quiet below WARNING unless
POR_LOG_ALL=1 asks for them."""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from collections.abc import Iterator

import coincurve
import pytest
from embit import ec, script
from embit.networks import NETWORKS
from eth_account import Account
from eth_account.messages import encode_defunct

from chains.base import BlockRef, Chain, Ownership, ProofAge, ProofEpoch
from chains.btc_ownership import verify_bitcoin_ownership
from chains.challenge import epoch_challenge
from chains.eth_ownership import verify_eip191
from chains.ethereum import EthereumAdapter
from chains.rpc import JsonRpc, gave_up
from verifier.base import logs
from verifier.base.errors import NodeUnavailable
from verifier.holdings.ownership import MaxAge, judged

CLOSED = "http://127.0.0.1:1"
GAVE_UP = re.compile(r" failed \((?P<reason>\w+)\) after (?P<n>\d+) attempts$")

# ----------------------------------------------------------------------------- retries


async def test_bcoin_and_ethereum_give_up_in_the_same_words() -> None:
    async with JsonRpc(CLOSED, retries=1, backoff=0.01, timeout=2, name="bcoin") as rpc:
        with pytest.raises(NodeUnavailable) as bcoin:
            await rpc.call("getblockcount")
    async with EthereumAdapter(CLOSED, 1, timeout=2, retries=1, backoff=0.01) as adapter:
        with pytest.raises(NodeUnavailable) as ethereum:
            await adapter.tip()
    messages = [bcoin.value.message, ethereum.value.message]
    found = [GAVE_UP.search(m) for m in messages]
    assert all(found), messages
    assert [m["n"] for m in found if m] == ["2", "2"]  # one retry: two attempts, both say so
    assert messages[0].startswith(f"bcoin at {CLOSED} failed (")
    assert messages[1].startswith(f"ethereum node at {CLOSED}: ")
    assert not any("attempt(s)" in m or "did not answer" in m for m in messages)


def test_one_attempt_is_singular() -> None:
    assert (
        gave_up("bcoin at x", "TimeoutError", 1)
        == "bcoin at x failed (TimeoutError) after 1 attempt"
    )


# ----------------------------------------------------------------------------- epoch reasons

EPOCH_ID = "2026-q4"
H = {n: f"{n:064x}" for n in range(200)}


def _epoch_text(chain: Chain, network: str) -> tuple[str, ProofEpoch]:
    epoch = ProofEpoch(EPOCH_ID, 120, H[120])
    text = epoch_challenge("Example Exchange", EPOCH_ID, BlockRef(chain, network, 120, H[120]))
    return text, epoch


def _bip137_p2wpkh(message: str) -> tuple[str, str]:
    priv = coincurve.PrivateKey(hashlib.sha256(b"por-review-key").digest())
    data = message.encode()
    prefix = b"\x18Bitcoin Signed Message:\n" + bytes([len(data)]) if len(data) < 0xFD else None
    if prefix is None:
        prefix = b"\x18Bitcoin Signed Message:\n" + b"\xfd" + len(data).to_bytes(2, "little")
    digest = hashlib.sha256(hashlib.sha256(prefix + data).digest()).digest()
    sig = priv.sign_recoverable(digest, hasher=None)
    signature = base64.b64encode(bytes([39 + sig[64]]) + sig[:64]).decode()
    key = ec.PublicKey.parse(priv.public_key.format(compressed=True))
    return str(script.p2wpkh(key).address(NETWORKS["regtest"])), signature


def test_an_epoch_proof_names_the_epochs_challenge() -> None:
    limits = MaxAge(92, "default")
    text, epoch = _epoch_text(Chain.BITCOIN, "regtest")
    address, signature = _bip137_p2wpkh(text)
    btc = verify_bitcoin_ownership(
        {"scheme": "bip137", "signature": signature}, address, "regtest", text
    )
    assert btc.status is Ownership.PROVEN, btc.reason
    account = Account.from_key(hashlib.sha256(b"por-review-eth").digest())
    eth_text, _ = _epoch_text(Chain.ETHEREUM, "31337")
    signed = account.sign_message(encode_defunct(text=eth_text)).signature.hex()
    eth = verify_eip191(account.address, eth_text, signed)
    assert eth.status is Ownership.PROVEN, eth.reason
    for check in (btc, eth):
        verdict = judged(check, epoch, ProofAge(14, 8_400), 9_400, "bitcoin", limits)
        assert verdict.status is Ownership.PROVEN
        assert f"over epoch {EPOCH_ID}'s challenge" in verdict.reason, verdict.reason
        assert "this attestation" not in verdict.reason
    # another key's signature: unproven, and still the epoch's challenge it was checked over
    other = verify_eip191("0x" + "11" * 20, eth_text, signed)
    verdict = judged(other, epoch, ProofAge(1, 1), None, "ethereum", limits)
    assert verdict.status is Ownership.UNPROVEN and "this attestation" not in verdict.reason


def test_a_stale_proof_names_its_epoch_once() -> None:
    text, _ = _epoch_text(Chain.ETHEREUM, "31337")
    account = Account.from_key(hashlib.sha256(b"por-review-eth").digest())
    check = verify_eip191(
        account.address, text, account.sign_message(encode_defunct(text=text)).signature.hex()
    )
    expired = ProofEpoch(EPOCH_ID, 120, H[120], "2020-01-01T00:00:00Z")
    verdict = judged(check, expired, ProofAge(1, 60), 1_700_000_000, "ethereum", MaxAge(92, "x"))
    assert verdict.status is Ownership.STALE
    assert verdict.reason.startswith(
        f"stale, counted as unproven: epoch {EPOCH_ID} proof expired at 2020-01-01T00:00:00Z"
    ), verdict.reason
    assert verdict.reason.count(f"epoch {EPOCH_ID}") == 1


# ----------------------------------------------------------------------------- library logs


@pytest.fixture
def restore_logging() -> Iterator[None]:
    yield
    logs.configure(logging.WARNING, "text")


@pytest.mark.usefixtures("restore_logging")
def test_libraries_stay_at_warning_at_debug(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POR_LOG_ALL", raising=False)
    logs.configure(logging.DEBUG, "text")
    logging.getLogger("rlp.codec").debug("Consider installing rusty-rlp")
    logging.getLogger("web3.providers").info("a library's info")
    logging.getLogger("some.library").warning("a library's warning")
    logging.getLogger("verifier.history.schedule").debug("por's own debug")
    logging.getLogger("chains.rpc").debug("por's chains debug")
    err = capsys.readouterr().err
    assert "rusty-rlp" not in err and "a library's info" not in err
    assert "a library's warning" in err
    assert "por's own debug" in err and "por's chains debug" in err
    assert logging.getLogger("aiohttp").level == logging.WARNING


@pytest.mark.usefixtures("restore_logging")
def test_por_log_all_lets_libraries_follow_the_level(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POR_LOG_ALL", "1")
    logs.configure(logging.DEBUG, "text")
    logging.getLogger("rlp.codec").debug("Consider installing rusty-rlp")
    assert "rusty-rlp" in capsys.readouterr().err
    assert logging.getLogger("aiohttp").level == logging.DEBUG
    monkeypatch.setenv("POR_LOG_ALL", "0")
    logs.configure(logging.DEBUG, "text")
    logging.getLogger("rlp.codec").debug("Consider installing rusty-rlp")
    assert "rusty-rlp" not in capsys.readouterr().err
