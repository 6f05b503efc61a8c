"""`por insolvency …`: an administrator's distribution of customer assets after a failure.

Where it sits: the CLI layer. Each command parses its options, calls verifier/insolvency/
(claims register, distribution plan, verification, payouts) and prints the result as text
or one --json document. The formats are docs/spec/por-insolvency-v1.md.
"""

from __future__ import annotations

import click


@click.group()
def insolvency() -> None:
    """An administrator's distribution of customer assets after a failure.

    The claims register at the commencement date (committed as a por-mst-v1 tree, so each
    customer can check their claim), the distribution plan, each customer's check of their
    distribution, and the payouts made against the plan."""
