"""The files an operator writes, read and refused exactly: the first step of the flow.

config, config_values, config_errors and config_schema (por.toml), config_check with
problems, toml_lines, placeholders, wallet_checks, config_reference and epoch_config
(`por config check` and `por challenge`, offline), file_schemas (prices, reserve statement,
assets, rule pack file models and their JSON Schemas), keys (the attestation signing key),
prices, assets (the asset list), liabilities and liabilities_* (the customer balances
CSV/JSON Lines into columns: lines, csv, jsonl, amounts, columns), templates/ (what
`por init` writes). Sits above chains and attestations (it builds their inputs), below
everything that runs.
"""
