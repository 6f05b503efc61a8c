"""The files an operator writes, read and refused exactly: the first step of the flow.

config/config_schema (por.toml), file_schemas (prices, reserve statement, assets, rule pack
file models and their JSON Schemas), keys (the attestation signing key), prices, liabilities
(the customer balances CSV/JSON Lines into columns), templates/ (what `por init` writes).
Sits above chains and attestations (it builds their inputs), below everything that runs.
"""
