"""`por --version --json`: one JSON document naming the tool, its version, the Python that
runs it and the format of every document it reads or writes; `--json` before any other
command is a usage error that says where it goes."""

from __future__ import annotations

import importlib.metadata
import json
import platform


def test_version_json_is_one_document(por):
    for args in (("--version", "--json"), ("--json", "--version")):
        res = por(*args)
        assert res.rc == 0, res.err
        doc = json.loads(res.out)  # exactly one document: json.loads refuses trailing text
        assert doc["format"] == "por-version-v1"
        assert doc["name"] == "por"
        assert doc["version"] == importlib.metadata.version("por")
        assert doc["python"] == platform.python_version()
        assert doc["hashing"]["backend"] in {"native", "python"}
        assert doc["amounts"]["backend"] in {"native", "python"}
        assert doc["ids"]["backend"] in {"native", "python"}
        assert doc["formats"]["liabilities_tree"] == "por-mst-v1"
        assert doc["formats"]["run"] == "por-run-v1"
        assert doc["formats"]["attestation"] == "por-attestation-v1"
        assert doc["formats"]["report"] == "por-report-v1"
        assert all(v.startswith("por-") and v.endswith("-v1") for v in doc["formats"].values())
        assert res.err == ""


def test_version_text_is_unchanged(por):
    res = por("--version")
    assert res.rc == 0
    assert res.out == f"por {importlib.metadata.version('por')}\n"


def test_root_json_without_version_says_where_it_goes(por):
    res = por("--json", "history")
    assert res.rc == 2
    assert "--json goes after the command" in res.err
    doc = json.loads(res.out)  # under --json, still one document: the error
    assert doc["exit_code"] == 2


def test_json_after_a_group_is_not_sent_before_the_command(por):
    # --json is every command's own option: a group without it gets click's own message,
    # never the root-option hint ("log options go before the command")
    res = por("liabilities", "--json")
    assert res.rc == 2
    assert "log options go before" not in res.err
