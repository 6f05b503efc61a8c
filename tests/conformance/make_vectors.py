"""Write the `por-mst-v1` test vectors in fixtures/vectors/ with `minimal_mst` (only).

    /work/main/.venv/bin/python tests/conformance/make_vectors.py

Every input is fixed here (salts, pad salts, leaf order, split parts), so the output is
deterministic; tests/conformance/test_vectors.py checks that the files are exactly what
this script produces and that the tool reproduces every value in them.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import minimal_mst as mm

OUT = Path(__file__).resolve().parents[2] / "fixtures" / "vectors"
MASTER = bytes(range(32))  # 000102...1f


def _account(account_id, salt, balances, part=0):
    return ("account", account_id, salt, tuple(balances), part)


def _padding(pad_salt):
    return ("padding", pad_salt)


VECTORS = [
    {
        "name": "01-one-account-one-asset",
        "description": "One account, one asset: height 1, the account leaf at index 1 (a right "
        "child), one padding leaf at index 0. Fixed salts 0x11.., pad salt 0x22..",
        "attestation_id": "vector-1",
        "as_of": "2025-01-01T00:00:00Z",
        "assets": [{"code": "BTC", "decimals": 8}],
        "master_secret": None,
        "accounts": {"alice": [150_000_000]},
        "order": [_padding(b"\x22" * 32), _account("alice", b"\x11" * 32, [150_000_000])],
    },
    {
        "name": "02-three-accounts-two-assets-padding",
        "description": "Three accounts, two assets (zeros included), height 2, one padding leaf "
        "in the middle (index 2). Salts by the recommended derivation "
        "HMAC-SHA256(master_secret, utf8(account_id) || u32(0)), master_secret 00 01 .. 1f.",
        "attestation_id": "vector-2",
        "as_of": "2025-02-28T12:00:00Z",
        "assets": [{"code": "BTC", "decimals": 8}, {"code": "ETH", "decimals": 18}],
        "master_secret": MASTER,
        "accounts": {
            "alice": [150_000_000, 0],
            "bob": [0, 2 * 10**18],
            "carol": [1, 1],
        },
        "order": [
            _account("carol", mm.recommended_salt(MASTER, "carol", 0), [1, 1]),
            _account("alice", mm.recommended_salt(MASTER, "alice", 0), [150_000_000, 0]),
            _padding(b"\xaa" * 32),
            _account("bob", mm.recommended_salt(MASTER, "bob", 0), [0, 2 * 10**18]),
        ],
    },
    {
        "name": "03-split-account",
        "description": "alice split into 3 leaves (parts 0, 1, 2; one part all zero), bob and "
        "carol one leaf each; 5 leaves, height 3, 3 padding leaves. Recommended salts, "
        "master_secret 00 01 .. 1f; pad salts 0xb0.., 0xb1.., 0xb2...",
        "attestation_id": "vector-3",
        "as_of": "2025-03-31T00:00:00Z",
        "assets": [
            {"code": "BTC", "decimals": 8},
            {"code": "ETH", "decimals": 18},
            {"code": "USDT", "decimals": 6},
        ],
        "master_secret": MASTER,
        "accounts": {
            "alice": [100_000_000, 6, 2_500_000],
            "bob": [5, 0, 1_000_000],
            "carol": [0, 10**18, 0],
        },
        "order": [
            _account("alice", mm.recommended_salt(MASTER, "alice", 2), [70_000_000, 3, 0], 2),
            _padding(b"\xb0" * 32),
            _account("bob", mm.recommended_salt(MASTER, "bob", 0), [5, 0, 1_000_000]),
            _account(
                "alice", mm.recommended_salt(MASTER, "alice", 0), [30_000_000, 1, 2_500_000], 0
            ),
            _padding(b"\xb1" * 32),
            _account("carol", mm.recommended_salt(MASTER, "carol", 0), [0, 10**18, 0]),
            _account("alice", mm.recommended_salt(MASTER, "alice", 1), [0, 2, 0], 1),
            _padding(b"\xb2" * 32),
        ],
    },
    {
        "name": "04-edge-values",
        "description": "Edge values: a root sum of exactly 2**128-1, a balance of 2**127, "
        "decimals 0 and 36, asset codes with '.', '-' and '_', a non-ASCII account id and "
        "attestation id (UTF-8). Three leaves, height 2, padding at index 0.",
        "attestation_id": "vector-4-ü",
        "as_of": "",
        "assets": [{"code": "A.B-1", "decimals": 0}, {"code": "Z_9", "decimals": 36}],
        "master_secret": None,
        "accounts": {
            "josé-日本": [2**128 - 6, 2**127],
            "x": [5, 0],
            "y": [0, 2**127 - 1],
        },
        "order": [
            _padding(b"\x00" * 32),
            _account("y", b"\x03" * 32, [0, 2**127 - 1]),
            _account("josé-日本", b"\x01" * 32, [2**128 - 6, 2**127]),
            _account("x", b"\x02" * 32, [5, 0]),
        ],
    },
]


def _leaves(spec) -> list[mm.Leaf]:
    zero = (0,) * len(spec["assets"])
    out = []
    for entry in spec["order"]:
        if entry[0] == "padding":
            out.append(mm.Leaf(None, entry[1], zero))
        else:
            _, account_id, salt, balances, part = entry
            out.append(mm.Leaf(account_id, salt, balances, part))
    return out


def apply_patch(doc: dict, patch: list[dict]) -> dict:
    """Apply RFC 6902-style "replace"/"remove" operations (JSON pointers) to a copy of doc."""
    doc = copy.deepcopy(doc)
    for op in patch:
        *parents, last = op["path"].split("/")[1:]
        target = doc
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        key = int(last) if isinstance(target, list) else last
        if op["op"] == "replace":
            target[key] = op["value"]
        elif op["op"] == "remove":
            del target[key]
        else:
            raise ValueError(op["op"])
    return doc


def _invalid_patches(proof: dict) -> list[dict]:
    """Tamperings of a valid proof (as patches), each with what it breaks."""
    leaf = proof["leaves"][0]

    def bumped(value: str) -> str:
        return str(int(value) - 1 if int(value) else int(value) + 1)

    def case(description, op, path, value=None):
        patch = {"op": op, "path": path} | ({} if op == "remove" else {"value": value})
        return {"description": description, "patch": [patch]}

    salt = f"{int(leaf['salt'][:2], 16) ^ 1:02x}" + leaf["salt"][2:]
    return [
        case(
            "leaf balance changed by 1 base unit",
            "replace",
            "/leaves/0/balances/0",
            bumped(leaf["balances"][0]),
        ),
        case(
            "sibling sum changed by 1 (the parent hash binds both children's sums)",
            "replace",
            "/leaves/0/path/0/sums/0",
            bumped(leaf["path"][0]["sums"][0]),
        ),
        case("first salt byte changed", "replace", "/leaves/0/salt", salt),
        case("another account id", "replace", "/account_id", proof["account_id"] + "x"),
        case("leaf index: lowest bit flipped", "replace", "/leaves/0/index", leaf["index"] ^ 1),
        case(
            "attestation id changed (commitment not recomputed)",
            "replace",
            "/attestation_id",
            proof["attestation_id"] + "-other",
        ),
        case(
            "decimals of the first asset changed (commitment not recomputed)",
            "replace",
            "/assets/0/decimals",
            (proof["assets"][0]["decimals"] + 1) % 37,
        ),
        case("root sum changed by 1", "replace", "/root/sums/0", bumped(proof["root"]["sums"][0])),
        case("commitment changed", "replace", "/commitment", "00" * 32),
        case("path one entry short of height", "remove", f"/leaves/0/path/{proof['height'] - 1}"),
    ]


def preimages(tree: mm.Tree) -> list[list[str]]:
    """Per level, the bytes hashed into each node (hex): sha256 of each is the node's hash."""
    leaves = []
    for leaf in tree.leaves:
        if leaf.account_id is None:
            leaves.append((b"\x02" + leaf.salt).hex())
        else:
            leaves.append(
                (
                    b"\x00" + leaf.salt + mm.account_hash(leaf.account_id) + mm.enc(leaf.balances)
                ).hex()
            )
    out = [leaves]
    for below in tree.levels[:-1]:
        out.append(
            [
                (b"\x01" + left[0] + mm.enc(left[1]) + right[0] + mm.enc(right[1])).hex()
                for left, right in zip(below[0::2], below[1::2], strict=True)
            ]
        )
    return out


def make(spec) -> dict:
    assets = spec["assets"]
    tree = mm.Tree(spec["attestation_id"], spec["as_of"], assets, _leaves(spec))
    leaves_in = []
    for index, leaf in enumerate(tree.leaves):
        if leaf.account_id is None:
            leaves_in.append({"index": index, "kind": "padding", "pad_salt": leaf.salt.hex()})
        else:
            leaves_in.append(
                {
                    "index": index,
                    "kind": "account",
                    "account_id": leaf.account_id,
                    "part": leaf.part,
                    "salt": leaf.salt.hex(),
                    "balances": [str(b) for b in leaf.balances],
                }
            )
    accounts = spec["accounts"]
    for account_id, balances in accounts.items():  # the parts add up to the account
        parts = [leaf.balances for leaf in tree.leaves if leaf.account_id == account_id]
        assert [sum(col) for col in zip(*parts, strict=True)] == balances, account_id
    proofs = [tree.proof(account_id) for account_id in accounts]
    for proof in proofs:
        assert mm.verify(proof, tree.root_document()) == dict(
            zip([a["code"] for a in assets], accounts[proof["account_id"]], strict=True)
        )
    invalid = _invalid_patches(proofs[0])
    for case in invalid:
        try:
            mm.verify(apply_patch(proofs[0], case["patch"]))
        except mm.Invalid:
            continue
        raise AssertionError(f"{spec['name']}: invalid proof verifies: {case['description']}")
    master = spec["master_secret"]
    return {
        "name": spec["name"],
        "description": spec["description"],
        "format": mm.FORMAT,
        "inputs": {
            "attestation_id": spec["attestation_id"],
            "as_of": spec["as_of"],
            "assets": assets,
            "master_secret": None if master is None else master.hex(),
            "accounts": [
                {"account_id": a, "balances": [str(v) for v in vs]} for a, vs in accounts.items()
            ],
            "leaves": leaves_in,
        },
        "expected": {
            "account_hashes": {a: mm.account_hash(a).hex() for a in accounts},
            "height": tree.height,
            "leaf_hashes": [node[0].hex() for node in tree.levels[0]],
            "preimages": preimages(tree),
            "levels": [[mm.node_json(node) for node in level] for level in tree.levels],
            "root": mm.node_json(tree.root),
            "commitment_preimage": mm.commitment_preimage(
                spec["attestation_id"], assets, tree.height, tree.root
            ).hex(),
            "commitment": tree.commitment.hex(),
            "root_document": tree.root_document(),
            "balances": {
                a: {
                    asset["code"]: {
                        "base_units": str(v),
                        "whole": mm.whole_units(v, asset["decimals"]),
                    }
                    for asset, v in zip(assets, vs, strict=True)
                }
                for a, vs in accounts.items()
            },
            "proofs": proofs,
            "invalid_proofs": {"proof": 0, "cases": invalid},
        },
    }


def render(value, indent: int = 0) -> str:
    """JSON, 2-space indented, with anything that fits in 120 columns kept on one line."""
    flat = json.dumps(value, ensure_ascii=False)
    if not isinstance(value, dict | list) or not value or len(flat) + indent <= 120:
        return flat if indent else flat + "\n"
    pad = " " * (indent + 2)
    if isinstance(value, dict):
        body = [
            f"{pad}{json.dumps(k, ensure_ascii=False)}: {render(v, indent + 2)}"
            for k, v in value.items()
        ]
        text = "{\n" + ",\n".join(body) + "\n" + " " * indent + "}"
    else:
        body = [f"{pad}{render(v, indent + 2)}" for v in value]
        text = "[\n" + ",\n".join(body) + "\n" + " " * indent + "]"
    return text if indent else text + "\n"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for spec in VECTORS:
        path = OUT / f"{spec['name']}.json"
        path.write_text(render(make(spec)), encoding="utf-8")
        print(path)


if __name__ == "__main__":
    main()
