"""Rule packs carry their source list: every citation ``[n]`` resolves inside the pack.

A pack's parameters cite their sources as ``[43]``; the ``[sources]`` table of the same file
says what ``[43]`` is (title, publisher, date, identifier). The loader refuses a pack that
cites a source it does not list (exit 3 naming the file, the key and the citation), the
evaluation document (and so the report) carries the table next to the pack's id, and an
attestation signed before packs carried sources still verifies.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from verifier.base.errors import InputError
from verifier.cli.main import main
from verifier.reserve.pack import CITATION_RE, SOURCE_KEYS
from verifier.reserve.pack_file import known_packs, load_pack
from verifier.reserve.positions import inputs_from_statement
from verifier.reserve.rules import evaluate
from verifier.reserve.statement import load_statement

ROOT = Path(__file__).resolve().parents[2]
PACKS = ROOT / "verifier" / "reserve" / "packs"
FIXTURES = ROOT / "fixtures"

MINIMAL = """\
id = "mine"
version = "1"
name = "A pack of my own"
currency = "JPY"
model = "reserve"

[parameters.c_cold]
value = "0.5"
status = "GUIDE"
source = "The guideline, section 2 [1]"
verified_on = 2026-11-21

[parameters.c_hot]
value = "1"
status = "GUIDE"
source = "The guideline, section 3 [1] [2]"
verified_on = 2026-11-21
"""

SOURCES = """
[sources.1]
title = "Guideline on client assets"
publisher = "A regulator"
date = 2023-05-31
identifier = "https://regulator.example/guideline"

[sources.2]
title = "Frequently asked questions"
publisher = "A regulator"
date = "2024-01"
identifier = "FAQ 12"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mine.toml"
    path.write_text(text, encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- built-in packs


@pytest.mark.parametrize("pack_id", known_packs())
def test_every_citation_of_a_built_in_pack_is_in_its_sources(pack_id: str) -> None:
    pack = load_pack(pack_id)
    listed = {source.id: source for source in pack.sources}
    assert listed, f"{pack_id} has no [sources] table"
    cited = {int(n) for p in pack.parameters for n in CITATION_RE.findall(p.source)} | {
        int(n) for n in CITATION_RE.findall(pack.description)
    }
    assert cited, f"{pack_id} cites nothing"
    assert cited <= set(listed)
    for source in pack.sources:
        for key in SOURCE_KEYS:
            assert getattr(source, key).strip(), f"{pack_id} [{source.id}] has no {key}"
        assert re.fullmatch(r"[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?|n\.d\.", source.date)


@pytest.mark.parametrize("pack_id", known_packs())
def test_every_listed_source_of_a_built_in_pack_is_cited_in_it(pack_id: str) -> None:
    """No dead entries: each source is cited by a parameter, the header comment or another
    source ([16] reads "see [6] and [8]")."""
    text = (PACKS / f"{pack_id}.toml").read_text(encoding="utf-8")
    cited = {int(n) for n in CITATION_RE.findall(text)}  # "[sources.8]" is not a citation
    listed = {int(k) for k in tomllib.loads(text)["sources"]}
    assert listed <= cited, f"{pack_id} lists sources it never cites: {sorted(listed - cited)}"


def test_one_source_keeps_its_number_and_text_in_every_pack() -> None:
    seen: dict[int, tuple[str, ...]] = {}
    for pack_id in known_packs():
        for source in load_pack(pack_id).sources:
            entry = tuple(getattr(source, key) for key in SOURCE_KEYS)
            assert seen.setdefault(source.id, entry) == entry, f"[{source.id}] differs in {pack_id}"


def test_built_in_packs_point_at_nothing_outside_the_repository() -> None:
    for path in sorted(PACKS.glob("*.toml")):
        text = path.read_text(encoding="utf-8")
        for name in ("RULES.md", "DESIGN.md", "FORMATS.md", "../shared", "/work/"):
            assert name not in text, f"{path.name} mentions {name}"


# ----------------------------------------------------------------------------- the loader


def test_a_pack_with_its_sources_loads(tmp_path: Path) -> None:
    pack = load_pack(str(write(tmp_path, MINIMAL + SOURCES)))
    assert [s.to_json() for s in pack.sources] == [
        {
            "id": 1,
            "title": "Guideline on client assets",
            "publisher": "A regulator",
            "date": "2023-05-31",
            "identifier": "https://regulator.example/guideline",
        },
        {
            "id": 2,
            "title": "Frequently asked questions",
            "publisher": "A regulator",
            "date": "2024-01",
            "identifier": "FAQ 12",
        },
    ]


def test_a_pack_that_cites_nothing_needs_no_sources(tmp_path: Path) -> None:
    text = re.sub(r" \[[0-9]+\]", "", MINIMAL)
    assert load_pack(str(write(tmp_path, text))).sources == ()


def test_a_citation_missing_from_sources_is_exit_3_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, MINIMAL + SOURCES.split("\n[sources.2]", maxsplit=1)[0] + "\n")
    statement = FIXTURES / "reserve" / "hk-sfc-worked.toml"
    code = main(["reserve", "evaluate", "--pack", str(path), "--statement", str(statement)])
    err = capsys.readouterr().err
    assert code == 3
    assert str(path) in err and "parameters.c_hot.source" in err and "[2]" in err
    assert "Traceback" not in err


def test_a_pack_citing_without_any_sources_table_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        load_pack(str(write(tmp_path, MINIMAL)))
    assert caught.value.key == "parameters.c_cold.source"
    assert caught.value.value == "[1]"
    assert caught.value.exit_code == 3


def test_a_citation_in_the_description_must_resolve_too(tmp_path: Path) -> None:
    text = MINIMAL.replace('model = "reserve"', 'model = "reserve"\ndescription = "after [7]"')
    with pytest.raises(InputError) as caught:
        load_pack(str(write(tmp_path, text + SOURCES)))
    assert (caught.value.key, caught.value.value) == ("description", "[7]")


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        (("[sources.2]", "[sources.02]"), "sources.02"),
        (("[sources.2]", "[sources.two]"), "sources.two"),
        (('title = "Frequently asked questions"\n', ""), "sources.2.title"),
        (
            ('publisher = "A regulator"\ndate = "2024-01"', 'publisher = ""\ndate = "2024-01"'),
            "sources.2.publisher",
        ),
        (('date = "2024-01"', 'date = "last year"'), "sources.2.date"),
        (('date = "2024-01"', "date = 2024-01-01T00:00:00Z"), "sources.2.date"),
        (('identifier = "FAQ 12"', "identifier = 12"), "sources.2.identifier"),
        (('identifier = "FAQ 12"', 'identifier = "FAQ 12"\nurl = "x"'), "sources.2.url"),
    ],
)
def test_a_malformed_source_is_named(tmp_path: Path, edit: tuple[str, str], key: str) -> None:
    text = (MINIMAL + SOURCES).replace(*edit)
    with pytest.raises(InputError) as caught:
        load_pack(str(write(tmp_path, text)))
    assert caught.value.key == key
    assert caught.value.file == str(tmp_path / "mine.toml")


def test_sources_must_be_a_table(tmp_path: Path) -> None:
    text = MINIMAL.replace('model = "reserve"', 'model = "reserve"\nsources = ["x"]')
    with pytest.raises(InputError) as caught:
        load_pack(str(write(tmp_path, text)))
    assert caught.value.key == "sources"


# ----------------------------------------------------------------------------- where they show


def test_the_evaluation_and_the_report_name_the_sources_with_the_pack() -> None:
    statement = load_statement(FIXTURES / "reserve" / "jp-fsa-2026-worked.toml")
    assert statement.as_of is not None
    pack = load_pack("jp-fsa-2026")
    doc: dict[str, Any] = evaluate(
        pack, statement, inputs_from_statement(statement), as_of=statement.as_of
    ).to_json()
    sources = doc["pack"]["sources"]
    assert sources == [s.to_json() for s in pack.sources]
    assert [s["id"] for s in sources] == sorted(s["id"] for s in sources)
    # every citation in the parameters the report lists resolves in that same document
    ids = {s["id"] for s in sources}
    for parameter in doc["parameters"]:
        assert {int(n) for n in CITATION_RE.findall(parameter["source"])} <= ids


def test_an_attestation_signed_before_packs_had_sources_still_verifies(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Its signed report's reserve has no pack sources and older source wording; the
    recomputed one has both: provenance text is not a figure, so no discrepancy."""
    path = FIXTURES / "samples" / "por" / "attestation.json"
    signed = json.loads(path.read_text(encoding="utf-8"))
    assert "sources" not in signed["report"]["reserve"]["pack"]
    # the fixture's own key is trusted: what is tested here is the reserve comparison
    code = main(["verify", str(path), "--trust-embedded-key", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert result["discrepancies"] == []
    assert code == 0


@pytest.mark.parametrize(
    ("edit", "flagged"),
    [
        ("required", True),  # a figure
        ("value", True),  # a parameter's value
        ("source", False),  # provenance text only
        ("sources", False),
    ],
)
def test_verify_still_compares_every_figure_of_the_reserve(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], edit: str, flagged: bool
) -> None:
    """Provenance is left out of the comparison, and nothing else: an attested figure or a
    parameter value that differs from the recomputation is still a discrepancy."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from attestations.document.files import pretty_json
    from attestations.document.sign import sign_attestation

    doc = json.loads((FIXTURES / "samples" / "por" / "attestation.json").read_text())
    reserve = doc["report"]["reserve"]
    if edit == "required":
        reserve["required"]["amount"] = "1"
    elif edit == "value":
        theta = next(p for p in reserve["parameters"] if p["name"] == "theta")
        theta["value"] = "0.4"
    elif edit == "source":
        reserve["parameters"][0]["source"] = "reworded [1]"
    else:
        reserve["pack"]["sources"] = [{"id": 1, "title": "t"}]
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    path = tmp_path / "attestation.json"
    path.write_bytes(pretty_json(sign_attestation(doc, key)))
    pinned = key.public_key().public_bytes_raw().hex()
    code = main(["verify", str(path), "--public-key", pinned, "--json"])
    result = json.loads(capsys.readouterr().out)
    differs = "report.reserve: the attested figures differ from the recomputed ones"
    assert (differs in result["discrepancies"]) is flagged
    assert (code != 0) is flagged
