"""Terminal output: rich progress bars and tables on stderr, JSON documents on stdout, and
the width policy that keeps every figure whole.

Logs and progress go to stderr so that `--json` output on stdout stays machine-readable
for scheduled jobs.

Width: on a terminal, its width; otherwise (a pipe, a file, a journal) ``$COLUMNS`` when set,
else 80 — never the width of whichever other descriptor happens to be a terminal, which is
what rich would take. Nothing is ever cropped or cut with an ellipsis: a table that does
not fit is printed as a list of ``label: value`` lines (`print_table`), prose is wrapped at
spaces only (`print_wrapped`), so a figure, a hash or an address is never split; a value
longer than the width stands whole on its own line.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console, ConsoleDimensions, RenderableType
from rich.measure import Measurement
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

DEFAULT_WIDTH = 80
MIN_WIDTH = 20
"""Below this a table is a list whatever happens; COLUMNS=5 would otherwise wrap prose into
one word per line and still not fit."""


class PorConsole(Console):
    """A rich console whose width off a terminal is ``$COLUMNS`` or 80 (see the module doc)."""

    @property
    def size(self) -> ConsoleDimensions:
        if self._width is None and not self.is_terminal:
            return ConsoleDimensions(columns_width(), self._height or 25)
        return super().size

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        width, height = new_size
        self._width, self._height = width, height


def columns_width(environ: dict[str, str] | None = None) -> int:
    """``$COLUMNS`` when it is a sensible number, else 80."""
    value = (environ if environ is not None else os.environ).get("COLUMNS", "").strip()
    if value.isdigit() and MIN_WIDTH <= int(value) <= 1_000_000:
        return int(value)
    return DEFAULT_WIDTH


err = PorConsole(stderr=True, highlight=False, soft_wrap=True)
out = PorConsole(highlight=False, soft_wrap=True)


def plural(count: int, word: str, words: str | None = None, *, thousands: bool = False) -> str:
    """`count` and the noun in the form that fits it: ``1 level``, ``2 levels``,
    ``1 address``, ``3 addresses``, ``0 discrepancies``.

    `words` is the plural when the English rule below gets it wrong; otherwise "es" after
    s, x, z, ch and sh, "ies" for a consonant and "y", else "s". `thousands` writes
    ``1,000,000``."""
    number = f"{count:,}" if thousands else str(count)
    if count == 1:
        return f"{number} {word}"
    if words is None:
        if word.endswith(("s", "x", "z", "ch", "sh")):
            words = word + "es"
        elif word.endswith("y") and word[-2:-1] not in ("a", "e", "i", "o", "u", ""):
            words = word[:-1] + "ies"
        else:
            words = word + "s"
    return f"{number} {words}"


def print_json(document: Any) -> None:
    """The one machine-readable document of a command, on stdout."""
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=False) + "\n")
    sys.stdout.flush()


def print_json_line(document: Any) -> None:
    """One compact JSON document on one line of stdout, flushed (NDJSON: ``--every --json``)."""
    sys.stdout.write(json.dumps(document, separators=(",", ":"), ensure_ascii=False) + "\n")
    sys.stdout.flush()


def plain(value: RenderableType | None, *, markup: bool = True) -> str:
    """The text of a cell or a header: rich markup resolved, styles dropped."""
    if value is None:
        return ""
    if isinstance(value, Text):
        return value.plain
    if isinstance(value, str):
        return Text.from_markup(value).plain if markup else value
    return str(value)


def print_wrapped(
    console: Console,
    text: str | Text,
    *,
    indent: str = "",
    subsequent: str | None = None,
    style: str | None = None,
) -> None:
    """`text` wrapped to the console's width at spaces only (a figure, hash or URL is never
    split; a word longer than the width stands whole on its line)."""
    raw = text.plain if isinstance(text, Text) else text
    style = style or (str(text.style) if isinstance(text, Text) and text.style else None)
    width = max(console.width, MIN_WIDTH)
    for paragraph in raw.split("\n"):
        lines = textwrap.wrap(
            paragraph,
            width=width,
            initial_indent=indent,
            subsequent_indent=indent if subsequent is None else subsequent,
            break_long_words=False,
            break_on_hyphens=False,
        ) or [indent.rstrip()]
        for line in lines:
            console.print(Text(line, style=style or ""), soft_wrap=True)


def table_fits(console: Console, table: Table) -> bool:
    """Whether `table` drawn at its natural width fits the console (no cell wrapped or cut)."""
    # measured without a limit: rich clamps a measurement to the width it is given
    measured = Measurement.get(console, console.options.update_width(1_000_000), table)
    return measured.maximum <= console.width


def print_table(console: Console, table: Table) -> None:
    """`table` as drawn by rich when it fits the width; otherwise as a list, one block per
    row of ``label: value`` lines (the first column leads with ``- ``), empty cells left
    out and multi-line cells joined with ``; `` — so no figure is ever cropped."""
    if table_fits(console, table):
        console.print(table)
        return
    for line in table_lines(table, console.width):
        console.print(Text(line), soft_wrap=True)


def table_lines(table: Table, width: int = DEFAULT_WIDTH) -> list[str]:
    """The list form of `table` (see `print_table`), as lines of at most `width` columns
    where a value allows (one with no space longer than that stands alone on its line)."""
    lines: list[str] = []
    if table.title is not None:
        lines += textwrap.wrap(plain(table.title), width=width, break_long_words=False) or [""]
    headers = [plain(column.header) for column in table.columns]
    columns = [list(column.cells) for column in table.columns]
    rows = max((len(cells) for cells in columns), default=0)
    for index in range(rows):
        first = True
        for header, cells in zip(headers, columns, strict=True):
            value = "; ".join(
                part.strip() for part in plain(cells[index]).split("\n") if part.strip()
            )
            if not value:
                continue
            lead = "- " if first else "  "
            first = False
            lines += _label_value(lead, header, value, width)
    return lines


def _label_value(lead: str, label: str, value: str, width: int) -> list[str]:
    head = f"{lead}{label}: " if label else lead
    if len(head) + len(value) <= width:
        return [head + value]
    if " " in value:
        return textwrap.wrap(
            value,
            width=width,
            initial_indent=head,
            subsequent_indent="    ",
            break_long_words=False,
            break_on_hyphens=False,
        )
    # one unbreakable value (a hash, an address, a long figure): whole, on its own line
    return [head.rstrip(), f"    {value}"]


@contextmanager
def progress_bar(enabled: bool = True) -> Iterator[Any]:
    """Yield a `progress(phase, done, total)` callback drawing one bar per phase on stderr."""
    if not enabled or not err.is_terminal:
        yield lambda phase, done, total: None
        return
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )
    tasks: dict[str, TaskID] = {}

    def update(phase: str, done: int, total: int) -> None:
        if phase not in tasks:
            tasks[phase] = bar.add_task(phase, total=max(total, 1))
        bar.update(tasks[phase], completed=done, total=max(total, 1))

    with bar:
        yield update
