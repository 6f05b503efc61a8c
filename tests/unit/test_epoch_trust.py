"""What `por verify` may claim about epoch proofs, and the one-line fields of signed messages.

The second review's trust defects: without an auditor node, a re-signed document could call
an expired or old epoch proof proven (or state an age of 0 or -5 seconds, or an epoch block
not on the chain) and verify said VALID with a check mark for "staleness recomputed"; a
Unicode line break (U+0085, U+2028) or an invisible character in the exchange name or an
epoch id went raw into the signed challenge; and the document's maximum age was unbounded
and its stated source unchecked. Documents come from tests/unit/test_attestation_epochs.py.
"""

from __future__ import annotations

import copy
import json
import sys
import unicodedata
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_attestation_epochs import (
    BTC_EPOCH,
    BTC_PINNED,
    BTC_SECRET,
    ETH_EPOCH,
    ETH_PINNED,
    KEY,
    PIT_SECRET,
    PUBLIC,
    _resign,
    btc,
    build,
    eth,
    eth_signature,
    field_check,
    message,
    verify_cli,  # noqa: F401  (the fixture)
)

import verifier.jobs.verify as attest_module
from attestations.document.canonical import MAX_SAFE_INT
from attestations.document.model import MAX_AGE_DAYS
from attestations.document.parse import parse_attestation
from attestations.document.sign import sign_attestation
from chains.base import BlockRef, Chain
from chains.btc_bip137 import sign_bip137
from chains.challenge import challenge, epoch_challenge, line_problem
from verifier.base.errors import InputError
from verifier.cli.challenge import printable
from verifier.cli.main import main
from verifier.inputs import config_schema
from verifier.inputs.config import load_config
from verifier.reserve.pack_file import load_pack

Run = Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]
TRUST = "not re-checked without an auditor node: epoch 2026-q4's"

# ----------------------------------------------------------------------------- 1. trust


def test_offline_epoch_proofs_are_valid_only_with_what_was_taken_on_trust(
    verify_cli: Run,  # noqa: F811
) -> None:
    # an epoch proof with an expiry, counted proven: whether the pinned block is past the
    # expiry, how old it is in seconds and whether its epoch block is on the chain are
    # facts the document alone cannot show
    code, result = verify_cli(sign_attestation(build(), KEY))
    assert code == 0 and result["valid"], result
    assert result["epochs_rechecked_on_node"] is False
    warning = next(w for w in result["warnings"] if TRUST in w)
    assert warning.startswith("bitcoin: ")
    assert f"block hash (block 400 {'11' * 32})" in warning
    assert "expiry (2027-03-31T00:00:00Z)" in warning
    assert "age in seconds (19200, against 92 days" in warning
    assert "1 proof counted proven" in warning
    # the ethereum epoch has no expiry: its warning names only the hash and the seconds
    eth_warning = next(w for w in result["warnings"] if w.startswith("ethereum: not re-checked"))
    assert "expiry" not in eth_warning and "age in seconds (172805" in eth_warning
    # the check line claims what was recomputed: the ages in blocks and the block limit
    line = next(c for c in result["checks"] if "2 epoch proofs" in c)
    assert "ages in blocks" in line and "bitcoin 100 blocks" in line
    assert "staleness" not in line and "92 days" not in line


def _expired(doc: dict[str, Any]) -> None:
    """An epoch that expired in 2020, its proof re-signed and said proven: only the pinned
    block's time (on a node) shows it is stale."""
    epoch = {**BTC_EPOCH, "expires": "2020-01-01T00:00:00Z"}
    btc(doc).update(epoch=epoch, signature=sign_bip137(BTC_SECRET, message(epoch, BTC_PINNED)))


def _made_up_hash(doc: dict[str, Any]) -> None:
    """An epoch block hash no chain has, signed over: only a node shows it is not there."""
    epoch = {**ETH_EPOCH, "hash": "33" * 32}
    eth(doc).update(epoch=epoch, signature=eth_signature(message(epoch, ETH_PINNED)))


@pytest.mark.parametrize(
    ("what", "how"),
    [
        ("expired, said proven", _expired),
        ("age 0 seconds", lambda d: btc(d)["age"].update(seconds=0)),
        ("epoch hash not on the chain", _made_up_hash),
    ],
)
def test_a_forged_epoch_fact_is_never_a_bare_valid_offline(
    verify_cli: Run,  # noqa: F811
    what: str,
    how: Callable[[dict[str, Any]], object],
) -> None:
    doc = sign_attestation(build(), KEY)
    how(doc)
    code, result = verify_cli(_resign(doc))
    assert code == 0, result["discrepancies"]
    assert result["epochs_rechecked_on_node"] is False
    assert any(TRUST in w for w in result["warnings"]), what


def test_the_text_verdict_says_what_was_taken_on_trust(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(attest_module, "_recompute", lambda *args: None)
    path = tmp_path / "attestation.json"
    path.write_text(json.dumps(sign_attestation(build(), KEY)))
    assert main(["verify", str(path), "--public-key", PUBLIC]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith(
        "VALID (epoch proofs partly taken on trust: verify with --config naming your nodes)"
    ), lines[-1]
    flat = " ".join(" ".join(lines).split())
    assert f"! bitcoin: {TRUST}" in flat
    assert f"✓ bitcoin: {TRUST}" not in flat


def test_without_epoch_proofs_the_verdict_is_plain(
    verify_cli: Run,  # noqa: F811
) -> None:
    doc = build()
    for proof in (btc(doc), eth(doc)):  # both proofs point-in-time: no epoch, no age
        proof.update(epoch=None, age=None, status="unproven")
    del doc["settings"]
    doc["report"]["settings"].pop("ownership_max_age")
    code, result = verify_cli(sign_attestation(doc, KEY))
    assert code == 0, result["discrepancies"]
    assert result["epochs_rechecked_on_node"] is None
    assert not any("not re-checked without an auditor node" in w for w in result["warnings"])


def test_stale_and_unproven_epoch_proofs_are_not_listed_as_taken_on_trust(
    verify_cli: Run,  # noqa: F811
) -> None:
    doc = build()
    btc(doc)["status"] = "stale"  # the exchange's own, cautious reading
    code, result = verify_cli(sign_attestation(doc, KEY))
    assert code == 0, result["discrepancies"]
    assert not any(TRUST in w for w in result["warnings"])


def test_a_negative_age_in_seconds_is_refused_on_read() -> None:
    doc = build()
    btc(doc)["age"]["seconds"] = -5
    assert field_check(doc) == "field chains[0].wallets[0].ownership.age.seconds"
    btc(doc)["age"]["seconds"] = 0  # the same block time: a valid age
    parse_attestation(doc, require_signature=False)


def test_the_writer_never_measures_a_negative_age() -> None:
    from verifier.holdings.ownership import proof_age

    epoch = BlockRef(Chain.BITCOIN, "regtest", 10, "11" * 32, time=1_000_000)
    pinned = BlockRef(Chain.BITCOIN, "regtest", 12, "22" * 32, time=999_000)  # timed earlier
    assert proof_age(epoch, pinned).seconds == 0


def test_one_epoch_on_one_chain_states_one_age(verify_cli: Run) -> None:  # noqa: F811
    # a second bitcoin proof of the same epoch (the same blocks) with another age in seconds
    doc = build()
    btc(doc, 1).update(
        signature=sign_bip137(PIT_SECRET, message(BTC_EPOCH, BTC_PINNED)),
        epoch=dict(BTC_EPOCH),
        age={"blocks": 32, "seconds": 5},
    )
    code, result = verify_cli(sign_attestation(doc, KEY))
    assert code == 3
    assert any(
        "the proofs of epoch 2026-q4 state different ages in seconds (5, 19200)" in d
        for d in result["discrepancies"]
    ), result["discrepancies"]
    btc(doc, 1)["age"]["seconds"] = 19200  # the same age: fine
    code, result = verify_cli(sign_attestation(doc, KEY))
    assert code == 0, result["discrepancies"]


# ----------------------------------------------------------------------------- 3. limits


def _limits(doc: dict[str, Any], **values: Any) -> dict[str, Any]:
    for where in (doc["settings"], doc["report"]["settings"]):
        where["ownership_max_age"].update(copy.deepcopy(values))
    return doc


def test_the_documents_day_limit_is_bounded_as_the_config_bounds_it() -> None:
    assert MAX_AGE_DAYS == config_schema.MAX_AGE_DAYS == 3660
    assert MAX_SAFE_INT == config_schema.MAX_AGE_BLOCKS
    for days in (0, 3661, 10**6):
        doc = _limits(build(), days=days)
        assert field_check(doc) == "field settings.ownership_max_age.days", days
    parse_attestation(_limits(build(), days=3660), require_signature=False)
    doc = build()
    doc["settings"]["ownership_max_age"]["blocks"] = {"bitcoin": 2**53}
    assert field_check(doc) == "field settings.ownership_max_age.blocks.bitcoin"


PACK = "rule pack jp-fsa-2026 parameter ownership_max_age_days"


@pytest.mark.parametrize(
    ("source", "days", "found"),
    [
        ("default", 30, "the source says the default, which is 92 days, not 30"),
        (PACK, 92, "which that pack does not have"),
        ("rule pack eu-mica parameter ownership_max_age_days", 92, "the document applied"),
        ("rule pack jp-fsa-2026 parameter theta", 92, "names rule pack parameter theta"),
    ],
)
def test_a_limit_source_naming_a_builtin_pack_or_the_default_is_checked(
    verify_cli: Run,  # noqa: F811
    source: str,
    days: int,
    found: str,
) -> None:
    doc = _limits(build(), source=source, days=days)
    code, result = verify_cli(sign_attestation(doc, KEY))
    assert code == 3
    assert any(found in d for d in result["discrepancies"]), result["discrepancies"]


def test_a_limit_from_a_pack_that_has_it_is_checked_against_its_value(
    verify_cli: Run,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pack = load_pack("jp-fsa-2026").with_overrides(
        {"ownership_max_age_days": "92"}, on=date(2026, 1, 1)
    )
    monkeypatch.setattr(attest_module, "load_pack", lambda name: pack)
    code, result = verify_cli(sign_attestation(_limits(build(), source=PACK), KEY))
    assert code == 0, result["discrepancies"]
    assert any(
        "the day limit checked against rule pack jp-fsa-2026" in w for w in result["warnings"]
    )
    code, result = verify_cli(sign_attestation(_limits(build(), source=PACK, days=91), KEY))
    assert code == 3
    assert any(
        "days is 91, rule pack jp-fsa-2026 2026.0-ph1 sets ownership_max_age_days = 92" in d
        for d in result["discrepancies"]
    ), result["discrepancies"]


def test_the_exchanges_own_limit_is_only_as_the_document_states_it(
    verify_cli: Run,  # noqa: F811
) -> None:
    code, result = verify_cli(sign_attestation(build(), KEY))
    assert code == 0
    assert any("the day limit as the document states it" in w for w in result["warnings"])
    assert not any("[ownership] max_age_days" in c for c in result["checks"])


# ----------------------------------------------------------------------------- 2. one line

FORGING = [
    "Demo Exchange KK\u0085epoch: evil",  # NEL: str.splitlines() breaks here
    "e1\u2028block: 1 00",  # LINE SEPARATOR
    "e1\u2029x",  # PARAGRAPH SEPARATOR
    "Demo\u202eKK",  # RIGHT-TO-LEFT OVERRIDE
    "Demo\u200bKK",  # ZERO WIDTH SPACE
    "Demo\u00a0KK",  # NO-BREAK SPACE
    "Demo\tKK",
    "Demo\x1bKK",
    "Demo\U000e0001KK",  # LANGUAGE TAG (Cf beyond the BMP)
]


@pytest.mark.parametrize(
    "text",
    FORGING,
    ids=[f"U+{ord(c):04X}" for c in "\x85\u2028\u2029\u202e\u200b\xa0\t\x1b\U000e0001"],
)
def test_the_challenge_refuses_what_could_forge_or_hide_a_line(text: str) -> None:
    assert line_problem(text) is not None
    block = BlockRef(Chain.BITCOIN, "regtest", 1, "00" * 32)
    with pytest.raises(InputError):
        challenge(text, "a1", block)
    with pytest.raises(InputError):
        challenge("Demo", text, block)
    with pytest.raises(InputError):
        epoch_challenge(text, "e1", block)
    with pytest.raises(InputError):
        epoch_challenge("Demo", text, block)
    assert line_problem("Café 東京 KK — 2026") is None  # letters of any script, plain spaces


GOOD = """
[exchange]
name = "Example Exchange"
attestation_id = "exch-2026-11"

[bitcoin]
backend = "bcoin"
url = "http://127.0.0.1:1"
network = "regtest"
"""
EPOCH = (
    '\n[[ownership.epochs]]\nid = "{id}"\nbitcoin = { height = 1, hash = "' + "ab" * 32 + '" }\n'
)


def _toml(text: str) -> str:
    return json.dumps(text)  # a TOML basic string: JSON's escapes are TOML's


@pytest.mark.parametrize("text", FORGING[:6], ids=["nel", "ls", "ps", "rlo", "zwsp", "nbsp"])
def test_the_config_refuses_them_naming_the_key(tmp_path: Path, text: str) -> None:
    path = tmp_path / "por.toml"
    for key, config in (
        ("exchange.name", GOOD.replace('"Example Exchange"', _toml(text))),
        ("exchange.attestation_id", GOOD.replace('"exch-2026-11"', _toml(text))),
        ("ownership.epochs[0].id", GOOD + EPOCH.replace('"{id}"', _toml(text))),
    ):
        path.write_text(config)
        with pytest.raises(InputError) as info:
            load_config(path)
        assert info.value.key == key, info.value.message
        assert info.value.exit_code == 3


def test_config_check_exits_3_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "por.toml"
    path.write_text(GOOD.replace('"Example Exchange"', _toml("Demo Exchange KK\u0085epoch: evil")))
    code = main(["config", "check", "--config", str(path)])
    captured = capsys.readouterr()
    text = " ".join((captured.out + captured.err).split())
    assert code == 3, text
    assert "exchange.name" in text and "Traceback" not in text
    assert (
        r"\x85" in text and "\x85" not in text
    )  # the value shown escaped, not as a raw line break


def test_an_epoch_id_has_the_new_epoch_charset() -> None:
    from verifier.holdings.challenge_plan import _NEW_EPOCH_ID

    assert _NEW_EPOCH_ID.pattern == config_schema.EPOCH_ID
    for good in ("2026-q4", "e1", "demo-epoch-0", "a.b_c:d+e"):
        config_schema.Epoch.model_validate(
            {"id": good, "bitcoin": {"height": 1, "hash": "ab" * 32}}
        )
    for bad in ("a b", "-x", "", "x" * 65, "e1\u2028"):
        with pytest.raises(ValueError):
            config_schema.Epoch.model_validate(
                {"id": bad, "bitcoin": {"height": 1, "hash": "ab" * 32}}
            )


@pytest.mark.parametrize(
    ("field", "path"),
    [
        ("exchange", "exchange"),
        ("attestation_id", "attestation_id"),
        ("epoch id", "chains[0].wallets[0].ownership.epoch.id"),
    ],
)
@pytest.mark.parametrize("text", FORGING[:6], ids=["nel", "ls", "ps", "rlo", "zwsp", "nbsp"])
def test_the_attestation_parser_refuses_them(field: str, path: str, text: str) -> None:
    doc = build()
    if field == "epoch id":
        btc(doc)["epoch"]["id"] = text
    else:
        doc[field] = text
    assert field_check(doc) == f"field {path}"


def test_challenge_text_output_escapes_what_a_terminal_would_not_show() -> None:
    assert printable("a\u200bb\u2028c\x85d") == "a\\u200bb\\u2028c\\x85d"
    assert printable("line 1\nline 2 Café") == "line 1\nline 2 Café"  # the message's LFs stay


_SIGNED_LINES = st.text(
    alphabet=st.characters(codec="utf-8"), min_size=1, max_size=24
) | st.sampled_from(FORGING)


@settings(max_examples=300, deadline=None)
@given(name=_SIGNED_LINES, attestation=_SIGNED_LINES, epoch=_SIGNED_LINES)
def test_what_the_config_accepts_makes_a_challenge_of_the_templates_lines(
    name: str, attestation: str, epoch: str
) -> None:
    try:
        config_schema.Exchange.model_validate({"name": name, "attestation_id": attestation})
    except ValueError:
        return
    block = BlockRef(Chain.BITCOIN, "regtest", 7, "ab" * 32)
    assert len(challenge(name, attestation, block).splitlines()) == 6
    try:
        config_schema.Epoch.model_validate(
            {"id": epoch, "bitcoin": {"height": 7, "hash": "ab" * 32}}
        )
    except ValueError:
        return
    text = epoch_challenge(name, epoch, block, "2027-03-31T00:00:00Z")
    assert len(text.splitlines()) == 7
    # and no line holds a character a reader could not see
    assert all(
        unicodedata.category(c) not in {"Cc", "Cf", "Zl", "Zp"} for c in text.replace("\n", "")
    )
