"""Ownership epochs end to end on real nodes (bcoin regtest, anvil): sign once, reconcile at
later tips.

The exchange signs the epoch challenge (chains/challenge.py `epoch_challenge`) at epoch block
E on each chain: BIP-137 (P2WPKH), a 2-of-3 P2WSH multisig and BIP-322 (P2WPKH) on bcoin,
EIP-191 and an EIP-1271 contract wallet on anvil. Blocks are mined, then snapshots at later
tips must keep those proofs proven with the right age, until a limit makes them stale
(blocks on bitcoin, days on anvil with `evm_increaseTime`), when their holdings count as
unproven and coverage falls. An epoch whose block hash the node does not have, an expired
epoch and a signature over another epoch id never prove anything.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import coincurve
import pytest
from eth_account.messages import encode_defunct

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))

from bcoin_fixtures import start_bcoin
from eth_fixtures import key, start_anvil
from test_btc_ownership import sign_bip322_p2wpkh, witness_b64

from chains.base import BlockRef, Chain
from chains.challenge import epoch_challenge
from chains.nodes.bcoin import RegtestWallet
from chains.nodes.solc import load_artifact
from verifier.holdings.plans import build_plans
from verifier.holdings.snapshot import take_snapshot
from verifier.inputs.config import load_config
from verifier.reconcile.coverage import reconcile

pytestmark = pytest.mark.node

EXCHANGE = "Epoch Exchange"
ATTESTATION = "epochs-2026"
EPOCH = "2026-q4"
EXPIRED = "2020-q1"
ETHER = 10**18
DAY = 86_400


@dataclass
class World:
    dir: Path
    bcoin: Any
    anvil: Any
    wallet: RegtestWallet
    btc_epoch: BlockRef
    eth_epoch: BlockRef
    btc: dict[str, str]
    """role -> address."""
    eth: dict[str, str]
    amounts: dict[str, int]
    wallets: str
    """The [[bitcoin.wallets]] and [[ethereum.wallets]] tables."""

    def config(self, name: str, ownership_extra: str = "") -> Path:
        fake_hash = "ab" * 32
        text = "\n".join(
            [
                "[exchange]",
                f'name = "{EXCHANGE}"',
                f'attestation_id = "{ATTESTATION}"',
                "",
                "[bitcoin]",
                'backend = "bcoin"',
                f'url = "{self.bcoin.url}"',
                'network = "regtest"',
                'password_env = "POR_TEST_BCOIN_KEY"',
                "timeout = 10",
                "",
                "[ethereum]",
                f'url = "{self.anvil.url}"',
                "chain_id = 31337",
                "timeout = 10",
                "",
                "[ownership]",
                ownership_extra,
                "[[ownership.epochs]]",
                f'id = "{EPOCH}"',
                f'bitcoin = {{ height = {self.btc_epoch.height}, hash = "{self.btc_epoch.hash}" }}',
                f"ethereum = {{ height = {self.eth_epoch.height}, hash = "
                f'"0x{self.eth_epoch.hash}" }}',
                "",
                "[[ownership.epochs]]",
                f'id = "{EXPIRED}"',
                'expires = "2020-03-31T00:00:00Z"',
                f'bitcoin = {{ height = {self.btc_epoch.height}, hash = "{self.btc_epoch.hash}" }}',
                "",
                "[[ownership.epochs]]",
                'id = "not-on-chain"',
                f'bitcoin = {{ height = {self.btc_epoch.height}, hash = "{fake_hash}" }}',
                "",
                self.wallets,
            ]
        )
        path = self.dir / f"{name}.toml"
        path.write_text(text)
        return path


def _toml(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value)


def _table(section: str, entry: dict[str, Any]) -> str:
    return f"[[{section}.wallets]]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in entry.items())


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    bcoin = start_bcoin()
    anvil = start_anvil()
    try:
        os.environ["POR_TEST_BCOIN_KEY"] = bcoin.api_key
        wallet = RegtestWallet(bcoin)
        wallet.mine(440)
        roles = {
            "bip137": "p2wpkh",
            "multisig": "p2wsh-2of3",
            "bip322": "p2wpkh",
            "other-epoch": "p2wpkh",
            "expired": "p2wpkh",
            "not-on-chain": "p2wpkh",
        }
        btc = {role: wallet.new_address(kind) for role, kind in roles.items()}  # type: ignore[arg-type]
        amounts = {a: 1_000_000 * (i + 1) for i, a in enumerate(btc.values())}
        wallet.pay(amounts)
        wallet.mine(1)
        height = bcoin.height()
        btc_epoch = BlockRef(Chain.BITCOIN, "regtest", height, bcoin.block_hash(height))

        def message(epoch: str, block: BlockRef, expires: str | None = None) -> str:
            return epoch_challenge(EXCHANGE, epoch, block, expires)

        text = message(EPOCH, btc_epoch)
        owner = wallet._owners[btc["bip322"]]
        priv = coincurve.PrivateKey(owner.keys[0].secret)
        proofs: dict[str, dict[str, Any]] = {
            "bip137": wallet.ownership_proof(btc["bip137"], text) | {"epoch": EPOCH},
            "multisig": wallet.ownership_proof(btc["multisig"], text) | {"epoch": EPOCH},
            "bip322": {
                "scheme": "bip322-simple",
                "signature": witness_b64(sign_bip322_p2wpkh(priv, text)),
                "epoch": EPOCH,
            },
            # signed for epoch "2026-q3", claimed for 2026-q4
            "other-epoch": wallet.ownership_proof(btc["other-epoch"], message("2026-q3", btc_epoch))
            | {"epoch": EPOCH},
            "expired": wallet.ownership_proof(
                btc["expired"], message(EXPIRED, btc_epoch, "2020-03-31T00:00:00Z")
            )
            | {"epoch": EXPIRED},
            "not-on-chain": wallet.ownership_proof(
                btc["not-on-chain"],
                message(
                    "not-on-chain",
                    BlockRef(Chain.BITCOIN, "regtest", btc_epoch.height, "ab" * 32),
                ),
            )
            | {"epoch": "not-on-chain"},
        }
        assert base64.b64decode(str(proofs["bip322"]["signature"]))
        wallets = "".join(
            _table(
                "bitcoin",
                {"label": role, "class": "cold", "address": btc[role], "ownership": proofs[role]},
            )
            + "\n"
            for role in roles
        )

        dev = anvil.accounts()
        signer = key("epoch eoa")
        contract_owner = key("epoch wallet owner")
        contract = anvil.deploy(load_artifact("Wallet1271"), contract_owner.address, sender=dev[0])
        anvil.set_balance(signer.address, 3 * ETHER)
        anvil.transfer_eth(dev[1], contract, 2 * ETHER)
        anvil.mine(1)
        number = anvil.block_number()
        eth_epoch = BlockRef(
            Chain.ETHEREUM, "31337", number, anvil.block_hash(number).removeprefix("0x")
        )
        eth_text = message(EPOCH, eth_epoch)

        def sign(account: Any) -> str:
            return "0x" + account.sign_message(
                encode_defunct(text=eth_text)
            ).signature.hex().removeprefix("0x")

        eth = {"eip191": signer.address, "eip1271": contract}
        wallets += (
            _table(
                "ethereum",
                {
                    "label": "eoa",
                    "class": "hot",
                    "address": signer.address,
                    "ownership": {"scheme": "eip191", "signature": sign(signer), "epoch": EPOCH},
                },
            )
            + "\n"
        )
        wallets += (
            _table(
                "ethereum",
                {
                    "label": "safe",
                    "class": "cold",
                    "address": contract,
                    "ownership": {
                        "scheme": "eip1271",
                        "signature": sign(contract_owner),
                        "epoch": EPOCH,
                    },
                },
            )
            + "\n"
        )
        wallet.mine(2)  # the epoch block is in the past from here on
        anvil.mine(2)
        yield World(
            tmp_path_factory.mktemp("epochs"),
            bcoin,
            anvil,
            wallet,
            btc_epoch,
            eth_epoch,
            btc,
            eth,
            amounts,
            wallets,
        )
    finally:
        bcoin.stop()
        anvil.stop()


def snapshot(path: Path) -> dict[str, Any]:
    config = load_config(path)
    return asyncio.run(take_snapshot(config, build_plans(config))).to_json()


def rows(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        row["label"]: row["ownership"] | {"units": row["balances"]}
        for chain in doc["chains"]
        for row in chain["addresses"]
    }


def test_epoch_proofs_stay_proven_at_later_tips(world: World) -> None:
    for mined in (0, 7):
        if mined:
            world.wallet.mine(mined)
            world.anvil.mine(mined)
        doc = snapshot(world.config("plain"))
        btc, eth = doc["chains"]
        found = rows(doc)
        for role in ("bip137", "multisig", "bip322", "eoa", "safe"):
            assert found[role]["status"] == "proven", (role, found[role]["reason"])
            assert found[role]["reason"].startswith(f"proven; signed for epoch {EPOCH} at block")
            assert found[role]["epoch"]["id"] == EPOCH
        for role in ("bip137", "multisig", "bip322"):
            age = found[role]["age"]
            assert age["blocks"] == btc["height"] - world.btc_epoch.height
            assert isinstance(age["seconds"], int) and age["seconds"] >= 0
        for role in ("eoa", "safe"):
            assert found[role]["age"]["blocks"] == eth["height"] - world.eth_epoch.height
        # what each epoch signed is shown, exactly
        assert btc["epochs"][EPOCH] == epoch_challenge(EXCHANGE, EPOCH, world.btc_epoch)
        assert eth["epochs"][EPOCH] == epoch_challenge(EXCHANGE, EPOCH, world.eth_epoch)
        assert btc["height"] > world.btc_epoch.height
        assert doc["ownership_max_age"] == {"days": 92, "source": "default", "blocks": {}}


def test_bad_epoch_proofs_never_prove(world: World) -> None:
    found = rows(snapshot(world.config("bad")))
    assert found["other-epoch"]["status"] == "unproven"
    assert found["not-on-chain"]["status"] == "unproven"
    assert "is not on this chain: the node has" in found["not-on-chain"]["reason"]
    assert found["not-on-chain"]["age"] is None
    assert found["expired"]["status"] == "stale"
    assert "expired at 2020-03-31T00:00:00Z" in found["expired"]["reason"]


def test_past_max_age_blocks_is_stale_and_coverage_falls(world: World) -> None:
    fresh = snapshot(world.config("fresh"))
    height = fresh["chains"][0]["height"]
    limit = height - world.btc_epoch.height - 1  # one block too old
    doc = snapshot(world.config("blocks", f"max_age_blocks = {{ bitcoin = {limit} }}\n"))
    found = rows(doc)
    for role in ("bip137", "multisig", "bip322"):
        assert found[role]["status"] == "stale"
        assert f"past the maximum of {limit} blocks" in found[role]["reason"]
        assert "by 1" in found[role]["reason"]
    assert found["eoa"]["status"] == "proven"  # the limit is per chain
    btc_totals = doc["chains"][0]["totals"]["BTC"]
    assert btc_totals["proven"]["base_units"] == "0"
    owed = sum(world.amounts[world.btc[r]] for r in ("bip137", "multisig", "bip322"))
    fresh_rec = reconcile({"BTC": (8, owed)}, fresh, _prices())
    assert fresh_rec.exit_code == 0
    rec = reconcile({"BTC": (8, owed)}, doc, _prices())
    assert rec.exit_code == 1
    stale = [h for h in rec.holdings if h.status == "stale"]
    assert {h.label for h in stale} == {"bip137", "multisig", "bip322", "expired"}
    assert all(h.counted_as == "excluded: stale (counted as unproven)" for h in stale)
    assert rec.max_age is not None and rec.max_age["blocks"] == {"bitcoin": limit}


def test_past_max_age_days_is_stale(world: World) -> None:
    # runs last in this module: anvil's clock only moves forward
    world.anvil.rpc("evm_increaseTime", 3 * DAY)
    world.anvil.mine(1)
    doc = snapshot(world.config("days", "max_age_days = 2\n"))
    found = rows(doc)
    for role in ("eoa", "safe"):
        assert found[role]["status"] == "stale", found[role]["reason"]
        assert "past the maximum age of 2 days ([ownership] max_age_days)" in found[role]["reason"]
        assert found[role]["age"]["seconds"] >= 3 * DAY
    assert found["bip137"]["status"] == "proven"  # bcoin's clock did not move
    assert doc["chains"][1]["totals"]["ETH"]["proven"]["base_units"] == "0"


def _prices() -> dict[str, Any]:
    from decimal import Decimal

    from verifier.inputs.prices import Price

    return {"BTC": Price(Decimal(60000), "USD", "test", "2026-12-01T00:00:00Z")}
