"""`por liabilities build --out-of-core` end to end: the same tree and document as the
in-memory build, exit 3 with nothing written on a refused input, and the automatic switch
for inputs over `STREAM_ABOVE` bytes."""

from __future__ import annotations

import json

import pytest

from verifier.inputs import liabilities_lines, liabilities_stream

AS_OF = "2025-06-30T00:00:00Z"


def build(por, inputs, out, secret, *extra):
    return por(
        "liabilities",
        "build",
        inputs["sample.csv"],
        "--assets",
        inputs["assets.toml"],
        "--attestation-id",
        "att",
        "--out",
        out,
        "--as-of",
        AS_OF,
        "--secret-file",
        secret,
        "--json",
        *extra,
    )


@pytest.mark.parametrize("split", ["1", "3"])
def test_out_of_core_builds_the_same_tree(por, inputs, tmp_path, split):
    secret = tmp_path / "secret.key"
    whole = build(por, inputs, tmp_path / "a", secret, "--split", split)
    streamed = build(por, inputs, tmp_path / "b", secret, "--split", split, "--out-of-core")
    assert whole.rc == streamed.rc == 0
    a, b = whole.json(), streamed.json()
    a.pop("root_document"), b.pop("root_document")
    assert a == b  # root, commitment, totals, counts, input hash
    for name in (
        "root.json",
        "tree/meta.json",
        "tree/level-00.bin",
        "tree/index.bin",
        "tree/positions.bin",
    ):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    proof = por("liabilities", "proof", tmp_path / "b", "alice", "-o", tmp_path / "p.json")
    assert proof.rc == 0
    check = por("verify-proof", tmp_path / "p.json", "--root", tmp_path / "a" / "root.json")
    assert check.rc == 0


def test_refused_input_exit_3_names_the_line_and_leaves_nothing(por, inputs, tmp_path):
    text = inputs["sample.csv"].read_text().rstrip("\n") + "\nzed,BTC,-1\n"
    inputs["sample.csv"].write_text(text)
    line = len(text.rstrip("\n").split("\n"))
    res = build(por, inputs, tmp_path / "out", tmp_path / "secret.key", "--out-of-core")
    assert res.rc == 3
    assert f"line {line}" in res.err_flat and "negative amount" in res.err_flat
    error = res.json()  # --json: the one document on stdout is the error
    assert (error["format"], error["exit_code"], error["line"]) == ("por-error-v1", 3, line)
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_large_inputs_stream_without_the_flag(por, inputs, tmp_path, monkeypatch):
    called = []
    real = liabilities_stream.stream_build

    def spy(*args, **kwargs):
        called.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(liabilities_lines, "STREAM_ABOVE", 10)
    monkeypatch.setattr(liabilities_stream, "stream_build", spy)
    res = build(por, inputs, tmp_path / "t", tmp_path / "secret.key")
    assert res.rc == 0 and called == [inputs["sample.csv"]]
    assert json.loads((tmp_path / "t" / "root.json").read_text())["format"] == "por-mst-v1"
