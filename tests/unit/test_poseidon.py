"""Poseidon over BN254 (attestations/formats/poseidon.py) against its reference vectors.

Vectors and where they come from:
* circomlib: iden3/circomlibjs test/poseidon.js (``poseidon([1, 2])``, ``poseidon([1, 2, 3, 4])``,
  themselves the hadeshash reference's poseidonperm_x5_254_3 / _5 test vectors), and
  ``poseidon([1])`` as circomlib's Poseidon(1) gives it.
* gnark: bnb-chain/gnark-crypto ecc/bn254/fr/poseidon/poseidon_test.go, the current revision
  (``state[1]``: one, two, four, 24 and 30 inputs) and an earlier one (``state[0]``: 30 inputs).
* end to end: Gate's published user file (gateio/proof-of-reserves, fixtures/samples/gate/) and
  HTX's (huobiapi/Tool-Go-MerkleVerify, fixtures/samples/htx-zk/): the user's leaf and path
  recomputed give the published root; Gate's empty account tree gives the first batch's
  "before" root of its proof.csv.
* constants: attestations/formats/poseidon_grain.py regenerates widths and must reproduce
  the committed JSON; circomlib's first round constant and MDS entry for t = 3 are checked
  by value.
"""

from __future__ import annotations

import base64
import csv
import json
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from attestations.formats import poseidon, poseidon_grain
from attestations.formats.poseidon import (
    FIELD,
    element,
    permutation,
    poseidon_circom,
    poseidon_gnark,
    to_bytes,
)
from verifier.base.errors import InvalidProof

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "fixtures" / "samples"


def test_field_is_bn254_r() -> None:
    assert FIELD == 0x30644E72E131A029B85045B68181585D2833E84879B9709143E1F593F0000001


# ----------------------------------------------------------------------------- circomlib


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        ([1, 2], 0x115CC0F5E7D690413DF64C6B9662E9CF2A3617F2743245519E19607A4417189A),
        ([1, 2, 3, 4], 0x299C867DB6C1FDD79DCEFA40E4510B9837E60EBB1CE0663DBAA525DF65250465),
        ([1], 18586133768512220936620570745912940619677854269274689475585506675881198879027),
    ],
)
def test_circomlib_vectors(inputs: list[int], expected: int) -> None:
    assert poseidon_circom(inputs) == expected


def test_circomlib_takes_one_to_sixteen_inputs() -> None:
    outputs = {poseidon_circom(list(range(1, n + 1))) for n in range(1, 17)}
    assert len(outputs) == 16 and all(0 <= v < FIELD for v in outputs)
    for bad in ([], list(range(17))):
        with pytest.raises(ValueError):
            poseidon_circom(bad)


# ----------------------------------------------------------------------------- gnark-crypto


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        ([1], 0x112A4F9241E384B0EDE4655E6D2BBF7EBD9595775DE9E7536DF87CD487852FC4),
        ([1, 2], 0x0FCA49B798923AB0239DE1C9E7A4A9A2210312B6A2F616D18B5A87F9B628AE29),
        ([1, 2, 3, 4], 0x1148AAEF609AA338B27DAFD89BB98862D8BB2B429ACEAC47D86206154FFE053D),
        (list(range(1, 25)), 0x06C7676E83EF8CB9EF6C25746A5F6B2D39FBA4548B4C29B3D41490BBF3C1108D),
        (list(range(1, 31)), 0x2FF47AB8E9E9F6134600A8DE8B8E99596E573620A7D8D39ED7B2C7CEF9F105F1),
    ],
)
def test_gnark_vectors(inputs: list[int], expected: int) -> None:
    assert poseidon_gnark(inputs) == expected


def test_gnark_earlier_revision_returned_state0() -> None:
    thirty = list(range(1, 31))
    expected = 0x140CEA90C05A04C7140337789BD4CDE38BA73EE1988D34533F3F8F7B6AAC5675
    assert poseidon_gnark(thirty, output=0) == expected
    # up to 12 inputs, state[0] is circomlib's hash
    for n in (2, 4, 12):
        assert poseidon_gnark(list(range(n)), output=0) == poseidon_circom(list(range(n)))


def test_gnark_hash_chain_is_the_one_described() -> None:
    """Blocks of 12 through width 13, state[0] carried; the rest at width len + 1; none
    after an exact multiple of 12; the result is state[1]."""

    def chain(values: Sequence[int]) -> int:
        state = [0] * 13
        whole = len(values) // 12 if len(values) > 12 else 0
        for i in range(whole):
            state = permutation([state[0], *values[12 * i : 12 * i + 12]])
        rest = values[12 * whole :]
        if rest:
            state = permutation([state[0], *rest])
        return state[1]

    for n in (1, 11, 12, 13, 24, 25, 36, 37):
        values = [7 * i + 3 for i in range(n)]
        assert poseidon_gnark(values) == chain(values), n
    # a multiple of 12 ends on a whole block: no extra permutation of width 1
    assert (
        poseidon_gnark(list(range(24)))
        == permutation([permutation([0, *range(12)])[0], *range(12, 24)])[1]
    )


@pytest.mark.parametrize("bad", [[], [FIELD], [-1], [True], ["1"], [1.0]])
def test_inputs_outside_the_field_are_refused(bad: list[object]) -> None:
    with pytest.raises(ValueError):
        poseidon_gnark(bad)  # type: ignore[arg-type]


def test_output_other_than_0_or_1_is_refused() -> None:
    with pytest.raises(ValueError):
        poseidon_gnark([1, 2], output=2)
    with pytest.raises(ValueError):  # the state[0] revisions panicked on one input
        poseidon_gnark([1], output=0)


# ----------------------------------------------------------------------------- elements


def test_element_reads_big_endian_bytes_like_gnark() -> None:
    assert element(b"\x01\x02") == 0x0102
    assert element(bytes(32)) == 0
    assert element(to_bytes(FIELD - 1)) == FIELD - 1
    assert element(b"\x00" * 40 + b"\x05") == 5  # leading zeros do not count
    assert element(12345) == 12345
    assert to_bytes(5) == b"\x00" * 31 + b"\x05"


@pytest.mark.parametrize(
    "bad", [FIELD.to_bytes(32, "big"), b"\xff" * 32, b"\x01" * 33, FIELD, -1, True, "00", None]
)
def test_element_refuses_what_gnark_refuses(bad: object) -> None:
    with pytest.raises(InvalidProof) as caught:
        element(bad, "sibling 3")  # type: ignore[arg-type]
    assert "sibling 3" in str(caught.value)


# ----------------------------------------------------------------------------- end to end


def _path_root(leaf: int, index: int, siblings: Sequence[str]) -> int:
    node = leaf
    for level, encoded in enumerate(siblings):
        sibling = element(base64.b64decode(encoded), f"sibling {level}")
        pair = [sibling, node] if (index >> level) & 1 else [node, sibling]
        node = poseidon_gnark(pair)
    return node


def _gate_commitment(assets: Sequence[dict[str, int]], count: int) -> int:
    flat = [0] * (2 * count)
    for asset in assets:
        flat[2 * asset["Index"]] = asset["Equity"]
        flat[2 * asset["Index"] + 1] = asset["Debt"]
    flat += [0] * (-len(flat) % 3)
    packed = [(flat[i] << 128) + (flat[i + 1] << 64) + flat[i + 2] for i in range(0, len(flat), 3)]
    return poseidon_gnark(packed)


def test_gate_sample_root_is_recomputed_with_800_assets() -> None:
    user = json.loads((SAMPLES / "gate" / "user_config.json").read_text())
    started = time.perf_counter()
    commitment = _gate_commitment(user["AssetDetails"], 800)
    leaf = poseidon_gnark(
        [
            element(bytes.fromhex(user["UniqueIdentification"])),
            user["TotalAssetEquity"],
            user["TotalAssetDebt"],
            commitment,
        ]
    )
    root = _path_root(leaf, user["Arrangement"], user["MerkleProofEncode"])
    elapsed = time.perf_counter() - started
    assert to_bytes(root).hex() == user["TreeRootHash"]
    assert elapsed < 1.0, f"a Gate path check took {elapsed:.2f} s"
    # the other output (earlier gnark revisions) does not give this root
    assert poseidon_gnark([leaf, 0], output=0) != poseidon_gnark([leaf, 0])


def test_gate_empty_tree_is_the_first_batch_before_root() -> None:
    with (SAMPLES / "gate" / "proof.csv").open(newline="") as handle:
        first = next(csv.DictReader(handle))
    before = base64.b64decode(json.loads(first["account_tree_roots"])[0])
    node = poseidon_gnark([0, 0, 0, _gate_commitment([], 800)])
    for _ in range(28):
        node = poseidon_gnark([node, node])
    assert to_bytes(node) == before


def test_htx_sample_root_is_recomputed_with_168_assets() -> None:
    user = json.loads((SAMPLES / "htx-zk" / "user_config.json").read_text())
    balances = [0] * 168
    for asset in user["Assets"]:
        balances[asset["Index"]] = asset["Balance"]
    leaf = poseidon_gnark(
        [
            element(bytes.fromhex(user["AccountIdHash"])),
            user["TotalEquity"],
            user["TotalDebt"],
            poseidon_gnark(balances),
        ]
    )
    assert to_bytes(_path_root(leaf, user["AccountIndex"], user["Proof"])).hex() == user["Root"]


# ----------------------------------------------------------------------------- constants


def test_constants_are_circomlibs() -> None:
    _, constants, mds = poseidon.parameters(3)
    assert constants[0] == 0x0EE9A592BA9A9518D05986D656F40C2114C4993C11BB29938D21D47304CD8E6E
    assert mds[0][0] == 0x109B7F411BA0E4C9B2B70CAF5C36A7B194BE7C11AD24378BFEDB68592BA8118B


# gnark-crypto's published MDS matrices (bnb-chain/gnark-crypto ecc/bn254/fr/poseidon/constants/
# m.go, circomlib's numbers), stored transposed there: their row r, column c is our M[c][r].
# (width, published row, published column, value)
PUBLISHED_MDS = [
    (2, 0, 0, 0x066F6F85D6F68A85EC10345351A23A3AAF07F38AF8C952A7BCECA70BD2AF7AD5),
    (2, 0, 1, 0x0CC57CDBB08507D62BF67A4493CC262FB6C09D557013FFF1F573F431221F8FF9),
    (2, 1, 0, 0x2B9D4B4110C9AE997782E1509B1D0FDB20A7C02BBD8BEA7305462B9F8125B1E8),
    (3, 0, 1, 0x2969F27EED31A480B9C36C764379DBCA2CC8FDD1415C3DDED62940BCDE0BD771),
    (3, 2, 2, 0x19A3FC0A56702BF417BA7FEE3802593FA644470307043F7773279CD71D25D5E0),
    (4, 0, 0, 0x236D13393EF85CC48A351DD786DD7A1DE5E39942296127FD87947223AE5108AD),
    (5, 0, 0, 0x251E7FDF99591080080B0AF133B9E4369F22E57ACE3CD7F64FC6FDBCF38D7DA1),
    (6, 0, 0, 0x124666F80561ED5916F2F070B1BD248C6D53F44D273D956A0C87B917692A4D18),
    (7, 0, 0, 0x2ABD9E16B7B48289AA19CDFEC726FA3FA15CC1625102AE511BCA45F39D337E9D),
    (8, 0, 0, 0x1AA4D470ABEAA2357079129D114BAB1170944F929FC178216AD847D4430F3F27),
    (9, 0, 0, 0x0190F922D97C8A7DCF0A142A3BE27749D1C64BC22F1C556AAA24925D158CAC56),
    (10, 0, 0, 0x0B1E797EEE3F15B88CE3A1FAFEC88DA1D6329AC3C34712DB570DE886CF569098),
    (10, 1, 0, 0x2FE429DB8068E61B82624F25766273CD9FE6368FF097EAB97AAA09BE4C630E27),
    (11, 0, 0, 0x026DBA58ADE8CDA188F49E52FCE7167B8F219DBD924D7786B0F98FB799FEFA2E),
    (12, 0, 1, 0x1F930557A284998225F5F4E4DFBCF5AC211F1B12D91B0562ED3D63285D7A714A),
    (12, 11, 11, 0x0C7C9DB952865FB9470F8AA1402536CB3B82276D9E288082AC7F83B10BCB6D17),
    (13, 0, 0, 0x0D064DEE824928D39F2A8BE7D2FA583223C33995784D228839ADDE2559592592),
    (13, 1, 0, 0x2B2FF5F27531B6F3D6A85D75E3E08F3A2F0DAC3680A6C26D55ECBF803CA80569),
]


@pytest.mark.parametrize(("t", "row", "column", "value"), PUBLISHED_MDS)
def test_mds_matrices_are_the_published_ones(t: int, row: int, column: int, value: int) -> None:
    assert poseidon.parameters(t)[2][column][row] == value


def test_widest_mds_last_entry_is_the_published_one() -> None:
    """t = 17's last entry is the generator's last draw: the whole stream matched."""
    last = poseidon.parameters(17)[2][16][16]
    assert f"{last:x}".startswith("1d3ee85f078fbeecda2473efc2bedd1ba7ec6f4795faaeae3b0de48d3080c62")


@pytest.mark.parametrize("t", [2, 3, 4])
def test_committed_constants_are_the_generators_output(t: int) -> None:
    data = json.loads(poseidon_grain.DATA.read_text())
    assert data["source"] == poseidon_grain.SOURCE
    constants, mds = poseidon_grain.generate(t)
    _, stored_constants, stored_mds = poseidon.parameters(t)
    assert tuple(constants) == stored_constants
    assert tuple(tuple(row) for row in mds) == stored_mds


@pytest.mark.slow
def test_whole_constants_file_regenerates_identically() -> None:
    assert json.loads(poseidon_grain.DATA.read_text()) == poseidon_grain.document()


def test_every_width_has_its_constants() -> None:
    for t in poseidon_grain.WIDTHS:
        partial, constants, mds = poseidon.parameters(t)
        assert partial == poseidon_grain.PARTIAL_ROUNDS[t - 2]
        assert len(constants) == (8 + partial) * t and len(mds) == t
        assert all(0 <= c < FIELD for c in constants)
    with pytest.raises(ValueError):
        poseidon.parameters(18)
