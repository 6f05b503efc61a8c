"""`por attest` writes its directory whole or not at all, and never over an input.

A failure midway (a full disk: every write, fsync and rename in turn made to fail with
ENOSPC) must leave the previous attestation directory byte for byte as it was, with no
temporary directory left beside it; the `--out` of `por attest` may not hold or lie inside
any input its config names (exit 2, before the snapshot). The signed documents come from
tests/browser/site_builder.py (a real tree, signed with a fixed test key; no chain nodes).
"""

from __future__ import annotations

import copy
import errno
import importlib.util
import json
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import verifier.jobs.attest as attest_module
from attestations.document.sign import verify_attestation
from verifier.base.errors import StoreError, UsageError
from verifier.cli.main import main
from verifier.inputs.keys import create_signing_key
from verifier.jobs.attest import (
    ATTESTATION_FILES,
    attest,
    check_attestation_dir,
    install_directory,
    write_attestation_dir,
)

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "_site_builder_attest", ROOT / "tests" / "browser" / "site_builder.py"
)
assert _spec is not None and _spec.loader is not None
builder = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(builder)


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[dict[str, Any], Any]]:
    """Two unsigned attestation documents of different trees, with their reports."""
    out = []
    for name in ("att-first", "att-second"):
        att_dir, _ = builder.make_attestation_dir(tmp_path_factory.mktemp(name), name)
        doc = json.loads((att_dir / "attestation.json").read_text())
        doc.pop("signature")
        out.append((doc, json.loads((att_dir / "report.json").read_text())))
    return out


def run_attest(
    monkeypatch: pytest.MonkeyPatch, doc: dict[str, Any], report: Any, out: Path, key: Path
) -> dict[str, Any]:
    """`attest` as `por attest` calls it, with the reconciled document given directly (the
    key made first, as `por keys create` would: attest never creates one)."""
    if not key.exists():
        create_signing_key(key)
    monkeypatch.setattr(attest_module, "attestation_document", lambda *a: copy.deepcopy(doc))
    outcome = SimpleNamespace(report=report, exit_code=0)
    return attest(None, None, outcome, out, key)  # type: ignore[arg-type]


def snapshot(directory: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mode) for p in sorted(directory.iterdir())}


def leftovers(directory: Path) -> list[str]:
    return [p.name for p in directory.parent.iterdir() if p.name.startswith(f".{directory.name}.")]


def test_attest_writes_the_whole_directory(monkeypatch, documents, tmp_path):
    doc, report = documents[0]
    out = tmp_path / "attestation"
    signed = run_attest(monkeypatch, doc, report, out, tmp_path / "keys" / "attest.key")
    assert sorted(p.name for p in out.iterdir()) == sorted(ATTESTATION_FILES)
    written = json.loads((out / "attestation.json").read_text())
    assert written == signed
    verify_attestation(written)
    assert json.loads((out / "root.json").read_text()) == signed["liabilities"]
    assert json.loads((out / "report.json").read_text()) == report
    assert "<html" in (out / "report.html").read_text().lower()
    assert not leftovers(out)


class DiskFull:
    """Make the n-th call of an `os` function fail with ENOSPC (counting every call)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, name: str, fail_at: int) -> None:
        self.calls = 0
        self.fail_at = fail_at
        self.failed = False
        real = getattr(os, name)

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            if self.calls == self.fail_at:
                self.failed = True
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real(*args, **kwargs)

        if name == "fdopen":  # the write of the returned file fails, not the open

            def wrapped_fdopen(*args: Any, **kwargs: Any) -> Any:
                handle = real(*args, **kwargs)
                original = handle.write

                def write(data: Any) -> Any:
                    self.calls += 1
                    if self.calls == self.fail_at:
                        self.failed = True
                        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                    return original(data)

                handle.write = write
                return handle

            monkeypatch.setattr(os, name, wrapped_fdopen)
        else:
            monkeypatch.setattr(os, name, wrapped)


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two renames"])
@pytest.mark.parametrize("failing", ["fdopen", "fsync", "rename", "replace", "mkdir"])
def test_a_failed_attest_leaves_the_previous_directory_as_it_was(
    monkeypatch, documents, tmp_path, failing, exchange
):
    """Before: root.json was replaced and attestation.json was not (a mismatched pair)."""
    (first, first_report), (second, second_report) = documents
    key = tmp_path / "attest.key"
    out = tmp_path / "attestation"
    run_attest(monkeypatch, first, first_report, out, key)
    before = snapshot(out)
    if not exchange:
        monkeypatch.setattr(attest_module, "_exchange", lambda a, b: False)
    failures = 0
    for fail_at in range(1, 60):
        with monkeypatch.context() as patch:
            DiskFull(patch, failing, fail_at)
            try:
                run_attest(patch, second, second_report, out, key)
            except StoreError as exc:
                assert "unchanged" in exc.message or "nothing changed" in exc.message
                assert str(out) in exc.message
            else:
                # success; a failure it did not report can only come after the new
                # directory was in place (syncing the parent): checked complete below
                break
        failures += 1
        assert snapshot(out) == before, f"os.{failing} call {fail_at}: previous dir changed"
        assert not leftovers(out), f"os.{failing} call {fail_at}: {leftovers(out)}"
    else:
        pytest.fail("attest never succeeded")
    # the last attempt went through: the new attestation is complete and consistent
    written = json.loads((out / "attestation.json").read_text())
    verify_attestation(written)
    assert written["attestation_id"] == "att-second"
    assert json.loads((out / "root.json").read_text()) == written["liabilities"]
    assert sorted(p.name for p in out.iterdir()) == sorted(ATTESTATION_FILES)
    assert not leftovers(out)
    if failing == "fsync":
        assert failures >= 3  # every file's sync was made to fail once
    if failing == "fdopen":
        assert failures >= 2  # report.json, report.html (write_atomic's files use open())


def test_interrupted_between_the_two_renames_loses_nothing(monkeypatch, documents, tmp_path):
    """The documented window: the previous directory is kept complete under .NAME.old-*."""
    (first, first_report), (second, second_report) = documents
    key = tmp_path / "attest.key"
    out = tmp_path / "attestation"
    run_attest(monkeypatch, first, first_report, out, key)
    before = snapshot(out)
    monkeypatch.setattr(attest_module, "_exchange", lambda a, b: False)
    real_rename = os.rename
    calls: list[tuple[str, str]] = []

    def rename(src: Any, dst: Any) -> None:
        calls.append((str(src), str(dst)))
        real_rename(src, dst)
        if len(calls) == 1:  # the old directory has just been moved aside
            raise KeyboardInterrupt

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(KeyboardInterrupt):
        run_attest(monkeypatch, second, second_report, out, key)
    monkeypatch.setattr(os, "rename", real_rename)
    # the interrupted install was undone (the previous directory renamed back)
    assert snapshot(out) == before


def test_install_directory_swaps_whole_directories(tmp_path):
    target = tmp_path / "d"
    target.mkdir()
    (target / "old").write_text("old")
    new = tmp_path / ".d.tmp-1"
    new.mkdir()
    (new / "new").write_text("new")
    install_directory(new, target)
    assert [p.name for p in target.iterdir()] == ["new"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]


def test_out_holding_other_files_is_refused(monkeypatch, documents, tmp_path):
    doc, report = documents[0]
    out = tmp_path / "attestation"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match=r"notes\.txt"):
        run_attest(monkeypatch, doc, report, out, tmp_path / "attest.key")
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    with pytest.raises(UsageError, match="not a directory"):
        check_attestation_dir(out / "notes.txt")


def test_write_refuses_an_unsigned_document_and_writes_nothing(documents, tmp_path):
    doc, report = documents[0]
    out = tmp_path / "attestation"
    with pytest.raises(Exception, match="signature"):
        write_attestation_dir(out, doc, report)
    assert not out.exists() and not leftovers(out)


# ----------------------------------------------------------------------------- the CLI

CONFIG = """\
[exchange]
name = "Example Exchange"
attestation_id = "att-first"

[liabilities]
root = "tree/root.json"

[prices]
file = "prices.toml"

[reserve]
statement = "reserve.toml"
pack = "jp-fsa-2026"

[attest]
key_file = "keys/attest.key"

[ethereum]
url = "http://127.0.0.1:9"
chain_id = 31337
"""


@pytest.fixture
def world(tmp_path: Path) -> Path:
    """A config naming a tree (with its secret), prices, a statement and a signing key."""
    work = tmp_path / "world"
    tree = builder.build_liabilities(work, "att-first", accounts=5)
    assert (tree / "tree" / "meta.json").is_file()
    (work / "prices.toml").write_text("# prices\n")
    (work / "reserve.toml").write_text("# statement\n")
    create_signing_key(work / "keys" / "attest.key")
    (work / "por.toml").write_text(CONFIG)
    return work


def files_of(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*") if p.is_file()
    }


@pytest.mark.parametrize(
    ("out", "named"),
    [
        (".", "config file"),
        ("keys", "signing key"),
        ("tree", "root document"),
        ("tree/tree/proofs", "liabilities tree"),
        ("tree/sub", "liabilities tree"),
    ],
)
def test_attest_out_over_an_input_is_refused_before_anything(world, capsys, out, named):
    """Before: the snapshot ran first, then --out was written over whatever it held."""
    before = files_of(world)
    code = main(["attest", "--config", str(world / "por.toml"), "--out", str(world / out)])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2, err
    assert named in err
    assert files_of(world) == before


def test_attest_out_over_the_tree_secret_elsewhere_is_refused(world, capsys, tmp_path):
    meta = world / "tree" / "tree" / "meta.json"
    doc = json.loads(meta.read_text())
    secret = tmp_path / "vault" / "tree.key"
    secret.parent.mkdir()
    os.replace(world / "tree" / doc["secret_file"], secret)
    doc["secret_file"] = str(secret)
    meta.write_text(json.dumps(doc))
    code = main(["attest", "--config", str(world / "por.toml"), "--out", str(tmp_path / "vault")])
    assert code == 2
    assert "tree secret" in " ".join(capsys.readouterr().err.split())
    assert secret.exists()


def test_attest_cli_disk_full_exits_4_and_keeps_the_previous(
    monkeypatch, documents, world, capsys, tmp_path
):
    import verifier.cli.attest as cli_module

    (first, first_report), (second, second_report) = documents
    out = tmp_path / "published"

    def fake_reconcile(config_file: Path, *args: Any) -> tuple[Any, Any, Any]:
        from verifier.inputs.config import load_config

        return load_config(config_file), None, SimpleNamespace(report=report, exit_code=0)

    monkeypatch.setattr(cli_module, "_reconcile", fake_reconcile)
    report = first_report
    monkeypatch.setattr(attest_module, "attestation_document", lambda *a: copy.deepcopy(first))
    args = ["attest", "--config", str(world / "por.toml"), "--out", str(out), "--json"]
    assert main(args) == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out)["attestation"] == str(out / "attestation.json")
    before = snapshot(out)
    report = second_report
    monkeypatch.setattr(attest_module, "attestation_document", lambda *a: copy.deepcopy(second))
    with monkeypatch.context() as patch:
        DiskFull(patch, "fsync", 2)  # root.json written, attestation.json not: the old bug
        code = main(args)
    captured = capsys.readouterr()
    assert code == 4
    assert "No space left on device" in captured.err and "unchanged" in captured.err
    assert "internal error" not in captured.err
    assert snapshot(out) == before
