"""`por challenge`: print exactly what each configured address must sign, and how.

Where it sits: before the first snapshot; the click command and the terminal rendering
only. The challenge document (`por-challenge-v1`: each chain's message and, per address, the
scheme and how to sign) is built by verifier/holdings/challenge_plan.py from por.toml and
the nodes' blocks; an epoch challenge reads por.toml the relaxed way of
verifier/inputs/epoch_config.py. Nothing is signed and no key is read.

Each message is printed verbatim between markers, with every character a terminal would
not show as itself escaped (`printable`).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import click

from verifier.base.console import out, print_json
from verifier.base.errors import EXIT_OK
from verifier.cli.options import CONFIG_OPTION
from verifier.holdings.challenge_plan import Request, build_challenges
from verifier.inputs.epoch_config import load_for_epoch

BEGIN = "-----BEGIN POR CHALLENGE-----"
END = "-----END POR CHALLENGE-----"


def printable(text: str) -> str:
    """`text` with every character a terminal would not show as itself (besides the line
    feeds that end its lines) written as a Python escape, ``\\u2028``: the config and
    chains.challenge refuse such characters in a message, so this is defence in depth."""
    return "\n".join(
        "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in line)
        for line in text.split("\n")
    )


def _say(text: str) -> None:
    # verbatim: no markup, no highlighting, no wrapping (a wrapped message is another message)
    out.print(printable(text), markup=False, highlight=False, soft_wrap=True)


def render(doc: dict[str, Any]) -> None:
    """The terminal form: each message verbatim between markers, then who signs and how."""
    if doc["kind"] == "epoch":
        epoch = doc["epoch"]
        state = "defined in por.toml" if epoch["defined"] else "NEW: add the TOML block below"
        expiry = f", expires {epoch['expires']}" if epoch["expires"] else ", no expiry"
        _say(f"Ownership epoch {epoch['id']} of {doc['exchange']} ({state}{expiry})")
        for name in epoch["chains_without_block"]:
            _say(f"(the epoch names no {name} block: {name} wallets cannot use it)")
    else:
        _say(
            f"Point-in-time challenge of {doc['exchange']} for attestation "
            f"{doc['attestation_id']}: valid only for a snapshot pinned at these blocks"
        )
    for chain in doc["chains"]:
        message = chain["message"]
        lines = message.count("\n") + 1
        _say("")
        _say(f"{chain['chain']} ({chain['network']}), block {chain['height']} {chain['hash']}")
        _say(
            f"Sign exactly the {lines} lines between the markers ({len(message.encode())} "
            "bytes, UTF-8, lines end with LF; the last line has no newline after it: a "
            "trailing newline or CRLF line ends make another message):"
        )
        _say(BEGIN)
        _say(message)
        _say(END)
        for row in chain["addresses"]:
            scheme = row["scheme"] or "-"
            _say(f"  {row['label'] or row['wallet']}  {row['address']}  [{scheme}]")
            for step in row["how"]:
                _say(f"      {step}")
        for note in chain["notes"]:
            _say(f"  note: {note}")
    for note in doc.get("notes", ()):
        _say("")
        _say(f"note: {note}")
    for warning in doc.get("warnings", ()):
        _say("")
        _say(f"warning: {warning}")
    if doc["toml"]:
        _say("")
        epoch_id = doc["epoch"]["id"]
        _say(f'Add this to por.toml; each proof then names it: epoch = "{epoch_id}"')
        _say(doc["toml"].rstrip("\n"))
    if doc["kind"] == "point-in-time":
        pins = " ".join(
            f"--{'btc-height' if c['chain'] == 'bitcoin' else 'eth-block'} {c['height']}"
            for c in doc["chains"]
        )
        _say("")
        _say(f"Then pin the snapshot at these blocks: por snapshot --config ... {pins}")


@click.command("challenge")
@CONFIG_OPTION
@click.option(
    "--epoch",
    "epoch_id",
    default=None,
    help="Print the epoch challenge of this epoch (one in [[ownership.epochs]], or a new one "
    "at the tip or the given heights) instead of today's point-in-time challenge.",
)
@click.option(
    "--btc-height",
    type=click.IntRange(0),
    default=None,
    help="The Bitcoin block the message names (default: the node's tip).",
)
@click.option(
    "--eth-block",
    type=click.IntRange(0),
    default=None,
    help="The Ethereum block the message names (default: the node's tip).",
)
@click.option(
    "--expires",
    default=None,
    help="A new epoch's expiry, signed with it (UTC, e.g. 2027-03-31T00:00:00Z).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
def challenge_cmd(
    config_file: Path,
    epoch_id: str | None,
    btc_height: int | None,
    eth_block: int | None,
    expires: str | None,
    as_json: bool,
) -> int:
    """Print exactly what each address must sign (per chain), and how to sign it."""
    from verifier.inputs.config import load_config

    notes: list[str] = []
    if epoch_id is None:
        config = load_config(config_file)
    else:
        # an epoch challenge names no attestation, and it comes before the epoch is in
        # por.toml: it needs only the exchange, the nodes and the addresses
        config, notes = load_for_epoch(config_file)
    request = Request(epoch_id, btc_height, eth_block, expires)
    doc = asyncio.run(build_challenges(config, request))
    doc["notes"] = notes + doc["notes"]
    if as_json:
        print_json(doc)
    else:
        render(doc)
    return EXIT_OK
