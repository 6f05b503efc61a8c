"""Real published files an outside tester ran (issue 13): each keeps its verdict, root and format.

Evidence: the files in fixtures/samples/, copied unchanged from the publishers' repositories
(OKX's Okcoin file copied whole; the HTX files are subsets of the published ones, rows
unchanged):
  bitget/deniis313_Au20221129.json        Deniis313/proof-of-reserves @ b05e3b11, merkel_tree_bg.json
  bybit/mock_user_merkle_tree_path_40_v5.json
                                          bybit-exchange/merkle-proof @ c7d83081, src/test/resources/
  mexc/fcitem_main_PR-2022-12-29.json     fcitem/mexc-proof-of-reserves @ 98868b62,
                                          src/main/resources/merkle_proof.json (``balance``)
  mexc/fcitem_test_PR-2022-12-29.json     fcitem/mexc-proof-of-reserves @ eb95dc3a,
                                          src/test/resources/merkle_proof.json (``balances``)
  okx/user_info_file.json, okx/full-liabilities-merkle-tree.txt
                                          okx/proof-of-reserves @ 1c820131 and @ d7c1e5a6, example/
  okx/okcoin_por_example.csv              okx/proof-of-reserves @ 6ffa88e7, example/
  htx/huobi_por_20221201_part_subset.csv  huobiapi/Tool-Node.js-VerifyAddress @ 9c076d8b,
                                          snapshot/huobi_por_20221201_part.csv (a subset)
  htx/huobi_por_20230701_subset.csv       huobiapi/Tool-Node.js-VerifyAddress @ 207dbd86,
                                          snapshot/huobi_por_20230701.csv (a subset)
  gate/zkmerkle_user_config_7dd137b.json gatechain/gate-zkmerkle-proof @ 7dd137b, config/user_config.json
  gate/zkmerkle_verifier_user_config_2b9775b.json, gate/zkmerkle_proof_2b9775b.csv
                                          gatechain/gate-zkmerkle-proof @ 2b9775b, its config folder under verifier
                                          (user_config.json, proof.csv)
Detection runs on the main file alone (`--format auto`); the verdict with its companions.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from verifier.base.errors import EXIT_OK
from verifier.external.check import verify_external_proof, verify_ownership

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "samples"

PROOFS = [
    # (file, --tree, format, root, variant reported or None)
    ("bitget/deniis313_Au20221129.json", None, "bitget", "ffedeaf82363b23c", "hashmap-bigdecimal"),
    (
        "bybit/mock_user_merkle_tree_path_40_v5.json", None, "bybit",
        "c91d5de0554f97244e4d9f8056fad70fa0cb2cdb23c290ec597a042645dcbc03", None,
    ),
    ("mexc/fcitem_main_PR-2022-12-29.json", None, "mexc", "54c765dc661e9a7ab551fa717c7a3016", "balance"),
    ("mexc/fcitem_test_PR-2022-12-29.json", None, "mexc", "54c765dc661e9a7ab551fa717c7a3016", "balances"),
    (
        "gate/zkmerkle_user_config_7dd137b.json", None, "gate",
        "2da42ab6586ef6ad51b4bc8063ce92dcefb951572a26597346b7f78c1329ef0b", "N=350",
    ),
    (
        "gate/zkmerkle_verifier_user_config_2b9775b.json", None, "gate",
        "28f89f9b767e7b639f24801ac7ef2689c87f12dd451999a40252c8ea95c6db95", "N=350",
    ),
    (
        "okx/user_info_file.json", "okx/full-liabilities-merkle-tree.txt", "okx-v2",
        "9e98ebde32ef22ded88a5fb2d5e53d76ed57cb9c6b2c966f250721defe6ab041", None,
    ),
]  # fmt: skip


@pytest.mark.parametrize(("rel", "tree", "fmt", "root", "variant"), PROOFS)
def test_published_proof_verifies(
    rel: str, tree: str | None, fmt: str, root: str, variant: str | None
) -> None:
    doc, code = verify_external_proof(
        SAMPLES / rel, "auto", None if tree is None else SAMPLES / tree
    )
    assert (code, doc["valid"], doc["format"], doc["detected"]) == (EXIT_OK, True, fmt, True)
    assert doc["root"] == root
    assert doc.get("variant") == variant


OWNERSHIP = [
    # (file, format, counts valid/invalid/unsigned/unsupported)
    ("okx/okcoin_por_example.csv", "okx", (33, 0, 0, 0)),
    ("htx/huobi_por_20221201_part_subset.csv", "htx", (14, 0, 10, 0)),
    ("htx/huobi_por_20230701_subset.csv", "htx", (22, 0, 1, 0)),
]


@pytest.mark.parametrize(("rel", "fmt", "counts"), OWNERSHIP)
def test_published_ownership_file_verifies(
    rel: str, fmt: str, counts: tuple[int, int, int, int]
) -> None:
    doc, code = verify_ownership(SAMPLES / rel, fmt)
    assert code == EXIT_OK and doc["valid"]
    got = doc["counts"]
    assert (got["valid"], got["invalid"], got["unsigned"], got["unsupported"]) == counts


def test_htx_unsigned_rows_say_whether_the_cell_is_empty_or_a_dash() -> None:
    """HTX's 2022-12-01 file leaves some signature cells empty (``…,King will be back!,``)
    and others ``-``: each is reported as it is."""
    doc, _ = verify_ownership(SAMPLES / "htx" / "huobi_por_20221201_part_subset.csv", "htx")
    reasons = {r["address"]: r["reason"] for r in doc["rows"] if r["status"] == "unsigned"}
    empty = "no signature in the row (the cell is empty)"
    assert reasons["143gLvWYUojXaWZRrxquRKpVNTkhmr415B"] == empty
    assert set(reasons.values()) <= {empty, "no signature in the row ('-')"}
    doc, _ = verify_ownership(SAMPLES / "htx" / "huobi_por_20230701_subset.csv", "htx")
    assert {r["reason"] for r in doc["rows"] if r["status"] == "unsigned"} == {
        "no signature in the row ('-')"
    }


def test_gate_zkmerkle_layout_is_named_and_its_batch_file_is_another_tree() -> None:
    """gatechain/gate-zkmerkle-proof's key layout is reported; its published proof.csv is a
    consistent batch chain of another tree (its final root is not this user's): invalid,
    named ``batch root``, as the publisher's file set really is."""
    user = SAMPLES / "gate" / "zkmerkle_verifier_user_config_2b9775b.json"
    doc, code = verify_external_proof(user, "gate")
    assert code == EXIT_OK and doc["checks"][0].startswith("key layout: gatechain/gate-zkmerkle")
    from attestations.formats import verify as verify_format
    from verifier.external.check import load_proof_input

    inp = load_proof_input(user, None, None)
    batch = (SAMPLES / "gate" / "zkmerkle_proof_2b9775b.csv").read_bytes()
    import dataclasses

    from verifier.base.errors import InvalidProof

    try:
        result = verify_format("gate", dataclasses.replace(inp, batch_proof=batch))
    except InvalidProof as exc:
        assert exc.check == "batch root", exc.message
    else:
        assert not result.valid and result.failed_check == "batch root", result
