"""The document formats `por --version --json` names, written down so it imports none of them.

Where it sits: read by main.py's `version_document`. Each format's name is a constant of the
module that defines the format (the tree encoding, the proofs container, the signed
attestation, the report, the history run, view and alert); importing those modules to read
their constants cost `por --version --json` 1.1-1.7 s (numpy, pyarrow, SQLAlchemy, Jinja2...)
for seven strings. tests/cli/test_formats.py imports every one of them and holds this table
equal to them, so a format renamed where it is defined fails until the copy here follows.
"""

from __future__ import annotations

FORMATS: dict[str, str] = {
    "liabilities_tree": "por-mst-v1",
    "proofs_container": "por-proofs-v1",
    "attestation": "por-attestation-v1",
    "report": "por-report-v1",
    "run": "por-run-v1",
    "history": "por-history-v1",
    "alert": "por-alert-v1",
}
"""`--version --json`'s "formats": document kind -> format name, in the order it prints them."""

SOURCES: dict[str, str] = {
    "liabilities_tree": "attestations.encoding:FORMAT",
    "proofs_container": "attestations.proof_container:CONTAINER_FORMAT",
    "attestation": "attestations.document.model:FORMAT",
    "report": "verifier.report.document:REPORT_FORMAT",
    "run": "verifier.history.schedule:RUN_FORMAT",
    "history": "verifier.history.view:HISTORY_FORMAT",
    "alert": "verifier.history.alerts:ALERT_FORMAT",
}
"""Where each name is defined ("module:constant"): what the test compares `FORMATS` with."""
