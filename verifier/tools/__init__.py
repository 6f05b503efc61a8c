"""Tools around the job: the demo on local nodes, benchmarks, and sample liabilities.

demo (`por demo`, the whole flow on anvil and bcoin) with demo_funding (its wallets, proofs
and files), bench and bench_snapshot (`por bench`),
sample (deterministic heavy-tailed sample data). May use every layer below the CLI.
"""
