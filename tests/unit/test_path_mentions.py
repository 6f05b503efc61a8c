"""Every source path that the README, docs, code and tests mention exists.

After the layout moved into data-flow subpackages, a stale path (the old rules module) in a
docstring or a doc sends a newcomer nowhere. This reads every mention of a path under the
three packages (``verifier/…``, ``chains/…``, ``attestations/…`` ending in .py, or a folder
ending in /) and checks it on disk. Paths a test plants on purpose are listed in PLANTED.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

MENTION = re.compile(
    r"(?<![\w./-])((?:verifier|chains|attestations)/(?:[\w-]+/)*(?:[\w-]+(?:\.[\w-]+)*\.(?:py|toml|json|js|html|css|mako)(?![\w.])|[\w-]+/))"
)
PLANTED = {
    "verifier/canary_data/",
    "chains/canary/",
    "chains/canary/deep/",
    "chains/canary/deep/module.py",
    "chains/canary/__init__.py",
    "chains/canary/deep/__init__.py",
    "attestations/formats/canary.json",
    "verifier/canary_data/rules.toml",
    "verifier/reserve/packs/canary.toml",
    "chains/planted.py",  # tests/unit/test_layers.py plants upward imports here
    "verifier/base/planted.py",
    "verifier/reconcile/planted.py",
    "attestations/planted.py",
}
"""Files the wheel test plants to prove its file-list check can fail."""

TEXT = (".py", ".md", ".toml", ".yml", ".yaml", ".sh", ".cfg", ".txt", ".in")


def mentions() -> list[tuple[str, int, str]]:
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    found = []
    for name in files:
        path = ROOT / name
        if not name.endswith(TEXT) and path.name != "Makefile":
            continue
        if not path.is_file() or name.startswith("fixtures/"):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            found += [(name, number, m.group(1)) for m in MENTION.finditer(line)]
    return found


def test_every_mentioned_source_path_exists() -> None:
    missing = [
        f"{name}:{number}: {mention}"
        for name, number, mention in mentions()
        if mention not in PLANTED and not (ROOT / mention).exists()
    ]
    assert missing == []
