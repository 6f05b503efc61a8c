"""Reconciliation: liabilities against proven holdings and the liability reserve (pure).

Takes the liabilities tree's totals, the snapshot's proven holdings, prices and the reserve
evaluation; returns per-asset and combined coverage. No files, no network, no clock.
Sits after holdings and reserve, before the report.
"""
