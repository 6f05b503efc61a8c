"""Reconciliation: liabilities against proven holdings and the liability reserve (pure).

parse (the three input documents) → tally (holdings per asset, each address once, inputs
cross-checked) → coverage (per-asset and combined coverage, breaches), with reserve_inputs
(the numbers a rule pack reads), values and result (the types) and numbers (decimal
contexts and the coverage rounding rule). No files, no network, no clock. Sits after
holdings and reserve, before the report.
"""
