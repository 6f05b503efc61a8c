"""Line numbers for a config's problems: where each TOML key sits in its file (best effort).

Where it sits: the last step of `por config check` (verifier/inputs/config_check.py): a
problem that names a key of a TOML file gets that key's line, so an editor can jump to it.
Keys are named as the messages name them ("bitcoin.wallets[2].address").
"""

from __future__ import annotations

import re
from pathlib import Path

from verifier.inputs.problems import Problem

_MAX_LINE_SCAN_BYTES = 4 << 20
"""Line numbers are looked up in TOML files up to this size (the config, prices, ...)."""


_HEADER = re.compile(r"\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")


_KEY = re.compile(
    r"""\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*="""
)


_INLINE_KEY = re.compile(r"""[{,]\s*([A-Za-z0-9_-]+|"[^"]*")\s*=""")


def _parts(dotted: str) -> list[str]:
    return [
        p.strip().strip("\"'")
        for p in re.split(r"\.(?=(?:[^\"']*[\"'][^\"']*[\"'])*[^\"']*$)", dotted)
    ]


def key_lines(text: str) -> dict[str, int]:
    """Best effort: the line (1-based) of every table header and key of a TOML text, by
    the key names messages use ("bitcoin.wallets[2].address"). Inline tables are mapped
    one level deep; keys inside multi-line strings may be missed."""
    lines: dict[str, int] = {}
    arrays: dict[str, int] = {}
    header = ""
    in_string = False
    for number, line in enumerate(text.splitlines(), 1):
        if in_string:
            in_string = (line.count('"""') + line.count("'''")) % 2 == 0
            continue
        match = _HEADER.match(line)
        if match and "=" not in line.split("]")[0]:
            names, path = _parts(match.group(2)), ""
            for i, name in enumerate(names):
                path = f"{path}.{name}" if path else name
                if i < len(names) - 1 and path in arrays:
                    path += f"[{arrays[path]}]"
            if match.group(1) == "[[":
                arrays[path] = arrays.get(path, -1) + 1
                path += f"[{arrays[path]}]"
            header = path
            lines.setdefault(header, number)
            continue
        match = _KEY.match(line)
        if match is None:
            continue
        key = (
            ".".join([header, *_parts(match.group(1))])
            if header
            else ".".join(_parts(match.group(1)))
        )
        lines.setdefault(key, number)
        rest = line[match.end() :]
        if rest.lstrip().startswith("{"):
            for inner in _INLINE_KEY.finditer(rest):
                lines.setdefault(f"{key}.{inner.group(1).strip(chr(34))}", number)
        if (rest.count('"""') + rest.count("'''")) % 2 == 1:
            in_string = True
    return lines


def line_of(lines: dict[str, int], key: str | None) -> int | None:
    """The line of `key`, or of the nearest enclosing key that has one."""
    while key:
        if key in lines:
            return lines[key]
        cut = max(key.rfind("."), key.rfind("["))
        key = key[:cut] if cut > 0 else ""
    return None


def with_lines(problems: list[Problem]) -> list[Problem]:
    """`problems`, each that names a key of a readable TOML file (up to
    `_MAX_LINE_SCAN_BYTES`) given that key's line."""
    cache: dict[str, dict[str, int]] = {}
    out = []
    for problem in problems:
        p = problem
        if p.file is not None and p.line is None and p.key:
            if p.file not in cache:
                cache[p.file] = {}
                try:
                    path = Path(p.file)
                    if path.is_file() and path.stat().st_size <= _MAX_LINE_SCAN_BYTES:
                        cache[p.file] = key_lines(path.read_text(encoding="utf-8"))
                except (OSError, UnicodeDecodeError):
                    pass
            p = Problem(
                p.file, p.key, p.message, p.value, line_of(cache[p.file], p.key), p.suggestion
            )
        out.append(p)
    return out
