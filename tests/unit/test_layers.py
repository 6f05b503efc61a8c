"""The import layers of docs/architecture.md: no module imports from a layer above its own.

The layers follow the data flow (inputs → holdings → reconciliation → report → jobs →
history and site → CLI), with the error tree and shared helpers at the bottom. Every
import is read from the source (module level and inside functions, `TYPE_CHECKING` blocks
too: a type-only upward import still couples the layers), resolved to our module, and
mapped to its layer. A planted module with an upward import proves the check can fail.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("base", ("verifier.base",)),
    ("chains", ("chains",)),
    ("attestations", ("attestations",)),
    ("inputs", ("verifier.inputs", "verifier.external")),
    ("reserve", ("verifier.reserve",)),
    ("holdings", ("verifier.holdings",)),
    ("reconcile", ("verifier.reconcile",)),
    ("report", ("verifier.report",)),
    ("stress", ("verifier.stress",)),
    ("insolvency", ("verifier.insolvency",)),
    ("jobs", ("verifier.jobs",)),
    ("history", ("verifier.history",)),
    ("site", ("verifier.site",)),
    ("tools", ("verifier.tools",)),
    ("cli", ("verifier.cli",)),
]
"""Lowest first; a module may import its own layer and the layers listed before it."""

TOP = ("verifier", "chains", "attestations")


def layer_of(module: str) -> int | None:
    """The index of `module`'s layer; None for a top-level package's own __init__."""
    best: tuple[int, int] | None = None  # (prefix length, layer)
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            inside = module == prefix or module.startswith(prefix + ".")
            if inside and (best is None or len(prefix) > best[0]):
                best = (len(prefix), index)
    return None if best is None else best[1]


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported(tree: ast.AST, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, module) of every import of ours in `tree`; `from a import b` yields a.b when
    a.b is a module, else a (resolved by the caller through layer_of, which is the same)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module if is_package else module.rpartition(".")[0]
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{base}" if base else package
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return [(line, name) for line, name in found if name.split(".")[0] in TOP]


def violations(root: Path) -> list[str]:
    problems: list[str] = []
    for top in TOP:
        for path in sorted((root / top).rglob("*.py")):
            module = module_name(path, root)
            own = layer_of(module)
            if own is None:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for line, name in imported(tree, module, path.name == "__init__.py"):
                target = layer_of(name)
                if target is None:
                    problems.append(f"{path.relative_to(root)}:{line}: imports {name}, in no layer")
                elif target > own:
                    problems.append(
                        f"{path.relative_to(root)}:{line}: {LAYERS[own][0]} imports {name} "
                        f"from the higher layer {LAYERS[target][0]}"
                    )
    return problems


def test_no_module_imports_from_a_layer_above_it() -> None:
    assert violations(ROOT) == []


def test_every_module_is_in_a_layer() -> None:
    """A new package under verifier/ must be placed in LAYERS (and docs/architecture.md)."""
    stray = []
    for top in TOP:
        for path in (ROOT / top).rglob("*.py"):
            module = module_name(path, ROOT)
            if module not in TOP and layer_of(module) is None:
                stray.append(module)
    assert stray == []


def test_the_top_level_packages_hold_no_code() -> None:
    """verifier/__init__.py and friends only describe; code lives in a layer."""
    for top in TOP:
        tree = ast.parse((ROOT / top / "__init__.py").read_text(encoding="utf-8"))
        assert ast.get_docstring(tree), f"{top}/__init__.py has no docstring"
        assert all(isinstance(n, ast.Expr) for n in tree.body), f"{top}/__init__.py has code"


def test_every_package_says_its_job_and_place() -> None:
    for top in TOP:
        for init in (ROOT / top).rglob("__init__.py"):
            doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
            assert doc, f"{init.relative_to(ROOT)} has no docstring"


def test_architecture_doc_lists_every_layer() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    for _, prefixes in LAYERS:
        for prefix in prefixes:
            assert f"`{prefix.replace('.', '/')}/`" in text, prefix


@pytest.mark.parametrize(
    ("where", "source"),
    [
        ("chains/planted.py", "from verifier.reserve.rules import load_pack\n"),
        ("verifier/base/planted.py", "def f():\n    import chains.base\n"),
        ("verifier/reconcile/planted.py", "from ..report import document\n"),
        (
            "attestations/planted.py",
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from verifier.jobs.attest import attest\n",
        ),
    ],
)
def test_an_upward_import_is_caught(tmp_path: Path, where: str, source: str) -> None:
    for top in TOP:
        (tmp_path / top).mkdir()
        (tmp_path / top / "__init__.py").write_text('"""x"""\n')
    planted = tmp_path / where
    planted.parent.mkdir(parents=True, exist_ok=True)
    planted.write_text(source)
    found = violations(tmp_path)
    assert len(found) == 1 and where in found[0], found
