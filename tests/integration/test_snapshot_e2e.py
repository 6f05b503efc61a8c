"""`por snapshot` end to end on real local nodes: bcoin (regtest) and anvil.

One module-scoped world: Bitcoin addresses of every kind (P2PKH, P2SH-P2WPKH, P2WPKH,
2-of-3 P2WSH) with ownership signatures over the challenge of a pinned past block, one
custodial address, one with a tampered signature, one signed for another block; Ethereum
EOAs with EIP-191 signatures, an EIP-1271 contract wallet and a token. The por.toml is
written as a user would, and `main(["snapshot", ...])` is run with and without --json.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account.messages import encode_defunct

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bcoin_fixtures import start_bcoin
from eth_fixtures import build_world, key, start_anvil

from chains.base import BlockRef, Chain
from chains.challenge import challenge
from chains.nodes.bcoin import RegtestWallet
from verifier.cli.main import main

pytestmark = pytest.mark.node
log = logging.getLogger("snapshot-e2e")

EXCHANGE = "Example Exchange"
ATTESTATION = "e2e-2026-11"


@dataclass
class World:
    config: Path
    btc_height: int
    eth_block: int
    btc_expected: dict[str, int]
    eth_expected: dict[str, dict[str, int]]
    statuses: dict[str, str]


def _toml_value(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(value)


def _wallet_table(section: str, entry: dict[str, Any]) -> str:
    return f"[[{section}.wallets]]\n" + "".join(
        f"{k} = {_toml_value(v)}\n" for k, v in entry.items()
    )


def _hd_account() -> tuple[str, dict[tuple[int, int], str]]:
    """An account tpub (m/84'/1'/0') and its first P2WPKH receive and change addresses."""
    from embit import bip32
    from embit import script as escript
    from embit.networks import NETWORKS

    net = NETWORKS["regtest"]
    account = bip32.HDKey.from_seed(b"\x07" * 32, version=net["xprv"]).derive("m/84h/1h/0h")
    tpub = account.to_public().to_string(version=net["xpub"])
    addresses = {
        (change, i): escript.p2wpkh(account.derive([change, i]).key).address(net)
        for change in (0, 1)
        for i in range(10)
    }
    return tpub, addresses


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    bcoin = start_bcoin()
    anvil = start_anvil()
    try:
        log.info("bitcoin: mine past segwit, pay one address of each kind")
        wallet = RegtestWallet(bcoin)
        wallet.mine(440)
        kinds = ["p2pkh", "p2sh-p2wpkh", "p2wpkh", "p2wsh-2of3", "p2wpkh", "p2wpkh", "p2wpkh"]
        addresses = [wallet.new_address(kind) for kind in kinds]  # type: ignore[arg-type]
        amounts = [100_000 * (i + 1) + i for i in range(len(addresses))]
        log.info("an HD account: coins at receive 0/0 and 0/3 (a gap), change 1/1")
        tpub, hd_addresses = _hd_account()
        hd_paid = {
            hd_addresses[(0, 0)]: 1_111,
            hd_addresses[(0, 3)]: 2_222,
            hd_addresses[(1, 1)]: 3_333,
        }
        wallet.pay(dict(zip(addresses, amounts, strict=True)) | hd_paid)
        wallet.mine(1)
        btc_height = bcoin.height()
        btc_hash = bcoin.block_hash(btc_height)
        log.info("after the pinned block: more coins to the first address (not counted)")
        wallet.pay({addresses[0]: 5_000})
        wallet.mine(2)

        pinned_btc = BlockRef(Chain.BITCOIN, "regtest", btc_height, btc_hash)
        text = challenge(EXCHANGE, ATTESTATION, pinned_btc)
        other = challenge(
            EXCHANGE,
            ATTESTATION,
            BlockRef(Chain.BITCOIN, "regtest", btc_height - 1, bcoin.block_hash(btc_height - 1)),
        )
        proofs: list[dict[str, Any] | None] = [
            wallet.ownership_proof(a, text) for a in addresses[:4]
        ]
        tampered = wallet.ownership_proof(addresses[4], text)
        signature = str(tampered["signature"])
        tampered["signature"] = (
            signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
        )
        proofs += [tampered, wallet.ownership_proof(addresses[5], other), None]
        classes = ["cold", "cold", "hot", "cold", "hot", "hot", "custodial"]

        log.info("ethereum: tokens, EOAs and a contract wallet")
        eth = build_world(anvil)
        eth_block = eth.heights["past"]
        pinned_eth = BlockRef(
            Chain.ETHEREUM, "31337", eth_block, eth.hashes["past"].removeprefix("0x")
        )
        eth_text = challenge(EXCHANGE, ATTESTATION, pinned_eth)
        signer = key("exchange hot wallet")
        anvil.set_balance(signer.address, 0)  # not funded: proven but empty
        eth_wallets = [
            {"label": "holder-0", "class": "cold", "address": eth.holders[0]},
            {
                "label": "contract",
                "class": "cold",
                "address": eth.wallet,
                "ownership": {
                    "scheme": "eip1271",
                    "signature": "0x"
                    + eth.owner.sign_message(encode_defunct(text=eth_text))
                    .signature.hex()
                    .removeprefix("0x"),
                },
            },
            {
                "label": "eoa",
                "class": "hot",
                "address": signer.address,
                "ownership": {
                    "scheme": "eip191",
                    "signature": "0x"
                    + signer.sign_message(encode_defunct(text=eth_text))
                    .signature.hex()
                    .removeprefix("0x"),
                },
            },
        ]

        lines = [
            "[exchange]",
            f'name = "{EXCHANGE}"',
            f'attestation_id = "{ATTESTATION}"',
            "",
            "[bitcoin]",
            'backend = "bcoin"',
            f'url = "{bcoin.url}"',
            'network = "regtest"',
            'password_env = "POR_TEST_BCOIN_KEY"',
            "timeout = 10",
            "",
        ]
        text_out = "\n".join(lines)
        for address, proof, cls in zip(addresses, proofs, classes, strict=True):
            entry: dict[str, Any] = {"label": f"btc-{cls}", "class": cls, "address": address}
            if proof is not None:
                entry["ownership"] = proof
            text_out += _wallet_table("bitcoin", entry) + "\n"
        hd = {"label": "hd", "class": "hot", "xpub": tpub, "script": "p2wpkh", "gap_limit": 5}
        text_out += _wallet_table("bitcoin", hd) + "\n"
        text_out += (
            "\n".join(
                [
                    "[ethereum]",
                    f'url = "{anvil.url}"',
                    "chain_id = 31337",
                    "timeout = 10",
                    "",
                    "[[ethereum.tokens]]",
                    'code = "USDT"',
                    f'contract = "{eth.usdt.contract}"',
                    "decimals = 6",
                    "",
                ]
            )
            + "\n"
        )
        for entry in eth_wallets:
            text_out += _wallet_table("ethereum", entry) + "\n"
        config = tmp_path_factory.mktemp("snapshot") / "por.toml"
        config.write_text(text_out)

        eth_expected = {
            w["address"]: {
                "ETH": eth.at["past"].get(w["address"], "ETH"),
                "USDT": eth.at["past"].get(w["address"], "USDT"),
            }
            for w in eth_wallets
        }
        statuses = {
            **dict.fromkeys(hd_paid, "unproven"),
            **dict.fromkeys(addresses[:4], "proven"),
            addresses[4]: "unproven",
            addresses[5]: "unproven",
            addresses[6]: "custodial",
            eth.holders[0]: "unproven",
            eth.wallet: "proven",
            signer.address: "proven",
        }
        import os

        os.environ["POR_TEST_BCOIN_KEY"] = bcoin.api_key
        yield World(
            config,
            btc_height,
            eth_block,
            dict(zip(addresses, amounts, strict=True)) | hd_paid,
            eth_expected,
            statuses,
        )
    finally:
        bcoin.stop()
        anvil.stop()


def test_snapshot_json_at_pinned_blocks(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "snapshot",
            "--config",
            str(world.config),
            "--btc-height",
            str(world.btc_height),
            "--eth-block",
            str(world.eth_block),
            "--json",
        ]
    )
    out = capsys.readouterr()
    assert code == 0, out.err
    doc = json.loads(out.out)
    btc, eth = doc["chains"]
    assert (btc["chain"], btc["height"]) == ("bitcoin", world.btc_height)
    assert (eth["chain"], eth["height"]) == ("ethereum", world.eth_block)
    seen_btc = {row["address"]: int(row["balances"]["BTC"]) for row in btc["addresses"]}
    assert seen_btc == world.btc_expected
    for row in eth["addresses"]:
        assert {k: int(v) for k, v in row["balances"].items()} == world.eth_expected[row["address"]]
    statuses = {
        row["address"]: row["ownership"]["status"] for c in (btc, eth) for row in c["addresses"]
    }
    assert statuses == world.statuses
    reasons = {row["address"]: row["ownership"]["reason"] for row in btc["addresses"]}
    assert any("challenge" in r or "recover" in r or "key" in r for r in reasons.values())
    proven_btc = sum(v for a, v in world.btc_expected.items() if world.statuses[a] == "proven")
    assert int(btc["totals"]["BTC"]["proven"]["base_units"]) == proven_btc
    custodial = [a for a in world.btc_expected if world.statuses[a] == "custodial"]
    assert int(btc["totals"]["BTC"]["custodial"]["base_units"]) == world.btc_expected[custodial[0]]
    assert btc["challenge"].startswith("por ownership proof\nexchange: Example Exchange\n")


def test_snapshot_table_and_tip(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["snapshot", "--config", str(world.config)]) == 0
    out = capsys.readouterr().out
    assert "bitcoin" in out and "ethereum" in out and "totals" in out
    # at the tip, the signatures over the past block's challenge no longer prove anything
    assert "proven" in out and "unproven" in out


def test_snapshot_above_the_tip_is_a_node_error(world: World) -> None:
    assert main(["snapshot", "--config", str(world.config), "--btc-height", "999999"]) == 4
