"""Local nodes for the demo and the tests: anvil, bcoin, and the contracts they deploy.

Starts real anvil and bcoin processes on loopback (base: process lifecycle, free ports,
logs), funds wallets, and compiles/deploys the demo contracts (solc, contracts/). Not used
by a production run, which talks to the operator's own nodes.
"""
