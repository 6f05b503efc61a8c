"""Messages in chains/ that count things say "1 item", "1 byte", "1 distinct key", never
"1 items": each count goes through `verifier.base.console.plural`.

Each case provokes one message with a count of exactly one (where a wrong plural shows)
and checks the whole phrase, and the count of two where the phrase allows it.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import coincurve
import pytest
from embit import base58

from chains import btc_address
from chains.btc_address import AddressType, DecodedAddress, encode_address
from chains.btc_bip137 import sign_bip137
from chains.btc_multisig import check_p2wsh_multisig, multisig_witness_script
from chains.btc_ownership import verify_bitcoin_ownership
from chains.btc_proof_checks import hash160, sha256
from chains.eth_hex import hex_data
from chains.eth_ownership import verify_eip191
from chains.eth_rpc import Tally
from chains.ethereum import EthereumAdapter
from chains.retry import gave_up
from verifier.base.errors import MalformedReply

NET = "regtest"
MESSAGE = "por ownership challenge (test)"
SECRETS = [bytes([0] * 31 + [i]) for i in (1, 2)]


def _witness(items: list[bytes]) -> str:
    raw = bytes([len(items)]) + b"".join(bytes([len(i)]) + i for i in items)
    return base64.b64encode(raw).decode()


def test_a_one_item_witness_says_1_item() -> None:
    key = coincurve.PrivateKey(SECRETS[0]).public_key.format(compressed=True)
    address = encode_address(DecodedAddress(AddressType.P2WPKH, hash160(key), 0), NET)
    proof = {"scheme": "bip322-simple", "signature": _witness([b"\x01"])}
    reason = verify_bitcoin_ownership(proof, address, NET, MESSAGE).reason
    assert reason.endswith("this one has 1 item"), reason


def test_one_cosigner_of_a_1_of_2_script_says_1_distinct_key() -> None:
    keys = [coincurve.PrivateKey(s).public_key.format(compressed=True).hex() for s in SECRETS]
    script = multisig_witness_script(1, keys)
    address = encode_address(
        DecodedAddress(AddressType.P2WSH, sha256(bytes.fromhex(script)), 0), NET
    )
    signature = sign_bip137(SECRETS[0], MESSAGE, "p2wpkh")
    shown = check_p2wsh_multisig(address, script, [signature], NET, MESSAGE)
    assert shown.startswith("1 distinct key of the 1-of-2 witness script"), shown


def test_a_one_byte_base58_address_says_1_byte() -> None:
    with pytest.raises(btc_address.AddressError) as raised:
        btc_address.decode_address(base58.encode_check(b"\x6f"), NET)
    assert "decodes to 1 byte, not 21" in str(raised.value)


def test_a_one_byte_eth_signature_says_1_byte() -> None:
    check = verify_eip191("0x" + "11" * 20, MESSAGE, "0x01")
    assert "malformed signature: 1 byte, expected 65" in check.reason


@pytest.mark.parametrize(("size", "words"), [(1, "1 byte"), (2, "2 bytes")])
def test_hex_data_of_the_wrong_size(size: int, words: str) -> None:
    with pytest.raises(MalformedReply, match=f"block hash: {words}, expected 32"):
        hex_data("0x" + "ab" * size, "block hash", 32)


def test_a_batch_of_one_call_says_1_call() -> None:
    adapter = EthereumAdapter("http://127.0.0.1:9", 1)

    async def two_replies(body: list[dict[str, Any]], what: str) -> Any:
        return [{"jsonrpc": "2.0", "id": 0, "result": "0x1"}] * 2

    adapter._post_batch = two_replies  # type: ignore[method-assign]
    with pytest.raises(MalformedReply, match="a batch of 1 call got 2 replies"):
        asyncio.run(adapter._raw_batch([("eth_chainId", [])], Tally()))


def test_one_attempt_says_1_attempt() -> None:
    assert gave_up("node", "timeout", 1).endswith("after 1 attempt")
    assert gave_up("node", "timeout", 2).endswith("after 2 attempts")
