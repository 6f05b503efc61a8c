"""`por keys create/show`, `por attest` without a key, and `por verify`'s pinned signer.

A signing key is created only on purpose (never by `por attest`), written 0600 from its
first instant, never replaced without --force, and its public key published beside it.
`por verify` does not say VALID for a signature checked only against the key the document
carries: it needs the exchange's published key (--public-key, --public-key-file, or
[attest] public_key in the auditor config) or an explicit --trust-embedded-key. No node is
needed: the documents are signed with the fixed test key of tests/browser/site_builder.py.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import stat
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from attestations.document.sign import public_key_hex, sign_attestation
from verifier.inputs.keys import create_signing_key, load_signing_key
from verifier.tools import demo_funding

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "_site_builder_pin", ROOT / "tests" / "browser" / "site_builder.py"
)
assert _spec is not None and _spec.loader is not None
builder = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(builder)
PUBLISHED = public_key_hex(builder.KEY)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ----------------------------------------------------------------------------- keys create


def test_keys_create_writes_a_0600_key_and_a_public_file(por, tmp_path):
    key = tmp_path / "new" / "keys" / "attest.key"
    res = por("keys", "create", "--out", key, "--json")
    assert res.rc == 0, res.err
    doc = res.json()
    assert doc["key_file"] == str(key) and doc["replaced_public_key"] is None
    assert mode(key) == 0o600
    assert mode(key.parent) == 0o700 and mode(key.parent.parent) == 0o700
    pub = Path(doc["public_key_file"])
    assert pub == tmp_path / "new" / "keys" / "attest.key.pub" and mode(pub) == 0o644
    assert pub.read_text() == doc["public_key"] + "\n"
    assert public_key_hex(load_signing_key(key)) == doc["public_key"]
    secret = key.read_text()
    assert "PRIVATE KEY" in secret
    assert secret.splitlines()[1] not in res.out + res.err  # never the private key
    text = por("keys", "create", "--out", tmp_path / "other.key")
    assert text.rc == 0 and "publish" in text.out
    assert (tmp_path / "other.key.pub").read_text().strip() in text.out


def test_the_key_is_never_readable_by_others_even_for_an_instant(por, tmp_path, monkeypatch):
    """Every file created for the private key is created 0600 (not chmod-ed afterwards)."""
    created: list[tuple[str, int]] = []
    real_open = os.open

    def spy(path: Any, flags: int, mode: int = 0o777, *a: Any, **k: Any) -> int:
        if flags & os.O_CREAT:
            created.append((str(path), mode))
        return real_open(path, flags, mode, *a, **k)

    monkeypatch.setattr(os, "open", spy)
    old = os.umask(0)  # the worst umask: only the mode given at creation protects the file
    try:
        create_signing_key(tmp_path / "attest.key")
    finally:
        os.umask(old)
    key_files = [(p, m) for p, m in created if ".pub" not in p]
    assert key_files, created
    assert all(m & 0o077 == 0 for _, m in key_files), key_files
    assert mode(tmp_path / "attest.key") == 0o600


def test_an_existing_key_is_kept_without_force_and_named(por, tmp_path):
    key = tmp_path / "attest.key"
    first = create_signing_key(key)
    before = key.read_bytes()
    res = por("keys", "create", "--out", key)
    assert res.rc == 2
    assert first in res.err_flat and "--force" in res.err_flat
    assert key.read_bytes() == before
    res = por("keys", "create", "--out", key, "--force", "--json")
    assert res.rc == 0, res.err
    assert res.json()["replaced_public_key"] == first
    assert res.json()["public_key"] != first and key.read_bytes() != before
    assert mode(key) == 0o600


def test_keys_create_and_show_read_the_config_key_file(por, tmp_path):
    config = tmp_path / "conf" / "por.toml"
    config.parent.mkdir()
    config.write_text('[attest]\nkey_file = "keys/attest.key"\n')
    res = por("keys", "create", "--config", config, "--json")
    assert res.rc == 0, res.err
    assert res.json()["key_file"] == str(tmp_path / "conf" / "keys" / "attest.key")
    shown = por("keys", "show", "--config", config, "--json")
    assert shown.rc == 0 and shown.json()["public_key"] == res.json()["public_key"]
    plain = por("keys", "show", "--config", config)
    assert res.json()["public_key"] in plain.out


def test_keys_from_a_config_without_a_key_file_or_with_both_sources(por, tmp_path):
    config = tmp_path / "por.toml"
    config.write_text('[exchange]\nname = "x"\n')
    res = por("keys", "create", "--config", config)
    assert res.rc == 3 and "attest.key_file" in res.err_flat and str(config) in res.err_flat
    res = por("keys", "create", "--config", config, "--out", tmp_path / "k")
    assert res.rc == 2


def test_keys_show_refuses_a_group_readable_key_naming_its_mode(por, tmp_path):
    key = tmp_path / "attest.key"
    create_signing_key(key)
    key.chmod(0o640)
    res = por("keys", "show", "--key", key)
    assert res.rc == 3 and "0640" in res.err_flat and str(key) in res.err_flat
    res = por("keys", "show", "--key", tmp_path / "missing.key")
    assert res.rc == 3 and "por keys create" in res.err_flat


# ----------------------------------------------------------------------------- attest


ATTEST_CONFIG = """
[exchange]
name = "Example Exchange"
attestation_id = "att-1"

[ethereum]
url = "http://127.0.0.1:9"
chain_id = 31337

[attest]
key_file = "keys/attest.key"
"""


def test_attest_never_creates_a_key(por, tmp_path):
    config = tmp_path / "por.toml"
    config.write_text(ATTEST_CONFIG)
    res = por("attest", "--config", config, "--out", tmp_path / "att")
    assert res.rc == 3
    assert f"no signing key at {tmp_path / 'keys' / 'attest.key'}" in res.err_flat
    assert "por keys create --config por.toml" in res.err_flat
    assert not (tmp_path / "keys").exists()  # nothing created, before any node is asked
    create_signing_key(tmp_path / "keys" / "attest.key")
    (tmp_path / "keys" / "attest.key").chmod(0o644)
    res = por("attest", "--config", config, "--out", tmp_path / "att")
    assert res.rc == 3 and "0644" in res.err_flat


# ----------------------------------------------------------------------------- verify


@pytest.fixture(scope="module")
def unsigned(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    att_dir, _ = builder.make_attestation_dir(tmp_path_factory.mktemp("att"), "att-pin")
    doc: dict[str, Any] = json.loads((att_dir / "attestation.json").read_text())
    doc.pop("signature")
    today = date(2026, 11, 21)
    doc["reserve"]["statement_toml"] = demo_funding.RESERVE.format(
        today=today.isoformat(),
        start=(today - timedelta(days=120)).isoformat(),
        end=(today + timedelta(days=245)).isoformat(),
    )
    return doc


def signed(tmp_path: Path, doc: dict[str, Any], key: Ed25519PrivateKey = builder.KEY) -> Path:
    path = tmp_path / "attestation.json"
    path.write_text(json.dumps(sign_attestation(copy.deepcopy(doc), key)))
    return path


def base_verdict(por: Any, path: Path) -> int:
    """The exit code with the pinned key: what the other cases are compared with."""
    res = por("verify", path, "--public-key", PUBLISHED, "--json")
    assert res.json()["signer_pinned"] is True
    assert not any("pinned" in d for d in res.json()["discrepancies"])
    return res.rc


def test_verify_without_a_pinned_key_is_not_verified(por, unsigned, tmp_path):
    path = signed(tmp_path, unsigned)
    res = por("verify", path, "--json")
    assert res.rc == 3
    doc = res.json()
    assert doc["valid"] is False and doc["signer_pinned"] is False
    assert any(
        "not verified: no pinned public key" in d and "--trust-embedded-key" in d
        for d in doc["discrepancies"]
    )
    text = por("verify", path)
    assert text.rc == 3 and "NOT VERIFIED" in text.out and "VALID " not in text.out


def test_trust_embedded_key_passes_but_says_the_signer_is_not_pinned(por, unsigned, tmp_path):
    path = signed(tmp_path, unsigned)
    expected = base_verdict(por, path)
    res = por("verify", path, "--trust-embedded-key", "--json")
    assert res.rc == expected
    doc = res.json()
    assert doc["signer_pinned"] is False
    assert doc["warnings"] and PUBLISHED in doc["warnings"][0]
    text = por("verify", path, "--trust-embedded-key")
    assert "signer_pinned false" in text.out and "document's own key" in text.out


def test_a_document_re_signed_by_another_key(por, unsigned, tmp_path):
    other = Ed25519PrivateKey.generate()
    path = signed(tmp_path, unsigned, other)
    res = por("verify", path, "--public-key", PUBLISHED)
    assert res.rc == 3 and PUBLISHED in res.err_flat and public_key_hex(other) in res.err_flat
    res = por("verify", path, "--trust-embedded-key", "--json")
    assert res.json()["signer_pinned"] is False
    assert res.json()["public_key"] == public_key_hex(other)


def test_public_key_file_and_config_pin(por, unsigned, tmp_path):
    path = signed(tmp_path, unsigned)
    expected = base_verdict(por, path)
    pub = tmp_path / "exchange.pub"
    pub.write_text(PUBLISHED + "\n")
    res = por("verify", path, "--public-key-file", pub, "--json")
    assert res.rc == expected and res.json()["signer_pinned"] is True
    pub.write_text("-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n")
    res = por("verify", path, "--public-key-file", pub)
    assert res.rc == 3 and str(pub) in res.err_flat and "c2VjcmV0" not in res.err
    res = por("verify", path, "--public-key", "xyz")
    assert res.rc == 3 and "--public-key" in res.err_flat
    res = por("verify", path, "--public-key", PUBLISHED, "--public-key-file", pub)
    assert res.rc == 2
    res = por("verify", path, "--public-key", PUBLISHED, "--trust-embedded-key")
    assert res.rc == 2


AUDITOR = """
[exchange]
name = "{name}"
attestation_id = "{attestation_id}"

[ethereum]
url = "http://127.0.0.1:9"
chain_id = 31337
timeout = 1
{attest}
"""


def auditor(tmp_path: Path, doc: dict[str, Any], **changes: str) -> Path:
    values = {
        "name": doc["exchange"],
        "attestation_id": doc["attestation_id"],
        "attest": f'\n[attest]\npublic_key = "{PUBLISHED}"\n',
    }
    values.update(changes)
    path = tmp_path / "auditor.toml"
    path.write_text(AUDITOR.format(**values))
    return path


def test_the_auditor_config_pins_the_key_and_names_exchange_and_id(por, unsigned, tmp_path):
    path = signed(tmp_path, unsigned)
    res = por("verify", path, "--config", auditor(tmp_path, unsigned), "--json")
    doc = res.json()
    assert doc["signer_pinned"] is True
    assert not any("exchange:" in d or "attestation_id:" in d for d in doc["discrepancies"])
    res = por("verify", path, "--config", auditor(tmp_path, unsigned, name="Other KK"), "--json")
    assert res.rc == 3
    assert any("Other KK" in d and unsigned["exchange"] in d for d in res.json()["discrepancies"])
    res = por(
        "verify", path, "--config", auditor(tmp_path, unsigned, attestation_id="x-1"), "--json"
    )
    assert res.rc == 3
    assert any("x-1" in d and unsigned["attestation_id"] in d for d in res.json()["discrepancies"])
    bad = auditor(tmp_path, unsigned, attest='\n[attest]\npublic_key = "00"\n')
    res = por("verify", path, "--config", bad)
    assert res.rc == 3 and "attest.public_key" in res.err_flat and str(bad) in res.err_flat
    unpinned = auditor(tmp_path, unsigned, attest="")
    res = por("verify", path, "--config", unpinned, "--json")
    assert res.rc == 3 and res.json()["signer_pinned"] is False
