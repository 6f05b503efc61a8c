"""The root group's commands, imported only when one is run: `por X` imports X's module alone.

Where it sits: under main.py, which gives `click.group(commands=LazyCommands(TABLE))` a table
of command name -> ``"module:attr"``. Importing every command module made every `por`
invocation pay about 0.7 s before any work (aiohttp for `challenge`, the pydantic config
schema, the chart code...); `por liabilities build` needs none of it.

This is click's documented lazy-loading pattern ("Lazily Loading Subcommands") with the
table kept in the group's own `commands` mapping instead of in overridden `get_command` /
`list_commands`: click reads the names (help, "No such command", completion) without
importing anything, and every reader of `group.commands` (the help tests, the
malformed-input sweep) still sees every command, importing it on first access.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, MutableMapping

import click


class LazyCommands(MutableMapping[str, click.Command]):
    """name -> command; a name in `table` is imported from its ``"module:attr"`` on first
    access and kept. Iteration gives the table's names, then any added by `add_command`."""

    def __init__(self, table: Mapping[str, str]) -> None:
        self._table = dict(table)
        self._loaded: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._loaded:
            if name not in self._table:
                raise KeyError(name)
            self._loaded[name] = _load(name, self._table[name])
        return self._loaded[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        if name not in self:
            raise KeyError(name)
        self._table.pop(name, None)
        self._loaded.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        yield from self._table
        yield from (name for name in self._loaded if name not in self._table)

    def __len__(self) -> int:
        return len(self._table.keys() | self._loaded.keys())

    def __contains__(self, name: object) -> bool:
        # without importing (Mapping's default would call __getitem__)
        return name in self._table or name in self._loaded

    def loaded(self) -> frozenset[str]:
        """The names imported so far (what a test of "`por X` imports X alone" reads)."""
        return frozenset(self._loaded)


def _load(name: str, target: str) -> click.Command:
    module_name, _, attr = target.partition(":")
    command = getattr(importlib.import_module(module_name), attr)
    if not isinstance(command, click.Command):  # a wrong table entry: our bug, said plainly
        raise TypeError(f"{target} (command {name!r}) is not a click command")
    return command
