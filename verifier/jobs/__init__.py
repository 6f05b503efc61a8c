"""The main job end to end: one reconciliation run, and signed attestations.

pipeline (inputs → snapshot → reserve → reconciliation → report, as `por reconcile` runs it),
attest (`por attest` signs the outcome as a por-attestation-v1 document), verify (`por
verify` checks one independently; its steps in verification, verify_ownership,
verify_nodes, verify_figures), preflight (what an `--every` loop checks before its first
run). Sits on top of the flow's steps; history schedules it, the CLI calls it.
"""
