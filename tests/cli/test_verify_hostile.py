"""`por verify` on hostile attestation files: exit 3 with a clear message, never a crash.

Two kinds of hostility. A file that is not a well-formed document (deep nesting — which
segfaulted the process —, huge integers, invalid UTF-8, wrong types, missing keys) is
refused before anything else. A well-formed document correctly signed by a hostile
exchange may still hold data the recomputation cannot use (a threshold that is not a
number, a statement that is not TOML or is nested 50,000 deep, an unknown ownership status,
a rule pack named by a file path): each is a listed discrepancy (exit 3), and no file a
document names is ever read. The documents are signed with the fixed test key of
tests/browser/site_builder.py; no chain node is needed.
"""

from __future__ import annotations

import copy
import importlib.util
import json
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from attestations.document.sign import public_key_hex, sign_attestation
from verifier.tools import demo_funding

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "_site_builder_verify", ROOT / "tests" / "browser" / "site_builder.py"
)
assert _spec is not None and _spec.loader is not None
builder = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(builder)
PINNED = public_key_hex(builder.KEY)  # the exchange's published key, as an auditor pins it


@pytest.fixture(scope="module")
def unsigned(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A document whose reserve and coverage `verify` recomputes (statement included)."""
    att_dir, _ = builder.make_attestation_dir(tmp_path_factory.mktemp("att"), "att-hostile")
    doc: dict[str, Any] = json.loads((att_dir / "attestation.json").read_text())
    doc.pop("signature")
    today = date(2026, 11, 21)
    doc["reserve"]["statement_toml"] = demo_funding.RESERVE.format(
        today=today.isoformat(),
        start=(today - timedelta(days=120)).isoformat(),
        end=(today + timedelta(days=245)).isoformat(),
    )
    return doc


def signed_file(
    tmp_path: Path, doc: dict[str, Any], edit: Callable[[dict[str, Any]], None]
) -> Path:
    changed = copy.deepcopy(doc)
    edit(changed)
    path = tmp_path / "attestation.json"
    path.write_text(json.dumps(sign_attestation(changed, builder.KEY)))
    return path


def test_the_base_document_is_recomputed(por, unsigned, tmp_path):
    path = signed_file(tmp_path, unsigned, lambda d: None)
    res = por("verify", path, "--public-key", PINNED, "--json")
    assert res.rc in (0, 1, 3)
    assert any("reserve recomputed" in c for c in res.json()["checks"])


def thresholds(value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda d: (
        d["report"].setdefault("settings", {}).update(thresholds={"min_coverage": value})
    )


def eip1271_status(status: str) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        wallet = doc["chains"][1]["wallets"][0]
        wallet["ownership"] = {"scheme": "eip1271", "signature": "0x" + "aa" * 65}
        doc["report"]["wallets"] = [
            {"chain": "ethereum", "address": wallet["address"], "ownership": {"status": status}}
        ]

    return edit


SIGNED_CASES: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "threshold not a number": (thresholds("abc"), "min_coverage"),
    "threshold a list": (thresholds([1]), "min_coverage"),
    "threshold NaN": (thresholds("NaN"), "min_coverage"),
    "threshold huge": (thresholds("1e999999"), "min_coverage"),
    "statement not TOML": (
        lambda d: d["reserve"].update(statement_toml="[[["),
        "statement_toml is not TOML",
    ),
    "statement nested 50,000 deep": (
        lambda d: d["reserve"].update(statement_toml="a = " + "[" * 50_000 + "]" * 50_000),
        "nested too deeply",
    ),
    "statement of nested tables": (
        lambda d: d["reserve"].update(
            statement_toml="a = " + "{b = " * 50_000 + "1" + "}" * 50_000
        ),
        "nested too deeply",
    ),
    "rule pack named by a path": (
        lambda d: d["rule_pack"].update(id="/etc/passwd.toml"),
        "not one of this tool's packs",
    ),
    "unknown attested status of a contract wallet": (
        eip1271_status("bogus"),
        "ownership status bogus",
    ),
}


@pytest.mark.parametrize("case", list(SIGNED_CASES), ids=list(SIGNED_CASES))
def test_signed_but_unusable_data_is_a_discrepancy(por, unsigned, tmp_path, case):
    edit, expected = SIGNED_CASES[case]
    path = signed_file(tmp_path, unsigned, edit)
    res = por("verify", path, "--public-key", PINNED, "--json")
    assert "internal error" not in res.err
    assert res.rc == 3, res.err
    doc = res.json()
    assert doc["valid"] is False
    assert any(expected in d for d in doc["discrepancies"]), doc["discrepancies"]
    res = por("verify", path, "--public-key", PINNED)
    assert res.rc == 3 and "internal error" not in res.err


HOSTILE_FILES: dict[str, tuple[bytes, str]] = {
    "nested 100,000 arrays": (b"[" * 100_000 + b"]" * 100_000, "nested more than"),
    "nested 100,000 objects": (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "nested more than"),
    "an integer of 5,000 digits": (b'{"format": ' + b"9" * 5000 + b"}", "5000 digits"),
    "invalid UTF-8": (b'{"format": "\xff"}', "UTF-8"),
    "not JSON": (b"{", "not JSON"),
    "NaN": (b'{"format": NaN}', "NaN"),
    "a duplicate key": (b'{"format": 1, "format": 2}', "twice"),
    "a list": (b"[]", "not a JSON object"),
    "no keys": (b"{}", "format"),
}


@pytest.mark.parametrize("case", list(HOSTILE_FILES), ids=list(HOSTILE_FILES))
def test_hostile_attestation_file_exits_3(por, tmp_path, case):
    """Before: 100,000 levels of nesting segfaulted `por verify`."""
    content, expected = HOSTILE_FILES[case]
    path = tmp_path / "attestation.json"
    path.write_bytes(content)
    res = por("verify", path)
    assert res.rc == 3, res.err
    assert expected in res.err_flat
    assert "internal error" not in res.err


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("signature", "public_key"), 10**150),
        (("chains", 0, "wallets", 0, "balances", "BTC"), 10**150),
        (("chains", 0, "height"), "432"),
        (("prices", "BTC", "value"), 1.5),
        (("liabilities", "root", "sums"), {"a": 1}),
    ],
    ids=["huge public key", "huge balance", "height a string", "price a float", "sums an object"],
)
def test_wrong_types_and_huge_numbers_exit_3(por, unsigned, tmp_path, path, value):
    doc = sign_attestation(copy.deepcopy(unsigned), builder.KEY)
    target: Any = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    file = tmp_path / "attestation.json"
    file.write_text(json.dumps(doc))
    res = por("verify", file, "--public-key", PINNED)
    assert res.rc == 3, res.err
    assert "internal error" not in res.err


@pytest.mark.parametrize("key", ["signature", "chains", "liabilities", "report"])
def test_missing_keys_exit_3(por, unsigned, tmp_path, key):
    doc = sign_attestation(copy.deepcopy(unsigned), builder.KEY)
    doc.pop(key)
    file = tmp_path / "attestation.json"
    file.write_text(json.dumps(doc))
    res = por("verify", file, "--public-key", PINNED)
    assert res.rc == 3, res.err
    assert "internal error" not in res.err


def test_missing_attestation_file_exits_3(por, tmp_path):
    res = por("verify", tmp_path / "nope.json")
    assert res.rc == 3 and "not found" in res.err_flat
