"""`por config check`, `por config schema` and how commands find the config (--config,
POR_CONFIG, ./por.toml)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from verifier.cli.main import main
from verifier.inputs.config_reference import TABLE_BEGIN, TABLE_END, reference_table
from verifier.inputs.keys import create_key

ROOT = Path(__file__).resolve().parents[2]
BECH32 = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
ETH = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
XPUB = (
    "tpubD6NzVbkrYhZ4XgiXtGrdW5XDAPFCL9h7we1vwNCpn8tGbBcgfVYjXyhWo4E1xkh56hjod1RhGjxbaTLV3X4F"
    "yWuejifB9jusQ46QzG87VKp"
)
KEYS = (
    "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
    "02c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5",
)
SIG65 = "H" + "A" * 86 + "="  # base64 of 65 bytes, header byte 28
GOOD = f"""
[exchange]
name = "Example Exchange"
attestation_id = "exch-2026-11"

[bitcoin]
backend = "bcoin"
url = "http://127.0.0.1:1"
network = "regtest"

[[bitcoin.wallets]]
label = "cold"
address = "{BECH32}"
ownership = {{ scheme = "bip137", signature = "{SIG65}" }}

[[bitcoin.wallets]]
label = "hot"
xpub = "{XPUB}"

[[bitcoin.wallets]]
label = "vault"
multisig = {{ m = 1, keys = ["{KEYS[0]}", "{KEYS[1]}"] }}

[ethereum]
url = "http://127.0.0.1:2"
chain_id = 31337

[[ethereum.wallets]]
address = "{ETH}"
ownership = {{ scheme = "eip191", signature = "0x{"ab" * 65}" }}

[attest]
key_file = "keys/attest.key"
"""


@pytest.fixture
def por(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("COLUMNS", "100000")
    monkeypatch.delenv("POR_CONFIG", raising=False)

    def run(*args: object) -> tuple[int, str, str]:
        capsys.readouterr()
        rc = main([str(a) for a in args])
        captured = capsys.readouterr()
        return rc, captured.out, captured.err

    return run


def world(tmp_path: Path, text: str = GOOD) -> Path:
    config = tmp_path / "por.toml"
    config.write_text(text)
    create_key(tmp_path / "keys" / "attest.key")
    return config


def check(por: Any, config: Path) -> tuple[int, dict[str, Any]]:
    rc, out, _ = por("config", "check", "--config", config, "--json")
    doc = json.loads(out)
    assert doc["format"] == "por-config-check-v1" and doc["ok"] is (rc == 0)
    return rc, doc


def test_a_good_config_is_ok(tmp_path: Path, por: Any) -> None:
    config = world(tmp_path)
    rc, doc = check(por, config)
    assert (rc, doc["problems"]) == (0, [])
    rc, out, _ = por("config", "check", "--config", config)
    assert rc == 0 and out.strip().splitlines()[-1] == "config OK"


def test_every_problem_is_listed_at_once(tmp_path: Path, por: Any) -> None:
    text = (
        GOOD.replace("timeout", "x")
        .replace('label = "hot"', 'label = "hot"\nclas = "hot"')  # schema: unknown key
        .replace("chain_id = 31337", "chain_id = 0")  # schema: range
        .replace(BECH32, BECH32[:-1] + "1")  # bech32 checksum
        .replace(KEYS[1], "02" + "00" * 32)  # not a point
        .replace(ETH, ETH.replace("f39Fd", "f39fD"))  # EIP-55
        .replace(f'signature = "{SIG65}"', 'signature = "not base64!"')
        + '\n[prices]\nfile = "missing-prices.toml"\n[thresold]\n'
    )
    (tmp_path / "keys").mkdir()
    config = tmp_path / "por.toml"
    config.write_text(text.replace('key_file = "keys/attest.key"', 'key_file = "keys/none.key"'))
    rc, doc = check(por, config)
    assert rc == 3
    by_key = {p["key"]: p for p in doc["problems"]}
    assert by_key["bitcoin.wallets[1].clas"]["suggestion"] == "class"
    assert "known: label, class" in by_key["bitcoin.wallets[1].clas"]["message"]
    assert by_key["thresold"]["suggestion"] == "thresholds"
    assert "from 1 to" in by_key["ethereum.chain_id"]["message"]
    # the Ethereum section is refused by the schema; its wallets are still checked alone
    assert "EIP-55" in by_key["ethereum.wallets[0].address"]["message"]
    assert "bitcoin.wallets[0].address" in by_key
    assert "secp256k1" in by_key["bitcoin.wallets[2].multisig.keys[1]"]["message"]
    assert "base64" in by_key["bitcoin.wallets[0].ownership.signature"]["message"]
    assert by_key["prices.file"]["message"] == "no such file"
    assert "por keys create" in by_key["attest.key_file"]["message"]
    assert by_key["thresold"]["line"] == text.splitlines().index("[thresold]") + 1
    rc, out, _ = por("config", "check", "--config", config)
    lines = out.strip().splitlines()
    assert rc == 3 and lines[-1] == f"{len(doc['problems'])} problems"
    assert any("— did you mean 'thresholds'?" in line for line in lines)
    assert all(line.startswith(str(config)) for line in lines[:-1] if "por.toml" in line)


def test_semantic_problems_all_listed(tmp_path: Path, por: Any) -> None:
    text = (
        GOOD
        + f'\n[[bitcoin.wallets]]\nlabel = "again"\naddress = "{BECH32.upper()}"\n'
        + f'\n[[ethereum.wallets]]\nlabel = "twice"\naddress = "{ETH.lower()}"\n'
        + f'ownership = {{ scheme = "eip191", signature = "0x{"ab" * 65}", epoch = "q9" }}\n'
    )
    rc, doc = check(por, world(tmp_path, text))
    keys = [p["key"] for p in doc["problems"]]
    assert rc == 3
    assert "bitcoin.wallets[3].address" in keys and "ethereum.wallets[1].address" in keys
    assert "ethereum.wallets[1].ownership.epoch" in keys


def test_key_file_mode_and_secrets_never_echoed(tmp_path: Path, por: Any) -> None:
    secret = "s3cr3tAPIkey0123456789abcdef"
    config = world(tmp_path)
    (tmp_path / "keys" / "attest.key").chmod(0o644)
    url_file = tmp_path / "eth.url"
    url_file.write_text(f"ftp://eth.example/v3/{secret}\n")
    url_file.chmod(0o600)
    config.write_text(
        config.read_text().replace('url = "http://127.0.0.1:2"', 'url_file = "eth.url"')
    )
    rc, doc = check(por, config)
    text = json.dumps(doc)
    assert rc == 3 and secret not in text
    by_key = {p["key"]: p["message"] for p in doc["problems"]}
    assert "0600" in by_key["attest.key_file"]
    assert "not a usable node URL" in by_key["ethereum.url_file"]


def test_an_unreadable_config_is_one_problem(tmp_path: Path, por: Any) -> None:
    bad = tmp_path / "por.toml"
    bad.write_text("[exchange\n")
    rc, doc = check(por, bad)
    assert rc == 3 and len(doc["problems"]) == 1 and "TOML" in doc["problems"][0]["message"]
    rc, doc = check(por, tmp_path / "none.toml")
    assert rc == 3 and "not found" in doc["problems"][0]["message"]


# ----------------------------------------------------------------------------- --config


@pytest.mark.parametrize(
    "command",
    [
        ("config", "check"),
        ("snapshot",),
        ("reconcile", "--db", "{tmp}/h.db"),
        ("attest", "--out", "{tmp}/att"),
    ],
)
def test_commands_find_the_config(
    tmp_path: Path, por: Any, monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...]
) -> None:
    args = [a.replace("{tmp}", str(tmp_path)) for a in command]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    # nothing given, no POR_CONFIG, no ./por.toml: exit 2 saying how
    rc, out, err = por(*args, "--json")
    assert rc == 2 and "POR_CONFIG" in err and "por init" in err
    assert json.loads(out)["error"] == "UsageError"
    # a broken config proves which file was read: its name is in the message
    broken = tmp_path / "from-env.toml"
    broken.write_text("[exchange\n")
    monkeypatch.setenv("POR_CONFIG", str(broken))
    rc, out, err = por(*args)
    assert rc == 3 and "from-env.toml" in out + err
    # --config wins over POR_CONFIG
    flag = tmp_path / "from-flag.toml"
    flag.write_text("[exchange\n")
    rc, out, err = por(*args, "--config", flag)
    assert rc == 3 and "from-flag.toml" in out + err and "from-env.toml" not in out + err
    # ./por.toml when neither is given
    monkeypatch.delenv("POR_CONFIG")
    (elsewhere / "por.toml").write_text("[exchange\n")
    rc, out, err = por(*args)
    assert rc == 3 and "por.toml" in out + err


def test_history_honours_por_config(
    tmp_path: Path, por: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "por.toml"
    config.write_text(GOOD + '\n[database]\nurl = "runs.db"\n')
    monkeypatch.delenv("POR_DATABASE_URL", raising=False)
    monkeypatch.setenv("POR_CONFIG", str(config))
    rc, out, _ = por("history", "--json")
    assert rc == 0, out
    assert "runs.db" in json.loads(out)["database"]


# ----------------------------------------------------------------------------- schema


def test_config_schema_prints_and_writes(tmp_path: Path, por: Any) -> None:
    rc, out, _ = por("config", "schema")
    committed = (ROOT / "docs/spec/schemas/por-config.schema.json").read_text()
    assert rc == 0 and out == committed
    rc, out, _ = por("config", "schema", "--out", tmp_path / "s.json", "--json")
    assert rc == 0 and json.loads(out)["written"].endswith("s.json")
    assert (tmp_path / "s.json").read_text() == committed


def test_the_docs_table_is_the_generated_one() -> None:
    docs = (ROOT / "docs" / "snapshot.md").read_text(encoding="utf-8")
    table = docs.split(TABLE_BEGIN, 1)[1].split(TABLE_END, 1)[0]
    assert table.strip() == reference_table().strip()


def test_a_vendor_no_wallet_names_is_a_note_not_a_problem(tmp_path: Path, por: Any) -> None:
    config = world(tmp_path, GOOD + '\n[vendors.spare]\nname = "Spare"\nkind = "hsm"\n')
    rc, doc = check(por, config)
    assert (rc, doc["problems"]) == (0, [])
    notes = [n for n in doc.get("notes", []) if n.startswith("vendors.")]
    assert notes == ["vendors.spare: declared but no wallet names it (vendor = 'spare')"]
