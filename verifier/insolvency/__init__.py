"""An administrator's distribution of customer assets after an exchange fails (issue 15).

Where it sits: layer L7c, above the report (it reads the liabilities tree through
attestations/ and prices through verifier/inputs/, and writes por-mst-v1 trees of its own),
below the jobs and the CLI (verifier/cli/insolvency.py). The flow: claims.py turns the
liabilities tree at the commencement date into the claims register and its committed tree;
the plan, the verification of a customer's distribution and the payouts follow from it
(docs/spec/por-insolvency-v1.md).
"""
