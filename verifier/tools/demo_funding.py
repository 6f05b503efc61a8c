"""The demo's world: its wallets funded on local nodes, their proofs signed, its files written.

Where it sits: step 3 of `por demo` (verifier/tools/demo.py) and the node tests' world
(tests/integration/demo_world.py). On bcoin (regtest) and anvil, already started:
Bitcoin cold (2-of-3 P2WSH), hot (P2WPKH), an own buffer, one custodial wallet and one whose
proof signs another block's challenge; Ethereum a cold EOA, a hot EIP-1271 contract wallet
and an own buffer, with a USDT test token. Then the prices, the reserve statement under
`jp-fsa-2026`, `por.toml` as a user would write it, and the auditor's config.
`fund_and_configure` runs the steps in that order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from attestations.build import write_private
from attestations.proofs import format_units
from chains.base import BlockRef, Chain
from chains.challenge import challenge, epoch_challenge

EXCHANGE = "Demo Exchange KK"
ATTESTATION = "demo-2026-11"
PRICES = {"BTC": "15000000", "ETH": "550000", "USDT": "150"}
EPOCH = "demo-epoch-1"
"""The signing round the ongoing wallets' proofs belong to: every run reuses them."""
OLD_EPOCH = "demo-epoch-0"
"""A previous round, expired: the one wallet still on it shows a stale proof."""
MAX_AGE_DAYS = 92
MAX_AGE_BLOCKS = {"bitcoin": 13248, "ethereum": 662400}
"""A quarter of blocks on each chain (10 min and 12 s blocks), as an exchange would set it."""


def _toml(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(str(value))


def _wallets(section: str, wallets: list[dict[str, Any]]) -> str:
    return "".join(
        f"[[{section}.wallets]]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in w.items()) + "\n"
        for w in wallets
    )


RESERVE = """# Demo reserve statement (schema: docs/reserve.md), evaluated under jp-fsa-2026.
currency = "JPY"
exchange = "Demo Exchange KK"
as_of = {today}

[[cash]]
name = "liability reserve trust"
amount = "3500000000"
holder = "Demo Trust Bank"
on_trust = true

[[insurance]]
name = "crypto crime policy"
insurer = "Demo Non-Life Insurance"
authorised = true
limit = "4000000000"
limit_type = "aggregate"
deductible = "400000000"
scope = "0.8"
start = {start}
end = {end}
notice_days = 90

[[volume]]
category = "spot"
year = 2023
amount = "3000000000000"

[[volume]]
category = "spot"
year = 2024
amount = "4000000000000"

[[volume]]
category = "spot"
year = 2025
amount = "5000000000000"

[[incident]]
date = 2025-05-31
loss = "1000000000"
recovered = "400000000"
description = "hot wallet leak"

[entity]
jurisdiction = "JP"

[entity.operational_risk]
m_ops = "1.2"
"""


@dataclass
class Nodes:
    bcoin: Any
    anvil: Any


def _expiry(days: int) -> str:
    """Midnight UTC `days` from today (negative: in the past), as the epoch signs it."""
    from datetime import UTC, datetime, timedelta

    day = datetime.now(UTC).date() + timedelta(days=days)
    return f"{day.isoformat()}T00:00:00Z"


def _epoch_block(block: BlockRef) -> dict[str, int | str]:
    return {"height": block.height, "hash": block.hash}


def _ownership_section(epochs: list[dict[str, Any]]) -> str:
    """[ownership] with its epochs, written as a user would (docs/snapshot.md)."""
    text = (
        "# Ownership epochs: each proof below signs its epoch's challenge once; later runs\n"
        "# reuse it while it is younger than these limits and its epoch has not expired.\n"
        f"[ownership]\nmax_age_days = {MAX_AGE_DAYS}\n"
        f"max_age_blocks = {_toml(MAX_AGE_BLOCKS)}\n\n"
    )
    for epoch in epochs:
        text += "[[ownership.epochs]]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in epoch.items())
        text += "\n"
    return text


def fund_and_configure(
    work: Path, nodes: Nodes, totals: dict[str, int], *, epochs: bool = False
) -> Path:
    """Wallets, funding, pinned blocks, signatures, prices, statement and por.toml.

    `epochs=False` (the tests' world): every proof signs the point-in-time challenge of the
    blocks pinned now, so only a reconciliation at these blocks proves them. `epochs=True`
    (the demo): the ongoing wallets sign the challenge of the ownership epoch EPOCH, whose
    blocks are the tips at signing time, and reconciliations at later tips reuse them; one
    more wallet, "old-epoch", is still on OLD_EPOCH, which has expired (a stale proof).
    """
    keys = work / "keys"
    keys.mkdir(mode=0o700)
    signing = _Signing(epochs, expires=_expiry(120), old_expires=_expiry(-1))
    btc_wallets, btc_block, old_block = _fund_bitcoin(nodes.bcoin, totals["BTC"], signing)
    write_private(keys / "bcoin.pass", nodes.bcoin.api_key.encode())
    eth_wallets, eth_block, usdt = _fund_ethereum(nodes.anvil, totals, signing)
    ownership = ""
    if epochs:
        ownership = _ownership_section(
            [
                {
                    "id": EPOCH,
                    "expires": signing.expires,
                    "bitcoin": _epoch_block(btc_block),
                    "ethereum": _epoch_block(eth_block),
                },
                {
                    "id": OLD_EPOCH,
                    "expires": signing.old_expires,
                    "bitcoin": _epoch_block(old_block),
                },
            ]
        )
    _write_prices_and_reserve(work)
    wallets = (_wallets("bitcoin", btc_wallets), _wallets("ethereum", eth_wallets))
    return _write_configs(work, nodes, usdt, wallets, ownership)


@dataclass(frozen=True)
class _Signing:
    """Which challenge the ongoing wallets' proofs sign: the point-in-time one of the pinned
    block, or (with `epochs`) the epoch EPOCH's, which expires at `expires`."""

    epochs: bool
    expires: str
    old_expires: str
    """When OLD_EPOCH expired (yesterday): the "old-epoch" wallet's proof is stale."""

    def text(self, block: BlockRef) -> str:
        if self.epochs:
            return epoch_challenge(EXCHANGE, EPOCH, block, self.expires)
        return challenge(EXCHANGE, ATTESTATION, block)


def _fund_bitcoin(
    bcoin: Any, btc: int, signing: _Signing
) -> tuple[list[dict[str, Any]], BlockRef, BlockRef]:
    """The Bitcoin wallets funded on regtest and their proofs: (wallet entries, the pinned
    block, OLD_EPOCH's block)."""
    from chains.nodes.bcoin import RegtestWallet

    wallet = RegtestWallet(bcoin)
    wallet.mine(500)  # past segwit activation; 400 mature coinbases
    plan = {
        "cold": (wallet.new_address("p2wsh-2of3"), btc * 95 // 100, "cold", "customer"),
        "hot": (wallet.new_address("p2wpkh"), btc * 6 // 100, "hot", "customer"),
        "own-buffer": (wallet.new_address("p2wpkh"), btc * 6 // 100, "cold", "own"),
        "custodian": (wallet.new_address("p2wpkh"), btc * 2 // 100, "custodial", "customer"),
        # a proof over another block's challenge: unproven (named "stale-proof" in the
        # tests' world, "wrong-block" in the demo's, where "stale" is an epoch status)
        "wrong-block" if signing.epochs else "stale-proof": (
            wallet.new_address("p2wpkh"),
            btc // 100,
            "hot",
            "customer",
        ),
    }
    if signing.epochs:
        plan["old-epoch"] = (wallet.new_address("p2wpkh"), btc // 200, "hot", "customer")
    wallet.pay({address: units for address, units, _, _ in plan.values()}, fee=200_000)
    wallet.mine(1)
    btc_height = bcoin.height()
    btc_block = BlockRef(Chain.BITCOIN, "regtest", btc_height, bcoin.block_hash(btc_height))
    earlier = BlockRef(Chain.BITCOIN, "regtest", btc_height - 1, bcoin.block_hash(btc_height - 1))
    # the previous signing round: an early block, expired yesterday
    old_block = BlockRef(Chain.BITCOIN, "regtest", 1, bcoin.block_hash(1))
    text = signing.text(btc_block)
    btc_wallets = []
    for label, (address, _, cls, attribution) in plan.items():
        entry: dict[str, Any] = {
            "label": label,
            "class": cls,
            "attribution": attribution,
            "address": address,
            **_BTC_METADATA.get(label, {}),
        }
        if label == "hot":
            # a mixed wallet: 0.5% of the BTC owed is the exchange's own (the concentration
            # section flags it; reconciliation counts it as own, not customer backing)
            entry["own"] = {"BTC": format_units(btc // 200, 8)}
        if cls == "custodial":
            btc_wallets.append(entry)
            continue
        if label in {"stale-proof", "wrong-block"}:  # deliberately over another block
            entry["ownership"] = wallet.ownership_proof(
                address, challenge(EXCHANGE, ATTESTATION, earlier)
            )
        elif label == "old-epoch":
            old_text = epoch_challenge(EXCHANGE, OLD_EPOCH, old_block, signing.old_expires)
            entry["ownership"] = {**wallet.ownership_proof(address, old_text), "epoch": OLD_EPOCH}
        else:
            entry["ownership"] = wallet.ownership_proof(address, text)
            if signing.epochs:
                entry["ownership"]["epoch"] = EPOCH
        btc_wallets.append(entry)
    return btc_wallets, btc_block, old_block


_BTC_METADATA: dict[str, dict[str, str]] = {
    "cold": {"vendor": "signco", "custodian": EXCHANGE, "signing": "2-of-3 multisig"},
    "hot": {
        "vendor": "vaultsoft",
        "custodian": EXCHANGE,
        "signing": "single key",
        "segregation": "mixed",
    },
    "custodian": {"custodian": "Demo Custody Trust"},
}
"""Wallet metadata of the demo's Bitcoin wallets (issue 14): the cold multisig signs through
signco, the hot wallet runs vaultsoft's software and holds some of the exchange's own coins."""
VENDORS = (
    '[vendors.vaultsoft]\nname = "VaultSoft (demo)"\nkind = "wallet-software"\n'
    'notified = 2026-04-01\nregistered = true\njurisdiction = "JP"\n\n'
    '[vendors.signco]\nname = "SignCo (demo)"\nkind = "signing"\njurisdiction = "SG"\n\n'
)
"""The demo's two wallet vendors: vaultsoft notified to the regulator, signco not."""


def _fund_ethereum(
    anvil: Any, totals: dict[str, int], signing: _Signing
) -> tuple[list[dict[str, Any]], BlockRef, str]:
    """The Ethereum wallets (a cold EOA, an EIP-1271 contract, an own buffer) funded with
    ETH and a USDT test token, and their proofs: (wallet entries, the pinned block, the
    token's contract address)."""
    from eth_account import Account
    from eth_account.messages import encode_defunct
    from eth_utils.crypto import keccak

    from chains.nodes.solc import load_artifact

    token = load_artifact("TestToken")
    wallet_artifact = load_artifact("Wallet1271")
    usdt = anvil.deploy(token, "Tether USD (demo)", "USDT", 6)
    cold = Account.from_key(keccak(text="por demo cold"))
    buffer = Account.from_key(keccak(text="por demo buffer"))
    owner = Account.from_key(keccak(text="por demo contract owner"))
    contract = anvil.deploy(wallet_artifact, owner.address)
    eth, tether = totals["ETH"], totals["USDT"]
    anvil.set_balance(cold.address, eth * 97 // 100)
    anvil.set_balance(buffer.address, eth * 4 // 100)
    anvil.set_balance(contract, eth * 4 // 100)
    anvil.transact(
        usdt,
        token,
        "mint",
        [cold.address, contract, buffer.address],
        [tether * 99 // 100, tether * 2 // 100, tether * 2 // 100],
    )
    eth_number = anvil.mine(2)
    eth_block = BlockRef(
        Chain.ETHEREUM,
        str(anvil.chain_id),
        eth_number,
        anvil.block_hash(eth_number).removeprefix("0x"),
    )
    eth_text = signing.text(eth_block)

    def proof(scheme: str, account: Any) -> dict[str, str]:
        value = account.sign_message(encode_defunct(text=eth_text)).signature.hex()
        signed = {"scheme": scheme, "signature": "0x" + str(value).removeprefix("0x")}
        return {**signed, "epoch": EPOCH} if signing.epochs else signed

    eth_wallets = [
        {
            "label": "cold",
            "class": "cold",
            "address": cold.address,
            "ownership": proof("eip191", cold),
            "custodian": EXCHANGE,
            "signing": "single key",
        },
        {
            "label": "hot-contract",
            "class": "hot",
            "address": contract,
            "ownership": proof("eip1271", owner),
            "vendor": "vaultsoft",
            "custodian": EXCHANGE,
            "signing": "contract wallet (EIP-1271)",
        },
        {
            "label": "own-buffer",
            "class": "cold",
            "attribution": "own",
            "address": buffer.address,
            "ownership": proof("eip191", buffer),
        },
    ]
    return eth_wallets, eth_block, usdt


def _write_prices_and_reserve(work: Path) -> None:
    """The off-chain inputs: today's prices in JPY and the reserve statement."""
    from datetime import date, timedelta

    today = date.today()
    (work / "prices.toml").write_text(
        'currency = "JPY"\nsource = "demo reference rate"\n'
        f"time = {today.isoformat()}T00:00:00Z\n\n[prices]\n"
        + "".join(f'{code} = "{value}"\n' for code, value in PRICES.items())
    )
    (work / "reserve.toml").write_text(
        RESERVE.format(
            today=today.isoformat(),
            start=(today - timedelta(days=120)).isoformat(),
            end=(today + timedelta(days=245)).isoformat(),
        )
    )


def _write_configs(
    work: Path, nodes: Nodes, usdt: str, wallets: tuple[str, str], ownership: str
) -> Path:
    """por.toml as a user would write it (`wallets`: the Bitcoin and Ethereum wallet
    tables), and auditor.toml (the nodes only) for `por verify`; returns por.toml's path."""
    bcoin, anvil = nodes.bcoin, nodes.anvil
    node_sections = (
        f'[bitcoin]\nbackend = "bcoin"\nurl = "{bcoin.url}"\nnetwork = "regtest"\n'
        'password_file = "keys/bcoin.pass"\ntimeout = 20\n\n'
    )
    eth_section = (
        f'[ethereum]\nurl = "{anvil.url}"\nchain_id = {anvil.chain_id}\ntimeout = 20\n\n'
        f'[[ethereum.tokens]]\ncode = "USDT"\ncontract = "{usdt}"\ndecimals = 6\n\n'
    )
    config = work / "por.toml"
    config.write_text(
        f'[exchange]\nname = "{EXCHANGE}"\nattestation_id = "{ATTESTATION}"\n\n'
        + node_sections
        + wallets[0]
        + eth_section
        + wallets[1]
        + ownership
        + VENDORS
        + '[liabilities]\nroot = "tree/root.json"\n\n[prices]\nfile = "prices.toml"\n\n'
        '[reserve]\nstatement = "reserve.toml"\npack = "jp-fsa-2026"\n\n'
        '[attest]\nkey_file = "keys/attest.key"\n'
    )
    (work / "auditor.toml").write_text(
        f'[exchange]\nname = "{EXCHANGE}"\nattestation_id = "{ATTESTATION}"\n\n'
        + node_sections
        + eth_section
    )
    return config
