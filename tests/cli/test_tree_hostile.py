"""A damaged tree directory is named, never crashes `por`, and never yields a bad proof.

`liabilities audit` exits 3 naming the file and the check; `liabilities proof` (one account
or `--all`) exits 3 rather than hand out a proof that does not verify against root.json;
`--force` and the proof outputs never replace an input (exit 2). Every run here must end
with a documented exit code and no "internal error" line (the CLI's safety net for bugs).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

ACCOUNTS = ["alice", "bob", "carol", "dave", "erin"]


def write_arrow(path: Path, table: pa.Table) -> None:
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def edit_json(path: Path, change: Callable[[dict], None]) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def clean(res) -> None:
    """A documented exit code and one message, never the bug safety net."""
    assert res.rc in (0, 1, 2, 3, 4)
    assert "internal error" not in res.err and "Traceback" not in res.err


@pytest.fixture
def original_root(built, tmp_path) -> Path:
    """A copy of the undamaged tree's root.json, to check handed-out proofs against."""
    copy = tmp_path / "published-root.json"
    shutil.copy(built / "root.json", copy)
    return copy


def proofs_that_do_not_verify(por, out_dir: Path, root: Path) -> list[str]:
    return [
        p.name
        for p in sorted(out_dir.glob("*.json"))
        if por("verify-proof", p, "--root", root).rc != 0
    ]


def run_all_three(por, tree: Path, tmp_path: Path, root: Path) -> dict[str, Any]:
    """audit, proof of one account, proof --all; assert no crash and no bad proof handed out."""
    results: dict[str, Any] = {}
    res = por("liabilities", "audit", tree)
    clean(res)
    results["audit"] = res
    single = tmp_path / "single.json"
    single.unlink(missing_ok=True)
    res = por("liabilities", "proof", tree, "carol", "-o", single)
    clean(res)
    if res.rc == 0:
        assert por("verify-proof", single, "--root", root).rc == 0, "handed out a bad proof"
    else:
        assert not single.exists()
    results["proof"] = res
    out = tmp_path / "all"
    shutil.rmtree(out, ignore_errors=True)
    res = por("liabilities", "proof", tree, "--all", "--out-dir", out)
    clean(res)
    if res.rc == 0:
        assert not proofs_that_do_not_verify(por, out, root), "handed out a bad proof"
    else:
        assert not out.exists(), "a refused --all left files behind"
        assert not [p for p in out.parent.iterdir() if p.name.startswith(".all.tmp-")]
    results["all"] = res
    return results


# ----------------------------------------------------------------------------- accounts.arrow

JUNK_ARROW: dict[str, Callable[[Path], None]] = {
    "random bytes": lambda p: p.write_bytes(os.urandom(522)),
    "empty": lambda p: p.write_bytes(b""),
    "truncated": lambda p: p.write_bytes(p.read_bytes()[:300]),
    "wrong column": lambda p: write_arrow(p, pa.table({"id": ACCOUNTS})),
    "integer column": lambda p: write_arrow(p, pa.table({"account_id": [1, 2, 3, 4, 5]})),
    "list column": lambda p: write_arrow(p, pa.table({"account_id": [[1], [2], [3], [4], [5]]})),
    "fewer rows": lambda p: write_arrow(p, pa.table({"account_id": ACCOUNTS[:3]})),
    "more rows": lambda p: write_arrow(p, pa.table({"account_id": [*ACCOUNTS, "zed"]})),
    "a null id": lambda p: write_arrow(
        p, pa.table({"account_id": ["alice", None, "carol", "dave", "erin"]})
    ),
    "invalid UTF-8": lambda p: write_arrow(
        p,
        pa.table({"account_id": pa.array([b"alice", b"\xff\xfe", b"carol", b"dave", b"erin"])}),
    ),
}


@pytest.mark.parametrize("junk", list(JUNK_ARROW), ids=list(JUNK_ARROW))
def test_junk_accounts_arrow_is_named(por, built, tmp_path, original_root, junk):
    JUNK_ARROW[junk](built / "tree" / "accounts.arrow")
    results = run_all_three(por, built, tmp_path, original_root)
    for name in ("audit", "all"):
        res = results[name]
        assert res.rc == 3, f"{name}: {res.err}"
        assert "accounts.arrow" in res.err_flat
    # one account's proof does not read accounts.arrow: it may be cut, and then verifies
    assert results["proof"].rc in (0, 3)


@pytest.mark.parametrize(
    "ids",
    [["alice", "bobby", "carol", "dave", "erin"], ["bob", "alice", "carol", "dave", "erin"]],
    ids=["renamed", "swapped"],
)
def test_changed_account_ids_never_yield_proofs(por, built, tmp_path, original_root, ids):
    """A valid Arrow file whose ids were changed: --all handed out unverifiable proofs."""
    write_arrow(built / "tree" / "accounts.arrow", pa.table({"account_id": ids}))
    results = run_all_three(por, built, tmp_path, original_root)
    assert results["all"].rc == 3
    assert "does not verify" in results["all"].err_flat
    assert results["audit"].rc == 3


# ----------------------------------------------------------------------------- flipped bytes


@pytest.mark.parametrize("name", ["tree/accounts.arrow", "tree/meta.json", "root.json"])
def test_every_flipped_byte_is_named_or_harmless(por, built, tmp_path, original_root, name):
    """Each byte flipped in turn: audit exits 0 or 3, and no handed-out proof is bad."""
    path = built / name
    original = path.read_bytes()
    out = tmp_path / "all"
    failures = []
    for offset in range(len(original)):
        changed = bytearray(original)
        changed[offset] ^= 0x01
        path.write_bytes(bytes(changed))
        audit = por("liabilities", "audit", built)
        shutil.rmtree(out, ignore_errors=True)
        bulk = por("liabilities", "proof", built, "--all", "--out-dir", out)
        for res in (audit, bulk):
            if res.rc not in (0, 3) or "internal error" in res.err:
                failures.append((offset, res.rc, res.err_flat[:120]))
        if bulk.rc == 0 and proofs_that_do_not_verify(por, out, original_root):
            failures.append((offset, "handed out a proof that does not verify", ""))
    path.write_bytes(original)
    assert not failures, f"{name}: {failures[:5]}"


# ----------------------------------------------------------------------------- the secret


def test_wrong_secret_is_named_and_no_proof_is_cut(por, built, tmp_path, original_root):
    (built / "secret.key").write_text("ab" * 32 + "\n")
    results = run_all_three(por, built, tmp_path, original_root)
    audit = results["audit"]
    assert audit.rc == 3
    assert "secret" in audit.err_flat and "secret.key" in audit.err_flat
    for name in ("proof", "all"):
        res = results[name]
        assert res.rc == 3, res.err
        assert "does not verify" in res.err_flat
        assert "secret.key" in res.err_flat
    res = por("liabilities", "proof", built, "alice")  # to stdout: nothing printed either
    assert res.rc == 3 and res.out == ""


def test_wrong_secret_in_json_names_the_check(por, built):
    (built / "secret.key").write_text("cd" * 32 + "\n")
    res = por("liabilities", "audit", built, "--json")
    assert res.rc == 3
    doc = res.json()
    assert doc["valid"] is False and doc["check"] == "secret"


@pytest.mark.parametrize(
    "content",
    [None, "zz" * 32 + "\n", "ab" * 4 + "\n", b"\xff" * 40, "dir"],
    ids=["missing", "not hex", "too short", "binary", "a directory"],
)
def test_unusable_secret_fails_the_audit(por, built, content):
    """Before: a present but unusable secret was skipped silently and the audit passed."""
    secret = built / "secret.key"
    secret.unlink()
    if content == "dir":
        secret.mkdir()
    elif isinstance(content, bytes):
        secret.write_bytes(content)
    elif content is not None:
        secret.write_text(content)
    if secret.is_file():
        secret.chmod(0o600)
    res = por("liabilities", "audit", built)
    clean(res)
    assert res.rc == 3
    assert "secret.key" in res.err_flat


def test_secret_readable_by_others_fails_the_audit(por, built):
    (built / "secret.key").chmod(0o644)
    res = por("liabilities", "audit", built)
    assert res.rc == 3 and "chmod 600" in res.err_flat


# ----------------------------------------------------------------------------- missing files


@pytest.mark.parametrize(
    "name",
    [
        "tree/accounts.arrow",
        "tree/index.bin",
        "tree/level-00.bin",
        "tree/level-02.bin",
        "tree/level-03.bin",
        "tree/positions.bin",
        "tree/meta.json",
        "root.json",
    ],
)
def test_missing_tree_file_is_named(por, built, tmp_path, original_root, name):
    (built / name).unlink()
    results = run_all_three(por, built, tmp_path, original_root)
    for command in ("audit", "proof", "all"):
        res = results[command]
        assert res.rc == 3, f"{command}: {res.err}"
        flat = res.err_flat
        assert Path(name).name in flat or "not a tree directory" in flat


def test_tree_file_that_is_a_directory_is_named(por, built, tmp_path, original_root):
    path = built / "tree" / "level-00.bin"
    path.unlink()
    path.mkdir()
    results = run_all_three(por, built, tmp_path, original_root)
    for command in ("audit", "proof", "all"):
        assert results[command].rc == 3
        assert "level-00.bin" in results[command].err_flat


@pytest.mark.parametrize("name", ["level-00.bin", "level-03.bin", "index.bin"])
def test_emptied_tree_file_is_named(por, built, tmp_path, original_root, name):
    (built / "tree" / name).write_bytes(b"")
    results = run_all_three(por, built, tmp_path, original_root)
    for command in ("audit", "proof", "all"):
        res = results[command]
        assert res.rc == 3, f"{command}: {res.err}"
        assert name in res.err_flat


# ----------------------------------------------------------------------------- meta.json, root.json

HOSTILE_TEXT = {
    "not JSON": b"{nope",
    "deeply nested": b"[" * 100_000 + b"]" * 100_000,
    "deeply nested objects": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    "huge integer": b"1" + b"0" * 5000,
    "an array": b"[]",
    "invalid UTF-8": b'{"a": "\xff"}',
}


@pytest.mark.parametrize("name", ["tree/meta.json", "root.json"])
@pytest.mark.parametrize("text", list(HOSTILE_TEXT), ids=list(HOSTILE_TEXT))
def test_hostile_json_file_is_named(por, built, tmp_path, original_root, name, text):
    (built / name).write_bytes(HOSTILE_TEXT[text])
    results = run_all_three(por, built, tmp_path, original_root)
    for command in ("audit", "proof", "all"):
        res = results[command]
        assert res.rc == 3, f"{command}: {res.err}"
        assert Path(name).name in res.err_flat


META_EDITS: dict[str, Callable[[dict], None]] = {
    "height a string": lambda m: m.update(height="3"),
    "height a float": lambda m: m.update(height=3.5),
    "height huge": lambda m: m.update(height=10**30),
    "accounts negative": lambda m: m.update(accounts=-1),
    "accounts one too few": lambda m: m.update(accounts=4),
    "split 2": lambda m: m.update(split=2),
    "record width off by one": lambda m: m.update(record_width=81),
    "record width zero": lambda m: m.update(record_width=0),
    "no assets": lambda m: m.update(assets=[]),
    "assets of strings": lambda m: m.update(assets=["BTC"]),
    "decimals a string": lambda m: m["assets"][0].update(decimals="8"),
    "attestation id an object": lambda m: m.update(attestation_id={"a": 1}),
    "as_of changed": lambda m: m.update(as_of="2020-01-01T00:00:00Z"),
    "commitment changed": lambda m: m.update(commitment="00" * 32),
    "secret_file a number": lambda m: m.update(secret_file=5),
    "a key missing": lambda m: m.pop("leaves"),
}


@pytest.mark.parametrize("edit", list(META_EDITS), ids=list(META_EDITS))
def test_damaged_meta_json_is_named(por, built, tmp_path, original_root, edit):
    edit_json(built / "tree" / "meta.json", META_EDITS[edit])
    results = run_all_three(por, built, tmp_path, original_root)
    for command in ("audit", "proof", "all"):
        res = results[command]
        assert res.rc == 3, f"{command}: {res.err}"
        assert "meta.json" in res.err_flat


@pytest.mark.parametrize(
    ("key", "value"),
    [("as_of", "2020-01-01T00:00:00Z"), ("attestation_id", "another")],
)
def test_root_json_of_another_tree_yields_no_proof(por, built, tmp_path, original_root, key, value):
    """Before: proofs were cut with root.json's header and did not verify against it."""
    edit_json(built / "root.json", lambda d: d.update({key: value}))
    results = run_all_three(por, built, tmp_path, original_root)
    for command in ("audit", "proof", "all"):
        res = results[command]
        assert res.rc == 3, f"{command}: {res.err}"
        assert "root.json" in res.err_flat


# ----------------------------------------------------------------------------- the index


def index_with(built: Path, change: Callable[[bytearray], None]) -> None:
    path = built / "tree" / "index.bin"
    data = bytearray(path.read_bytes())
    change(data)
    path.write_bytes(bytes(data))


INDEX_EDITS: dict[str, Callable[[bytearray], None]] = {
    "a row beyond the accounts": lambda d: d.__setitem__(slice(32, 40), b"\xff" * 8),
    "a position beyond the leaves": lambda d: d.__setitem__(slice(40, 48), b"\xff" * 8),
    "a position of 2**63": lambda d: d.__setitem__(slice(40, 48), b"\0" * 7 + b"\x80"),
    "a row listed twice": lambda d: d.__setitem__(slice(80, 88), bytes(d[32:40])),
}


@pytest.mark.parametrize("edit", list(INDEX_EDITS), ids=list(INDEX_EDITS))
def test_damaged_index_is_named(por, built, tmp_path, original_root, edit):
    index_with(built, INDEX_EDITS[edit])
    results = run_all_three(por, built, tmp_path, original_root)
    for command in ("audit", "all"):
        res = results[command]
        assert res.rc == 3, f"{command}: {res.err}"
        assert "index.bin" in res.err_flat


# ----------------------------------------------------------------------------- outputs vs inputs


def test_build_force_never_deletes_its_input(por, inputs):
    """Before: `build DIR/x.csv --out DIR --force` replaced DIR, input included."""
    folder = inputs["sample.csv"].parent
    before = sorted(p.name for p in folder.iterdir())
    res = por(
        "liabilities",
        "build",
        inputs["sample.csv"],
        "--assets",
        inputs["assets.toml"],
        "--attestation-id",
        "x",
        "--out",
        folder,
        "--force",
    )
    assert res.rc == 2
    assert "sample.csv" in res.err_flat
    assert sorted(p.name for p in folder.iterdir()) == before


@pytest.mark.parametrize("which", ["assets", "secret"])
def test_build_force_never_deletes_assets_or_secret(por, inputs, tmp_path, which):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old tree")
    assets = inputs["assets.toml"]
    secret = tmp_path / "elsewhere.key"
    if which == "assets":
        assets = out / "assets.toml"
        shutil.copy(inputs["assets.toml"], assets)
    else:
        secret = out / "keys" / "tree.key"
        secret.parent.mkdir()
        secret.write_text("ab" * 32 + "\n")
        secret.chmod(0o600)
    res = por(
        "liabilities",
        "build",
        inputs["sample.csv"],
        "--assets",
        assets,
        "--attestation-id",
        "x",
        "--out",
        out,
        "--secret-file",
        secret,
        "--force",
    )
    assert res.rc == 2, res.err
    assert (out / "old.txt").exists()
    assert (assets if which == "assets" else secret).exists()


def test_build_out_inside_the_input_directory_tree_is_refused(por, inputs, tmp_path):
    res = por(
        "liabilities",
        "build",
        inputs["sample.csv"],
        "--assets",
        inputs["assets.toml"],
        "--attestation-id",
        "x",
        "--out",
        inputs["sample.csv"] / "sub",
    )
    assert res.rc == 2


def test_proof_all_out_dir_inside_the_tree_is_refused(por, built):
    res = por("liabilities", "proof", built, "--all", "--out-dir", built / "proofs")
    assert res.rc == 2
    assert "tree directory" in res.err_flat
    assert not (built / "proofs").exists()


@pytest.mark.parametrize("target", ["secret.key", "root.json", "tree/index.bin"])
def test_single_proof_never_overwrites_the_tree(por, built, target):
    before = (built / target).read_bytes()
    res = por("liabilities", "proof", built, "alice", "-o", built / target)
    assert res.rc == 2
    assert (built / target).read_bytes() == before
    assert por("liabilities", "audit", built).rc == 0


def test_undecodable_arguments_are_named(por, built, inputs, tmp_path):
    """An argument that is not UTF-8 (a lone surrogate from the OS) crashed build and proof."""
    res = por(
        "liabilities",
        "build",
        inputs["sample.csv"],
        "--assets",
        inputs["assets.toml"],
        "--attestation-id",
        "\udcff",
        "--out",
        tmp_path / "new",
    )
    clean(res)
    assert res.rc == 3 and "--attestation-id" in res.err_flat
    assert not (tmp_path / "new").exists()
    res = por("liabilities", "proof", built, "\udcff")
    clean(res)
    assert res.rc == 3 and "UTF-8" in res.err_flat


# ----------------------------------------------------------------------------- proof --all checks


def leaf_position(tree: Path, account: str) -> int:
    from attestations.store import TreeStore

    with TreeStore(tree) as store:
        return store.locate(account)[1][0]


@pytest.mark.parametrize("account", ACCOUNTS)
def test_all_names_an_account_whose_proof_does_not_verify(por, built, tmp_path, account):
    """One leaf's balance changed on disk (it is in its own proof and, as a sibling, in
    its neighbour's): --all refuses, naming an account whose own proof is refused too."""
    import re

    record = 32 + 16 * 3
    path = built / "tree" / "level-00.bin"
    data = bytearray(path.read_bytes())
    data[leaf_position(built, account) * record + record - 1] ^= 0x01
    path.write_bytes(bytes(data))
    res = por("liabilities", "proof", built, "--all", "--out-dir", tmp_path / "all")
    assert res.rc == 3
    assert not (tmp_path / "all").exists()
    named = re.search(r"the proof of account '([a-z]+)' cut from", res.err_flat)
    assert named is not None and named.group(1) in ACCOUNTS, res.err_flat
    res = por("liabilities", "proof", built, named.group(1))
    assert res.rc == 3 and res.out == "" and "does not verify" in res.err_flat
    res = por("liabilities", "proof", built, account)
    assert res.rc == 3 and res.out == ""


def test_a_sibling_sum_near_2_128_is_refused_not_wrapped(por, built, tmp_path):
    """A stored sum of 2**128 - 1: walking up would overflow; the proofs are refused."""
    record = 32 + 16 * 3
    path = built / "tree" / "level-00.bin"
    data = bytearray(path.read_bytes())
    first = leaf_position(built, "alice")
    data[first * record + 32 : first * record + 48] = b"\xff" * 16
    path.write_bytes(bytes(data))
    res = por("liabilities", "proof", built, "--all", "--out-dir", tmp_path / "all")
    clean(res)
    assert res.rc == 3 and "does not verify" in res.err_flat
    res = por("liabilities", "proof", built, "alice")
    clean(res)
    assert res.rc == 3


@pytest.mark.parametrize(
    "name", ["level-00.bin", "level-01.bin", "level-02.bin", "level-03.bin", "index.bin"]
)
def test_all_never_hands_out_a_proof_when_a_byte_flips(por, built, tmp_path, original_root, name):
    """Each byte of a tree file flipped in turn: --all exits 3, or every proof verifies."""
    from attestations.proofs import parse_proof, parse_root_document, verify_proof
    from verifier.base.errors import InvalidProof

    published = parse_root_document(json.loads(original_root.read_text()))
    path = built / "tree" / name
    original = path.read_bytes()
    out = tmp_path / "all"
    failures = []
    for offset in range(len(original)):
        changed = bytearray(original)
        changed[offset] ^= 0x01
        path.write_bytes(bytes(changed))
        shutil.rmtree(out, ignore_errors=True)
        res = por("liabilities", "proof", built, "--all", "--out-dir", out)
        if res.rc not in (0, 3) or "internal error" in res.err:
            failures.append((offset, res.rc, res.err_flat[:120]))
        elif res.rc == 0:
            for proof in out.glob("*.json"):
                try:
                    verify_proof(
                        parse_proof(json.loads(proof.read_text())), published_root=published
                    )
                except InvalidProof as exc:
                    failures.append((offset, proof.name, exc.message[:80]))
    path.write_bytes(original)
    assert not failures, f"{name}: {failures[:5]}"


def test_the_batch_check_agrees_with_the_public_verifier(por, inputs, tmp_path):
    """checked_proof_texts refuses a batch exactly when a proof in it fails `verify_proof`
    (split leaves, sums beyond 2**64, random flips in every tree file)."""
    import random

    from attestations.proofs import parse_proof, verify_proof
    from attestations.store import TreeStore
    from verifier.base.errors import InvalidProof

    source = tmp_path / "big.csv"
    rows = ["account_id,asset,amount"]
    for n in range(40):
        rows.append(f"acct-{n},ETH,{(n + 1) * 123456789}.{n:018d}")  # beyond 2**64 wei
        rows.append(f"acct-{n},BTC,0.{n + 1:08d}")
    source.write_text("\n".join(rows) + "\n")
    tree = tmp_path / "tree"
    assert (
        por(
            "liabilities",
            "build",
            source,
            "--assets",
            inputs["assets.toml"],
            "--attestation-id",
            "agree",
            "--out",
            tree,
            "--split",
            "3",
        ).rc
        == 0
    )
    files = sorted((tree / "tree").glob("level-*.bin"))
    rng = random.Random(10)
    outcomes = {"refused": 0, "accepted": 0}
    for _ in range(60):
        path = rng.choice(files)
        original = path.read_bytes()
        changed = bytearray(original)
        changed[rng.randrange(len(original))] ^= 1 << rng.randrange(8)
        path.write_bytes(bytes(changed))
        with TreeStore(tree) as store:
            failing = []
            for account, text in store.proof_texts(0, store.meta.accounts):
                try:
                    verify_proof(parse_proof(json.loads(text)), published_root=store.root)
                except InvalidProof:
                    failing.append(account)
            try:
                store.checked_proof_texts(0, store.meta.accounts)
                refused = False
            except InvalidProof as exc:
                refused = True
                assert any(f"account {a!r}" in exc.message for a in failing), exc.message
        assert refused == bool(failing)
        outcomes["refused" if refused else "accepted"] += 1
        path.write_bytes(original)
    assert outcomes["refused"] and outcomes["accepted"]  # both kinds were exercised


def test_a_failed_rebuild_keeps_the_previous_tree(por, built, inputs, monkeypatch):
    """--force rebuild whose final rename fails: the previous tree is renamed back."""
    import errno

    before = {p: p.read_bytes() for p in sorted(built.rglob("*")) if p.is_file()}
    real = Path.rename
    calls = []

    def rename(self: Path, target: Any) -> Any:
        calls.append(self)
        if len(calls) == 2:  # the old tree was moved aside; the new one cannot move in
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return real(self, target)

    monkeypatch.setattr(Path, "rename", rename)
    res = por(
        "liabilities",
        "build",
        inputs["sample.csv"],
        "--assets",
        inputs["assets.toml"],
        "--attestation-id",
        "another",
        "--out",
        built,
        "--force",
    )
    monkeypatch.setattr(Path, "rename", real)
    clean(res)
    assert res.rc == 4 and len(calls) == 3  # aside, in (failed), back
    assert {p: p.read_bytes() for p in sorted(built.rglob("*")) if p.is_file()} == before
    assert [p.name for p in built.parent.iterdir() if p.name.startswith(".tree.")] == []
    assert por("liabilities", "audit", built).rc == 0
