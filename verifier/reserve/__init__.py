"""The liability reserve: the exchange's off-chain statement and the jurisdictions' rule packs.

Sits after the inputs and before reconciliation, which adds the required reserve to what
customers are owed. Lowest first:

- money: the 60-digit decimal context, decimal text, base units, conservative rounding;
- statement_model, statement_rows, statement_build, statement: the reserve statement's
  values, its file's rows, rows into values, and reading and checking the file;
- pack, pack_file (+ packs/, the built-in packs with sources): the rule-pack model and
  reading a pack file;
- positions: the customer holdings the pack weighs;
- results: gates, components and checks, each with its JSON member;
- context, required, components, insurance, checks, rules: one evaluation's steps, and
  `rules.evaluate`, which runs them and returns the evaluation document.
"""
