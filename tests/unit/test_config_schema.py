"""The one schema of por.toml (verifier/inputs/config_schema.py): published, documented, in step
with the values it stands for, and mapped to our messages."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from attestations.encoding import ASSET_CODE_RE
from chains.base import DEFAULT_MAX_REPLY_BYTES, Attribution, WalletClass
from verifier.base.errors import InputError
from verifier.inputs import config_schema as cs
from verifier.inputs.config import load_config
from verifier.inputs.config_errors import known_keys, unknown_key_help
from verifier.inputs.config_reference import schema_text
from verifier.inputs.toml_lines import key_lines, line_of

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "docs" / "spec" / "schemas" / "por-config.schema.json"
DOCS = ROOT / "docs" / "snapshot.md"
GOOD = """
[exchange]
name = "Example Exchange"
attestation_id = "exch-2026-11"

[bitcoin]
backend = "bcoin"
url = "http://127.0.0.1:1"
network = "regtest"
"""


def test_the_committed_schema_is_the_generated_one() -> None:
    # regenerate with: por config schema --out docs/spec/schemas/por-config.schema.json
    assert SCHEMA.read_text(encoding="utf-8") == schema_text(cs.json_schema())


def test_the_schema_has_no_null_and_forbids_unknown_keys() -> None:
    doc = json.loads(SCHEMA.read_text(encoding="utf-8"))
    text = json.dumps(doc)
    assert '"null"' not in text  # TOML has no null: optional keys are left out
    for name, table in doc["$defs"].items():
        assert table.get("additionalProperties") is False, name
    assert doc["additionalProperties"] is False and doc["required"] == ["exchange"]
    wallet = doc["$defs"]["BitcoinWallet"]
    assert "class" in wallet["properties"] and "class_" not in wallet["properties"]
    assert len(wallet["oneOf"]) == 3


def _all_keys(model: type, prefix: str = "") -> set[str]:
    keys = set()
    for name, field in model.model_fields.items():  # type: ignore[attr-defined]
        key = field.alias or name
        keys.add(key)
        inner = json.dumps(str(field.annotation))
        for sub in (
            cs.Exchange, cs.Bitcoin, cs.Ethereum, cs.BitcoinWallet, cs.EthereumWallet,
            cs.Multisig, cs.OwnershipProof, cs.Token, cs.Liabilities, cs.Prices, cs.Reserve,
            cs.Thresholds, cs.Attest, cs.Snapshot, cs.Database, cs.Alerts, cs.Ownership,
            cs.Epoch, cs.EpochBlock, cs.MaxAgeBlocks,
        ):  # fmt: skip
            if re.search(rf"\b{sub.__name__}\b", inner):
                keys |= _all_keys(sub)
    return keys


def test_every_key_of_the_model_is_documented() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    missing = sorted(k for k in _all_keys(cs.PorToml) if not re.search(rf"\b{k}\b", docs))
    assert not missing, f"keys of the schema not in docs/snapshot.md: {missing}"


def test_the_schema_is_in_step_with_the_values_it_stands_for() -> None:
    assert cs.get_args(cs.WalletClassName) == tuple(c.value for c in WalletClass)
    assert cs.get_args(cs.AttributionName) == tuple(a.value for a in Attribution)
    assert ASSET_CODE_RE.pattern == cs.ASSET_CODE
    assert cs.DEFAULT_MAX_REPLY_BYTES == DEFAULT_MAX_REPLY_BYTES


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "por.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("extra", "key", "message"),
    [
        ("[thresold]\n", "thresold", "did you mean 'thresholds'?"),
        ('[bitcoin.wallets.0]\n', "bitcoin.wallets", "must be a list"),
        ("[ownership]\nmax_age_blocks = { bitcoim = 5 }\n", "ownership.max_age_blocks.bitcoim",
         "did you mean 'bitcoin'?"),
        ("[alerts]\nformat = \"teams\"\n", "alerts.format",
         "must be one of generic, alertmanager, slack"),
        ("[snapshot]\ncount_custodial = 1\n", "snapshot.count_custodial", "must be true or false"),
        ("[database]\nurl = 5\n", "database.url", "must be a string"),
        ("[[ownership.epochs]]\nid = \"q4\"\nexpires = 2027-03-31T00:00:00Z\n"
         "bitcoin = { height = 1, hash = \"" + "ab" * 32 + "\" }\n",
         "ownership.epochs[0].expires", "must be a string"),
        ("[[ownership.epochs]]\nid = \"q4\"\nexpires = \"2027-02-30T00:00:00Z\"\n"
         "bitcoin = { height = 1, hash = \"" + "ab" * 32 + "\" }\n",
         "ownership.epochs[0].expires", "must be a UTC time"),
    ],
)  # fmt: skip
def test_schema_errors_in_our_words(tmp_path: Path, extra: str, key: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        load_config(write(tmp_path, GOOD + extra))
    assert info.value.key == key
    assert message in info.value.message


def test_an_unknown_key_lists_the_valid_ones() -> None:
    known, close = unknown_key_help(("bitcoin", "wallets", 3, "adress"))
    assert close == "address" and "multisig" in known and "class" in known
    assert known_keys(("ethereum", "tokens", 0)) == ["contract", "code", "decimals", "balance_slot"]
    assert known_keys(("exchange", "name")) == []
    assert unknown_key_help(("zzzzzz",))[1] is None


def test_secret_values_are_masked_in_schema_errors(tmp_path: Path) -> None:
    url = "https://user:hunter2hunter2@eth.example/v3/0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    text = GOOD + f'\n[alerts]\nwebhook = ["{url}"]\n'
    with pytest.raises(InputError) as info:
        load_config(write(tmp_path, text))
    assert info.value.key == "alerts.webhook"
    assert "hunter2" not in str(info.value) and "0f1e2d3c4b5a6978" not in str(info.value)


def test_key_lines_finds_headers_arrays_and_inline_keys() -> None:
    text = (
        "[exchange]\nname = 'x'\n\n[bitcoin]\nurl = 'u'\n"
        "[[bitcoin.wallets]]\naddress = 'a'\n"
        "[[bitcoin.wallets]]\nmultisig = { m = 2, keys = [] }\n"
        "[[ownership.epochs]]\nid = 'q'\n[ownership.epochs.bitcoin]\nheight = 1\n"
    )
    lines = key_lines(text)
    assert lines["exchange.name"] == 2
    assert lines["bitcoin.wallets[0].address"] == 7
    assert lines["bitcoin.wallets[1].multisig.keys"] == 9
    assert lines["ownership.epochs[0].bitcoin.height"] == 13
    assert line_of(lines, "bitcoin.wallets[1].multisig.keys[3]") == 9
    assert line_of(lines, "nowhere.at.all") is None
