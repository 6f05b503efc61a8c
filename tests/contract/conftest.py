"""Make the contract suite's helpers (`suite`, `recorded`) importable by the test modules.

Other suites (e.g. tests/integration for a live bcoin node) reuse the contract by putting
this directory on `sys.path` the same way and subclassing `suite.AdapterContract`.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
