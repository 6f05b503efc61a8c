"""The `lemon` format: Lemon Cash's Merkle sum tree (lemonatio/proof-of-liabilities), every row
of a ``proof.csv`` checked against the published ``root.json``.

Evidence: the sample of /work/shared/samples/lemon (fixtures/samples/lemon/) verifies with
Lemon's root ``f9e645d2…`` and BTC 19.10079686; the second user of the two-leaf tree in Lemon's
README ("Second output example": id ``00a2ee33-…``, the LEFT step over the first user's leaf
``bcb31f57…``, its balances from the README's input with the zero balances Lemon drops)
verifies too, alone and in one file with the first -- Lemon's ``verify.py`` checks every row.
Tampered copies (a balance, a sibling hash, a sibling balance, a side, the id, the audit id,
the root hash, the root balances) fail naming the check; hostile CSV and root files are refused
by name, never a crash.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from attestations.formats import FORMATS, ProofInput, detect, lemon, verify
from verifier.base.errors import InvalidProof, UsageError
from verifier.cli.main import main

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "samples"
DIR = SAMPLES / "lemon"
ROOT = "f9e645d2ffe5f17431c340df57e774189c06bd0b6cb0b646ae392d15fd6fcdd2"
HEADER = ["id", "balances", "proof", "audit_id"]
FIRST_LEAF = "bcb31f5742cd9a600115a84c8cb9f9422e877ab138239be5160a5c1c6488e5c4"
SECOND_LEAF = "c2eacf313cf93d1a77efaa27dee936ba526f65ce7cef0f510d8bb9f6ab59fd2e"
# Lemon's README: the input row of the second user (zeros included) and its proof
README_ROW = {
    "id": "00a2ee33-713b-44df-b9cf-c78aaa32ff3c",
    "balances": "AAVE:0.00000000|ADA:0.00000000|BTC:0.00010052|USDT:0.00000000",
    "proof": "[{LEFT,"
    + FIRST_LEAF
    + ",ADA:33.55713700|ALGO:41.27807400|AVAX:0.10399078|AXS:0.02574917|BNB:0.01018535|"
    "BTC:19.10069634|DAI:13.22203900|ETH:0.01258170|LUNA:0.00064204|MATIC:69800.89997041|"
    "UNI:16.05900000|USDT:54599.82549300}]",
    "audit_id": "2022-12-18-745ed8c9",
}


def _rows() -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO((DIR / "proof.csv").read_text())))


def _csv(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HEADER, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def _root() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((DIR / "root.json").read_text())
    return doc


def _inp(
    rows: list[dict[str, str]] | None = None, root: dict[str, Any] | None = None
) -> ProofInput:
    data = (DIR / "proof.csv").read_bytes() if rows is None else _csv(rows)
    root_data = (DIR / "root.json").read_bytes() if root is None else json.dumps(root).encode()
    return ProofInput("proof.csv", data, root=root_data, root_name="root.json")


def _fails(inp: ProofInput, check: str) -> str:
    with pytest.raises(InvalidProof) as err:
        verify("lemon", inp)
    assert err.value.check == check, err.value.message
    return err.value.message


def _flip(hex_text: str) -> str:
    return ("1" if hex_text[0] != "1" else "2") + hex_text[1:]


# ----------------------------------------------------------------------------- samples


def test_the_sample_verifies_with_its_root_and_totals() -> None:
    res = verify("lemon", _inp())
    assert res.valid and res.root == ROOT
    assert res.totals["BTC"] == "19.10079686" and res.totals["MATIC"] == "69800.89997041"
    assert res.balances["BTC"] == "19.10069634" and len(res.balances) == 12
    assert res.details["rows"] == 1 and res.details["hash_algorithm"] == "sha256"
    assert res.details["accounts"][0]["leaf"] == FIRST_LEAF
    assert any("balances are not in the leaf" in w for w in res.weaknesses)
    assert res.details["root_matches"] is True


def test_the_readme_s_second_user_verifies_alone_and_with_the_first() -> None:
    res = verify("lemon", _inp([README_ROW]))
    assert dict(res.balances) == {"BTC": "0.00010052"}
    assert res.details["accounts"][0]["leaf"] == SECOND_LEAF
    both = verify("lemon", _inp([*_rows(), README_ROW]))
    assert both.details["rows"] == 2 and dict(both.balances) == {}
    assert [a["id"] for a in both.details["accounts"]] == [_rows()[0]["id"], README_ROW["id"]]


def test_lemon_s_leaf_and_node_rules() -> None:
    import hashlib

    assert hashlib.sha256(b"2022-12-18-745ed8c9" + README_ROW["id"].encode()).hexdigest() == (
        SECOND_LEAF
    )
    assert lemon.to_string({"B": Decimal("1.00000000"), "A": Decimal("0E-8")}) == (
        "A:0E-8|B:1.00000000"
    )
    # half-even to 8 places in Python's default context, as Lemon's to_decimal_balance
    assert lemon.balances("X:0.000000005|Y:0.000000015", "b") == {
        "X": Decimal("0E-8"),
        "Y": Decimal("2E-8"),
    }
    with pytest.raises(InvalidProof, match="28 digits"):
        lemon.balances("X:" + "9" * 21, "b")


def test_more_decimals_are_proven_as_their_rounded_value() -> None:
    # Lemon's verifier rounds before hashing: a weakness we report, not a leniency of ours
    rows = _rows()
    rows[0]["balances"] = rows[0]["balances"].replace("BTC:19.10069634", "BTC:19.100696344")
    res = verify("lemon", _inp(rows))
    assert res.balances["BTC"] == "19.10069634"
    assert any("rounded" in w for w in res.weaknesses)


# ----------------------------------------------------------------------------- tampering


def _with(key: str, old: str, new: str) -> list[dict[str, str]]:
    rows = _rows()
    assert old in rows[0][key]
    rows[0][key] = rows[0][key].replace(old, new)
    return rows


TAMPERS = [
    ("a balance", "balances", "BTC:19.10069634", "BTC:19.10069635", "root hash"),
    ("an added balance", "balances", "ADA:", "AAVE:1|ADA:", "root hash"),
    ("a sibling hash", "proof", "c2eacf31", "c2eacf32", "root hash"),
    ("a sibling balance", "proof", "BTC:0.00010052", "BTC:0.00010053", "root hash"),
    ("the side", "proof", "RIGHT", "LEFT", "root hash"),
    ("the id", "id", "00cf6625", "00cf6626", "root hash"),
    ("the audit id", "audit_id", "745ed8c9", "745ed8c8", "root hash"),
    ("a negative balance", "balances", "BTC:19.10069634", "BTC:-19.10069634", "negative balance"),
    ("a malformed step", "proof", "RIGHT,", "RIGHT,,", "fields"),
    ("an unknown side", "proof", "RIGHT", "right", "fields"),
    ("a short hash", "proof", "c2eacf31", "c2eacf3", "fields"),
    ("a balance without amount", "balances", "BTC:19.10069634", "BTC", "fields"),
    ("an asset twice", "balances", "ADA:", "ADA:1|ADA:", "fields"),
]


@pytest.mark.parametrize(("what", "key", "old", "new", "check"), TAMPERS, ids=str)
def test_a_tampered_row_fails_naming_the_check(
    what: str, key: str, old: str, new: str, check: str
) -> None:
    _fails(_inp(_with(key, old, new)), check)


def test_a_repeated_row_is_refused() -> None:
    assert "again (line 2)" in _fails(_inp([*_rows(), *_rows()]), "fields")


def test_one_bad_row_among_good_ones_fails_naming_its_line() -> None:
    bad = dict(README_ROW, balances="BTC:0.00010053")
    message = _fails(_inp([*_rows(), bad]), "root hash")
    assert "line 3" in message and README_ROW["id"] in message


@pytest.mark.parametrize(
    ("change", "check"),
    [
        (lambda r: r.update(root_hash=_flip(r["root_hash"])), "root hash"),
        (lambda r: r.update(root_balances=r["root_balances"] + "|ZZZ:1"), "root balances"),
        (
            lambda r: r.update(root_balances=r["root_balances"].replace("19.10079686", "19.1")),
            "root balances",
        ),
        (lambda r: r.update(hash_algorithm="sha512"), "fields"),
        (lambda r: r.update(hash_algorithm="sha3_256"), "root hash"),
        (lambda r: r.update(hash_algorithm="shake_128"), "fields"),
        (lambda r: r.update(hash_algorithm="new"), "fields"),
        (lambda r: r.pop("root_balances"), "fields"),
        (lambda r: r.update(root_hash="zz"), "fields"),
    ],
)
def test_a_tampered_root_file_fails_naming_the_check(change: Any, check: str) -> None:
    root = _root()
    change(root)
    _fails(_inp(root=root), check)


def test_root_balances_compare_as_numbers() -> None:
    root = _root()
    root["root_balances"] = root["root_balances"].replace("33.55713700", "33.557137")
    assert verify("lemon", _inp(root=root)).valid


# ----------------------------------------------------------------------------- usage


def test_the_root_file_is_required() -> None:
    with pytest.raises(UsageError, match="--root"):
        verify("lemon", replace(_inp(), root=None))
    with pytest.raises(UsageError, match="--root"):
        lemon.verify(replace(_inp(), root=None))
    spec = FORMATS["lemon"]
    assert spec.needs_root and spec.root_in_format and not spec.takes_credential


def test_detection() -> None:
    assert detect(ProofInput("proof.csv", (DIR / "proof.csv").read_bytes())) == "lemon"
    for path in sorted(SAMPLES.rglob("*")):
        if path.is_file() and "lemon" not in path.parts:
            assert not lemon.looks_like(ProofInput(path.name, path.read_bytes())), path
    assert not lemon.looks_like(ProofInput("root.json", (DIR / "root.json").read_bytes()))


def _run(argv: list[Any]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()


def test_the_cli(tmp_path: Path) -> None:
    rc, out, err = _run(["verify-proof", DIR / "proof.csv", "--root", DIR / "root.json", "--json"])
    assert rc == 0, err
    doc = json.loads(out)
    assert (doc["format"], doc["root"], doc["valid"]) == ("lemon", ROOT, True)
    rc, _, err = _run(["verify-proof", DIR / "proof.csv", "--format", "lemon"])
    assert rc == 2 and "--root" in err
    bad = tmp_path / "proof.csv"
    bad.write_bytes(_csv(_with("proof", "c2eacf31", "c2eacf32")))
    rc, out, err = _run(["verify-proof", bad, "--root", DIR / "root.json", "--json"])
    assert rc == 3 and json.loads(out)["check"] == "root hash"


# ----------------------------------------------------------------------------- hostile files


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"id,balances,proof,audit_id\n",
        b"id,balances,proof,audit_id\nx,y\n",
        b"id,balances,proof,audit_id\na,b,c,d,e\n",
        b"id,balances,proof,audit_id\n\xff\xfe,,,\n",
        b"id,balances,proof,audit_id\na,\x00,[],d\n",
        b'id,balances,proof,audit_id\na,,"' + b"[" * 200_000 + b'",d\n',
        b"id,balances,proof,audit_id\na,BTC:1" + b"0" * 5000 + b",[],d\n",
        b"id,balances,proof,audit_id\na,BTC:1e5,[],d\n",
        b"id,balances,proof,audit_id\na,BTC:NaN,[],d\n",
        b"id,balances,proof,audit_id\na,,[{RIGHT,00,}" + b",{RIGHT,00,}" * 100 + b"],d\n",
        b"id,balances,proof,audit_id\na,,[" + b"{LEFT," + b"00" * 32 + b",}" * 70 + b"],d\n",
        b"id,balances\na,b\n",
    ],
)
def test_hostile_proof_files_are_refused_by_name(data: bytes) -> None:
    with pytest.raises(InvalidProof) as err:
        verify("lemon", replace(_inp(), data=data))
    assert err.value.check in ("fields", "root hash")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"[]",
        b"{}",
        b"\xff",
        b'{"root_hash": 1, "root_balances": "", "hash_algorithm": "sha256"}',
    ],
)
def test_hostile_root_files_are_refused_by_name(data: bytes) -> None:
    with pytest.raises(InvalidProof):
        verify("lemon", replace(_inp(), root=data))


def test_an_empty_sibling_and_a_one_leaf_tree() -> None:
    import hashlib

    leaf = hashlib.sha256(b"A1u").digest()
    empty = "00" * 32
    node = hashlib.sha256(leaf + b"BTC:1.00000000" + bytes(32)).hexdigest()
    rows = [{"id": "u", "balances": "BTC:1", "proof": f"[{{RIGHT,{empty},}}]", "audit_id": "A1"}]
    root = {"root_hash": node, "root_balances": "BTC:1", "hash_algorithm": "sha256"}
    assert verify("lemon", _inp(rows, root)).valid
    rows = [dict(rows[0], proof="[]")]
    root = dict(root, root_hash=leaf.hex())
    assert verify("lemon", _inp(rows, root)).valid
