"""`--format auto`: every file under fixtures/samples/ is detected as its format, from the
main file alone (a multi-file format's companions — root files, credentials, batch proofs —
are not needed to recognise it, and are claimed by no format themselves).

Evidence: the table below names every sample file; a file added under fixtures/samples/
without a row fails `test_every_sample_file_is_in_the_table`, and a row without its file or
naming an unregistered format fails too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from attestations.formats import FORMATS, detect
from verifier.base.errors import InputError
from verifier.external.check import load_proof_input
from verifier.external.detect import detect_proof_format

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "samples"

DETECTED: dict[str, str | None] = {
    # proof files: the format `auto` must pick
    "bitget/merkel_tree_bg.json": "bitget",
    "bitget/deniis313_Au20221129.json": "bitget",
    "bitget-clones/merkel_tree_uzx.json": "bitget",
    "bitunix/merkel_tree_path.json": "bitunix",
    "bitunix/merkle_tree_bitunix.json": "bitunix",
    "bitmex/liabilities-100-proof.csv": "bitmex",
    "bybit/mock_user_merkle_tree_path_40.json": "bybit",
    "bybit/mock_user_merkle_tree_path_40_v2.json": "bybit",
    "bybit/mock_user_merkle_tree_path_40_v3.json": "bybit",
    "bybit/mock_user_merkle_tree_path_40_v5.json": "bybit",
    "coinex/merkle_proof_file.json": "coinex",
    "gate/user_config.json": "gate",
    "gate/zkmerkle_user_config_7dd137b.json": "gate",
    "gate/zkmerkle_verifier_user_config_2b9775b.json": "gate",
    "htx-zk/user_config.json": "htx-zk",
    "lemon/proof.csv": "lemon",
    "mexc/merkle_proof.json": "mexc",
    "mexc/fcitem_main_PR-2022-12-29.json": "mexc",  # balances under 'balance'
    "mexc/fcitem_test_PR-2022-12-29.json": "mexc",
    "okx/user_info_file.json": "okx-v2",
    "okx/merkle_proof_file.json": "okx-v1",
    "swissborg/userLiab_1.json": "swissborg",
    "swissborg/userLiab_7.json": "swissborg",
    **{f"binance-2022/tree-level{k}.csv": "binance-2022" for k in range(1, 15)},
    # companions, ownership files and other documents: no proof format may claim them
    "bitmex/nonces.txt": None,
    "gate/proof.csv": None,  # gate's --batch-proof
    "gate/zkmerkle_proof_2b9775b.csv": None,
    "htx-zk/proof0.csv": None,  # htx-zk's --batch-proof
    "htx/huobi_por.csv": None,  # an ownership file (verify-ownership --format htx)
    "htx/README.md": None,
    "htx/huobi_por_20221201_part_subset.csv": None,
    "htx/huobi_por_20230701_subset.csv": None,
    "okx/full-liabilities-merkle-tree.txt": None,  # okx-v2's --tree
    "okx/okcoin_por_example.csv": None,
    "lemon/root.json": None,  # lemon's --root
    "okx/test.csv": None,  # ownership files
    "okx/okx_por_example.csv": None,
    "okx/okx_por_staking_example.csv": None,
    "por/attestation.json": None,  # a signed attestation, not an inclusion proof
    "summa/signatures.csv": None,
    "swissborg/auditRoots_1.json": None,  # swissborg's --root
    "swissborg/auditRoots_6.json": None,
    "swissborg/credential_1.txt": None,  # the user's secret credential
}


def _sample_files() -> list[str]:
    return sorted(str(p.relative_to(SAMPLES)) for p in SAMPLES.rglob("*") if p.is_file())


def _present(rel: str) -> Path:
    path = SAMPLES / rel
    assert path.exists(), f"{rel} is in the table but not in fixtures/samples/"
    return path


def test_every_sample_file_is_in_the_table() -> None:
    missing = [rel for rel in _sample_files() if rel not in DETECTED]
    assert not missing, f"add these to DETECTED (their format, or None): {missing}"


@pytest.mark.parametrize("rel", [r for r, f in DETECTED.items() if f is not None])
def test_auto_picks_the_format_of_every_proof_sample(rel: str) -> None:
    expected = DETECTED[rel]
    assert expected is not None
    assert expected in FORMATS, f"{expected} is not a registered format"
    path = _present(rel)
    # the main file alone: no --root, credential, --batch-proof, --tree or --nonce
    assert detect(load_proof_input(path, None, None)) == expected
    assert detect_proof_format(path) == expected


@pytest.mark.parametrize("rel", [r for r, f in DETECTED.items() if f is None])
def test_no_format_claims_a_companion_or_other_document(rel: str) -> None:
    path = _present(rel)
    with pytest.raises(InputError) as caught:
        detect(load_proof_input(path, None, None))
    assert "no known proof format fits this file" in caught.value.message


def test_binance_levels_directory_is_detected() -> None:
    assert detect_proof_format(SAMPLES / "binance-2022") == "binance-2022"


def test_every_registered_format_has_a_sample_row() -> None:
    # por's own proofs are built by the tests (tests/cli/test_verify_proof_detect.py); okx-v2
    # has no published sample (tests/unit/test_formats.py builds one)
    expected = set(FORMATS) - {"por", "okx-v2"}
    listed = {fmt for fmt in DETECTED.values() if fmt is not None}
    assert expected <= listed, f"no sample row for {sorted(expected - listed)}"
