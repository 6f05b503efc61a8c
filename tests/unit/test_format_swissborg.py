"""The `swissborg` format: SwissBorg's per-currency Merkle sum trees, one user's liabilities file
checked with the user's credential against the published audit roots.

Evidence: the FORMATS.md vector (SwissBorg's own ``merkle.test.ts`` "Full leaf hash derive");
the sample of /work/shared/samples/swissborg (``userLiab_1.json``, ``auditRoots_1.json``,
``credential_1.txt``: SwissBorg/proof-of-liabilities @ 7ad8737e ``testData/``) verifies with
the totals SwissBorg's test expects (GBP 1, CHSB 20022); a second real vector from the same
repository's tests -- ``testData/userLiab_7.json`` against ``testData/auditRoots_6.json`` with
the credential ``PaY746f8DsYiK8s33J33Jk`` (fixtures/samples/swissborg/userLiab_7.json and
auditRoots_6.json, re-serialised with the same values) -- verifies with USDC 99.70291, and
with the credential of SwissBorg's "wrong user credential" test it fails. The two audits put
different things in ``proof.nonce`` (the leaf digest in December 2022, the leaf nonce in
January 2023); both are recognised and reported. Tampered copies (a liability, a sibling, a
nonce, the leaf index, the user id, the audit id, the credential, a partition, the audit
commitment) fail naming the check; the credential never appears in a result, a message or the
CLI's output; hostile values are refused by name.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import random
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from attestations.formats import FORMATS, ProofInput, detect, swissborg, verify
from attestations.formats.common import sha256hex
from verifier.base.errors import InvalidProof, UsageError
from verifier.cli.main import main

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "samples"
DIR = SAMPLES / "swissborg"
CREDENTIAL = (DIR / "credential_1.txt").read_text()
CREDENTIAL_7 = "PaY746f8DsYiK8s33J33Jk"
WRONG_7 = "PaY746f8DsYiK8s33J34Jk"  # SwissBorg's "Negative test - wrong user credential"
COMMITMENT_1 = "fcc0832ea73189ddbb0f73eb37fe23a8803c0c7432c34af19ed00270256e1f23"


def _load(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((DIR / name).read_text())
    return doc


def _inp(
    user: dict[str, Any] | None = None,
    roots: dict[str, Any] | None = None,
    credential: str | None = CREDENTIAL,
    sample: int = 1,
) -> ProofInput:
    user_name, roots_name = ("userLiab_1.json", "auditRoots_1.json")
    if sample == 7:
        user_name, roots_name = ("userLiab_7.json", "auditRoots_6.json")
        credential = CREDENTIAL_7 if credential == CREDENTIAL else credential
    user_doc = _load(user_name) if user is None else user
    roots_doc = _load(roots_name) if roots is None else roots
    return ProofInput(
        user_name,
        json.dumps(user_doc).encode(),
        root=json.dumps(roots_doc).encode(),
        root_name=roots_name,
        credential=credential,
    )


def _fails(inp: ProofInput, check: str) -> str:
    with pytest.raises(InvalidProof) as err:
        verify("swissborg", inp)
    assert err.value.check == check, err.value.message
    assert inp.credential is None or inp.credential not in err.value.message
    return err.value.message


def _flip(hex_text: str) -> str:
    return ("1" if hex_text[0] != "1" else "2") + hex_text[1:]


def _recommit(roots: dict[str, Any]) -> None:
    """Recompute the audit commitment, as a dishonest publisher would after a change."""
    text = swissborg.COMMITMENT
    parts = sorted(roots["audit"]["partitions"], key=lambda p: p["currency"].upper())
    for p in parts:
        text += f",{p['id']},{p['commitment']['liability']},{p['commitment']['digest']}"
    roots["audit"]["commitment"]["digest"] = sha256hex(text)


# ----------------------------------------------------------------------------- vectors


def test_the_published_leaf_vector() -> None:
    leaf = swissborg.leaf_hash(
        "AAAAAAAAAAAAAAAAAAAAAA", "SBPOL20221224", "BTC", 0, "2" + "0" * 31, "1.2"
    )
    assert leaf == "268f465e7d52d00ecb4e7eea67efa26a29073e7fc808ffd62e45413f5ea2160f"


def test_the_sample_verifies_with_swissborgs_expected_totals() -> None:
    res = verify("swissborg", _inp())
    assert res.valid
    assert dict(res.balances) == {"GBP": "1", "CHSB": "20022"}
    assert res.root == COMMITMENT_1
    assert res.totals["GBP"] == "1995.8595296" and len(res.totals) == 26
    assert res.details["variant"] == "liabilities as published"
    assert res.details["nonce_field"] == ["leaf digest"]
    assert res.details["root_matches"] is True and res.details["leaves"] == 6
    assert any("audit commitment" in c for c in res.checks)
    assert any("both children's liabilities" in c for c in res.checks)


def test_swissborgs_test_data_7_verifies_and_its_wrong_credential_fails() -> None:
    res = verify("swissborg", _inp(sample=7))
    assert dict(res.balances) == {"USDC": "99.70291"}
    assert res.details["nonce_field"] == ["leaf nonce"]
    assert res.details["audit_id"] == "SBPOL20230111"
    message = _fails(_inp(sample=7, credential=WRONG_7), "leaf nonce")
    assert "wrong credential" in message


def test_a_wrong_credential_fails_naming_the_leaf_check() -> None:
    message = _fails(_inp(credential="x" + CREDENTIAL[1:]), "leaf nonce")
    assert "liabilities[0]" in message and "proof.nonce" in message


def test_partitions_in_any_order_give_the_same_commitment() -> None:
    # SwissBorg's "un-ordered audit JSON data" test: the commitment sorts by currency
    roots = _load("auditRoots_6.json")
    random.Random(7).shuffle(roots["audit"]["partitions"])
    assert verify("swissborg", _inp(roots=roots, sample=7)).valid


def test_the_commitment_sorts_by_upper_case_currency() -> None:
    roots = _load("auditRoots_1.json")
    parts = [
        swissborg.Partition(
            p["id"],
            p["currency"].lower(),
            swissborg.Node(
                p["commitment"]["liability"],
                Decimal(p["commitment"]["liability"]),
                p["commitment"]["digest"],
            ),
        )
        for p in reversed(roots["audit"]["partitions"])
    ]
    assert swissborg.audit_commitment(parts, "as published") == COMMITMENT_1


# ----------------------------------------------------------------------------- variants


def test_a_liability_written_with_trailing_zeros_verifies_as_normalized() -> None:
    user = _load("userLiab_1.json")
    user["liabilities"][0]["liability"] = "0.120"
    res = verify("swissborg", _inp(user))
    assert res.details["variant"] == "liabilities normalized"
    assert res.balances["GBP"] == "1"


def test_partition_liabilities_with_trailing_zeros_verify_as_normalized() -> None:
    roots = _load("auditRoots_1.json")
    roots["audit"]["partitions"][1]["commitment"]["liability"] = "200.00"
    res = verify("swissborg", _inp(roots=roots))
    assert res.details["variant"] == "liabilities normalized"


# ----------------------------------------------------------------------------- tampering


def _set(path: tuple[Any, ...], value: Any) -> Any:
    def change(doc: dict[str, Any]) -> None:
        node: Any = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value(node[path[-1]]) if callable(value) else value

    return change


USER_TAMPERS = [
    ("a liability", ("liabilities", 0, "liability"), "0.13", "leaf nonce"),
    ("the leaf index", ("liabilities", 0, "proof", "leaf_index"), 6, "leaf nonce"),
    ("the nonce", ("liabilities", 0, "proof", "nonce"), _flip, "leaf nonce"),
    ("the user id", ("user_id",), "2" + "0" * 31, "leaf nonce"),
    ("the audit id", ("audit_id",), "SBPOL20221208", "audit id"),
    (
        "a sibling digest",
        ("liabilities", 3, "proof", "witnesses", 0, "digest"),
        _flip,
        "partition root",
    ),
    (
        "a sibling liability",
        ("liabilities", 3, "proof", "witnesses", 2, "liability"),
        "1667.87356",
        "partition root",
    ),
    ("a partition id", ("liabilities", 5, "audit_partition_id"), "SBPOL20221207-XYZ", "partition"),
    ("a negative liability", ("liabilities", 0, "liability"), "-1.3", "liability"),
    ("a zero liability", ("liabilities", 0, "liability"), "0", "liability"),
    (
        "a negative witness",
        ("liabilities", 0, "proof", "witnesses", 0, "liability"),
        "-2.4",
        "path",
    ),
    ("no witnesses", ("liabilities", 0, "proof", "witnesses"), [], "path"),
    ("a leaf index beyond the tree", ("liabilities", 0, "proof", "leaf_index"), 8, "path"),
]


@pytest.mark.parametrize(("what", "path", "value", "check"), USER_TAMPERS, ids=str)
def test_a_tampered_user_file_fails_naming_the_check(
    what: str, path: tuple[Any, ...], value: Any, check: str
) -> None:
    user = _load("userLiab_1.json")
    _set(path, value)(user)
    _fails(_inp(user), check)


def test_in_the_nonce_version_a_changed_liability_fails_at_the_root() -> None:
    user = _load("userLiab_7.json")
    user["liabilities"][1]["liability"] = "74.63568"
    _fails(_inp(user, sample=7), "partition root")


ROOT_TAMPERS = [
    ("the audit commitment", ("audit", "commitment", "digest"), _flip, "audit commitment"),
    (
        "a partition liability",
        ("audit", "partitions", 3, "commitment", "liability"),
        "0.07",
        "audit commitment",
    ),
    (
        "a partition digest",
        ("audit", "partitions", 13, "commitment", "digest"),
        _flip,
        "audit commitment",
    ),
    ("the audit id", ("audit", "id"), "SBPOL20230112", "audit id"),
    ("a partition id", ("audit", "partitions", 0, "id"), "SBPOL20221207-AAVF", "partition"),
]


@pytest.mark.parametrize(("what", "path", "value", "check"), ROOT_TAMPERS, ids=str)
def test_a_tampered_audit_roots_file_fails_naming_the_check(
    what: str, path: tuple[Any, ...], value: Any, check: str
) -> None:
    roots = _load("auditRoots_1.json")
    _set(path, value)(roots)
    _fails(_inp(roots=roots), check)


def test_a_recommitted_partition_root_or_liability_still_fails() -> None:
    # SwissBorg's "wrong Merkle Root liability": the commitment recomputed over the change
    roots = _load("auditRoots_6.json")
    usdc = next(p for p in roots["audit"]["partitions"] if p["currency"] == "USDC")
    usdc["commitment"]["liability"] = "559441.38290498058898063"
    _recommit(roots)
    _fails(_inp(roots=roots, sample=7), "partition sum")
    roots = _load("auditRoots_1.json")
    gbp = next(p for p in roots["audit"]["partitions"] if p["currency"] == "GBP")
    gbp["commitment"]["digest"] = _flip(gbp["commitment"]["digest"])
    _recommit(roots)
    _fails(_inp(roots=roots), "partition root")


def test_a_partition_s_currency_is_bound_by_its_id() -> None:
    roots = _load("auditRoots_1.json")
    roots["audit"]["partitions"][0]["currency"] = ""  # AAVE's place in the order is kept
    assert "does not name audit" in _fails(_inp(roots=roots), "partition")


def test_a_repeated_leaf_is_refused_not_counted_twice() -> None:
    user = _load("userLiab_1.json")
    user["liabilities"].append(copy.deepcopy(user["liabilities"][0]))
    assert "the same leaf as liabilities[0]" in _fails(_inp(user), "fields")


def test_a_leaf_left_out_verifies_with_the_smaller_sum() -> None:
    # the file binds no count of leaves (a weakness the result lists)
    user = _load("userLiab_1.json")
    del user["liabilities"][0]
    res = verify("swissborg", _inp(user))
    assert dict(res.balances) == {"GBP": "0.88", "CHSB": "20022"}
    assert any("left out" in w for w in res.weaknesses)


def test_duplicate_partitions_are_refused() -> None:
    roots = _load("auditRoots_1.json")
    roots["audit"]["partitions"].append(copy.deepcopy(roots["audit"]["partitions"][0]))
    _fails(_inp(roots=roots), "fields")


# ----------------------------------------------------------------------------- usage


def test_root_and_credential_are_required() -> None:
    with pytest.raises(UsageError, match="--root"):
        verify("swissborg", replace(_inp(), root=None))
    with pytest.raises(UsageError, match="credential"):
        verify("swissborg", replace(_inp(), credential=None))
    with pytest.raises(UsageError, match="--root"):
        swissborg.verify(replace(_inp(), root=None))
    spec = FORMATS["swissborg"]
    assert spec.needs_root and spec.needs_credential and spec.root_in_format


def test_detection() -> None:
    assert detect(ProofInput("userLiab_1.json", (DIR / "userLiab_1.json").read_bytes())) == (
        "swissborg"
    )
    for path in sorted(SAMPLES.rglob("*")):
        if path.is_file() and "swissborg" not in path.parts:
            inp = ProofInput(path.name, path.read_bytes())
            assert not swissborg.looks_like(inp), path
    roots = ProofInput("auditRoots_1.json", (DIR / "auditRoots_1.json").read_bytes())
    assert not swissborg.looks_like(roots)


# ----------------------------------------------------------------------------- the secret


def test_the_credential_is_in_no_result() -> None:
    # SwissBorg's test data 1 uses the user id as the credential: the user id is not shown
    for sample in (1, 7):
        res = verify("swissborg", _inp(sample=sample))
        secret = CREDENTIAL if sample == 1 else CREDENTIAL_7
        assert secret not in json.dumps(res.to_json())


def test_the_credential_is_in_no_message_even_when_a_field_holds_it() -> None:
    user = _load("userLiab_1.json")
    user["liabilities"][0]["audit_partition_id"] = CREDENTIAL  # quoted by the message
    message = _fails(_inp(user), "partition")
    assert "<credential>" in message


def _run(argv: list[Any]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("tamper", [False, True])
@pytest.mark.parametrize("as_json", [False, True])
def test_the_cli_never_shows_the_credential(tmp_path: Path, tamper: bool, as_json: bool) -> None:
    cred = tmp_path / "credential.txt"
    cred.write_text(CREDENTIAL + "\n")
    cred.chmod(0o600)
    user = _load("userLiab_1.json")
    if tamper:
        wit = user["liabilities"][2]["proof"]["witnesses"][1]
        wit["digest"] = _flip(wit["digest"])
    proof = tmp_path / "userLiab.json"
    proof.write_text(json.dumps(user))
    argv: list[Any] = ["verify-proof", proof, "--root", DIR / "auditRoots_1.json"]
    argv += ["--credential-file", cred] + (["--json"] if as_json else [])
    rc, out, err = _run(argv)
    assert rc == (3 if tamper else 0), out + err
    assert CREDENTIAL not in out + err
    assert "Traceback" not in out + err
    if as_json:
        doc = json.loads(out)
        assert doc["format"] == "swissborg"
        assert doc.get("check") == ("partition root" if tamper else None)


def test_the_cli_needs_root_and_credential() -> None:
    rc, _, err = _run(["verify-proof", DIR / "userLiab_1.json", "--format", "swissborg"])
    assert rc == 2 and "--root" in err
    rc, _, err = _run(
        ["verify-proof", DIR / "userLiab_1.json", "--root", DIR / "auditRoots_1.json"]
    )
    assert rc == 2 and "credential" in err


# ----------------------------------------------------------------------------- hostile values

HOSTILE: list[Any] = [None, True, 1, -1, 2**80, "x", "", [], {}, "1" * 200, "1e5", "0x10", "-0"]
PATHS = [
    ("user_id",),
    ("audit_id",),
    ("liabilities",),
    ("liabilities", 0),
    ("liabilities", 0, "liability"),
    ("liabilities", 0, "audit_partition_id"),
    ("liabilities", 0, "proof"),
    ("liabilities", 0, "proof", "leaf_index"),
    ("liabilities", 0, "proof", "nonce"),
    ("liabilities", 0, "proof", "witnesses"),
    ("liabilities", 0, "proof", "witnesses", 0),
    ("liabilities", 0, "proof", "witnesses", 0, "digest"),
    ("liabilities", 0, "proof", "witnesses", 0, "liability"),
]
ROOT_PATHS = [
    ("audit",),
    ("audit", "id"),
    ("audit", "commitment"),
    ("audit", "commitment", "digest"),
    ("audit", "partitions"),
    ("audit", "partitions", 0),
    ("audit", "partitions", 0, "id"),
    ("audit", "partitions", 0, "currency"),
    ("audit", "partitions", 0, "commitment", "liability"),
]


@pytest.mark.parametrize("path", PATHS + ROOT_PATHS, ids=lambda p: ".".join(map(str, p)))
def test_hostile_values_are_named_never_a_crash(path: tuple[Any, ...]) -> None:
    for value in HOSTILE:
        user, roots = _load("userLiab_1.json"), _load("auditRoots_1.json")
        _set(path, value)(roots if path[0] == "audit" else user)
        try:
            res = verify("swissborg", _inp(user, roots))
        except InvalidProof as err:
            assert CREDENTIAL not in err.message
            continue
        # only a partition's currency may change and still verify: it is in no hash, only in
        # the commitment's order, which a value sorting where AAVE does leaves unchanged
        assert path[-1] == "currency" and isinstance(value, str), (path, value)
        assert dict(res.balances) == {"GBP": "1", "CHSB": "20022"}


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff\xfe",
        b"[",
        b"[1]",
        b'"x"',
        b"{}",
        b"[" * 100_000,
        b'{"a": 1' + b"0" * 5000 + b"}",
    ],
)
def test_unreadable_files_are_refused_by_name(data: bytes) -> None:
    with pytest.raises(InvalidProof):
        verify("swissborg", replace(_inp(), data=data))
    with pytest.raises(InvalidProof):
        verify("swissborg", replace(_inp(), root=data))


def test_a_deep_tree_is_bounded() -> None:
    user = _load("userLiab_1.json")
    wit = user["liabilities"][0]["proof"]["witnesses"]
    wit[:] = wit * 30
    _fails(_inp(user), "path")
