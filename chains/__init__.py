"""Chain adapters and ownership checks: Bitcoin and Ethereum at one pinned block.

Async adapters (bitcoin_bcoin, bitcoin_core, esplora, ethereum) behind the interface in base;
rpc and retry (JSON-RPC transport, one retry policy); the Ethereum adapter's own transport,
values and EIP-1186 proofs (eth_rpc, eth_hex, eth_proofs; eth_naive, the benchmark's
baseline); addresses, amounts and wallet descriptors (btc_address, btc_amounts,
btc_wallets); ownership signatures (btc_ownership dispatching to
btc_bip137, btc_multisig and btc_bip322 over btc_bip322_tx, sharing btc_proof_checks;
eth_ownership; for other exchanges' chains tron_signatures, ed25519_signatures (Solana,
Algorand) and altcoin_messages (Dogecoin, Litecoin)) and the challenge text they sign
(challenge); nodes/ starts local anvil and
bcoin for the demo and tests. Sits just above verifier/base (its errors and helpers), below
everything else.
"""
