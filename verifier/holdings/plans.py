"""From `por.toml` to chain plans: which adapter, which addresses, which ownership checks.

Where it sits: between the config (verifier/inputs/config.py) and the snapshot orchestrator
(verifier/holdings/snapshot.py). Credentials are read here from the cookie file, password file or
environment variable the config names, and so is a node URL given as `url_file` or
`url_env`; they never come from the command line.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from chains.base import BlockRef, Chain, ChainAdapter, OwnershipCheck, Token
from chains.btc_multisig import multisig_witness_script
from chains.btc_ownership import verify_bitcoin_ownership
from chains.eth_ownership import check_eip1271, verify_eip191
from chains.ethereum import EthereumAdapter
from chains.rpc import auth_from_sources
from verifier.base.errors import InputError
from verifier.holdings.snapshot import ChainPlan
from verifier.inputs.config_values import BitcoinConfig, EthereumConfig, PorConfig, WalletConfig


def bitcoin_adapter(config: BitcoinConfig) -> ChainAdapter:
    """The adapter for the configured Bitcoin backend."""
    url = config.node_url()
    if config.password_env is not None and config.password_env not in os.environ:
        raise InputError(
            "the environment variable is not set",
            file=str(config.file),
            key="bitcoin.password_env",
            value=config.password_env,
        )
    authorization = auth_from_sources(
        cookie_file=config.cookie_file,
        user=config.user,
        password_file=config.password_file,
        password_env=config.password_env,
    )
    if config.backend in {"bcoin", "core"}:
        from chains.bitcoin_bcoin import BcoinAdapter
        from chains.bitcoin_core import CoreAdapter

        node_adapter = BcoinAdapter if config.backend == "bcoin" else CoreAdapter
        return node_adapter(
            url,
            network=config.network,
            authorization=authorization,
            asset=config.asset,
            timeout=config.timeout,
            concurrency=config.concurrency,
            max_reply_bytes=config.max_reply_bytes,
        )
    from chains.esplora import EsploraAdapter

    return EsploraAdapter(
        url,
        network=config.network,
        asset=config.asset,
        timeout=config.timeout,
        concurrency=config.concurrency,
        max_reply_bytes=config.max_reply_bytes,
    )


async def bitcoin_addresses(
    wallet: WalletConfig, network: str, adapter: ChainAdapter
) -> Sequence[str]:
    """The addresses a Bitcoin wallet entry stands for.

    An xpub wallet is walked to its gap limit on the receive and change chains, asking the
    node which addresses have history, when the adapter can say (bcoin, Esplora). Bitcoin
    Core sees only the UTXO set at the tip, so with Core the first `gap_limit` receive and
    change addresses are read.
    """
    from chains import btc_wallets

    if wallet.address is not None:
        return [wallet.address]
    if wallet.xpub is not None:
        used = getattr(adapter, "used_addresses", None)
        if used is None:
            return btc_wallets.xpub_addresses(
                wallet.xpub,
                script=wallet.script or "p2wpkh",
                network=network,
                count=wallet.gap_limit,
                name=wallet.key,
            )
        hd = btc_wallets.XpubWallet(
            name=wallet.key,
            network=network,
            xpub=wallet.xpub,
            script_type=btc_wallets.ScriptType(wallet.script or "p2wpkh"),
            account_path=wallet.path or "",
            gap_limit=wallet.gap_limit,
        )
        found: list[str] = []
        for change in (0, 1):

            async def has_history(batch: tuple[btc_wallets.WatchedAddress, ...]) -> set[str]:
                return set(await used([w.address for w in batch]))

            walk = await btc_wallets.discover(hd, change, has_history)
            found += [w.address for w in walk.used]
        return found
    assert wallet.multisig_m is not None  # config guarantees it for multisig wallets
    return [
        btc_wallets.multisig_address(
            wallet.multisig_m,
            wallet.multisig_keys,
            script=wallet.script or "p2wsh",
            network=network,
            sort=wallet.sorted_keys,
        )
    ]


def _bitcoin_plan(config: PorConfig, btc: BitcoinConfig, height: int | None) -> ChainPlan:
    async def verify(wallet: WalletConfig, address: str, text: str, at: BlockRef) -> OwnershipCheck:
        proof = dict(wallet.ownership) if wallet.ownership is not None else None
        if proof is not None and wallet.kind == "multisig" and "witness_script" not in proof:
            assert wallet.multisig_m is not None
            proof["witness_script"] = multisig_witness_script(
                wallet.multisig_m, wallet.multisig_keys, sort=wallet.sorted_keys
            )
        return verify_bitcoin_ownership(proof, address, btc.network, text)

    adapter = bitcoin_adapter(btc)

    async def expand(wallet: WalletConfig) -> Sequence[str]:
        return await bitcoin_addresses(wallet, btc.network, adapter)

    return ChainPlan(
        chain=Chain.BITCOIN,
        adapter=adapter,
        assets=((btc.asset, 8),),
        expand=expand,
        verify=verify,
        wallets=btc.wallets,
        height=height,
    )


def ethereum_adapter(eth: EthereumConfig) -> EthereumAdapter:
    return EthereumAdapter(
        eth.node_url(),
        eth.chain_id,
        native=Token(eth.asset, 18),
        tokens=[Token(t.code, t.decimals, t.contract) for t in eth.tokens],
        timeout=eth.timeout,
        concurrency=eth.concurrency,
        trustless=eth.trustless,
        balance_slots={t.code: t.balance_slot for t in eth.tokens},
        max_reply_bytes=eth.max_reply_bytes,
    )


def _ethereum_plan(eth: EthereumConfig, height: int | None) -> ChainPlan:
    adapter = ethereum_adapter(eth)

    async def verify(wallet: WalletConfig, address: str, text: str, at: BlockRef) -> OwnershipCheck:
        from chains.base import Ownership

        proof = wallet.ownership
        if proof is None:
            return OwnershipCheck(address, Ownership.UNPROVEN, None, "no signature")
        scheme = proof.get("scheme")
        signature = proof.get("signature")
        if not isinstance(signature, str):
            return OwnershipCheck(address, Ownership.UNPROVEN, str(scheme), "no signature")
        if scheme == "eip191":
            return verify_eip191(address, text, signature)
        if scheme == "eip1271":
            return await check_eip1271(adapter, address, text, signature, at)
        return OwnershipCheck(address, Ownership.UNPROVEN, str(scheme), "unsupported scheme")

    return ChainPlan(
        chain=Chain.ETHEREUM,
        adapter=adapter,
        assets=((eth.asset, 18), *((t.code, t.decimals) for t in eth.tokens)),
        expand=_ethereum_addresses,
        verify=verify,
        wallets=eth.wallets,
        height=height,
    )


async def _ethereum_addresses(wallet: WalletConfig) -> Sequence[str]:
    return [wallet.address] if wallet.address else []


def build_plans(
    config: PorConfig, *, btc_height: int | None = None, eth_block: int | None = None
) -> list[ChainPlan]:
    """One plan per configured chain."""
    plans = []
    if config.bitcoin is not None:
        plans.append(_bitcoin_plan(config, config.bitcoin, btc_height))
    elif btc_height is not None:
        raise InputError("--btc-height given but no [bitcoin] section", file=str(config.path))
    if config.ethereum is not None:
        plans.append(_ethereum_plan(config.ethereum, eth_block))
    elif eth_block is not None:
        raise InputError("--eth-block given but no [ethereum] section", file=str(config.path))
    return plans
