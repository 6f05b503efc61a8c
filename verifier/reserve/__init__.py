"""The liability reserve: the exchange's off-chain statement and the jurisdictions' rule packs.

statement (cash, insurance and their evidence, read from the reserve statement file), rules
(rule packs: their formula, checks and evaluation), packs/ (the built-in packs with sources).
Sits after the inputs and before reconciliation, which adds the required reserve to what
customers are owed.
"""
