"""`check_config` (verifier/inputs/config_check.py) reads the root document and the rule pack
only through the readers its caller passes in: verifier/inputs may not import the pipeline
or the rule packs, which sit above it (docs/architecture.md)."""

from __future__ import annotations

from pathlib import Path

from verifier.base.errors import InputError
from verifier.inputs.config_check import Readers, check_config

CONFIG = """
[exchange]
name = "Demo"
attestation_id = "a-1"

[liabilities]
root = "root.json"

[reserve]
pack = "some-pack"
"""


def test_the_root_and_the_pack_are_read_by_the_readers_given(tmp_path: Path) -> None:
    (tmp_path / "root.json").write_text("{}", encoding="utf-8")
    config = tmp_path / "por.toml"
    config.write_text(CONFIG, encoding="utf-8")
    calls: list[tuple[str, object]] = []

    def root(path: Path) -> object:
        calls.append(("root", path))
        raise InputError("root document: not one", file=str(path))

    def pack(name: str) -> object:
        calls.append(("pack", name))
        raise InputError(f"unknown rule pack {name!r}")

    problems = check_config(config, Readers(root=root, pack=pack, known_packs=lambda: ("x",)))

    assert calls == [("root", tmp_path / "root.json"), ("pack", "some-pack")]
    messages = {(p.key, p.message) for p in problems}
    assert (None, "root document: not one") in messages
    assert ("reserve.pack", "unknown rule pack 'some-pack'") in messages


def test_a_config_naming_neither_never_calls_them(tmp_path: Path) -> None:
    config = tmp_path / "por.toml"
    config.write_text('[exchange]\nname = "Demo"\nattestation_id = "a-1"\n', encoding="utf-8")

    def refuse(*_: object) -> tuple[str, ...]:
        raise AssertionError("a reader was called for a file the config does not name")

    check_config(config, Readers(root=refuse, pack=refuse, known_packs=refuse))
