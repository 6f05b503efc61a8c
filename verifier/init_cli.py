"""`por init`: placeholder until written."""

import click


@click.command("init")
def init() -> None:
    """Write a commented starter por.toml and its input files."""
