"""The coverage report: the por-report-v1 document, its terminal rendering and its HTML page.

templates/ holds the one base layout and style sheet shared with the history page and the
site. Sits after reconciliation; jobs, history and site render through it.
"""
