"""Cross-implementation conformance of `por-mst-v1`: the tool against `minimal_mst`.

(a) trees and proofs built by the tool verify under the minimal verifier, with the input's
    balances;
(b) trees and proofs built by the minimal builder verify under the tool's verifier (library
    and CLI), including the encodings the spec allows for small integers, and are rejected
    when malformed;
(c) the tool's commitment computation is cross-checked twice: the minimal implementation
    recomputes a tool tree's root from the proofs alone, and rebuilds the tool's whole
    tree (same leaves, same order, from the tool's secret and shuffle) to the identical
    root.json and identical proofs.
"""

from __future__ import annotations

import copy
import json
import random
import sys
from pathlib import Path

import numpy as np
import pytest

from attestations.build import build_tree
from attestations.encoding import derive_pad_salts
from attestations.proofs import parse_proof, parse_root_document, verify_proof
from attestations.store import TreeStore
from verifier.base.errors import InvalidProof
from verifier.cli.main import main
from verifier.inputs.assets import read_assets
from verifier.inputs.liabilities import read_liabilities

sys.path.insert(0, str(Path(__file__).resolve().parent))
import minimal_mst as mm

ATT = "por-conformance-2025-06"
AS_OF = "2025-06-30T00:00:00Z"
ONE_ASSET = [{"code": "BTC", "decimals": 8}]
THREE_ASSETS = [
    {"code": "BTC", "decimals": 8},
    {"code": "ETH", "decimals": 18},
    {"code": "USDT", "decimals": 6},
]
SIZES = [1, 2, 3, 5, 17]


# ----------------------------------------------------------------------------- helpers


def make_accounts(count: int, asset_count: int, seed: int) -> dict[str, list[int]]:
    """Deterministic balances with zeros, small and large values, and non-ASCII ids."""
    rng = random.Random(seed)
    names = ["alice", "bob", "josé", "日本-7", "carol@example.com"]
    accounts = {}
    for i in range(count):
        account_id = names[i] if i < len(names) else f"acct-{i:04d}"
        accounts[account_id] = [
            rng.choice([0, rng.randint(1, 10**9), rng.randint(1, 2**100)])
            for _ in range(asset_count)
        ]
    if all(v == 0 for vs in accounts.values() for v in vs):
        accounts[next(iter(accounts))][0] = 1
    return accounts


def write_inputs(
    tmp: Path, assets: list[dict], accounts: dict[str, list[int]]
) -> tuple[Path, Path]:
    """liabilities.csv (whole units) and assets.toml."""
    lines = ["account_id,asset,amount"]
    for n, (account_id, balances) in enumerate(accounts.items()):
        for i, (asset, value) in enumerate(zip(assets, balances, strict=True)):
            # zero rows: written for odd accounts, left out for even ones (but every
            # account keeps at least one row, or it would not be in the input at all)
            if value or n % 2 or (i == 0 and not any(balances)):
                lines.append(
                    f"{account_id},{asset['code']},{mm.whole_units(value, asset['decimals'])}"
                )
    csv_path = tmp / "liabilities.csv"
    csv_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    toml_path = tmp / "assets.toml"
    toml_path.write_text(
        "".join(f'[assets."{a["code"]}"]\ndecimals = {a["decimals"]}\n' for a in assets)
    )
    return csv_path, toml_path


def tool_build(tmp: Path, assets: list[dict], accounts: dict[str, list[int]], split: int) -> Path:
    csv_path, toml_path = write_inputs(tmp, assets, accounts)
    data = read_liabilities(csv_path, read_assets(toml_path))
    out = tmp / "tree"
    build_tree(data, out, attestation_id=ATT, as_of=AS_OF, split=split, workers=1)
    return out


def tool_proofs(out: Path) -> dict[str, dict]:
    """Every account's proof as JSON, from `all_proofs` (and checked equal to `proof`)."""
    with TreeStore(out) as store:
        proofs = {p.account_id: p.to_json() for p in store.all_proofs()}
        for account_id, doc in proofs.items():
            assert store.proof(account_id).to_json() == doc
    return proofs


def json_roundtrip(doc: dict) -> dict:
    return json.loads(json.dumps(doc))


def expected_balances(assets: list[dict], balances: list[int]) -> dict[str, int]:
    return {a["code"]: v for a, v in zip(assets, balances, strict=True)}


def minimal_tree(
    accounts: dict[str, list[int]], assets: list[dict], split: int, seed: int, pads: str = "end"
) -> mm.Tree:
    rng = random.Random(seed)
    leaves = mm.make_leaves(accounts, rng.randbytes(32), split=split, rng=rng)
    ordered = mm.arrange(leaves, len(assets), rng)
    if pads == "shuffled":  # padding leaves anywhere, not only at the end
        rng.shuffle(ordered)
    return mm.Tree(ATT, AS_OF, assets, ordered)


def tool_verify(doc: dict, root: dict | None = None, commitment: bytes | None = None):
    return verify_proof(
        parse_proof(doc),
        published_root=None if root is None else parse_root_document(root),
        published_commitment=commitment,
    )


CASES = [
    pytest.param(n, assets, split, id=f"{n}acct-{len(assets)}asset-split{split}")
    for n in SIZES
    for assets in (ONE_ASSET, THREE_ASSETS)
    for split in (1, 3)
]


# ----------------------------------------------------------------------------- (a) tool -> minimal


@pytest.mark.parametrize(("count", "assets", "split"), CASES)
def test_tool_proofs_verify_under_minimal_verifier(tmp_path, count, assets, split):
    accounts = make_accounts(count, len(assets), seed=count * 10 + split)
    out = tool_build(tmp_path, assets, accounts, split)
    root = json.loads((out / "root.json").read_text())
    proofs = tool_proofs(out)

    totals = [sum(col) for col in zip(*accounts.values(), strict=True)]
    assert mm.check_root_document(root) == expected_balances(assets, totals)
    assert root["height"] == mm.height_for(count * split)
    assert root["assets"] == assets
    assert sorted(proofs) == sorted(accounts)
    seen_indices: set[int] = set()
    for account_id, proof in proofs.items():
        proof = json_roundtrip(proof)  # noqa: PLW2901 - the JSON form is what is checked
        assert len(proof["leaves"]) == split
        for leaf in proof["leaves"]:
            assert type(leaf["index"]) is int
            assert all(type(b) is str for b in leaf["balances"])
            assert leaf["index"] not in seen_indices  # one position holds one leaf
            seen_indices.add(leaf["index"])
        got = mm.verify(
            proof, root_document=root, published_commitment=bytes.fromhex(root["commitment"])
        )
        assert got == expected_balances(assets, accounts[account_id])
    assert len(seen_indices) == count * split
    assert max(seen_indices) < 2 ** root["height"]


def test_tool_cli_build_and_proof_verify_under_minimal_verifier(tmp_path):
    assets = THREE_ASSETS
    accounts = make_accounts(5, 3, seed=99)
    csv_path, toml_path = write_inputs(tmp_path, assets, accounts)
    out = tmp_path / "cli-tree"
    code = main(
        [
            "liabilities",
            "build",
            str(csv_path),
            "--assets",
            str(toml_path),
            "--attestation-id",
            ATT,
            "--out",
            str(out),
            "--split",
            "3",
            "--as-of",
            AS_OF,
            "--workers",
            "1",
        ]
    )
    assert code == 0
    root = json.loads((out / "root.json").read_text())
    for account_id, balances in accounts.items():
        proof_file = tmp_path / f"proof-{len(account_id)}-{abs(hash(account_id))}.json"
        assert main(["liabilities", "proof", str(out), account_id, "-o", str(proof_file)]) == 0
        proof = json.loads(proof_file.read_text(encoding="utf-8"))
        assert mm.verify(proof, root_document=root) == expected_balances(assets, balances)


@pytest.mark.parametrize(("count", "split"), [(1, 1), (5, 3), (17, 1), (17, 3)])
def test_tool_cli_all_proofs_verify_under_minimal_verifier(tmp_path, count, split):
    """`por liabilities proof --all` (the bulk path customers' files come from)."""
    assets = THREE_ASSETS
    accounts = make_accounts(count, 3, seed=300 + count + split)
    out = tool_build(tmp_path, assets, accounts, split)
    root = json.loads((out / "root.json").read_text())
    proofs_dir = tmp_path / "proofs"
    assert main(["liabilities", "proof", str(out), "--all", "--out-dir", str(proofs_dir)]) == 0
    manifest = (proofs_dir / "manifest.csv").read_text(encoding="utf-8").splitlines()
    files = {}
    for line in manifest[1:]:
        id_hex, name = line.rsplit(",", 1)
        files[bytes.fromhex(id_hex).decode("utf-8")] = proofs_dir / name
    assert sorted(files) == sorted(accounts)
    single = tool_proofs(out)
    for account_id, path in files.items():
        proof = json.loads(path.read_text(encoding="utf-8"))
        assert proof == json_roundtrip(single[account_id])
        assert mm.verify(proof, root_document=root) == expected_balances(
            assets, accounts[account_id]
        )


def test_minimal_verifier_rejects_a_tampered_tool_proof(tmp_path):
    """The cross-check in (a) can fail: the minimal verifier is not a rubber stamp."""
    accounts = make_accounts(3, 1, seed=5)
    out = tool_build(tmp_path, ONE_ASSET, accounts, split=1)
    proof = json_roundtrip(tool_proofs(out)["bob"])
    bad = copy.deepcopy(proof)
    bad["leaves"][0]["balances"][0] = str(int(bad["leaves"][0]["balances"][0]) + 1)
    with pytest.raises(mm.Invalid):
        mm.verify(bad)
    bad = copy.deepcopy(proof)
    bad["leaves"][0]["path"][0]["sums"][0] = str(int(bad["leaves"][0]["path"][0]["sums"][0]) + 1)
    with pytest.raises(mm.Invalid):
        mm.verify(bad)


# ----------------------------------------------------------------------------- (b) minimal -> tool


@pytest.mark.parametrize("pads", ["end", "shuffled"])
@pytest.mark.parametrize(("count", "assets", "split"), CASES)
def test_minimal_proofs_verify_under_tool_verifier(count, assets, split, pads):
    accounts = make_accounts(count, len(assets), seed=1000 + count * 10 + split)
    tree = minimal_tree(accounts, assets, split, seed=count + split, pads=pads)
    root = json_roundtrip(tree.root_document())
    parsed_root = parse_root_document(root)
    assert parsed_root.commitment == tree.commitment
    for account_id, balances in accounts.items():
        proof = json_roundtrip(tree.proof(account_id))
        result = tool_verify(proof, root=root)
        assert result.account_id == account_id
        assert result.balances == tuple(balances)
        assert result.commitment == tree.commitment
        result = tool_verify(proof, commitment=tree.commitment)
        assert result.balances == tuple(balances)
        assert result.balances_whole() == {
            a["code"]: mm.whole_units(v, a["decimals"])
            for a, v in zip(assets, balances, strict=True)
        }
        assert mm.verify(proof, root_document=root) == expected_balances(assets, balances)


def _strings_for_small_ints(doc: dict) -> dict:
    """index, height and decimals as decimal strings instead of JSON integers."""
    doc = copy.deepcopy(doc)
    doc["height"] = str(doc["height"])
    for asset in doc["assets"]:
        asset["decimals"] = str(asset["decimals"])
    for leaf in doc.get("leaves", []):
        leaf["index"] = str(leaf["index"])
    return doc


@pytest.mark.parametrize("variant", ["json-integers", "decimal-strings"])
def test_small_integer_encodings_accepted_by_both(variant):
    accounts = make_accounts(5, 3, seed=77)
    tree = minimal_tree(accounts, THREE_ASSETS, split=2, seed=4)
    root = json_roundtrip(tree.root_document())
    for account_id, balances in accounts.items():
        proof = json_roundtrip(tree.proof(account_id))
        if variant == "decimal-strings":
            proof = _strings_for_small_ints(proof)
            assert isinstance(proof["leaves"][0]["index"], str)
        assert tool_verify(proof, root=root).balances == tuple(balances)
        assert mm.verify(proof, root_document=root) == expected_balances(THREE_ASSETS, balances)
    if variant == "decimal-strings":
        root_s = _strings_for_small_ints(root)
        proof = _strings_for_small_ints(json_roundtrip(tree.proof("alice")))
        assert tool_verify(proof, root=root_s).balances == tuple(accounts["alice"])


def test_minimal_proofs_through_the_cli(tmp_path, capsys):
    accounts = make_accounts(17, 3, seed=3)
    tree = minimal_tree(accounts, THREE_ASSETS, split=3, seed=17, pads="shuffled")
    root_file = tmp_path / "root.json"
    root_file.write_text(json.dumps(tree.root_document()))
    for n, (account_id, balances) in enumerate(accounts.items()):
        proof = tree.proof(account_id)
        if n % 2:
            proof = _strings_for_small_ints(proof)
        proof_file = tmp_path / f"proof-{n}.json"
        proof_file.write_text(json.dumps(proof, ensure_ascii=bool(n % 3)), encoding="utf-8")
        assert main(["verify-proof", str(proof_file), "--root", str(root_file)]) == 0
        assert main(["verify-proof", str(proof_file), "--commitment", tree.commitment.hex()]) == 0
        capsys.readouterr()
        assert main(["verify-proof", str(proof_file), "--root", str(root_file), "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["valid"] is True
        assert report["account_id"] == account_id
        assert report["commitment"] == tree.commitment.hex()
        assert report["balances_base_units"] == {
            a["code"]: str(v) for a, v in zip(THREE_ASSETS, balances, strict=True)
        }
    # and the CLI does say no: a tampered proof and a proof against another root
    bad = tree.proof("bob")
    bad["leaves"][0]["salt"] = ("00" if bad["leaves"][0]["salt"][:2] != "00" else "01") + bad[
        "leaves"
    ][0]["salt"][2:]
    bad_file = tmp_path / "bad.json"
    bad_file.write_text(json.dumps(bad))
    assert main(["verify-proof", str(bad_file), "--root", str(root_file)]) == 3
    other = minimal_tree(accounts, THREE_ASSETS, split=3, seed=18)
    other_root = tmp_path / "other-root.json"
    other_root.write_text(json.dumps(other.root_document()))
    good_file = tmp_path / "proof-0.json"
    assert main(["verify-proof", str(good_file), "--root", str(other_root)]) == 3
    assert main(["verify-proof", str(good_file), "--commitment", other.commitment.hex()]) == 3


MALFORMED_AMOUNTS = ["01", "+1", "-1", "-0", "1.0", "1e3", " 1", "1 ", "", "0x10", str(2**128), "١"]


@pytest.mark.parametrize("amount", MALFORMED_AMOUNTS)
@pytest.mark.parametrize("where", ["balance", "sibling-sum", "root-sum"])
def test_non_canonical_amounts_rejected_by_both(amount, where):
    tree = minimal_tree({"alice": [5], "bob": [7]}, ONE_ASSET, split=1, seed=1)
    proof = json_roundtrip(tree.proof("alice"))
    if where == "balance":
        proof["leaves"][0]["balances"][0] = amount
    elif where == "sibling-sum":
        proof["leaves"][0]["path"][0]["sums"][0] = amount
    else:
        proof["root"]["sums"][0] = amount
    with pytest.raises(mm.Invalid):
        mm.verify(proof)
    with pytest.raises(InvalidProof):
        tool_verify(proof)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("index", 1.0),
        ("index", True),
        ("index", "01"),
        ("index", -1),
        ("index", 2),  # == 2**height
        ("height", 0),
        ("height", 2),  # path has one entry
        ("height", "1.0"),
        ("decimals", 37),
        ("decimals", -1),
        ("decimals", 8.0),
        ("salt", "AB" * 32),  # uppercase hex
        ("salt", "ab" * 31),  # 31 bytes
        ("sibling-hash", "CD" * 32),
        ("root-hash", "ab" * 33),
        ("commitment", "EF" * 32),
        ("format", "por-mst-v2"),
        ("assets", []),
        ("assets-unsorted", None),
        ("asset-code", "btc"),
        ("asset-code", "TOOLONGASSETCODE1"),
        ("balances-count", None),
        ("leaves", []),
        ("duplicate-leaf", None),
    ],
)
def test_malformed_fields_rejected_by_both(field, value):
    assets = [{"code": "BTC", "decimals": 8}, {"code": "ETH", "decimals": 18}]
    tree = minimal_tree({"alice": [5, 6], "bob": [7, 8]}, assets, split=1, seed=2)
    assert tree.height == 1
    proof = json_roundtrip(tree.proof("alice"))
    leaf = proof["leaves"][0]
    if field in ("index", "salt"):
        leaf[field] = value
    elif field in ("height", "commitment", "format", "assets", "leaves"):
        proof[field] = value
    elif field == "decimals":
        proof["assets"][0]["decimals"] = value
    elif field == "sibling-hash":
        leaf["path"][0]["hash"] = value
    elif field == "root-hash":
        proof["root"]["hash"] = value
    elif field == "assets-unsorted":
        proof["assets"].reverse()
    elif field == "asset-code":
        proof["assets"][0]["code"] = value
    elif field == "balances-count":
        leaf["balances"].append("0")
    elif field == "duplicate-leaf":
        proof["leaves"].append(copy.deepcopy(leaf))
    with pytest.raises(mm.Invalid):
        mm.verify(proof)
    with pytest.raises(InvalidProof):
        tool_verify(proof)


# ----------------------------------------------------------------------------- (c) commitment


def root_from_proofs(proofs: list[dict], height: int, asset_count: int) -> mm.Node:
    """Recompute a tree's root from every account's proof, in the minimal implementation.

    Real leaves are recomputed from salt, account id and balances; every node that no real
    leaf reaches (padding leaves and all-padding subtrees) is taken from the siblings the
    proofs list. Every parent is computed with `mm.parent`, and every computed node must
    equal each sibling the proofs claim for that position.
    """
    computed: dict[tuple[int, int], mm.Node] = {}
    claimed: dict[tuple[int, int], mm.Node] = {}
    for proof in proofs:
        for leaf in proof["leaves"]:
            index = leaf["index"]
            v = tuple(int(b) for b in leaf["balances"])
            node = (mm.leaf_hash(bytes.fromhex(leaf["salt"]), proof["account_id"], v), v)
            assert (0, index) not in computed
            computed[(0, index)] = node
            for level, sibling in enumerate(leaf["path"]):
                key = (level, (index >> level) ^ 1)
                value = (bytes.fromhex(sibling["hash"]), tuple(int(s) for s in sibling["sums"]))
                assert claimed.setdefault(key, value) == value, f"proofs disagree about {key}"
    for level in range(1, height + 1):
        for position in range(2 ** (height - level)):
            children = [(level - 1, 2 * position), (level - 1, 2 * position + 1)]
            if any(child in computed for child in children):
                left, right = (computed.get(c) or claimed[c] for c in children)
                computed[(level, position)] = mm.parent(left, right)
    for key, value in claimed.items():
        if key in computed:
            assert computed[key] == value, f"sibling at {key} does not recompute"
    assert (height, 0) in computed, "no real leaf reaches the root"
    assert all(len(sums) == asset_count for _, sums in computed.values())
    return computed[(height, 0)]


@pytest.mark.parametrize(("count", "assets", "split"), CASES)
def test_tool_root_recomputed_from_proofs_by_minimal(tmp_path, count, assets, split):
    accounts = make_accounts(count, len(assets), seed=500 + count * 10 + split)
    out = tool_build(tmp_path, assets, accounts, split)
    root_doc = json.loads((out / "root.json").read_text())
    proofs = list(tool_proofs(out).values())
    height = mm.height_for(count * split)
    assert root_doc["height"] == height
    root = root_from_proofs(proofs, height, len(assets))
    assert root[0].hex() == root_doc["root"]["hash"]
    assert list(root[1]) == [sum(col) for col in zip(*accounts.values(), strict=True)]
    assert [str(s) for s in root[1]] == root_doc["root"]["sums"]
    commit = mm.commitment(ATT, assets, height, root)
    assert commit.hex() == root_doc["commitment"]


def test_commitment_cross_check_detects_a_wrong_commitment(tmp_path):
    """Sanity of the cross-check itself: another id, height or asset list changes it."""
    accounts = make_accounts(3, 3, seed=8)
    out = tool_build(tmp_path, THREE_ASSETS, accounts, 1)
    root_doc = json.loads((out / "root.json").read_text())
    root = (
        bytes.fromhex(root_doc["root"]["hash"]),
        tuple(int(s) for s in root_doc["root"]["sums"]),
    )
    assert mm.commitment(ATT, THREE_ASSETS, 2, root).hex() == root_doc["commitment"]
    assert mm.commitment(ATT + "x", THREE_ASSETS, 2, root).hex() != root_doc["commitment"]
    assert mm.commitment(ATT, THREE_ASSETS, 3, root).hex() != root_doc["commitment"]
    relabelled = [dict(a) for a in THREE_ASSETS]
    relabelled[0]["decimals"] = 9
    assert mm.commitment(ATT, relabelled, 2, root).hex() != root_doc["commitment"]


def rebuild_tool_tree(
    out: Path, split: int, proofs: dict[str, dict] | None = None
) -> tuple[mm.Tree, dict[str, dict]]:
    """The tool's tree with the same leaves in the same order, built by `minimal_mst`.

    Reads the tool's private files: the master secret, and positions.bin (the leaf id at
    every position; ids from `accounts * split` up are padding leaves). Real leaves come
    from the proofs (their index, salt and balances); padding salts from the tool's
    derivation, which the spec leaves to the implementation.
    """
    secret = bytes.fromhex((out / "secret.key").read_text().strip())
    perm = np.fromfile(out / "tree" / "positions.bin", dtype="<u8").astype(np.int64).tolist()
    meta = json.loads((out / "tree" / "meta.json").read_text())
    assert meta["split"] == split
    proofs = tool_proofs(out) if proofs is None else proofs
    real = len(proofs) * split
    pad_salts = derive_pad_salts(secret, len(perm) - real)
    root_doc = json.loads((out / "root.json").read_text())
    zero = (0,) * len(root_doc["assets"])
    slots: list[mm.Leaf | None] = [None] * len(perm)
    for position, leaf_id in enumerate(perm):
        if leaf_id >= real:
            n = leaf_id - real
            slots[position] = mm.Leaf(None, pad_salts[32 * n : 32 * n + 32], zero)
    for account_id, proof in proofs.items():
        for leaf in proof["leaves"]:
            part = perm[leaf["index"]] % split
            salt = mm.recommended_salt(secret, account_id, part)
            assert salt.hex() == leaf["salt"], "salt is not the recommended derivation"
            assert slots[leaf["index"]] is None
            slots[leaf["index"]] = mm.Leaf(
                account_id, salt, tuple(int(b) for b in leaf["balances"]), part
            )
    assert all(slot is not None for slot in slots)
    tree = mm.Tree(root_doc["attestation_id"], root_doc["as_of"], root_doc["assets"], slots)
    return tree, proofs


@pytest.mark.parametrize(("count", "assets", "split"), CASES)
def test_minimal_rebuild_of_tool_tree_is_identical(tmp_path, count, assets, split):
    accounts = make_accounts(count, len(assets), seed=700 + count * 10 + split)
    out = tool_build(tmp_path, assets, accounts, split)
    tree, proofs = rebuild_tool_tree(out, split)
    root_doc = json.loads((out / "root.json").read_text())
    root_doc.pop("excluded", None)
    assert tree.root_document() == root_doc
    for account_id, proof in proofs.items():
        assert tree.proof(account_id) == json_roundtrip(proof)
    # the sums each account's parts add up to are the input's
    for account_id, balances in accounts.items():
        parts = [leaf for leaf in tree.leaves if leaf.account_id == account_id]
        assert sorted(leaf.part for leaf in parts) == list(range(split))
        assert [
            sum(col) for col in zip(*(leaf.balances for leaf in parts), strict=True)
        ] == balances
    # padding leaves carry zero sums and hash as H(0x02 || pad_salt)
    pads = [leaf for leaf in tree.leaves if leaf.account_id is None]
    assert len(pads) == 2**tree.height - count * split


def test_same_leaves_same_order_same_commitment_after_one_change(tmp_path):
    """The rebuild really depends on the leaves: one changed padding salt changes the root."""
    accounts = make_accounts(3, 1, seed=11)
    out = tool_build(tmp_path, ONE_ASSET, accounts, 1)
    tree, _ = rebuild_tool_tree(out, 1)
    root_doc = json.loads((out / "root.json").read_text())
    assert tree.commitment.hex() == root_doc["commitment"]
    leaves = list(tree.leaves)
    pad_at = next(i for i, leaf in enumerate(leaves) if leaf.account_id is None)
    leaves[pad_at] = mm.Leaf(None, bytes(32), leaves[pad_at].balances)
    changed = mm.Tree(ATT, AS_OF, ONE_ASSET, leaves)
    assert changed.commitment.hex() != root_doc["commitment"]


# ----------------------------------------------------------------------------- synthetic proofs


def synthetic_proof(
    height: int,
    index: int,
    assets: list[dict],
    balances: tuple[int, ...],
    sibling_sums: list[tuple[int, ...]],
    account_id: str = "deep",
) -> dict:
    """A proof for one leaf with made-up siblings, built and hashed by `minimal_mst` only.

    Trees this tall cannot be built, but a proof for them is well-formed per the spec, and
    the verifiers must walk it bit by bit (index up to 2**255 - 1).
    """
    salt = bytes(range(32))
    node: mm.Node = (mm.leaf_hash(salt, account_id, balances), balances)
    path = []
    for level in range(height):
        sibling = (mm.H(b"sibling", level.to_bytes(2, "big")), sibling_sums[level])
        path.append(mm.node_json(sibling))
        node = mm.parent(sibling, node) if (index >> level) & 1 else mm.parent(node, sibling)
    return {
        "format": mm.FORMAT,
        "attestation_id": ATT,
        "as_of": AS_OF,
        "assets": assets,
        "height": height,
        "account_id": account_id,
        "leaves": [
            {
                "index": index,
                "salt": salt.hex(),
                "balances": [str(b) for b in balances],
                "path": path,
            }
        ],
        "root": mm.node_json(node),
        "commitment": mm.commitment(ATT, assets, height, node).hex(),
    }


@pytest.mark.parametrize(
    ("height", "index"),
    [
        (1, 0),
        (1, 1),
        (8, 0b10110101),
        (64, 2**64 - 1),
        (65, 2**64),
        (200, 2**199 + 12345),
        (255, 2**255 - 1),
        (255, 0),
        (255, 2**254),
    ],
)
def test_deep_synthetic_proofs_verify_under_both(height, index):
    rng = random.Random(height * 7 + index % 1000)
    sums = [(rng.randint(0, 2**100), rng.choice([0, 1, 2**60])) for _ in range(height)]
    proof = json_roundtrip(synthetic_proof(height, index, THREE_ASSETS[:2], (5, 2**64), sums))
    assert mm.verify(proof) == {"BTC": 5, "ETH": 2**64}
    result = tool_verify(proof, commitment=bytes.fromhex(proof["commitment"]))
    assert result.balances == (5, 2**64)
    flipped = copy.deepcopy(proof)
    flipped["leaves"][0]["index"] = index ^ (1 << (height - 1))  # top bit: other side of the root
    with pytest.raises(mm.Invalid):
        mm.verify(flipped)
    with pytest.raises(InvalidProof):
        tool_verify(flipped)


def test_height_above_255_rejected_by_both():
    # u8(height) cannot hold 256: the minimal builder refuses to commit to it ...
    with pytest.raises(OverflowError):
        synthetic_proof(256, 3, ONE_ASSET, (1,), [(0,)] * 256)
    # ... and a proof claiming it is rejected by both verifiers
    proof = synthetic_proof(255, 3, ONE_ASSET, (1,), [(0,)] * 255)
    proof["height"] = 256
    proof["leaves"][0]["path"].append(copy.deepcopy(proof["leaves"][0]["path"][-1]))
    with pytest.raises(mm.Invalid):
        mm.verify(proof)
    with pytest.raises(InvalidProof):
        tool_verify(proof)


def test_sums_up_to_2_128_minus_1_accepted_and_overflow_rejected_by_both():
    top = 2**128 - 1
    proof = synthetic_proof(3, 5, ONE_ASSET, (1,), [(top - 10,), (4,), (5,)])
    assert proof["root"]["sums"] == [str(top)]
    assert mm.verify(proof) == {"BTC": 1}
    assert tool_verify(proof).balances == (1,)
    # one more unit anywhere on the path makes a node sum reach 2**128
    over = copy.deepcopy(proof)
    over["leaves"][0]["path"][2]["sums"] = ["6"]
    with pytest.raises(mm.Invalid):
        mm.verify(over)
    with pytest.raises(InvalidProof) as info:
        tool_verify(over)
    assert info.value.check == "sums"


def test_255_assets_accepted_and_256_rejected_by_both():
    assets = [{"code": f"A{i:03d}", "decimals": i % 37} for i in range(255)]
    accounts = {"alice": list(range(255)), "bob": [2**127] * 255}
    tree = minimal_tree(accounts, assets, split=1, seed=255)
    proof = json_roundtrip(tree.proof("alice"))
    root = json_roundtrip(tree.root_document())
    assert tool_verify(proof, root=root).balances == tuple(range(255))
    assert mm.verify(proof, root_document=root)["A254"] == 254
    too_many = copy.deepcopy(proof)
    too_many["assets"].append({"code": "B000", "decimals": 0})
    for node in [too_many["root"], *too_many["leaves"][0]["path"]]:
        node["sums"].append("0")
    too_many["leaves"][0]["balances"].append("0")
    with pytest.raises(mm.Invalid):
        mm.verify(too_many)
    with pytest.raises(InvalidProof):
        tool_verify(too_many)


def test_large_tree_through_the_worker_pools_matches_minimal(tmp_path):
    """5462 accounts x split 3 = 16386 leaves: above the tool's pool threshold (16384
    leaves), so the build hashes in forked workers, and above 4096 accounts, so
    `liabilities proof --all` writes in forked workers too. Same checks as the small trees."""
    rng = random.Random(16386)
    assets = [{"code": "BTC", "decimals": 8}, {"code": "ETH", "decimals": 18}]
    accounts = {
        f"u{i:05d}": [rng.randint(0, 10**12), rng.choice([0, rng.randint(1, 2**90)])]
        for i in range(5462)
    }
    csv_path, toml_path = write_inputs(tmp_path, assets, accounts)
    data = read_liabilities(csv_path, read_assets(toml_path))
    out = tmp_path / "tree"
    build_tree(data, out, attestation_id=ATT, as_of=AS_OF, split=3, workers=2)
    root_doc = json.loads((out / "root.json").read_text())
    assert root_doc["height"] == 15
    # the pool and the single-process build agree, given the same secret
    again = tmp_path / "tree-1"
    build_tree(
        data,
        again,
        attestation_id=ATT,
        as_of=AS_OF,
        split=3,
        workers=1,
        secret_file=out / "secret.key",
    )
    assert json.loads((again / "root.json").read_text()) == root_doc

    proofs_dir = tmp_path / "proofs"
    assert main(["liabilities", "proof", str(out), "--all", "--out-dir", str(proofs_dir)]) == 0
    proofs = {}
    for line in (proofs_dir / "manifest.csv").read_text(encoding="utf-8").splitlines()[1:]:
        id_hex, name = line.rsplit(",", 1)
        proofs[bytes.fromhex(id_hex).decode("utf-8")] = json.loads((proofs_dir / name).read_text())
    assert sorted(proofs) == sorted(accounts)

    tree, _ = rebuild_tool_tree(out, 3, proofs)
    assert tree.root_document() == root_doc
    for account_id in rng.sample(sorted(accounts), 300):
        proof = proofs[account_id]
        assert mm.verify(proof, root_document=root_doc) == expected_balances(
            assets, accounts[account_id]
        )
        assert tree.proof(account_id) == proof


def test_maxwell_sum_attack_fails_under_both(tmp_path):
    """The known attack on Maxwell's original tree: only the parent's total is hashed, so
    the exchange can show each of two siblings a different value for the other one and
    publish max(L, R) instead of L + R. Here both children's sums are in the parent's
    hash: the forged proofs (root sums = max, sibling sums fitted to it, commitment
    recomputed to match) are rejected by both verifiers."""
    accounts = {"alice": [10], "bob": [7]}
    out = tool_build(tmp_path, ONE_ASSET, accounts, split=1)
    proofs = tool_proofs(out)
    assert json.loads((out / "root.json").read_text())["height"] == 1
    claimed_total = max(v[0] for v in accounts.values())
    for account_id, proof in proofs.items():
        forged = json_roundtrip(proof)
        forged["root"]["sums"] = [str(claimed_total)]
        forged["leaves"][0]["path"][0]["sums"] = [str(claimed_total - accounts[account_id][0])]
        root = (bytes.fromhex(forged["root"]["hash"]), (claimed_total,))
        forged["commitment"] = mm.commitment(ATT, ONE_ASSET, 1, root).hex()
        with pytest.raises(mm.Invalid):
            mm.verify(forged)
        with pytest.raises(InvalidProof) as info:
            tool_verify(forged)
        assert info.value.check == "root hash"
