"""The coverage report: the por-report-v1 document, its terminal rendering and its HTML page.

document (build_report) with claims (what a passing check proves and does not), terminal,
html with charts, figures (the one rule for how a percentage, amount or reason is shown)
and templates/ (the one base layout and style sheet shared with the history page and the
site). Sits after reconciliation; jobs, history and site render through it.
"""
