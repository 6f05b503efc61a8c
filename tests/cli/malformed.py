"""The corpus of the malformed-input sweep (tests/cli/test_malformed_sweep.py).

One job: say, for every CLI command, what its valid inputs are (`Target`), how they are
broken (`Case`: hand-written hostile cases, and hypothesis strategies for byte-level and
structure-aware mutations of JSON, JSON Lines, CSV and TOML), how a case is run (`Pool`:
`verifier.cli.main.main` in a fork of the test process, or the installed `por` in a real
subprocess) and what every run must satisfy (`problems`). Loaded by path from the test module (pytest runs with
``--import-mode=importlib``, so tests/cli is not a package).

Nodes: every endpoint points at 127.0.0.1 port 1, where nothing listens (a privileged port),
so a command that gets past its inputs fails at once with exit 4.
"""

from __future__ import annotations

import contextlib
import copy
import faulthandler
import gc
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time as time_module
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
POR = ROOT / ".venv" / "bin" / "por"
if not POR.exists():  # installed elsewhere: the `por` on PATH, next to this interpreter
    POR = Path(
        shutil.which(
            "por", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        )
        or POR
    )

ATTESTATION = "att-sweep"
AS_OF = "2025-06-30T00:00:00Z"
CLOSED = "http://127.0.0.1:1"
SECRET = "s3cr3t-pw-swp"
"""A planted credential: no case may print it (URL passwords, query keys, DSN passwords)."""
API_KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
"""A planted API key in a URL path (`/v3/KEY`): masked in every message."""
MEMORY_CAP = 1 << 30
"""Private memory a case may use: beyond it (an endless or huge input read whole) the case
is killed and reported, before it takes the shared machine's memory."""
HANG_SECONDS = 15
"""A case still running after this long is reported as a hang (none needs 1 s here)."""
OK_EXITS = frozenset({0, 1, 2, 3, 4})

HUGE = "9" * 5000
BIG = str(2**256 + 5)
FAR = "1." + "0" * 200 + "1"
DEEP = 100_000

# ----------------------------------------------------------------------------- hostile values

JSON_VALUES: tuple[tuple[str, str], ...] = (
    ("int-5000-digits", HUGE),
    ("neg-int-5000-digits", "-" + HUGE),
    ("str-5000-digits", f'"{HUGE}"'),
    ("1e999999999", "1e999999999"),
    ("-1e999999999", "-1e999999999"),
    ("1e-999999999", "1e-999999999"),
    ("2**256+5", BIG),
    ("str-2**256+5", f'"{BIG}"'),
    ("str-neg-2**256+5", f'"-{BIG}"'),
    ("str-2**128", f'"{2**128}"'),
    ("str-1.0..01", f'"{FAR}"'),
    ("-1", "-1"),
    ("str--1", '"-1"'),
    ("0", "0"),
    ("1.5", "1.5"),
    ("str-1.5", '"1.5"'),
    ("NaN", "NaN"),
    ("Infinity", "Infinity"),
    ("-Infinity", "-Infinity"),
    ("null", "null"),
    ("true", "true"),
    ("false", "false"),
    ("[]", "[]"),
    ("{}", "{}"),
    ('""', '""'),
    ("str-x", '"x"'),
    ("nested-list", "[[[[]]]]"),
    ("nested-object", '{"a":{"b":{"c":{}}}}'),
    ("nest-1000", "[" * 1000 + "]" * 1000),
    ("str-100k", '"' + "a" * 100_000 + '"'),
    ("lone-surrogate", '"\\ud800"'),
    ("nul", '"\\u0000"'),
    ("crlf", '"\\r\\n"'),
    ("arabic-digits", '"\\u0661\\u0662\\u0663"'),
    ("underscore-digits", '"1_000"'),
    ("plus-sign", '"+5"'),
    ("hex-0x", '"0x10"'),
    ("exponent-string", '"1e5"'),
    ("padded", '" 7 "'),
    ("dot-dot", '"../../x"'),
    ("odd-hex", '"abc"'),
    ("non-hex-64", '"' + "zz" * 32 + '"'),
    ("hex-65", '"' + "a" * 65 + '"'),
    ("markup", '"[bold red]x[/]"'),
    ("list-of-huge", f"[{HUGE}]"),
)

TEXT_VALUES: tuple[tuple[str, str], ...] = (
    ("5000-digits", HUGE),
    ("neg-5000-digits", "-" + HUGE),
    ("2**256+5", BIG),
    ("neg-2**256+5", "-" + BIG),
    ("2**256-5", str(2**256 - 5)),
    ("2**128", str(2**128)),
    ("1.0..01", FAR),
    ("1.000..0", "1." + "0" * 300),
    ("1e999999999", "1e999999999"),
    ("1E5", "1E5"),
    ("NaN", "NaN"),
    ("inf", "inf"),
    ("-0", "-0"),
    ("-1", "-1"),
    ("0", "0"),
    ("empty", ""),
    ("space", " "),
    ("arabic-digits", "\u0661\u0662\u0663"),
    ("underscore", "1_000"),
    ("plus", "+5"),
    ("0x10", "0x10"),
    ("dot", "."),
    ("dots", "1.2.3"),
    ("minus", "-"),
    ("comma", "1,5"),
    ("quote", '"'),
    ("quoted", '"5"'),
    ("nul", "\x00"),
    ("cr", "\r"),
    ("tab", "\t"),
    ("long-200k", "a" * 200_000),
    ("markup", "[bold]x[/bold]"),
    ("fullwidth", "\uff41\uff4c\uff49\uff43\uff45"),
)
NUMERIC_TEXT = tuple(
    v
    for v in TEXT_VALUES
    if v[0]
    in {
        "5000-digits",
        "neg-5000-digits",
        "2**256+5",
        "neg-2**256+5",
        "2**128",
        "1.0..01",
        "1e999999999",
        "NaN",
        "inf",
        "empty",
        "arabic-digits",
        "underscore",
        "plus",
        "0x10",
        "dots",
        "minus",
    }
)

TOML_VALUES: tuple[tuple[str, str], ...] = (
    ("0", "0"),
    ("-1", "-1"),
    ("int64-max", "9223372036854775807"),
    ("int64-min", "-9223372036854775808"),
    ("2**64", str(2**64)),
    ("int-5000-digits", HUGE),
    ("true", "true"),
    ("false", "false"),
    ("1.5", "1.5"),
    ("1e999", "1e999"),
    ("inf", "inf"),
    ("nan", "nan"),
    ("-inf", "-inf"),
    ('""', '""'),
    ('"x"', '"x"'),
    ('"-1"', '"-1"'),
    ('"0"', '"0"'),
    ('"1e999999999"', '"1e999999999"'),
    ('"NaN"', '"NaN"'),
    ('"5000-digits"', f'"{HUGE}"'),
    ('"2**256+5"', f'"{BIG}"'),
    ('"1.0..01"', f'"{FAR}"'),
    ("[]", "[]"),
    ("[1, 2]", "[1, 2]"),
    ("{}", "{}"),
    ("{ a = 1 }", "{ a = 1 }"),
    ("date", "1979-05-27"),
    ("datetime", "1979-05-27T07:32:00Z"),
    ("time", "07:32:00"),
    ('"nul"', '"\\u0000"'),
    ('"../x"', '"../../x"'),
)

URLS: tuple[tuple[str, str], ...] = (
    ("ipv6-unclosed", "http://[::1"),
    ("port-99999", "http://127.0.0.1:99999"),
    ("port-0", "http://127.0.0.1:0"),
    ("port-negative", "http://127.0.0.1:-1"),
    ("file", "file:///etc/passwd"),
    ("ftp", "ftp://127.0.0.1:1/"),
    ("userinfo-secret", f"http://user:{SECRET}@127.0.0.1:1"),
    ("key-in-path", f"http://127.0.0.1:1/v3/{API_KEY}"),
    ("key-in-query", f"http://127.0.0.1:1/?apikey={SECRET}"),
    ("empty", ""),
    ("space", " "),
    ("scheme-only", "http://"),
    ("no-scheme", "127.0.0.1:1"),
    ("space-in-host", "http://exa mple.invalid/"),
    ("nul", "http://127.0.0.1:1/\x00"),
    ("javascript", "javascript:alert(1)"),
    ("unix", "unix:///tmp/x.sock"),
    ("long-70k", "http://127.0.0.1:1/" + "a" * 70_000),
    ("upper-scheme", "HTTP://127.0.0.1:1"),
    ("crlf-injection", "http://127.0.0.1:1/\r\nX-Injected: 1"),
)
MALFORMED_URLS = frozenset(
    {
        "ipv6-unclosed",
        "port-99999",
        "port-negative",
        "file",
        "ftp",
        "empty",
        "space",
        "scheme-only",
        "no-scheme",
        "space-in-host",
        "nul",
        "javascript",
        "unix",
        "crlf-injection",
    }
)
"""URLs that are malformed (not merely unreachable): `por` must name the key, exit 3."""

DB_URLS: tuple[tuple[str, str], ...] = (
    ("pg-secret-closed-port", f"postgresql://por:{SECRET}@127.0.0.1:1/por"),
    ("pg-ipv6-unclosed", "postgresql://por@[::1"),
    ("libpq-keyword-dsn", f"host=127.0.0.1 port=1 password={SECRET}"),
    ("pg-password-in-query", f"postgresql://127.0.0.1:1/por?password={SECRET}"),
    ("pg-port-99999", "postgresql://127.0.0.1:99999/por"),
    ("sqlite-missing-dir", "sqlite:////nonexistent-dir/x.db"),
    ("sqlite-memory", "sqlite://"),
    ("mysql", f"mysql://u:{SECRET}@127.0.0.1:1/x"),
    ("unknown-scheme", "bogus://x"),
    ("dev-null", "/dev/null"),
    ("root-dir", "/"),
    ("nul", "x\x00y"),
    ("empty", ""),
)

BYTE_INSERTS: tuple[tuple[str, bytes], ...] = (
    ("nul", b"\x00"),
    ("ff", b"\xff"),
    ("bad-utf8", b"\xc3\x28"),
    ("utf8-surrogate", b"\xed\xa0\x80"),
    ("cr", b"\r"),
    ("bom", b"\xef\xbb\xbf"),
    ("quote", b'"'),
    ("comma", b","),
    ("brace", b"{"),
    ("bracket", b"["),
    ("newline", b"\n"),
    ("digits-5000", HUGE.encode()),
)

# ----------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Slot:
    """One input of a command: its kind (how it is mutated) and where it is in a case dir."""

    kind: str
    """json, jsonl, csv, ssv (semicolons), toml, text, db, dir (a directory of files)."""
    rel: str


@dataclass(frozen=True)
class Case:
    """One malformed input: a changed slot (content, a path trick, files inside a
    directory) and/or changed arguments."""

    label: str
    slot: str | None = None
    content: bytes | None = None
    action: str | None = None
    """missing, dir, loop (a symlink to itself), devnull and devzero (symlinks to /dev/null
    and /dev/zero), file (a file where a directory belongs)."""
    files: tuple[tuple[str, str, bytes], ...] = ()
    """Inside a directory slot: (relative path, write | delete | dir | fifo | link, data);
    a link points to `data`."""
    edits: tuple[tuple[str, ...], ...] = ()
    """Argument edits: (set, --opt, value), (drop, --opt), (flag, --opt), (pos, i, value)."""
    infra: bool = False
    """Exit 4 is a legitimate outcome (a node, a database, a socket, an unwritable path)."""
    expect: frozenset[int] | None = None
    where: str = "inproc"
    """inproc, subprocess or both."""
    post: str | None = None
    """A named check of the work directory after the run (see `post_problems`)."""


@dataclass(frozen=True)
class Target:
    """One command as swept: argv template, inputs, its own hand-written cases."""

    name: str
    args: tuple[str, ...]
    """argv without --json; "{slot}" is that slot's path, "{work}" the case directory."""
    copies: tuple[str, ...]
    """World paths copied into every case directory (same relative path)."""
    slots: dict[str, Slot] = field(default_factory=dict)
    cases: tuple[Case, ...] = ()
    infra: bool = False
    """The command talks to nodes or a database: exit 4 is legitimate for any case."""
    json: bool = True
    valid: frozenset[int] = frozenset({0})
    examples: int = 40
    subprocess_baseline: bool = True
    fuzz_options: bool = True
    post: str | None = None
    """A check of the work directory after every case (see `post_problems`)."""


# ----------------------------------------------------------------------------- JSON helpers

_SENTINEL = "@@HOSTILE-VALUE@@"


def _walk(value: Any, path: tuple[Any, ...], out: list[tuple[Any, ...]]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            out.append((*path, key))
            _walk(item, (*path, key), out)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out.append((*path, i))
            _walk(item, (*path, i), out)


def paths_of(doc: Any) -> list[tuple[Any, ...]]:
    """Every node of a parsed JSON/TOML document, as a key path; the root is ()."""
    out: list[tuple[Any, ...]] = [()]
    _walk(doc, (), out)
    return out


def path_label(path: Sequence[Any]) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


def _get(doc: Any, path: Sequence[Any]) -> Any:
    for p in path:
        doc = doc[p]
    return doc


def _set(doc: Any, path: Sequence[Any], value: Any) -> Any:
    if not path:
        return value
    _get(doc, path[:-1])[path[-1]] = value
    return doc


def _delete(doc: Any, path: Sequence[Any]) -> Any:
    if path:
        parent = _get(doc, path[:-1])
        del parent[path[-1]]
    return doc


def json_with(doc: Any, path: Sequence[Any], raw: str) -> bytes:
    """`doc` with the node at `path` replaced by the raw JSON text `raw`."""
    changed = _set(copy.deepcopy(doc), path, _SENTINEL)
    return json.dumps(changed).replace(json.dumps(_SENTINEL), raw).encode()


def json_map(doc: Any, pred: Callable[[Any], bool], raw: str) -> bytes | None:
    """`doc` with every scalar for which `pred` holds replaced by `raw` (None: no match)."""
    hit = False

    def go(value: Any) -> Any:
        nonlocal hit
        if isinstance(value, dict):
            return {k: go(v) for k, v in value.items()}
        if isinstance(value, list):
            return [go(v) for v in value]
        if pred(value):
            hit = True
            return _SENTINEL
        return value

    changed = go(doc)
    return json.dumps(changed).replace(json.dumps(_SENTINEL), raw).encode() if hit else None


_INT_TEXT = re.compile(r"-?[0-9]+")
_HEX_TEXT = re.compile(r"(0x)?[0-9a-fA-F]{16,}")


def _is_int_text(v: Any) -> bool:
    return isinstance(v, str) and bool(_INT_TEXT.fullmatch(v))


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_hex(v: Any) -> bool:
    return isinstance(v, str) and bool(_HEX_TEXT.fullmatch(v))


def _retype(value: Any) -> Any:
    if isinstance(value, str):
        return int(value) if _INT_TEXT.fullmatch(value) and len(value) < 300 else [value]
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, list):
        return {str(i): v for i, v in enumerate(value)}
    return "null"


# ----------------------------------------------------------------------------- TOML writer


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _toml_str(text: str) -> str:
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value:
            return "nan"
        if value in (float("inf"), float("-inf")):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _toml_str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
        )
    raise TypeError(type(value))


def _table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _toml_table(table: dict[str, Any], prefix: tuple[str, ...], lines: list[str]) -> None:
    for key, value in table.items():
        if not isinstance(value, dict) and not _table_array(value):
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    for key, value in table.items():
        if isinstance(value, dict):
            name = ".".join(_toml_key(k) for k in (*prefix, key))
            lines += ["", f"[{name}]"]
            _toml_table(value, (*prefix, key), lines)
    for key, value in table.items():
        if _table_array(value):
            name = ".".join(_toml_key(k) for k in (*prefix, key))
            for item in value:
                lines += ["", f"[[{name}]]"]
                _toml_table(item, (*prefix, key), lines)


def toml_dumps(doc: dict[str, Any]) -> str:
    """A small TOML writer (enough for every fixture here: tables, arrays of tables)."""
    lines: list[str] = []
    _toml_table(doc, (), lines)
    return "\n".join(lines).lstrip("\n") + "\n"


def toml_with(doc: dict[str, Any], path: Sequence[Any], raw: str | None) -> bytes:
    """`doc` with `path` set to the raw TOML value `raw`, or deleted (None)."""
    changed = copy.deepcopy(doc)
    if raw is None:
        _delete(changed, path)
        return toml_dumps(changed).encode()
    parent = _get(changed, path[:-1])
    if isinstance(parent, dict) or isinstance(path[-1], int):
        parent[path[-1]] = _SENTINEL
    return toml_dumps(changed).replace(_toml_str(_SENTINEL), raw).encode()


def toml_edit(base: bytes, dotted: str, raw: str | None) -> bytes:
    """`base` with a key given as ``bitcoin.wallets[1].gap_limit`` set to `raw` (or deleted)."""
    doc = tomllib.loads(base.decode())
    path: list[Any] = []
    for part in dotted.split("."):
        match = re.fullmatch(r"([^\[]+)((?:\[\d+\])*)", part)
        assert match is not None, dotted
        path.append(match.group(1))
        path += [int(i) for i in re.findall(r"\[(\d+)\]", match.group(2))]
    parent = doc
    for p in path[:-1]:
        parent = parent.setdefault(p, {}) if isinstance(p, str) else parent[p]
    if raw is not None and path[-1] not in parent:
        parent[path[-1]] = ""
    return toml_with(doc, path, raw)


# ----------------------------------------------------------------------------- strategies

Mutated = tuple[str, bytes]


def byte_mutations(data: bytes) -> st.SearchStrategy[Mutated]:
    """Byte-level damage: truncation, a flipped byte, an inserted hostile byte string,
    a deleted range, line ends, duplication."""
    n = len(data)
    last = max(n - 1, 0)
    ops = [
        st.integers(0, last).map(lambda k: (f"truncate@{k}", data[:k])),
        st.tuples(st.integers(0, last), st.integers(1, 255)).map(
            lambda im: (
                f"flip@{im[0]}^{im[1]}",
                data[: im[0]] + bytes([data[im[0]] ^ im[1]]) + data[im[0] + 1 :] if n else b"x",
            )
        ),
        st.tuples(st.integers(0, n), st.sampled_from(BYTE_INSERTS)).map(
            lambda ib: (f"insert@{ib[0]}:{ib[1][0]}", data[: ib[0]] + ib[1][1] + data[ib[0] :])
        ),
        st.tuples(st.integers(0, last), st.integers(1, 64)).map(
            lambda il: (f"cut@{il[0]}+{il[1]}", data[: il[0]] + data[il[0] + il[1] :])
        ),
        st.sampled_from(
            (
                ("crlf", data.replace(b"\n", b"\r\n")),
                ("cr-only", data.replace(b"\n", b"\r")),
                ("doubled", data + data),
                ("empty", b""),
            )
        ),
    ]
    return st.one_of(ops)


def json_mutations(data: bytes) -> st.SearchStrategy[Mutated]:
    """Structure-aware: one node replaced by a hostile value, deleted, retyped, wrapped, or
    a key added or renamed."""
    try:
        doc = json.loads(data)
    except ValueError:
        return byte_mutations(data)
    paths = paths_of(doc)

    @st.composite
    def mutate(draw: st.DrawFn) -> Mutated:
        path = draw(st.sampled_from(paths))
        where = path_label(path)
        op = draw(st.sampled_from(("replace", "replace", "replace", "delete", "add-key", "retype")))
        if op == "replace" or (op == "delete" and not path):
            label, raw = draw(st.sampled_from(JSON_VALUES))
            return f"{where}={label}", json_with(doc, path, raw)
        if op == "delete":
            return f"{where}:deleted", json.dumps(_delete(copy.deepcopy(doc), path)).encode()
        if op == "retype":
            changed = _set(copy.deepcopy(doc), path, _retype(_get(doc, path)))
            return f"{where}:retyped", json.dumps(changed).encode()
        target = _get(doc, path)
        if isinstance(target, dict):
            label, raw = draw(st.sampled_from(JSON_VALUES))
            changed = copy.deepcopy(doc)
            _get(changed, path)["zz_extra"] = _SENTINEL
            text = json.dumps(changed).replace(json.dumps(_SENTINEL), raw)
            return f"{where}+zz_extra={label}", text.encode()
        return f"{where}:wrapped", json.dumps(_set(copy.deepcopy(doc), path, [target])).encode()

    return mutate()


def jsonl_mutations(data: bytes) -> st.SearchStrategy[Mutated]:
    lines = data.decode("utf-8").split("\n")
    rows = [i for i, line in enumerate(lines) if line.strip()]

    @st.composite
    def mutate(draw: st.DrawFn) -> Mutated:
        i = draw(st.sampled_from(rows))
        op = draw(st.sampled_from(("json", "json", "json", "drop", "dup", "insert")))
        out = list(lines)
        if op == "drop":
            del out[i]
            label = "dropped"
        elif op == "dup":
            out.insert(i, lines[i])
            label = "duplicated"
        elif op == "insert":
            label, raw = draw(st.sampled_from(JSON_VALUES))
            out.insert(i, raw)
        else:
            label, new = draw(json_mutations(lines[i].encode()))
            out[i] = new.decode("utf-8", "surrogateescape")
        text = "\n".join(out).encode("utf-8", "surrogateescape")
        return f"line{i + 1}:{label}", text

    return mutate()


def csv_mutations(data: bytes, sep: str) -> st.SearchStrategy[Mutated]:
    """Structure-aware CSV damage: one field replaced by a hostile text, a field dropped or
    added, a row dropped, duplicated or split."""
    lines = data.decode("utf-8").split("\n")
    rows = [i for i, line in enumerate(lines) if line.strip()]

    @st.composite
    def mutate(draw: st.DrawFn) -> Mutated:
        i = draw(st.sampled_from(rows))
        cells = lines[i].split(sep)
        op = draw(
            st.sampled_from(("field", "field", "field", "drop-field", "add-field", "drop", "dup"))
        )
        out = list(lines)
        j = draw(st.integers(0, len(cells) - 1))
        if op == "field":
            label, value = draw(st.sampled_from(TEXT_VALUES))
            cells[j] = value
            out[i] = sep.join(cells)
            label = f"field{j + 1}={label}"
        elif op == "drop-field":
            del cells[j]
            out[i] = sep.join(cells)
            label = f"field{j + 1}:dropped"
        elif op == "add-field":
            label, value = draw(st.sampled_from(TEXT_VALUES))
            cells.insert(j, value)
            out[i] = sep.join(cells)
            label = f"field{j + 1}+{label}"
        elif op == "drop":
            del out[i]
            label = "dropped"
        else:
            out.insert(i, lines[i])
            label = "duplicated"
        return f"line{i + 1}:{label}", "\n".join(out).encode()

    return mutate()


def toml_mutations(data: bytes) -> st.SearchStrategy[Mutated]:
    """Structure-aware TOML damage: a value replaced by a hostile TOML value (wrong type,
    0, negative, huge, inf/nan, dates), deleted, or an unknown key added."""
    try:
        doc = tomllib.loads(data.decode())
    except (ValueError, UnicodeDecodeError):
        return byte_mutations(data)
    paths = [p for p in paths_of(doc) if p]

    @st.composite
    def mutate(draw: st.DrawFn) -> Mutated:
        path = draw(st.sampled_from(paths))
        where = path_label(path)
        op = draw(st.sampled_from(("replace", "replace", "replace", "delete", "add-key")))
        if op == "delete":
            return f"{where}:deleted", toml_with(doc, path, None)
        if op == "add-key" and isinstance(_get(doc, path), dict):
            label, raw = draw(st.sampled_from(TOML_VALUES))
            return f"{where}+zz_extra={label}", toml_with(doc, (*path, "zz_extra"), raw)
        label, raw = draw(
            st.sampled_from(TOML_VALUES + tuple((f"url-{k}", json.dumps(v)) for k, v in URLS[:12]))
        )
        return f"{where}={label}", toml_with(doc, path, raw)

    return mutate()


def content_mutations(kind: str, data: bytes) -> st.SearchStrategy[Mutated]:
    structured = {
        "json": lambda: json_mutations(data),
        "jsonl": lambda: jsonl_mutations(data),
        "csv": lambda: csv_mutations(data, ","),
        "ssv": lambda: csv_mutations(data, ";"),
        "toml": lambda: toml_mutations(data),
    }.get(kind)
    if structured is None:
        return byte_mutations(data)
    # structure-aware twice as often as byte-level
    return st.one_of(structured(), structured(), byte_mutations(data))


def kind_of(name: str) -> str:
    suffix = Path(name).suffix
    return {".json": "json", ".jsonl": "jsonl", ".csv": "csv", ".toml": "toml"}.get(suffix, "bin")


def dir_files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def slot_strategy(name: str, slot: Slot, world: Path) -> st.SearchStrategy[Case]:
    base = world / slot.rel
    if slot.kind == "dir":
        files = dir_files(base)

        def one_file(rel: str) -> st.SearchStrategy[Case]:
            data = files[rel]
            changed = content_mutations(kind_of(rel), data).map(
                lambda m: Case(f"{name}/{rel}:{m[0]}", slot=name, files=((rel, "write", m[1]),))
            )
            removed = st.sampled_from(
                (
                    Case(f"{name}/{rel}:deleted", slot=name, files=((rel, "delete", b""),)),
                    Case(f"{name}/{rel}:directory", slot=name, files=((rel, "dir", b""),)),
                )
            )
            return st.one_of(changed, changed, changed, removed)

        return st.sampled_from(sorted(files)).flatmap(one_file)
    data = base.read_bytes()
    return content_mutations(slot.kind, data).map(
        lambda m: Case(f"{name}:{m[0]}", slot=name, content=m[1])
    )


OUTPUT_OPTIONS = frozenset(
    {"--out", "-o", "--output", "--out-dir", "--keep", "--html", "--metrics-file", "--secret-file"}
)
INFRA_OPTIONS = frozenset({"--db", "--webhook", "--host", "--port"})
URL_OPTIONS = frozenset({"--db", "--webhook", "--host"})


def option_strategy(target: Target) -> st.SearchStrategy[Case] | None:
    """A value option (not an output path) given a hostile text or URL."""
    options = [
        tok
        for i, tok in enumerate(target.args[:-1])
        if tok.startswith("-")
        and tok not in OUTPUT_OPTIONS
        and not target.args[i + 1].startswith("-")
        and "{" not in target.args[i + 1]
    ]
    if not options:
        return None
    urls = tuple((f"url-{k}", v) for k, v in URLS)

    def values(option: str) -> st.SearchStrategy[tuple[str, str]]:
        # URLs (with their planted secrets) only where a URL is expected
        return st.sampled_from(TEXT_VALUES + urls if option in URL_OPTIONS else TEXT_VALUES)

    return st.sampled_from(options).flatmap(
        lambda option: values(option).map(
            lambda value: Case(
                f"{option}={value[0]}",
                edits=(("set", option, value[1]),),
                infra=option in INFRA_OPTIONS,
            )
        )
    )


def case_strategy(target: Target, world: Path) -> st.SearchStrategy[tuple[Case, bool]]:
    """Hypothesis: one mutated input (or option) of `target`, and whether to ask for --json."""
    parts = [slot_strategy(n, s, world) for n, s in target.slots.items()]
    options = option_strategy(target) if target.fuzz_options else None
    if options is not None:
        parts.append(options)
    if not parts:
        raise ValueError(f"{target.name}: nothing to mutate")
    as_json = st.booleans() if target.json else st.just(False)
    return st.tuples(st.one_of(parts), as_json)


# ----------------------------------------------------------------------------- hand-written


INVALID = frozenset({3})


def path_cases(name: str) -> list[Case]:
    """The input is not a readable regular file: exit 3 for every command, even one that
    would go on to a node (the input is wrong, not the infrastructure)."""
    return [
        Case(f"{name}:missing", slot=name, action="missing", expect=INVALID),
        Case(f"{name}:directory", slot=name, action="dir", expect=INVALID),
        Case(f"{name}:symlink-loop", slot=name, action="loop", expect=INVALID),
        Case(f"{name}:dev-null", slot=name, action="devnull"),
        Case(f"{name}:dev-zero (endless)", slot=name, action="devzero", expect=INVALID),
    ]


def deep_cases(
    name: str, data: bytes, files: tuple[str, ...] = (), objects: bool = False
) -> list[Case]:
    """100,000 levels of nesting, at the top and inside the first value (and as objects
    when `objects`): only in a real subprocess, where a crash is a signal."""
    array = b"[" * DEEP + b"]" * DEEP
    obj = b'{"a":' * DEEP + b"0" + b"}" * DEEP
    if files:
        return [
            Case(
                f"{name}/{rel}:deep-{what}",
                slot=name,
                files=((rel, "write", blob),),
                where="subprocess",
            )
            for rel in files
            for what, blob in (("array-100000", array),)
        ]
    out = [Case(f"{name}:deep-array-100000", slot=name, content=array, where="subprocess")]
    if objects:
        out.append(Case(f"{name}:deep-object-100000", slot=name, content=obj, where="subprocess"))
    try:
        doc = json.loads(data)
    except ValueError:
        return out
    inner = [p for p in paths_of(doc) if p]
    if inner:
        out.append(
            Case(
                f"{name}:{path_label(inner[0])}=deep-array-100000",
                slot=name,
                content=json_with(doc, inner[0], array.decode()),
                where="subprocess",
            )
        )
    return out


def _insert_in_first_string(data: bytes, blob: bytes) -> bytes:
    at = data.find(b'"')
    return data[: at + 2] + blob + data[at + 2 :] if at >= 0 else blob + data


def byte_cases(name: str, data: bytes) -> list[Case]:
    """Damage any text file gets: empty, line ends, NUL, invalid UTF-8, BOM, UTF-16."""
    mid = len(data) // 2
    try:
        utf16 = data.decode().encode("utf-16")
    except UnicodeDecodeError:
        utf16 = b"\xff\xfe" + data
    raw = [
        ("empty", b""),
        ("whitespace", b" \n\t\n"),
        ("crlf", data.replace(b"\n", b"\r\n")),
        ("cr-only", data.replace(b"\n", b"\r")),
        ("nul-appended", data + b"\x00"),
        ("nul-inside", data[:mid] + b"\x00" + data[mid:]),
        ("invalid-utf8", _insert_in_first_string(data, b"\xff\xfe")),
        ("bom", b"\xef\xbb\xbf" + data),
        ("utf16", utf16),
        ("truncated-half", data[:mid]),
        ("doubled", data + data),
    ]
    return [Case(f"{name}:{label}", slot=name, content=blob) for label, blob in raw]


def json_cases(name: str, data: bytes, *, deep: bool = True, objects: bool = False) -> list[Case]:
    doc = json.loads(data)
    out = byte_cases(name, data)
    for label, blob in (
        ("top-null", b"null"),
        ("top-list", b"[]"),
        ("top-string", b'"x"'),
        ("top-number", b"1"),
        ("nest-1000", b"[" * 1000 + b"]" * 1000),
        ("wrapped-in-list", json.dumps([doc]).encode()),
    ):
        out.append(Case(f"{name}:{label}", slot=name, content=blob))
    if isinstance(doc, dict):
        for key in doc:
            smaller = {k: v for k, v in doc.items() if k != key}
            out.append(
                Case(f"{name}:missing-key-{key}", slot=name, content=json.dumps(smaller).encode())
            )
        first = next(iter(doc), None)
        if first is not None:
            text = data.decode("utf-8").lstrip()[1:]
            dup = "{" + json.dumps(first) + ": null, " + text
            out.append(Case(f"{name}:duplicate-key-{first}", slot=name, content=dup.encode()))
        out.append(
            Case(
                f"{name}:extra-key",
                slot=name,
                content=json.dumps({**doc, "zz_extra": [1]}).encode(),
            )
        )
    # nested keys, in the first element of every list (a path entry without its balances)
    nested = [
        p
        for p in paths_of(doc)
        if 2 <= len(p) <= 4
        and isinstance(p[-1], str)
        and 0 in p
        and all(q == 0 for q in p if isinstance(q, int))
    ]
    for path in nested[:24]:
        smaller = json.dumps(_delete(copy.deepcopy(doc), path)).encode()
        out.append(Case(f"{name}:missing-key-{path_label(path)}", slot=name, content=smaller))
    for label, pred, raw in (
        ("int-strings=5000-digits", _is_int_text, f'"{HUGE}"'),
        ("int-strings=2**256+5", _is_int_text, f'"{BIG}"'),
        ("int-strings=-(2**256+5)", _is_int_text, f'"-{BIG}"'),
        ("int-strings=1.0..01", _is_int_text, f'"{FAR}"'),
        ("ints=5000-digits", _is_int, HUGE),
        ("ints=1e999999999", _is_int, "1e999999999"),
        ("ints=-1", _is_int, "-1"),
        ("ints=2**256+5", _is_int, BIG),
        ("ints=1.5", _is_int, "1.5"),
        ("ints=null", _is_int, "null"),
        ("hex=odd-length", _is_hex, '"abc"'),
        ("hex=non-hex", _is_hex, '"' + "zz" * 32 + '"'),
        ("strings=empty", lambda v: isinstance(v, str), '""'),
        ("strings=lone-surrogate", lambda v: isinstance(v, str), '"\\ud800"'),
    ):
        blob = json_map(doc, pred, raw)
        if blob is not None:
            out.append(Case(f"{name}:{label}", slot=name, content=blob))
    return out + (deep_cases(name, data, objects=objects) if deep else []) + path_cases(name)


JSONL_VALUES = frozenset(
    {
        "int-5000-digits",
        "str-5000-digits",
        "1e999999999",
        "str-2**256+5",
        "str-neg-2**256+5",
        "str-1.0..01",
        "1.5",
        "NaN",
        "null",
        "[]",
        "{}",
        '""',
        "lone-surrogate",
        "nul",
        "arabic-digits",
        "underscore-digits",
    }
)


def jsonl_cases(name: str, data: bytes) -> list[Case]:
    lines = data.decode().splitlines()
    first = json.loads(lines[0])
    out = byte_cases(name, data)

    def with_first(line: str) -> bytes:
        return "\n".join([line, *lines[1:]]).encode()

    for label, line in (
        ("blank-lines", "\n\n"),
        ("null-line", "null"),
        ("list-line", "[]"),
        ("number-line", "1"),
        ("string-line", '"x"'),
        ("nest-1000-line", "[" * 1000 + "]" * 1000),
    ):
        out.append(Case(f"{name}:{label}", slot=name, content=with_first(line)))
    for key in first:
        smaller = {k: v for k, v in first.items() if k != key}
        out.append(
            Case(f"{name}:line1-missing-{key}", slot=name, content=with_first(json.dumps(smaller)))
        )
    out.append(
        Case(
            f"{name}:line1-extra-key", slot=name, content=with_first(json.dumps({**first, "zz": 1}))
        )
    )
    for key in first:
        for label, raw in JSON_VALUES:
            if label not in JSONL_VALUES:
                continue
            out.append(
                Case(
                    f"{name}:line1.{key}={label}",
                    slot=name,
                    content=with_first(json_with(first, (key,), raw).decode()),
                )
            )
    deep = "[" * DEEP + "]" * DEEP
    out.append(
        Case(
            f"{name}:line1=deep-array-100000",
            slot=name,
            content=with_first(deep),
            where="subprocess",
        )
    )
    return out + path_cases(name)


def csv_cases(name: str, data: bytes, sep: str = ",") -> list[Case]:
    text = data.decode()
    lines = text.split("\n")
    out = byte_cases(name, data)
    row = next((i for i, line in enumerate(lines) if i > 0 and line.strip()), 0)
    cells = lines[row].split(sep)

    def with_row(new: str) -> bytes:
        return "\n".join([*lines[:row], new, *lines[row + 1 :]]).encode()

    out += [
        Case(f"{name}:header-only", slot=name, content=(lines[0] + "\n").encode()),
        Case(f"{name}:no-header", slot=name, content="\n".join(lines[1:]).encode()),
        Case(f"{name}:duplicate-header", slot=name, content="\n".join([lines[0], *lines]).encode()),
        Case(f"{name}:blank-lines", slot=name, content=text.replace("\n", "\n\n").encode()),
        Case(f"{name}:stray-cr-in-row", slot=name, content=with_row(lines[row] + "\r")),
        Case(
            f"{name}:cr-inside-field",
            slot=name,
            content=with_row(lines[row].replace(sep, "\r" + sep, 1)),
        ),
        Case(f"{name}:quoted-newline", slot=name, content=with_row(f'"a\nb"{sep}' + lines[row])),
        Case(f"{name}:unbalanced-quote", slot=name, content=with_row('"' + lines[row])),
        Case(f"{name}:extra-column", slot=name, content=with_row(lines[row] + sep + "extra")),
        Case(f"{name}:missing-column", slot=name, content=with_row(sep.join(cells[:-1]))),
        Case(f"{name}:one-column", slot=name, content=with_row(cells[0])),
        Case(
            f"{name}:field-200k", slot=name, content=with_row(sep.join(["a" * 200_000, *cells[1:]]))
        ),
        Case(
            f"{name}:invalid-utf8-field",
            slot=name,
            content=with_row(lines[row]).replace(
                cells[0].encode(), cells[0].encode() + b"\xff\xfe", 1
            ),
        ),
        Case(
            f"{name}:nul-field",
            slot=name,
            content=with_row(lines[row].replace(sep, "\x00" + sep, 1)),
        ),
    ]
    numeric = [j for j, c in enumerate(cells) if re.fullmatch(r"-?[0-9.]+", c.strip())]
    for j in numeric[:2]:
        for label, value in NUMERIC_TEXT:
            new = list(cells)
            new[j] = value
            out.append(
                Case(
                    f"{name}:row{row + 1}.field{j + 1}={label}",
                    slot=name,
                    content=with_row(sep.join(new)),
                )
            )
    return out + path_cases(name)


def toml_cases(name: str, data: bytes) -> list[Case]:
    doc = tomllib.loads(data.decode())
    out = byte_cases(name, data)
    out += [
        Case(f"{name}:not-toml", slot=name, content=b"[section\nkey = \n"),
        Case(
            f"{name}:int-5000-digits", slot=name, content=data + f"\nzz_extra = {HUGE}\n".encode()
        ),
        Case(f"{name}:duplicate-table", slot=name, content=b"[a]\nx = 1\n[a]\nx = 2\n" + data),
        Case(f"{name}:extra-key", slot=name, content=b"zz_extra = 1\n" + data),
    ]
    for key, value in doc.items():
        out.append(Case(f"{name}:{key}:deleted", slot=name, content=toml_with(doc, (key,), None)))
        alternatives = ['"x"', "1", "[]", "true"] if not isinstance(value, dict) else ['"x"', "1"]
        for raw in alternatives:
            out.append(Case(f"{name}:{key}={raw}", slot=name, content=toml_with(doc, (key,), raw)))
    return out + path_cases(name)


def text_cases(name: str, data: bytes) -> list[Case]:
    return [
        *byte_cases(name, data),
        Case(f"{name}:junk", slot=name, content=b"zz not what was expected zz\n"),
        Case(f"{name}:5000-digits", slot=name, content=HUGE.encode()),
        Case(f"{name}:1MiB", slot=name, content=b"a" * (1 << 20)),
        *path_cases(name),
    ]


def _pseudo_random(n: int, seed: int = 7) -> bytes:
    out = bytearray()
    x = seed
    for _ in range(n):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        out.append(x >> 16 & 0xFF)
    return bytes(out)


def dir_cases(
    name: str,
    root: Path,
    deep: Sequence[str] = (),
    only: Sequence[str] | None = None,
    json_files: Sequence[str] | None = None,
) -> list[Case]:
    """For each file of a directory slot (or `only` these): deleted, a directory, empty,
    truncated, a flipped byte, junk; JSON files (or `json_files`) also get the JSON hand
    cases on their own."""
    files = dir_files(root)
    out: list[Case] = []
    for rel, data in files.items():
        if only is not None and rel not in only:
            continue
        mid = len(data) // 2
        flipped = data[:mid] + bytes([data[mid] ^ 0x55]) + data[mid + 1 :] if data else b"x"
        for label, op, blob in (
            ("deleted", "delete", b""),
            ("directory", "dir", b""),
            ("empty", "write", b""),
            ("truncated-half", "write", data[:mid]),
            ("flipped-middle-byte", "write", flipped),
            ("junk", "write", _pseudo_random(max(len(data), 64))),
        ):
            out.append(Case(f"{name}/{rel}:{label}", slot=name, files=((rel, op, blob),)))
        if rel.endswith(".json") and (json_files is None or rel in json_files):
            for case in json_cases(rel, data):
                if (
                    case.content is not None
                    and case.where == "inproc"
                    and not case.label.endswith(("utf16", "doubled", "whitespace"))
                ):
                    out.append(
                        Case(
                            f"{name}/{case.label}", slot=name, files=((rel, "write", case.content),)
                        )
                    )
    out += deep_cases(name, b"", tuple(deep))
    out += [
        Case(f"{name}:missing", slot=name, action="missing"),
        Case(f"{name}:a-file", slot=name, action="file"),
    ]
    return out


def db_cases(name: str, data: bytes, old: bytes, empty: bytes) -> list[Case]:
    """A history database that is not one, is damaged, or is from an older por."""
    page = 4096
    zeroed = data[:page] + b"\x00" * page + data[2 * page :] if len(data) > 2 * page else data
    flip = bytearray(data)
    for offset in (16, 18, 21, 28, 44, 56):
        flip[offset] ^= 0x5A
    out = [
        Case(f"{name}:junk", slot=name, content=_pseudo_random(3000), infra=True),
        Case(f"{name}:text", slot=name, content=b"hello, not a database\n", infra=True),
        Case(f"{name}:empty-file", slot=name, content=b"", infra=True),
        Case(f"{name}:header-only", slot=name, content=data[:100], infra=True),
        Case(f"{name}:truncated-1k", slot=name, content=data[:1024], infra=True),
        Case(f"{name}:truncated-half", slot=name, content=data[: len(data) // 2], infra=True),
        Case(f"{name}:header-bytes-flipped", slot=name, content=bytes(flip), infra=True),
        Case(f"{name}:page-2-zeroed", slot=name, content=zeroed, infra=True),
        Case(f"{name}:old-schema-0001", slot=name, content=old, infra=True),
        Case(f"{name}:no-runs", slot=name, content=empty, infra=True),
        Case(f"{name}:directory", slot=name, action="dir", infra=True),
        Case(f"{name}:symlink-loop", slot=name, action="loop", infra=True),
    ]
    return out


# ----------------------------------------------------------------------------- running


def edit_args(args: Sequence[str], edits: Iterable[tuple[str, ...]]) -> list[str]:
    out = list(args)
    for edit in edits:
        op = edit[0]
        if op == "set":
            opt, value = edit[1], edit[2]
            if opt in out:
                out[out.index(opt) + 1] = value
            else:
                out += [opt, value]
        elif op == "drop":
            if edit[1] in out:
                i = out.index(edit[1])
                del out[i : i + 2]
        elif op == "flag":
            out.append(edit[1])
        elif op == "pos":
            out[int(edit[1])] = edit[2]
        else:
            raise ValueError(op)
    return out


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def prepare(target: Target, case: Case, world: Path, work: Path) -> None:
    """Copy the target's valid inputs into `work` and break them as `case` says."""
    work.mkdir(parents=True)
    for rel in target.copies:
        src, dst = world / rel, work / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, symlinks=True)
        else:
            shutil.copy2(src, dst)
    if case.slot is None:
        return
    path = work / target.slots[case.slot].rel
    if case.content is not None:
        path.write_bytes(case.content)
    if case.action is not None:
        _remove(path)
        if case.action == "dir":
            path.mkdir()
        elif case.action == "loop":
            path.symlink_to(path.name)
        elif case.action == "devnull":
            path.symlink_to("/dev/null")
        elif case.action == "devzero":
            path.symlink_to("/dev/zero")
        elif case.action == "file":
            path.write_text("a file where a directory was expected\n")
    for rel, op, data in case.files:
        inner = path / rel
        mode = inner.stat().st_mode & 0o777 if inner.is_file() else 0o644
        _remove(inner)
        if op == "write":
            inner.write_bytes(data)
            inner.chmod(mode)  # a secret stays 0600: refused for its content, not its mode
        elif op == "dir":
            inner.mkdir()
        elif op == "fifo":
            os.mkfifo(inner)
        elif op == "link":  # data: where the link points (relative to its directory)
            inner.symlink_to(data.decode())


def argv_for(target: Target, case: Case, work: Path, as_json: bool) -> list[str]:
    values = {name: str(work / slot.rel) for name, slot in target.slots.items()}
    values["work"] = str(work)

    def fill(token: str) -> str:
        return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], token)

    args = [fill(t) for t in edit_args(target.args, case.edits)]
    return [*args, "--json"] if as_json else args


@dataclass
class Outcome:
    rc: int | None
    out: str
    err: str
    note: str = ""
    """hang, signal, reached-nodes (a flag case that got past validation)."""


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    line = lines[-1] if lines else ""
    return line if len(line) <= 240 else line[:237] + "..."


def one_json_document(out: str) -> str | None:
    text = out.strip()
    if not text:
        return "--json: nothing on stdout"

    def no_constants(name: str) -> Any:
        raise ValueError(f"{name} in the JSON output")

    try:
        _, end = json.JSONDecoder(parse_constant=no_constants).raw_decode(text)
    except ValueError as exc:
        return f"--json: stdout is not one JSON document ({str(exc)[:80]})"
    if text[end:].strip():
        return "--json: more than one document on stdout"
    return None


def problems(target: Target, case: Case, outcome: Outcome, as_json: bool) -> list[str]:
    """What is wrong with one run (empty: it passed)."""
    found: list[str] = []
    rc = outcome.rc
    if outcome.note == "hang":
        return [f"hang: still running after {HANG_SECONDS} s"]
    if outcome.note == "memory":
        return [f"memory: over {MEMORY_CAP >> 20} MiB, killed (an input read whole?)"]
    if outcome.note == "main() raised":
        return [f"main() raised: {last_line(outcome.err)}"]
    if outcome.note == "reached-nodes":
        return []
    if rc is None:
        return [f"no exit code ({outcome.note})"]
    if rc < 0 or rc in (134, 139):
        found.append(f"killed by signal {-rc if rc < 0 else rc - 128} (crash)")
    elif rc not in OK_EXITS:
        found.append(f"exit {rc} (not a documented code)")
    elif rc == 4 and not (target.infra or case.infra):
        found.append("exit 4 on a file input (infrastructure code)")
    if case.expect is not None and rc not in case.expect:
        found.append(f"exit {rc}, expected {'/'.join(map(str, sorted(case.expect)))}")
    if "Traceback" in outcome.out or "Traceback" in outcome.err:
        found.append("Traceback printed")
    if "internal error" in outcome.err:
        found.append("internal error (safety net)")
    if as_json and rc is not None and rc >= 0:
        issue = one_json_document(outcome.out)
        if issue is not None:
            found.append(issue)
    both = outcome.out + outcome.err
    if "[SQL:" in both or "sqlalche.me" in both:
        found.append("SQL text in the message")
    if SECRET in both or API_KEY in both:
        found.append("secret printed")
    return found


def post_problems(
    case: Case, outcome: Outcome, work: Path, target: Target, world: Path
) -> list[str]:
    """Checks of what a case left behind: `case.post`, else `target.post`."""
    post = case.post or target.post
    if post == "no-db-created":
        path = work / target.slots["db"].rel
        if path.exists():
            return ["created a database that did not exist"]
    if post == "proofs-verify" and outcome.rc == 0:
        return _unverified_proofs(work, world / "tree" / "root.json")
    return []


def _unverified_proofs(work: Path, root_file: Path) -> list[str]:
    """Every proof `liabilities proof` wrote (exit 0) must verify against the published
    root document of the intact tree: a corrupt tree must never yield a proof that fails."""
    from attestations.proofs import parse_proof, parse_root_document, verify_proof

    root = parse_root_document(json.loads(root_file.read_text()))
    if (work / "proofs.arrow").is_file():  # issue 16: every row of a written container
        from attestations.proof_container import ProofContainer

        try:
            opened = ProofContainer(work / "proofs.arrow")
            for row, batch, j in opened.rows():
                text = opened.row_text(row, batch, j)
                verify_proof(parse_proof(json.loads(text)), published_root=root)
        except Exception as exc:  # any failure to verify is the finding
            return [f"wrote a proofs container that does not verify ({type(exc).__name__})"]
    files = [work / "p.json", *sorted((work / "proofs").glob("*.json"))]
    for path in files:
        if not path.is_file():
            continue
        try:
            verify_proof(parse_proof(json.loads(path.read_text())), published_root=root)
        except Exception as exc:  # any failure to verify is the finding
            return [f"handed out a proof that does not verify ({type(exc).__name__})"]
    return []


class ReachedNodes(BaseException):
    """Raised instead of starting a local node (demo, bench snapshot): the flags passed.
    Not an Exception, so `main` does not swallow it."""


_REACHED_NODES = 197
_HARNESS_ERROR = 198


def _private_memory(pid: int) -> int:
    """Bytes only `pid` holds (not the pages a fork still shares with its parent)."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    total = 0
    for line in text.splitlines():
        if line.startswith(("Private_Clean:", "Private_Dirty:")):
            total += int(line.split()[1]) * 1024
    return total


def _child(
    main: Callable[[list[str]], int], argv: list[str], cwd: Path, out: Path, err: Path
) -> None:
    """In the forked child: stdio to files (fd level, so native writes are caught too),
    run `main`, exit with its code. Never returns."""
    code = _HARNESS_ERROR
    try:
        faulthandler.disable()  # a crash must show as a signal, not as pytest's dump
        os.chdir(cwd)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        for fd, path in ((1, out), (2, err)):
            target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(target, fd)
            os.close(target)
        sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stdout = open(1, "w", encoding="utf-8", errors="surrogateescape", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", encoding="utf-8", errors="surrogateescape", closefd=False)  # noqa: SIM115
        code = main(argv)
    except ReachedNodes:
        code = _REACHED_NODES
    except BaseException:  # main() must never raise: show what escaped it
        import traceback

        traceback.print_exc()
        code = _HARNESS_ERROR
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(BaseException):
                stream.flush()
        os._exit(code if isinstance(code, int) and 0 <= code < 256 else _HARNESS_ERROR)


@dataclass
class _Running:
    pid: int
    pidfd: int
    deadline: float
    out: Path
    err: Path
    done: Callable[[Outcome], None]
    popen: subprocess.Popen[bytes] | None = None


class Pool:
    """Runs cases two at a time (one per core): each in a fork of this already initialised
    interpreter that calls `main(argv)` (as fast as a plain in-process call, but a segfault
    in native code or a hang ends only that case), or as the installed `por` in a real
    subprocess. `done(outcome)` is called as each one ends."""

    def __init__(self, size: int = 2, hang_seconds: float = HANG_SECONDS) -> None:
        self.size = max(1, size)
        self.hang_seconds = hang_seconds
        self.running: list[_Running] = []

    def fork(
        self,
        main: Callable[[list[str]], int],
        argv: list[str],
        cwd: Path,
        done: Callable[[Outcome], None],
    ) -> None:
        self._make_room()
        out, err = cwd.parent / f".{cwd.name}.out", cwd.parent / f".{cwd.name}.err"
        sys.stdout.flush()
        sys.stderr.flush()
        # the child's garbage collector must not walk (and so copy) every page of the parent
        gc.freeze()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            _child(main, argv, cwd, out, err)
        self._track(pid, out, err, done)

    def spawn(self, argv: list[str], cwd: Path, done: Callable[[Outcome], None]) -> None:
        self._make_room()
        env = {k: v for k, v in os.environ.items() if not k.startswith("POR_")}
        env["COLUMNS"] = "200"
        out, err = cwd.parent / f".{cwd.name}.out", cwd.parent / f".{cwd.name}.err"
        with open(out, "wb") as stdout, open(err, "wb") as stderr:
            popen = subprocess.Popen(
                [str(POR), *argv],
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
            )
        self._track(popen.pid, out, err, done, popen)

    def _track(
        self,
        pid: int,
        out: Path,
        err: Path,
        done: Callable[[Outcome], None],
        popen: subprocess.Popen[bytes] | None = None,
    ) -> None:
        deadline = time_module.monotonic() + self.hang_seconds
        self.running.append(_Running(pid, os.pidfd_open(pid), deadline, out, err, done, popen))

    def _make_room(self) -> None:
        while len(self.running) >= self.size:
            self._wait_one()

    def drain(self) -> None:
        while self.running:
            self._wait_one()

    def _wait_one(self) -> None:
        """Until one case ends: poll every 50 ms, killing a case past its deadline (a hang)
        or over `MEMORY_CAP`."""
        while True:
            now = time_module.monotonic()
            ready, _, _ = select.select([r.pidfd for r in self.running], [], [], 0.05)
            finished = [r for r in self.running if r.pidfd in ready]
            for job in finished:
                self._finish(job, "")
            if finished:
                return
            for job in list(self.running):
                if now > job.deadline:
                    os.kill(job.pid, signal.SIGKILL)
                    self._finish(job, "hang")
                    return
                if _private_memory(job.pid) > MEMORY_CAP:
                    os.kill(job.pid, signal.SIGKILL)
                    self._finish(job, "memory")
                    return

    def _finish(self, job: _Running, note: str) -> None:
        self.running.remove(job)
        if job.popen is not None:
            rc: int | None = job.popen.wait()
        else:
            _, status = os.waitpid(job.pid, 0)
            rc = os.waitstatus_to_exitcode(status)
        os.close(job.pidfd)
        if note in ("hang", "memory"):
            rc = None
        elif job.popen is None and rc == _REACHED_NODES:
            rc, note = None, "reached-nodes"
        elif job.popen is None and rc == _HARNESS_ERROR:
            note = "main() raised"
        outcome = Outcome(rc, _read(job.out), _read(job.err), note)
        job.out.unlink(missing_ok=True)
        job.err.unlink(missing_ok=True)
        job.done(outcome)


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


@dataclass
class Failure:
    target: str
    case: str
    mode: str
    rc: int | None
    problems: list[str]
    stderr: str

    def line(self) -> str:
        return (
            f"{self.target} | {self.case} [{self.mode}] -> exit {self.rc}: "
            f"{'; '.join(self.problems)} | stderr: {self.stderr}"
        )


def summarize(failures: Sequence[Failure]) -> str:
    """The failures grouped by problem, for the assertion message."""
    groups: dict[str, list[Failure]] = {}
    for failure in failures:
        for problem in failure.problems:
            groups.setdefault(problem, []).append(failure)
    lines = [f"{len(failures)} failing cases"]
    for problem, items in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        lines.append(f"== {problem} ({len(items)})")
        lines += ["   " + f.line() for f in items[:40]]
        if len(items) > 40:
            lines.append(f"   ... and {len(items) - 40} more")
    return "\n".join(lines)


__all__ = [
    "API_KEY",
    "AS_OF",
    "ATTESTATION",
    "BIG",
    "CLOSED",
    "DB_URLS",
    "FAR",
    "HUGE",
    "SECRET",
    "URLS",
    "Case",
    "Failure",
    "Outcome",
    "Pool",
    "ReachedNodes",
    "Slot",
    "Target",
    "argv_for",
    "case_strategy",
    "csv_cases",
    "db_cases",
    "dir_cases",
    "json_cases",
    "jsonl_cases",
    "post_problems",
    "prepare",
    "problems",
    "summarize",
    "text_cases",
    "toml_cases",
    "toml_dumps",
    "toml_edit",
]

if __name__ == "__main__":  # pragma: no cover
    sys.exit("a helper of tests/cli/test_malformed_sweep.py")
