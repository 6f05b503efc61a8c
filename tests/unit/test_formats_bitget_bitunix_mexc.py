"""Bitget generalised (any assets, three balancesJSON variants), Bitunix and MEXC path files.

Evidence: the publishers' own samples verify with their roots and totals --
fixtures/samples/bitget/merkel_tree_bg.json (BitgetLimited/proof-of-reserves, 4 assets),
fixtures/samples/bitget-clones/merkel_tree_uzx.json (uzxlab/proof-of-reserves @ 569cf623, a
Bitget clone with 36 assets, unquoted BigDecimal values with their scale),
fixtures/samples/bitunix/*.json (BitunixOfficial/proof-of-reserves @ 236e62bc and @ 7f6802ed),
fixtures/samples/mexc/merkle_proof.json (mexcmerkle/mexc-proof-of-reserves @ 4fece8ab,
src/main/resources), fixtures/samples/mexc/fcitem_main_PR-2022-12-29.json (fcitem/
mexc-proof-of-reserves @ 98868b62, src/main/resources/merkle_proof.json: balances under
``balance``, as that commit's ``com.mxc`` verifier reads them) and its sibling
fcitem_test_PR-2022-12-29.json (@ eb95dc3a, src/test/resources, under ``balances``) -- and
tampered copies fail naming the check. Files with more assets
than any sample (HashMap ties, 14+ assets, missing MEXC siblings) are built here by
`_bitunix_file` and `_mexc_file` from the publishers' rules. Hostile copies end in
InvalidProof or InputError, never another exception.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attestations.formats import FORMATS, ProofInput, detect, verify
from attestations.formats.java_hashmap import iteration_order
from verifier.base.errors import InputError, InvalidProof

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "samples"
BITGET = SAMPLES / "bitget" / "merkel_tree_bg.json"
UZX = SAMPLES / "bitget-clones" / "merkel_tree_uzx.json"
BITUNIX = SAMPLES / "bitunix" / "merkel_tree_path.json"
BITUNIX_2 = SAMPLES / "bitunix" / "merkle_tree_bitunix.json"
MEXC = SAMPLES / "mexc" / "merkle_proof.json"
MEXC_BALANCE = SAMPLES / "mexc" / "fcitem_main_PR-2022-12-29.json"
MEXC_BALANCES = SAMPLES / "mexc" / "fcitem_test_PR-2022-12-29.json"


def _load(path: Path) -> Any:
    return json.loads(path.read_text(), parse_float=Decimal)


def _dumps(doc: Any) -> str:
    """JSON with Decimals written as JSON numbers, digits and scale as they are."""
    marked = json.dumps(doc, default=lambda d: f"@@{d}@@")
    return re.sub(r'"@@([^@]*)@@"', r"\1", marked)


def _run(name: str, doc: Any, raw: str | None = None) -> Any:
    data = (raw if raw is not None else _dumps(doc)).encode()
    return verify(name, ProofInput("t.json", data))


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# ----------------------------------------------------------------------------- samples


@pytest.mark.parametrize(
    ("name", "path", "root", "variant", "totals"),
    [
        ("bitget", BITGET, "8eac815c495e6a67", "hashmap-quoted", {"BTC": "9935.73595927"}),
        (
            "bitget",
            UZX,
            "82a94a1524108aeb",
            "hashmap-bigdecimal",
            {"BTC": "2825672.2779116467185314", "AVAX": "0.000000101"},
        ),
        (
            "bitunix",
            BITUNIX,
            "179d1c14302c19f740882f9b764134daade5ad06f4bba4c3fa030190ef2f9516",
            None,
            {"BTC": "21210005311.84890577", "USDT": "8241025647576560630.53085845"},
        ),
        (
            "bitunix",
            BITUNIX_2,
            "7b827719ac2f358ceae382ecd80236d5ad8b8130be30b08ffea72b1e7a9ae5e3",
            None,
            {"ETH": "1001272710.88348384", "USDT": "3000213763373367606.859704"},
        ),
        (
            "mexc",
            MEXC,
            "35d01ffef2beec3ff0166c03f3d9b0cc",
            None,
            {"BTC": "4386831.37", "ETH": "5001729.74", "USDT": "5099023.18", "USDC": "0"},
        ),
    ],
)
def test_samples_verify_with_their_roots_and_totals(
    name: str, path: Path, root: str, variant: str | None, totals: dict[str, str]
) -> None:
    result = verify(name, ProofInput(path.name, path.read_bytes()))
    assert result.valid and result.root == root
    assert {k: result.totals[k] for k in totals} == totals
    if variant:
        assert result.details["variant"] == variant
        assert any(variant in check for check in result.checks)
    assert result.weaknesses


def test_uzx_scale_is_hashed_as_published() -> None:
    raw = UZX.read_text().replace('"ETH": 100.0000000000000000', '"ETH": 100.000000000000000')
    with pytest.raises(InvalidProof) as info:
        _run("bitget", None, raw)
    assert info.value.check == "leaf hash"


def test_weaknesses_name_truncation_sum_only_and_sibling_exposure() -> None:
    assert "64 bits" in " ".join(FORMATS["bitget"].weaknesses)
    assert "128 bits" in " ".join(FORMATS["mexc"].weaknesses)
    assert "exposes another customer" in " ".join(FORMATS["bitunix"].weaknesses)
    for name in ("bitget", "bitunix", "mexc"):
        assert "sum-only parents" in " ".join(FORMATS[name].weaknesses)


def _flip(text: str) -> str:
    return ("1" if text[0] == "0" else "0") + text[1:]


TAMPER = [
    (
        "bitget",
        UZX,
        lambda d: d["self"]["balances"].update(BTC=Decimal("0.0000122055400001")),
        "leaf hash",
    ),
    ("bitget", UZX, lambda d: d["self"].update(nonce=_flip(d["self"]["nonce"])), "leaf hash"),
    (
        "bitget",
        UZX,
        lambda d: d["path"][3].update(merkelLeaf=_flip(d["path"][3]["merkelLeaf"])),
        "root hash",
    ),
    (
        "bitget",
        UZX,
        lambda d: d["path"][6]["balances"].update(SOL=Decimal("101.0000000000000000")),
        "root hash",
    ),
    ("bitget", UZX, lambda d: d["path"][-1]["balances"].update(XRP=Decimal("1")), "root sums"),
    ("bitget", UZX, lambda d: d["path"][0].update(role=1), "path"),
    ("bitunix", BITUNIX, lambda d: d["self"]["balances"].update(USDT="9287.88000001"), "leaf hash"),
    ("bitunix", BITUNIX, lambda d: d["self"].update(nonce=_flip(d["self"]["nonce"])), "leaf hash"),
    (
        "bitunix",
        BITUNIX,
        lambda d: d["self"].update(encryptUid=_flip(d["self"]["encryptUid"])),
        "leaf hash",
    ),
    (
        "bitunix",
        BITUNIX,
        lambda d: d["path"][3].update(merkleLeaf=_flip(d["path"][3]["merkleLeaf"])),
        "root hash",
    ),
    ("bitunix", BITUNIX, lambda d: d["path"][5]["balances"].update(ETH="0.00000001"), "root hash"),
    ("bitunix", BITUNIX_2, lambda d: d["self"]["precisions"].update(USDT=5), "root hash"),
    ("bitunix", BITUNIX, lambda d: d["path"][-1]["balances"].update(BTC="1"), "root sums"),
    ("bitunix", BITUNIX, lambda d: d["path"][0].update(type=1), "path"),
    ("bitunix", BITUNIX, lambda d: d["path"][2]["balances"].update(SOL="0"), "path"),
    (
        "bitunix",
        BITUNIX,
        lambda d: d["path"][0].update(nonce=_flip(d["path"][0]["nonce"])),
        "sibling leaf",
    ),
    (
        "bitunix",
        BITUNIX_2,
        lambda d: d["path"][0]["balances"].update(USDT="0.0000000"),
        "sibling leaf",
    ),
    ("bitunix", BITUNIX, lambda d: d["path"][0].pop("nonce"), "fields"),
    ("mexc", MEXC, lambda d: d["self"]["balances"].update(ETH="195462.74"), "leaf hash"),
    ("mexc", MEXC, lambda d: d["self"].update(accountId="1745297674"), "leaf hash"),
    ("mexc", MEXC, lambda d: d["self"].update(proofId="PR-2025-01-23"), "leaf hash"),
    (
        "mexc",
        MEXC,
        lambda d: d["pathList"][1].update(hash=_flip(d["pathList"][1]["hash"])),
        "root hash",
    ),
    ("mexc", MEXC, lambda d: d["pathList"][2]["balances"].update(BTC="2863723.2"), "root hash"),
    ("mexc", MEXC, lambda d: d["pathList"][0].update(hash="0" * 32), "root hash"),
    ("mexc", MEXC, lambda d: d["pathList"][-1]["balances"].update(ETH="1"), "root sums"),
    ("mexc", MEXC, lambda d: d["pathList"][1].update(level=1), "path"),
    ("mexc", MEXC, lambda d: d["pathList"][1].update(level=9), "path"),
    ("mexc", MEXC, lambda d: d["pathList"][0]["balances"].update(USDT="5"), "path"),
]


@pytest.mark.parametrize(("name", "path", "change", "check"), TAMPER)
def test_tampered_copies_fail_naming_the_check(
    name: str, path: Path, change: Any, check: str
) -> None:
    doc = _load(path)
    change(doc)
    with pytest.raises(InvalidProof) as info:
        _run(name, doc)
    assert info.value.check == check, info.value.message
    assert "t.json" in info.value.message


def test_a_bitget_failure_names_the_variant_that_opened_the_leaf() -> None:
    doc = _load(UZX)
    doc["path"][3]["merkelLeaf"] = _flip(doc["path"][3]["merkelLeaf"])
    with pytest.raises(InvalidProof, match="variant hashmap-bigdecimal; tried hashmap-quoted"):
        _run("bitget", doc)


def test_bitget_key_order_in_the_file_does_not_matter_under_hashmap() -> None:
    doc = _load(UZX)
    doc["self"]["balances"] = dict(reversed(list(doc["self"]["balances"].items())))
    assert _run("bitget", doc).details["variant"] == "hashmap-bigdecimal"


@pytest.mark.parametrize("path", [BITUNIX, BITUNIX_2, UZX, MEXC])
def test_detection_picks_the_format(path: Path) -> None:
    want = {"bitunix": "bitunix", "bitget-clones": "bitget", "mexc": "mexc"}[path.parent.name]
    assert detect(ProofInput(path.name, path.read_bytes())) == want


def test_new_formats_claim_no_other_sample() -> None:
    mine = {"bitunix", "mexc"}
    for path in sorted(SAMPLES.rglob("*")):
        if path.is_file() and path.parent.name not in mine:
            inp = ProofInput(path.name, path.read_bytes())
            assert not [n for n in mine if FORMATS[n].looks_like(inp)], path


# ----------------------------------------------------------------------------- built files


def _bitunix_json(keys: list[str], values: dict[str, str]) -> str:
    return "{" + ",".join(f'"{k}":"{values[k]}"' for k in iteration_order(keys)) + "}"


def _bitunix_file(
    leaves: list[dict[str, str]], precisions: dict[str, int], me: int
) -> dict[str, Any]:
    """A full Bitunix tree of len(leaves) (a power of two) leaves, the path of leaf `me`."""
    height = len(leaves).bit_length()
    level: list[dict[str, Any]] = []
    for n, bal in enumerate(leaves):
        uid, nonce = f"uid{n}", f"nonce{n}"
        leaf = _sha(f"{uid},{nonce},{_bitunix_json(list(bal), bal)}")
        level.append(
            {
                "merkleLeaf": leaf,
                "balances": bal,
                "height": height,
                "encryptUid": uid,
                "nonce": nonce,
            }
        )
    path: list[dict[str, Any]] = []
    index = me
    mine = dict(level[me], type=1 if me % 2 == 0 else 2, precisions=precisions)
    while len(level) > 1:
        sib = dict(level[index ^ 1], type=1 if (index ^ 1) % 2 == 0 else 2)
        path.append(sib)
        nxt: list[dict[str, Any]] = []
        for left, right in zip(level[::2], level[1::2], strict=True):
            sums: dict[str, str] = {}
            for k in iteration_order(list(left["balances"])):
                total = Decimal(left["balances"][k]) + Decimal(right["balances"][k])
                sums[k] = str(
                    total.quantize(Decimal(1).scaleb(-precisions[k]), rounding=ROUND_DOWN)
                )
            h = left["height"] - 1
            digest = _sha(
                left["merkleLeaf"]
                + right["merkleLeaf"]
                + ","
                + _bitunix_json(list(sums), sums)
                + f",{h}"
            )
            nxt.append({"merkleLeaf": digest, "balances": sums, "height": h})
        level, index = nxt, index // 2
    path.append(dict(level[0], type=3))
    return {"path": path, "self": mine}


ASSETS = [
    "BTC",
    "ETH",
    "USDT",
    "Aa",
    "BB",
    "SOL",
    "DOGE",
    "TRX",
    "XRP",
    "ADA",
    "LTC",
    "BNB",
    "AVAX",
    "DOT",
]


def test_a_built_bitunix_file_with_fourteen_assets_and_a_hashmap_tie() -> None:
    leaves = [{a: f"{n + i}.{i:03d}" for i, a in enumerate(ASSETS)} for n in range(8)]
    precisions = dict.fromkeys(ASSETS, 2)  # three places published, two kept: sums round down
    doc = _bitunix_file(leaves, precisions, me=5)
    result = _run("bitunix", doc)
    assert result.valid and result.details["sibling_leaf_opens"] is True
    doc["self"]["balances"]["BTC"] = "5.001"
    with pytest.raises(InvalidProof, match="leaf hash"):
        _run("bitunix", doc)


def _mexc_hash(text: str) -> str:
    return _sha(text)[:32]


def _mexc_body(bal: dict[str, Decimal]) -> str:
    def plain(v: Decimal) -> str:
        t = format(v, "f")
        return (t.rstrip("0").rstrip(".") if "." in t else t) or "0"

    return ",".join(f"{k}:{plain(bal[k])}" for k in sorted(bal))


def _mexc_file() -> dict[str, Any]:
    """A 3-leaf MEXC tree: user (left) + sibling at level 0, an empty right sibling at level 1."""
    me = {"SOL": "2.50", "BTC": "0.1"}
    sib = {"SOL": "1.5", "DOGE": "10"}
    leaf = _mexc_hash("P1,acct," + ",".join(f"{k}:{me[k]}" for k in sorted(me)))
    sib_hash = _mexc_hash("P1,other,x")
    sums = {k: Decimal(me.get(k, "0")) + Decimal(sib.get(k, "0")) for k in {*me, *sib}}
    sums.update({t: sums.get(t, Decimal(0)) for t in ("BTC", "USDT", "ETH", "USDC")})
    p1 = _mexc_hash(f"{leaf},{sib_hash},{_mexc_body(sums)}")
    root = _mexc_hash(f"{p1},,{_mexc_body(sums)}")  # level 1 has no sibling: empty node
    return {
        "self": {
            "level": 0,
            "type": 1,
            "hash": leaf,
            "balances": me,
            "proofId": "P1",
            "accountId": "acct",
        },
        "pathList": [
            {"level": 0, "type": 2, "hash": sib_hash, "balances": sib},
            {"level": 2, "type": 3, "hash": root, "balances": {k: str(v) for k, v in sums.items()}},
        ],
    }


def test_a_built_mexc_file_with_other_tokens_and_a_missing_sibling() -> None:
    result = _run("mexc", _mexc_file())
    assert result.valid and result.details["empty_siblings"] == 1
    assert result.totals["SOL"] == "4" and result.totals["DOGE"] == "10"
    doc = _mexc_file()
    doc["pathList"][0]["type"] = 1  # the sibling's type at level 0 does not decide the side
    assert _run("mexc", doc).valid


def test_mexc_balance_key_of_the_older_verifier() -> None:
    """The ``com.mxc`` verifier's files keep balances under ``balance``: same root as the
    ``balances`` file of the same proof, the key reported."""
    old, new = verify("mexc", _input(MEXC_BALANCE)), verify("mexc", _input(MEXC_BALANCES))
    assert old.valid and new.valid
    assert old.root == new.root == "54c765dc661e9a7ab551fa717c7a3016"
    assert (old.details["variant"], new.details["variant"]) == ("balance", "balances")
    assert "balances under 'balance'" in old.checks[0]
    assert old.totals == new.totals


def _input(path: Path) -> ProofInput:
    return ProofInput(path.name, path.read_bytes())


def _renamed(doc: Any, node: dict[str, Any], key: str) -> Any:
    node[key] = node.pop("balance")
    return doc


@pytest.mark.parametrize(
    ("change", "check"),
    [
        (lambda d: d["self"]["balance"].update(USDT="8000009"), "leaf hash"),
        (lambda d: d["pathList"][1].update(hash="0" * 32), "root hash"),
        (lambda d: d["pathList"][2]["balance"].update(USDT="32000033"), "root hash"),
        (lambda d: d["pathList"][-1]["balance"].update(USDT="1"), "root sums"),
        (lambda d: d["pathList"][1].update(balances=d["pathList"][1]["balance"]), "fields"),
        (lambda d: d["self"].update(balances={"USDT": "8000008"}), "fields"),
        (lambda d: _renamed(d, d["pathList"][3], "balances"), "fields"),  # two keys in one file
        (lambda d: _renamed(d, d["pathList"][3], "balanceX"), "fields"),
    ],
)
def test_mexc_balance_file_tampered(change: Any, check: str) -> None:
    doc = _load(MEXC_BALANCE)
    change(doc)
    with pytest.raises(InvalidProof) as caught:
        _run("mexc", doc)
    assert caught.value.check == check


# ----------------------------------------------------------------------------- hostile


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


HOSTILE = st.sampled_from(
    [
        None,
        True,
        0,
        -1,
        2**70,
        "",
        "x",
        "9" * 5000,
        "-1",
        "1e5",
        [],
        {},
        [1],
        {"a": 1},
        "\x00",
        'Aa"b',
    ]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(
        [("bitget", UZX), ("bitunix", BITUNIX), ("mexc", MEXC), ("mexc", MEXC_BALANCE)]
    ),
    st.data(),
)
def test_hostile_fields_are_named_errors(case: tuple[str, Path], data: st.DataObject) -> None:
    name, path = case
    doc = _load(path)
    spots = _paths(doc)[1:]
    spot = data.draw(st.sampled_from(spots))
    parent = doc
    for step in spot[:-1]:
        parent = parent[step]
    action = data.draw(st.sampled_from(["replace", "delete"]))
    if action == "delete" and isinstance(parent, dict):
        del parent[spot[-1]]
    else:
        parent[spot[-1]] = data.draw(HOSTILE)
    try:
        result = _run(name, copy.deepcopy(doc))
    except (InvalidProof, InputError):
        return
    assert result.valid  # only a change that does not touch what is hashed may pass
