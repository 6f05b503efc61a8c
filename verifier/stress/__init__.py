"""Incident scenarios: what if a wallet, a class of wallets or a vendor's wallets were drained?

Where it sits: layer 7b, above verifier/report/ (it reads a finished por-report-v1 document)
and below verifier/jobs/. A scenario file (scenario.py) lists shocks; base.py turns a report
and the reserve statement into the figures a scenario needs; engine.py pays each loss from
the asset's own surplus, eligible cash, insurance and guarantees, in that order, never
netting across assets; sweep.py finds each wallet's and vendor's largest absorbable loss;
document.py writes the ``por-stress-v1`` document (docs/stress.md). Pure: no I/O besides
reading the scenario file.
"""
