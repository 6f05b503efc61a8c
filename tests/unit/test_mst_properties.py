"""Property tests of `por-mst-v1` trees built by the tool (hypothesis).

Random trees (1..40 accounts, 1..4 assets with random codes and decimals, balances from 0
to near 2**128 including 2**127 neighbourhoods, split 1..3) are built through
`read_liabilities` + `build_tree` in a temporary directory. Every account's proof must
verify with the input's balances, the root sums must be the totals, and any single change
to a proof (a balance, a salt byte, the account id, a sibling hash or sum, the index, the
height, an asset code, the asset order, decimals, the root hash or a root sum, the
commitment, the attestation id) must make parse_proof/verify_proof raise InvalidProof.
"""

from __future__ import annotations

import copy
import csv
import json
import random
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from attestations.build import build_tree
from attestations.encoding import AssetSpec, commitment
from attestations.proofs import parse_proof, parse_root_document, verify_proof
from attestations.store import TreeStore
from verifier.base.errors import InputError, InvalidProof
from verifier.inputs.assets import read_assets
from verifier.inputs.liabilities import read_liabilities

MAX = 2**128
ATT = "prop-attestation"
AS_OF = "2025-06-30T00:00:00Z"

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# ----------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Case:
    assets: tuple[tuple[str, int], ...]  # (code, decimals), sorted by code (ASCII)
    accounts: tuple[tuple[str, tuple[int, ...]], ...]  # (account_id, balances in base units)
    split: int

    @property
    def totals(self) -> tuple[int, ...]:
        return tuple(sum(col) for col in zip(*(b for _, b in self.accounts), strict=True))


def whole(units: int, decimals: int, pad: bool) -> str:
    """Base units as an exact decimal string in whole units (optionally with trailing zeros)."""
    if decimals == 0:
        return str(units)
    text = str(units).rjust(decimals + 1, "0")
    frac = text[-decimals:] if pad else text[-decimals:].rstrip("0")
    return text[:-decimals] + ("." + frac if frac else "")


CODES = st.from_regex(r"[A-Z0-9._-]{1,16}", fullmatch=True)
BALANCES = st.one_of(
    st.just(0),
    st.integers(1, 10**6),
    st.integers(0, 2**64),
    st.integers(2**127 - 2**8, 2**127 + 2**8),
    st.integers(MAX - 2**8, MAX - 1),
    st.integers(0, MAX - 1),
)
IDS = st.text(
    alphabet=st.sampled_from(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.@éü日本😀\u0301"
    ),
    min_size=1,
    max_size=12,
)


@st.composite
def cases(draw, max_accounts: int = 40) -> Case:
    assets = draw(
        st.lists(
            st.tuples(CODES, st.integers(0, 36)), min_size=1, max_size=4, unique_by=lambda a: a[0]
        )
    )
    assets.sort(key=lambda a: a[0].encode("ascii"))
    count = draw(st.integers(1, max_accounts))
    ids = draw(st.lists(IDS, min_size=count, max_size=count, unique=True))
    rows = draw(
        st.lists(
            st.lists(BALANCES, min_size=len(assets), max_size=len(assets)),
            min_size=count,
            max_size=count,
        )
    )
    # keep every total below 2**128 (a total reaching it is an input error, tested apart)
    running = [0] * len(assets)
    for row in rows:
        for a, value in enumerate(row):
            row[a] = min(value, MAX - 1 - running[a])
            running[a] += row[a]
    return Case(
        assets=tuple(assets),
        accounts=tuple((i, tuple(r)) for i, r in zip(ids, rows, strict=True)),
        split=draw(st.integers(1, 3)),
    )


def write_inputs(directory: Path, case: Case) -> tuple[Path, Path]:
    csv_path = directory / "liabilities.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["account_id", "asset", "amount"])
        for n, (account_id, balances) in enumerate(case.accounts):
            for a, ((code, decimals), value) in enumerate(zip(case.assets, balances, strict=True)):
                # zero rows sometimes written, sometimes left out; every account keeps a row
                if value or n % 2 or (a == 0 and not any(balances)):
                    writer.writerow([account_id, code, whole(value, decimals, pad=bool(n % 3))])
    toml_path = directory / "assets.toml"
    toml_path.write_text("".join(f'[assets."{c}"]\ndecimals = {d}\n' for c, d in case.assets))
    return csv_path, toml_path


def build(directory: Path, case: Case) -> tuple[dict, dict[str, dict]]:
    """Build with the tool; return (root.json, {account_id: proof JSON})."""
    csv_path, toml_path = write_inputs(directory, case)
    data = read_liabilities(csv_path, read_assets(toml_path))
    out = directory / "tree"
    build_tree(data, out, attestation_id=ATT, as_of=AS_OF, split=case.split, workers=1)
    root = json.loads((out / "root.json").read_text())
    with TreeStore(out) as store:
        proofs = {p.account_id: json.loads(json.dumps(p.to_json())) for p in store.all_proofs()}
        # the bulk path (`liabilities proof --all`) writes the same proofs
        bulk = dict(store.proof_texts(0, len(proofs)))
        one = case.accounts[0][0]
        assert json.loads(json.dumps(store.proof(one).to_json())) == proofs[one]
    assert {k: json.loads(v) for k, v in bulk.items()} == proofs
    return root, proofs


def check(doc: dict, **published):
    return verify_proof(parse_proof(doc), **published)


# ----------------------------------------------------------------------------- edge cases

ONE_ZERO = Case(assets=(("BTC", 8),), accounts=(("a", (0,)),), split=1)
ONE_MAX = Case(assets=(("X", 36),), accounts=(("max", (MAX - 1,)),), split=3)
EXACT_TOTAL = Case(
    assets=(("ETH", 18), ("USDT", 6)),
    accounts=(("p", (2**127, 0)), ("q", (2**127 - 1, 2**127)), ("r", (0, 2**127 - 1))),
    split=2,
)
ASCII_EDGE = Case(
    assets=(("-", 0), (".", 36), ("0", 1), ("_", 18)),
    accounts=(("日本", (1, 10**36, 0, 2**127)), ("é", (0, 1, 7, 0))),
    split=1,
)
POWER_OF_TWO = Case(
    assets=(("BTC", 8),), accounts=tuple((f"u{i}", (i,)) for i in range(16)), split=1
)
SEVENTEEN = Case(
    assets=(("BTC", 8), ("ETH", 18)),
    accounts=tuple((f"u{i}", (i * 10**8, 2**127 // 17)) for i in range(17)),
    split=1,
)
FORTY_SPLIT = Case(
    assets=(("A", 0), ("B", 2), ("C", 36)),
    accounts=tuple((f"acct{i}", (i, 2**120 + i, 0)) for i in range(40)),
    split=3,
)


# ----------------------------------------------------------------------------- round trip


@SETTINGS
@example(case=ONE_ZERO)
@example(case=ONE_MAX)
@example(case=EXACT_TOTAL)
@example(case=ASCII_EDGE)
@example(case=POWER_OF_TWO)
@example(case=SEVENTEEN)
@example(case=FORTY_SPLIT)
@given(case=cases())
def test_every_proof_verifies_and_balances_round_trip(case):
    with tempfile.TemporaryDirectory() as tmp:
        root, proofs = build(Path(tmp), case)
    published = parse_root_document(root)
    leaves = case.split * len(case.accounts)
    assert 2 ** (root["height"] - 1) < max(leaves, 2) <= 2 ** root["height"]
    assert [(a["code"], a["decimals"]) for a in root["assets"]] == list(case.assets)
    assert tuple(int(s) for s in root["root"]["sums"]) == case.totals
    assert published.root.sums == case.totals
    assert sorted(proofs) == sorted(account_id for account_id, _ in case.accounts)
    positions: set[int] = set()
    for account_id, balances in case.accounts:
        proof = proofs[account_id]
        assert len(proof["leaves"]) == case.split
        positions.update(leaf["index"] for leaf in proof["leaves"])
        result = check(proof, published_root=published)
        assert result.account_id == account_id
        assert result.balances == balances
        assert result.balances_whole() == {
            code: whole(v, d, pad=False) for (code, d), v in zip(case.assets, balances, strict=True)
        }
        result = check(proof, published_commitment=published.commitment)
        assert result.balances == balances
    assert len(positions) == leaves  # no two leaves share a position


# ----------------------------------------------------------------------------- tampering


def _bump(value: str) -> str:
    """Change an amount by one base unit, staying in 0..2**128-1."""
    v = int(value)
    return str(v - 1 if v == MAX - 1 else v + 1)


def _flip_hex(text: str, byte: int, mask: int) -> str:
    raw = bytearray(bytes.fromhex(text))
    raw[byte % len(raw)] ^= mask
    return raw.hex()


CODE_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"


def tamperings(proof: dict, rng: random.Random) -> dict[str, dict]:
    """One tampered copy of `proof` per kind of change, the details chosen by `rng`."""
    height = proof["height"]
    count = len(proof["assets"])
    i = rng.randrange(len(proof["leaves"]))
    level = rng.randrange(height)
    a = rng.randrange(count)
    byte, mask = rng.randrange(32), rng.randrange(1, 256)
    leaf = proof["leaves"][i]
    out: dict[str, dict] = {}

    def tampered(kind):
        doc = copy.deepcopy(proof)
        out[kind] = doc
        return doc

    def other(old, make):
        while (new := make()) == old:
            pass
        return new

    tampered("leaf balance")["leaves"][i]["balances"][a] = _bump(leaf["balances"][a])
    tampered("salt byte")["leaves"][i]["salt"] = _flip_hex(leaf["salt"], byte, mask)
    tampered("account_id")["account_id"] = other(
        proof["account_id"],
        lambda: rng.choice(
            [proof["account_id"][:-1] or "z", proof["account_id"] + rng.choice("x0é "), "a"]
        ),
    )
    doc = tampered("sibling hash")
    doc["leaves"][i]["path"][level]["hash"] = _flip_hex(leaf["path"][level]["hash"], byte, mask)
    doc = tampered("sibling sum")
    doc["leaves"][i]["path"][level]["sums"][a] = _bump(leaf["path"][level]["sums"][a])
    tampered("leaf index")["leaves"][i]["index"] = other(
        leaf["index"],
        lambda: rng.choice(
            [leaf["index"] ^ (1 << rng.randrange(height)), rng.randrange(2**height + 1)]
        ),
    )
    tampered("height")["height"] = other(
        height, lambda: rng.choice([height - 1, height + 1, rng.randrange(257)])
    )
    code = proof["assets"][a]["code"]
    tampered("asset code")["assets"][a]["code"] = other(
        code, lambda: "".join(rng.choice(CODE_CHARS) for _ in range(rng.randint(1, 16)))
    )
    if count >= 2:
        j = other(a, lambda: rng.randrange(count))
        doc = tampered("asset order")
        doc["assets"][a], doc["assets"][j] = doc["assets"][j], doc["assets"][a]
    decimals = proof["assets"][a]["decimals"]
    tampered("asset decimals")["assets"][a]["decimals"] = other(
        decimals, lambda: rng.randint(0, 36)
    )
    tampered("root hash")["root"]["hash"] = _flip_hex(proof["root"]["hash"], byte, mask)
    tampered("root sum")["root"]["sums"][a] = _bump(proof["root"]["sums"][a])
    tampered("commitment")["commitment"] = _flip_hex(proof["commitment"], byte, mask)
    tampered("attestation_id")["attestation_id"] = other(
        ATT, lambda: rng.choice([ATT[:-1], ATT + "2", "x", "prop-attestatioN", "日本"])
    )
    return out


# The check that must fail, where it is certain (the others may fail at parse or verify).
EXPECTED_CHECK = {
    "leaf balance": {"root hash", "sums"},  # +1 may reach 2**128 on the way up
    "salt byte": {"root hash"},
    "account_id": {"root hash"},
    "sibling hash": {"root hash"},
    "root hash": {"root hash"},
    "commitment": {"commitment"},
    "attestation_id": {"commitment"},
    "asset decimals": {"commitment"},
}


@SETTINGS
@example(case=ONE_ZERO, seed=0)
@example(case=ONE_MAX, seed=1)
@example(case=EXACT_TOTAL, seed=2)
@example(case=ASCII_EDGE, seed=3)
@example(case=FORTY_SPLIT, seed=4)
@given(case=cases(), seed=st.integers(0, 2**32))
def test_any_single_change_to_a_proof_is_rejected(case, seed):
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        _, proofs = build(Path(tmp), case)
    account_id = rng.choice(sorted(proofs))
    proof = proofs[account_id]
    check(proof)  # the untouched proof verifies
    kinds = tamperings(proof, rng)
    expected_kinds = {
        "leaf balance",
        "salt byte",
        "account_id",
        "sibling hash",
        "sibling sum",
        "leaf index",
        "height",
        "asset code",
        "asset decimals",
        "root hash",
        "root sum",
        "commitment",
        "attestation_id",
    } | ({"asset order"} if len(case.assets) >= 2 else set())
    assert set(kinds) == expected_kinds
    for kind, doc in kinds.items():
        assert doc != proof, kind
        with pytest.raises(InvalidProof) as info:
            check(doc)
        if kind in EXPECTED_CHECK:
            assert info.value.check in EXPECTED_CHECK[kind], (kind, info.value.check)


@SETTINGS
@example(case=EXACT_TOTAL, seed=0)
@example(case=ASCII_EDGE, seed=1)
@given(case=cases(max_accounts=6), seed=st.integers(0, 2**32))
def test_relabelled_proof_with_recomputed_commitment_fails_against_the_published_root(case, seed):
    """Change decimals, an asset code (keeping the order) or the id AND recompute the
    commitment: the proof is then self-consistent, so only the published root or
    commitment can catch it, and it must."""
    with tempfile.TemporaryDirectory() as tmp:
        root, proofs = build(Path(tmp), case)
    rng = random.Random(seed)
    published = parse_root_document(root)
    proof = copy.deepcopy(proofs[rng.choice(sorted(proofs))])
    change = rng.choice(["decimals", "attestation_id", "code"])
    a = rng.randrange(len(case.assets))
    if change == "decimals":
        proof["assets"][a]["decimals"] = (proof["assets"][a]["decimals"] + 1) % 37
    elif change == "attestation_id":
        proof["attestation_id"] = ATT + "-2"
    else:  # a code that keeps the list sorted: append a character ('-' is the lowest)
        old = proof["assets"][a]["code"]
        nxt = proof["assets"][a + 1]["code"] if a + 1 < len(case.assets) else None
        new = (old + "-") if len(old) < 16 else old[:-1] + chr(ord(old[-1]) + 1)
        if (nxt is not None and new.encode() >= nxt.encode()) or not set(new) <= set(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"
        ):
            proof["assets"][a]["decimals"] = (proof["assets"][a]["decimals"] + 1) % 37
        else:
            proof["assets"][a]["code"] = new
    specs = [AssetSpec(x["code"], x["decimals"]) for x in proof["assets"]]
    recomputed = commitment(
        proof["attestation_id"],
        specs,
        proof["height"],
        bytes.fromhex(proof["root"]["hash"]),
        [int(s) for s in proof["root"]["sums"]],
    )
    proof["commitment"] = recomputed.hex()
    assert check(proof).commitment == recomputed  # self-consistent ...
    with pytest.raises(InvalidProof):
        check(proof, published_root=published)  # ... but not the published tree
    with pytest.raises(InvalidProof):
        check(proof, published_commitment=published.commitment)


@settings(max_examples=10, deadline=None, database=None)
@given(
    first=st.integers(2**127, MAX - 1),
    extra=st.integers(0, MAX - 1),
    decimals=st.integers(0, 36),
)
def test_a_total_reaching_2_128_is_an_input_error(first, extra, decimals):
    second = max(extra, MAX - first)  # first + second >= 2**128, each < 2**128
    case = Case(assets=(("BTC", decimals),), accounts=(("a", (first,)), ("b", (second,))), split=1)
    with tempfile.TemporaryDirectory() as tmp:
        with pytest.raises(InputError):
            build(Path(tmp), case)
        assert not (Path(tmp) / "tree").exists()
