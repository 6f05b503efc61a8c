"""`por --version --json` names every document format from a written-down table
(verifier/cli/formats.py) instead of importing the modules that define them: this holds the
table equal to the real constants, which only the test imports."""

from __future__ import annotations

import importlib

import pytest

from verifier.cli.formats import FORMATS, SOURCES
from verifier.cli.main import version_document


def _constant(source: str) -> object:
    module, _, name = source.partition(":")
    return getattr(importlib.import_module(module), name)


def test_every_written_down_format_is_the_constant_where_it_is_defined():
    assert list(SOURCES) == list(FORMATS)
    assert {kind: _constant(source) for kind, source in SOURCES.items()} == FORMATS


def test_the_sources_name_the_constants_once_each():
    assert len(set(SOURCES.values())) == len(SOURCES)
    assert len(set(FORMATS.values())) == len(FORMATS)


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_a_renamed_format_would_be_caught(kind, monkeypatch):
    """The comparison can fail: one constant changed where it is defined makes it differ."""
    module, _, name = SOURCES[kind].partition(":")
    monkeypatch.setattr(importlib.import_module(module), name, "por-renamed-v2")
    assert {k: _constant(s) for k, s in SOURCES.items()} != FORMATS


def test_the_version_document_prints_the_table_in_its_order():
    doc = version_document()
    assert list(doc["formats"].items()) == list(FORMATS.items())
    doc["formats"]["report"] = "changed"  # a copy: the table itself is untouched
    assert FORMATS["report"] == "por-report-v1"
