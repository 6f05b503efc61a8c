"""`por keys create` writes a private key only where a key belongs.

The review's repro: in a `por init` directory, `por keys create --out por.toml --force`
(also prices.toml, tree/root.json, tree.secret.key, por.db, keys/bcoin.pass) exited 0 and
replaced the file with a PEM private key; `--out keys/attest.key.pub --force` put a private
key in a .pub file. Now every one of those is refused (exit 2) with or without --force and
left byte for byte as it was; only an Ed25519 PKCS#8 private key is ever replaced. And
`keys show --key X.pub` says it is a public key file instead of complaining about its mode.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from verifier.inputs.keys import create_signing_key

Por = Callable[..., Any]

PROTECTED = (
    "por.toml",
    "prices.toml",
    "reserve.toml",
    "assets.toml",
    "liabilities.csv",
    "tree/root.json",
    "tree.secret.key",
    "por.db",
    "keys/bcoin.pass",
    "keys/eth.url",
    "notes.txt",
)


@pytest.fixture
def exchange(por: Por, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `por init` directory with its key made, a tree, a database and secret files."""
    work = tmp_path / "exch"
    assert por("init", "--dir", work).rc == 0
    monkeypatch.chdir(work)
    assert por("keys", "create").rc == 0
    (work / "tree").mkdir()
    (work / "tree" / "root.json").write_text('{"format": "por-mst-v1"}\n')
    (work / "tree.secret.key").write_text("ab" * 32 + "\n")
    (work / "keys" / "bcoin.pass").write_text("pw-Secret-7e1b\n")
    (work / "keys" / "eth.url").write_text("http://127.0.0.1:1/rpc/Zq7mysecrettok\n")
    (work / "notes.txt").write_text("meeting notes\n")
    for name in ("tree.secret.key", "keys/bcoin.pass", "keys/eth.url"):
        (work / name).chmod(0o600)
    assert por("db", "upgrade", "--db", work / "por.db").rc == 0
    return work


def snapshot(work: Path) -> dict[str, bytes]:
    return {str(p.relative_to(work)): p.read_bytes() for p in work.rglob("*") if p.is_file()}


@pytest.mark.parametrize("name", PROTECTED)
@pytest.mark.parametrize("flag", ["--key", "--out"])
@pytest.mark.parametrize("force", [False, True])
def test_an_input_or_secret_is_never_replaced_by_a_key(
    por: Por, exchange: Path, name: str, flag: str, force: bool
) -> None:
    before = snapshot(exchange)
    res = por("keys", "create", flag, name, *(["--force"] if force else []), "--json")
    assert res.rc == 2, (name, res.out, res.err)
    assert res.json()["format"] == "por-error-v1"
    assert name in res.err_flat and "refusing" in res.err_flat
    assert "with or without --force" in res.err_flat
    assert snapshot(exchange) == before  # nothing written, not even a .pub beside it
    assert "PRIVATE KEY" not in res.out + res.err


@pytest.mark.parametrize("force", [False, True])
def test_a_pub_path_never_receives_a_private_key(por: Por, exchange: Path, force: bool) -> None:
    before = snapshot(exchange)
    for target in ("keys/attest.key.pub", "keys/new.key.pub"):
        res = por("keys", "create", "--out", target, *(["--force"] if force else []))
        assert res.rc == 2 and ".pub" in res.err_flat and target in res.err_flat
    assert snapshot(exchange) == before


def test_an_input_the_config_names_is_refused_before_it_exists(por: Por, exchange: Path) -> None:
    (exchange / "prices.toml").unlink()  # named by [prices] file, not there yet
    res = por("keys", "create", "--key", "prices.toml")
    assert res.rc == 2 and "prices" in res.err_flat, res.err
    assert not (exchange / "prices.toml").exists()
    # the config's own key_file naming an input is refused too
    text = (exchange / "por.toml").read_text()
    (exchange / "por.toml").write_text(
        text.replace('key_file = "keys/attest.key"', 'key_file = "keys/bcoin.pass"')
    )
    before = snapshot(exchange)
    res = por("keys", "create", "--config", "por.toml", "--force")
    assert res.rc == 2 and "keys/bcoin.pass" in res.err_flat
    assert snapshot(exchange) == before


def test_an_ordinary_file_is_called_not_a_key_file(por: Por, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello\n")
    res = por("keys", "create", "--out", notes)
    assert res.rc == 2
    assert "is not a key file" in res.err_flat and "refusing" in res.err_flat
    assert "verify only against" not in res.err_flat  # that is said of a real key only
    assert notes.read_text() == "hello\n" and not (tmp_path / "notes.txt.pub").exists()


def pem(key: Any, encryption: Any = None) -> bytes:
    data: bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        encryption or serialization.NoEncryption(),
    )
    return data


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(lambda: pem(ec.generate_private_key(ec.SECP256K1())), id="ec-key"),
        pytest.param(
            lambda: pem(Ed25519PrivateKey.generate(), serialization.BestAvailableEncryption(b"pw")),
            id="encrypted-ed25519",
        ),
        pytest.param(
            lambda: Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.OpenSSH,
                serialization.NoEncryption(),
            ),
            id="openssh-ed25519",
        ),
        pytest.param(lambda: b"", id="empty"),
    ],
)
def test_only_an_ed25519_pkcs8_key_is_replaced(
    por: Por, tmp_path: Path, content: Callable[[], bytes]
) -> None:
    target = tmp_path / "other.key"
    data = content()
    target.write_bytes(data)
    res = por("keys", "create", "--key", target, "--force")
    assert res.rc == 2 and "not a key file" in res.err_flat
    assert target.read_bytes() == data


def test_a_signing_key_left_readable_is_still_replaced_with_force(por: Por, tmp_path: Path) -> None:
    target = tmp_path / "attest.key"
    old = create_signing_key(target)
    target.chmod(0o644)
    res = por("keys", "create", "--key", target, "--force", "--json")
    assert res.rc == 0, res.err
    assert res.json()["replaced_public_key"] == old
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_a_pub_beside_the_key_that_is_not_a_public_key_is_kept(por: Por, tmp_path: Path) -> None:
    (tmp_path / "notes.pub").write_text("not a key\n")
    res = por("keys", "create", "--key", tmp_path / "notes")
    assert res.rc == 2 and "notes.pub" in res.err_flat
    assert (tmp_path / "notes.pub").read_text() == "not a key\n"
    assert not (tmp_path / "notes").exists()


def test_a_fifo_is_refused_without_blocking(por: Por, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.key"
    os.mkfifo(fifo)
    res = por("keys", "create", "--key", fifo, "--force")
    assert res.rc == 2 and "not a key file" in res.err_flat


def test_keys_show_names_a_public_key_file(por: Por, tmp_path: Path) -> None:
    key = tmp_path / "attest.key"
    create_signing_key(key)
    res = por("keys", "show", "--key", tmp_path / "attest.key.pub", "--json")
    assert res.rc == 3
    assert "this is a public key file (.pub)" in res.err_flat
    assert f"give the private key file ({key})" in res.err_flat
    assert "read the .pub directly" in res.err_flat and "mode" not in res.err_flat
    # the same content under another name is recognised by what it holds
    copy = tmp_path / "published.txt"
    copy.write_bytes((tmp_path / "attest.key.pub").read_bytes())
    res = por("keys", "show", "--key", copy)
    assert res.rc == 3 and "64 hex digits (a raw key)" in res.err_flat
    assert "if it is the public key, give the private key file" in res.err_flat


def test_create_and_show_take_the_same_key_flag(por: Por, tmp_path: Path) -> None:
    key = tmp_path / "k" / "attest.key"
    made = por("keys", "create", "--key", key, "--json")
    assert made.rc == 0, made.err
    shown = por("keys", "show", "--key", key, "--json")
    assert shown.rc == 0 and shown.json()["public_key"] == made.json()["public_key"]
    helped = por("keys", "create", "--help")
    assert "--key" in helped.out and "--out" in helped.out
