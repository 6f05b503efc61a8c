"""Every package we import is declared, and every declared package is accounted for.

An import of a third-party package that pyproject.toml does not declare works only as long
as something else happens to pull it in (sqlalchemy, eth_utils and eth_keys once arrived
only through sqlmodel, web3 and eth-account). The source of attestations/, chains/,
verifier/ and tests/ is read as Python (the AST, so an import inside a function counts) and
each top-level package imported is mapped to its distribution with
`importlib.metadata.packages_distributions()`:

- the runtime packages import only `[project] dependencies` (an extra may be missing);
- tests import only those and the extras (CI installs every extra);
- an import inside ``try: ... except ImportError`` is optional and not required;
- docs/dependencies.md has a section for every declared distribution and for each one that
  was dropped, and no dropped one is declared again.

Also here: without the `postgres` extra a PostgreSQL URL is exit 4 naming the extra.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections.abc import Iterator
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from verifier.base.errors import StoreError
from verifier.cli.main import main
from verifier.history.store import Store

REPO = Path(__file__).resolve().parents[2]
RUNTIME = ("attestations", "chains", "verifier")
OURS = {*RUNTIME, "tests"}
DROPPED = ("web3", "sqlmodel")
"""Named once, removed on purpose (docs/dependencies.md says why): never declared again."""
DOCS = REPO / "docs" / "dependencies.md"


def normalise(name: str) -> str:
    """PEP 503 name: `SQLAlchemy`, `eth_utils` and `eth-utils` compare equal."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    assert match, requirement
    return normalise(match.group(1))


def declared() -> tuple[set[str], dict[str, set[str]]]:
    """(the dependencies, each extra's) as normalised distribution names."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    core = {requirement_name(r) for r in project["dependencies"]}
    extras = {
        extra: {requirement_name(r) for r in requirements}
        for extra, requirements in project.get("optional-dependencies", {}).items()
    }
    return core, extras


def _optional(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """True when `node` sits in the body of a try whose handler catches ImportError."""
    child, parent = node, parents.get(node)
    while parent is not None:
        if isinstance(parent, ast.Try) and child in parent.body:
            for handler in parent.handlers:
                caught = handler.type
                names = caught.elts if isinstance(caught, ast.Tuple) else [caught]
                if any(
                    isinstance(n, ast.Name) and n.id in {"ImportError", "ModuleNotFoundError"}
                    for n in names
                ):
                    return True
        child, parent = parent, parents.get(parent)
    return False


def imports(path: Path) -> Iterator[tuple[str, int]]:
    """(top-level package, line) of every absolute import in `path` that is required."""
    tree = ast.parse(path.read_text(), filename=str(path))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        if _optional(node, parents):
            continue
        for name in names:
            yield name.partition(".")[0], node.lineno


def local_modules(root: Path) -> set[str]:
    """Modules the tests import from their own folders (fixtures put on sys.path)."""
    return {p.stem for p in root.rglob("*.py")} | {p.name for p in root.rglob("*") if p.is_dir()}


def undeclared(
    files: list[Path], allowed: set[str], local: frozenset[str] | set[str] = frozenset()
) -> list[str]:
    """One line per import of a package no allowed distribution provides."""
    provides = packages_distributions()
    problems = []
    for path in files:
        for package, line in imports(path):
            if package in sys.stdlib_module_names or package in OURS | local:
                continue
            if package == "__future__":
                continue
            distributions = {normalise(d) for d in provides.get(package, [])}
            if not distributions & allowed:
                where = path.relative_to(REPO) if path.is_relative_to(REPO) else path
                found = ", ".join(sorted(distributions)) or "no installed distribution"
                problems.append(f"{where}:{line}: imports {package} ({found}), not declared")
    return problems


def sources(*roots: str) -> list[Path]:
    return sorted(p for root in roots for p in (REPO / root).rglob("*.py"))


# ----------------------------------------------------------------------------- declarations


def test_runtime_code_imports_only_declared_dependencies() -> None:
    core, _ = declared()
    assert undeclared(sources(*RUNTIME), core) == []


def test_tests_import_only_declared_dependencies_or_extras() -> None:
    core, extras = declared()
    everything = core.union(*extras.values())
    assert undeclared(sources("tests"), everything, local_modules(REPO / "tests")) == []


def test_an_undeclared_import_is_found(tmp_path: Path) -> None:
    """The check can fail: a module importing an installed but undeclared package (and a
    package nothing provides) is named with its line; an optional import is not."""
    module = tmp_path / "module.py"
    module.write_text(
        "import json\n"
        "import sqlalchemy.orm\n"
        "\n"
        "def f():\n"
        "    from no_such_package_anywhere import x\n"
        "try:\n"
        "    import yaml\n"
        "except ImportError:\n"
        "    yaml = None\n"
    )
    problems = undeclared([module], allowed={"click"})
    assert [p.split(": ", 1)[1] for p in problems] == [
        "imports sqlalchemy (sqlalchemy), not declared",
        "imports no_such_package_anywhere (no installed distribution), not declared",
    ]
    assert problems[0].endswith("not declared") and ":2:" in problems[0]
    assert undeclared([module], allowed={"sqlalchemy"}) == [problems[1]]


def test_dropped_dependencies_stay_dropped() -> None:
    core, extras = declared()
    for name in DROPPED:
        assert name not in core.union(*extras.values()), f"{name} is declared again"
    importing = [
        (path, package)
        for path in sources(*RUNTIME, "tests")
        for package, _ in imports(path)
        if package in DROPPED
    ]
    assert importing == []


def test_psycopg_is_the_postgres_extra_not_a_dependency() -> None:
    core, extras = declared()
    assert "psycopg" not in core and "psycopg" in extras["postgres"]
    assert "bitcoinlib" not in core and "bitcoinlib" in extras["test"]


def test_the_makefile_installs_every_extra() -> None:
    """CI runs `make test`: every extra is installed there, so every test runs."""
    _, extras = declared()
    makefile = (REPO / "Makefile").read_text()
    (installed,) = re.findall(r"install -e '\.\[([a-z,]+)\]'", makefile)
    assert set(installed.split(",")) == set(extras)


def test_every_dependency_is_explained_in_docs() -> None:
    """docs/dependencies.md: a `### name` section for each declared and each dropped one."""
    core, extras = declared()
    sections = {
        normalise(s) for s in re.findall(r"^### `?([A-Za-z0-9._-]+)", DOCS.read_text(), re.M)
    }
    wanted = core.union(*extras.values(), DROPPED, {"merkletools"})
    assert sorted(wanted - sections) == []
    assert sorted(sections - wanted) == []


# ----------------------------------------------------------------------------- without an extra


def test_without_psycopg_a_postgres_url_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg raises ImportError
    with pytest.raises(StoreError) as caught:
        Store("postgresql://por:hunter2@127.0.0.1:9/por")
    assert caught.value.exit_code == 4
    assert "pip install 'por[postgres]'" in caught.value.message
    assert "hunter2" not in caught.value.message


def test_without_psycopg_db_upgrade_exits_4_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    assert main(["db", "upgrade", "--db", "postgresql://por:hunter2@127.0.0.1:9/por"]) == 4
    captured = capsys.readouterr()
    assert "por[postgres]" in captured.err and "Traceback" not in captured.err
    assert "hunter2" not in captured.out + captured.err
