"""From `por.toml` to chain plans: which adapter, which addresses, which ownership checks.

Where it sits: between the config (verifier/config.py) and the snapshot orchestrator
(verifier/snapshot.py). Credentials are read here from the cookie file, password file or
environment variable the config names; they never come from the command line.
"""

from __future__ import annotations

from collections.abc import Sequence

from chains.base import BlockRef, Chain, ChainAdapter, OwnershipCheck, Token
from chains.btc_ownership import multisig_witness_script, verify_bitcoin_ownership
from chains.eth_ownership import check_eip1271, verify_eip191
from chains.ethereum import EthereumAdapter
from chains.rpc import auth_from_sources
from verifier.config import BitcoinConfig, EthereumConfig, PorConfig, WalletConfig
from verifier.errors import InputError
from verifier.snapshot import ChainPlan


def bitcoin_adapter(config: BitcoinConfig) -> ChainAdapter:
    """The adapter for the configured Bitcoin backend."""
    authorization = auth_from_sources(
        cookie_file=config.cookie_file,
        user=config.user,
        password_file=config.password_file,
        password_env=config.password_env,
    )
    if config.backend == "bcoin":
        from chains.bitcoin_bcoin import BcoinAdapter

        return BcoinAdapter(
            config.url,
            network=config.network,
            authorization=authorization,
            asset=config.asset,
            timeout=config.timeout,
            concurrency=config.concurrency,
        )
    if config.backend == "core":
        from chains.bitcoin_core import CoreAdapter

        return CoreAdapter(
            config.url,
            network=config.network,
            authorization=authorization,
            asset=config.asset,
            timeout=config.timeout,
            concurrency=config.concurrency,
        )
    from chains.esplora import EsploraAdapter

    return EsploraAdapter(
        config.url,
        network=config.network,
        asset=config.asset,
        timeout=config.timeout,
        concurrency=config.concurrency,
    )


def bitcoin_addresses(wallet: WalletConfig, network: str) -> Sequence[str]:
    """The addresses a Bitcoin wallet entry stands for."""
    from chains import btc_wallets

    if wallet.address is not None:
        return [wallet.address]
    if wallet.xpub is not None:
        return btc_wallets.xpub_addresses(
            wallet.xpub,
            script=wallet.script or "p2wpkh",
            network=network,
            count=wallet.gap_limit,
        )
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

    return ChainPlan(
        chain=Chain.BITCOIN,
        adapter=bitcoin_adapter(btc),
        assets=((btc.asset, 8),),
        expand=lambda wallet: bitcoin_addresses(wallet, btc.network),
        verify=verify,
        wallets=btc.wallets,
        height=height,
    )


def ethereum_adapter(eth: EthereumConfig) -> EthereumAdapter:
    return EthereumAdapter(
        eth.url,
        eth.chain_id,
        native=Token(eth.asset, 18),
        tokens=[Token(t.code, t.decimals, t.contract) for t in eth.tokens],
        timeout=eth.timeout,
        concurrency=eth.concurrency,
        trustless=eth.trustless,
        balance_slots={t.code: t.balance_slot for t in eth.tokens},
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
        expand=lambda wallet: [wallet.address] if wallet.address else [],
        verify=verify,
        wallets=eth.wallets,
        height=height,
    )


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
