"""On-chain holdings: every wallet read at one pinned block per chain, and who controls it.

plans (from por.toml to chain adapters and ownership checks), snapshot (reads the chains
concurrently at pinned blocks, the por-snapshot-v1 document), ownership (epoch proofs: age
and staleness), challenge_plan (`por challenge`: each chain's message and, per address,
what proves it) and signing_howto (the command line or wallet steps that sign it). Sits
after the inputs and the reserve, before reconciliation.
"""
