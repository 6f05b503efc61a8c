"""por's verifier: everything above the chain adapters and the liabilities tree.

Its subpackages follow the data flow, lowest layer first (docs/architecture.md draws it and
says which layer may import which; tests/unit/test_layers.py enforces it):

  base       errors, exit codes and the leaf helpers every layer shares
  inputs     the files an operator writes (por.toml, prices, keys, liabilities);
  external   other exchanges' published proofs and ownership files
  reserve    the off-chain reserve statement and the jurisdictions' rule packs
  holdings   wallets read at one pinned block per chain, and who controls them
  reconcile  liabilities against proven holdings plus the reserve
  report     the coverage report: JSON, terminal and HTML
  jobs       one reconciliation run end to end; signed attestations and their verification
  history    runs stored, scheduled, alerted on and exported as metrics
  site       the public site customers verify in their browser
  tools      the demo, benchmarks and sample data
  cli        the `por` command: thin click commands over the layers below

Code lives in the subpackages; this file only describes.
"""
