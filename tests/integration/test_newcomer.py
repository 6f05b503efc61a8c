"""The newcomer's path of docs/getting-started.md, done as a user does it, on real nodes.

The document drives the test: its `sh` blocks run in order through a shell, in the
directory the previous block left (`cd`), with `por` the installed CLI (`.venv/bin/por`), on
bcoin (regtest) and anvil started here on free ports. A block marked
`<!-- by hand: … -->` needs a person (nodes and funded wallets, signing with the wallet's
keys): the test does that step with the node helpers and the library signers (BIP-137 as
Bitcoin Core's signmessage makes it, EIP-191 as `cast wallet sign` makes it). The edits the
text asks for between blocks are made to the files as a person would, placeholder by
placeholder. Substitutions, as the document allows them: the node URLs (our free ports),
and `--every 1h` runs every second.

The scheduled loop is stopped with SIGTERM after at least three covered runs at later
blocks (blocks are mined on both chains between runs), every stdout line parsing as JSON;
then Bitcoin is mined past `[ownership] max_age_blocks` and the next run reports the proofs
stale and is a shortfall (exit 1). A guard test (no nodes) fails when a block of the
document is neither run here nor marked as done by a person.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty, Queue
from typing import Any

import pytest
from eth_account.messages import encode_defunct

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bcoin_fixtures import start_bcoin
from eth_fixtures import key, start_anvil

from chains.nodes.bcoin import RegtestWallet

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "getting-started.md"
BIN = Path(sys.executable).parent
"""Where the installed `por` is (the venv's bin)."""
SATS = 100_000_000
ETHER = 10**18
EPOCH = "2026-q4"
MAX_AGE_BLOCKS = 12
"""[ownership] max_age_blocks.bitcoin in the test's config: small, to reach it quickly."""
RUNS = 3
HAND_NODES = "your nodes and wallets"
HAND_SIGN = "signing with your wallet's keys"
RUNNABLE = re.compile(r"(por |cd |mkdir |\(umask 077 && printf )")
"""What a block run by the test may hold: por commands and the few shell steps around them."""


# ----------------------------------------------------------------------------- the document


@dataclass(frozen=True)
class Block:
    text: str
    by_hand: str | None
    """The marker's reason (`<!-- by hand: REASON -->` right before the block), or None."""

    @property
    def commands(self) -> list[str]:
        """The block's commands: comments dropped, continuation lines joined."""
        joined = self.text.replace("\\\n", " ")
        lines = (line.strip() for line in joined.splitlines())
        return [line for line in lines if line and not line.startswith("#")]


def doc_blocks(text: str | None = None) -> list[Block]:
    text = DOC.read_text(encoding="utf-8") if text is None else text
    blocks = []
    for match in re.finditer(r"(?:<!-- by hand: (.+?) -->\n)?```sh\n(.*?)```", text, re.S):
        blocks.append(Block(match.group(2), match.group(1)))
    return blocks


def test_every_block_of_the_document_is_run_or_done_by_a_person() -> None:
    blocks = doc_blocks()
    assert blocks, DOC
    for block in blocks:
        if block.by_hand is not None:
            assert block.by_hand in (HAND_NODES, HAND_SIGN), block.by_hand
            continue
        for command in block.commands:
            assert RUNNABLE.match(command), f"{DOC}: not run by the test: {command!r}"
    assert [b.by_hand for b in blocks if b.by_hand] == [HAND_NODES, HAND_SIGN]
    # the order the test follows: init, the API key, keys, challenge, ..., history
    firsts = [b.commands[0].split()[:2] for b in blocks if b.by_hand is None]
    assert firsts == [
        ["por", "init"],
        ["mkdir", "-m"],
        ["por", "keys"],
        ["por", "challenge"],
        ["por", "config"],
        ["por", "reconcile"],
        ["por", "attest"],
        ["por", "reconcile"],
        ["por", "history"],
    ]


def test_the_guard_sees_an_unmarked_block() -> None:
    text = "```sh\nbitcoin-cli signmessage a b\n```\n<!-- by hand: x -->\n```sh\nrm -rf /\n```\n"
    unmarked, marked = doc_blocks(text)
    assert unmarked.by_hand is None and not RUNNABLE.match(unmarked.commands[0])
    assert marked.by_hand == "x"


# ----------------------------------------------------------------------------- the world


@dataclass
class World:
    bcoin: Any
    anvil: Any
    wallet: RegtestWallet
    btc_address: str
    eth_account: Any
    work: Path
    env: dict[str, str]
    cwd: Path = field(init=False)

    def __post_init__(self) -> None:
        self.cwd = self.work

    def mine(self, blocks: int = 1) -> None:
        self.wallet.mine(blocks)
        self.anvil.mine(blocks)

    def shell(self, block: Block) -> subprocess.CompletedProcess[str]:
        """Run a block's text as a person pastes it, in the current directory."""
        script = f"set -euo pipefail\n{block.text}\nprintf '\\n::pwd::%s' \"$PWD\"\n"
        done = subprocess.run(
            ["bash", "-c", script],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, (block.text, done.stdout, done.stderr)
        out, _, pwd = done.stdout.rpartition("\n::pwd::")
        self.cwd = Path(pwd)
        return subprocess.CompletedProcess(done.args, 0, out, done.stderr)

    def por(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "por"), *args],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """What step 0 leaves: two nodes and a funded wallet on each chain (by a person)."""
    work = tmp_path_factory.mktemp("newcomer")
    bcoin = start_bcoin()
    anvil = start_anvil()
    try:
        wallet = RegtestWallet(bcoin)
        wallet.mine(440)  # past segwit activation and coinbase maturity
        btc_address = wallet.new_address("p2wpkh")
        wallet.pay({btc_address: 3 * SATS})
        wallet.mine(1)
        account = key("newcomer cold")
        anvil.set_balance(account.address, 30 * ETHER)
        anvil.mine(1)
        env = {
            **os.environ,
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "BCOIN_API_KEY": bcoin.api_key,
            "COLUMNS": "100000",
            "POR_LOG_LEVEL": "",
        }
        env.pop("POR_CONFIG", None)
        yield World(bcoin, anvil, wallet, btc_address, account, work, env)
    finally:
        bcoin.stop()
        anvil.stop()


# ----------------------------------------------------------------------------- edits by a person


def replace(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    assert text.count(old) == count, (path, old)
    path.write_text(text.replace(old, new))


def fill_in(world: World) -> None:
    """Step 2 as the text says, every placeholder by its own text."""
    d = world.cwd
    config = d / "por.toml"
    replace(config, "REPLACE: your exchange's legal name", "Newcomer Exchange KK")
    replace(config, "REPLACE: an id for this period, e.g. acme-2026-q4", "newcomer-2026-q4")
    replace(config, '"REPLACE: your cold wallet address"', f'"{world.btc_address}"')
    replace(
        config,
        '"REPLACE: your cold wallet address (0x + 40 hex digits)"',
        f'"{world.eth_account.address}"',
    )
    replace(config, '"http://127.0.0.1:48332"', f'"{world.bcoin.url}"')
    replace(config, '"http://127.0.0.1:8545"', f'"{world.anvil.url}"')
    # ownership: commented out until step 4; the epoch table deleted
    replace(config, "\nownership = {", "\n# ownership = {", count=2)
    text = config.read_text()
    table = re.search(r"\[\[ownership\.epochs\]\]\n(?:(?:id|bitcoin|ethereum) = .*\n|#.*\n)*", text)
    assert table is not None
    config.write_text(text.replace(table.group(0), ""))
    # the schedule's limit, small here (the text's max_age_blocks)
    replace(
        config,
        "max_age_days = 92\n",
        f"max_age_days = 92\nmax_age_blocks = {{ bitcoin = {MAX_AGE_BLOCKS} }}\n",
    )
    (d / "liabilities.csv").write_text(
        "account_id,asset,amount\nalice,BTC,1.25\nbob,BTC,0.75\nalice,ETH,10\ncarol,ETH,2.5\n"
    )
    replace(d / "prices.toml", "REPLACE: your reference rate source", "JPX reference rates")
    reserve = d / "reserve.toml"
    replace(reserve, "REPLACE: your exchange's legal name", "Newcomer Exchange KK")
    replace(reserve, "REPLACE: your trust bank", "Example Trust Bank")
    replace(reserve, "REPLACE: your insurer", "Example Insurance")
    replace(reserve, "REPLACE: what happened", "a hot wallet key leaked")
    lines = [line for p in d.glob("*.toml") for line in p.read_text().splitlines()]
    assert not [line for line in lines if "REPLACE:" in line and not line.startswith("#")]


BEGIN, END = "-----BEGIN POR CHALLENGE-----", "-----END POR CHALLENGE-----"


def printed_challenge(text: str) -> tuple[list[str], str]:
    """The messages (between the markers) and the TOML table, as a person copies them."""
    messages = re.findall(rf"{BEGIN}\n(.*?)\n{END}", text, re.S)
    after = text.split('each proof then names it: epoch = "2026-q4"\n', 1)[1]
    return messages, after.strip() + "\n"


def sign_and_paste(world: World, challenge: dict[str, Any], toml: str) -> None:
    """Step 4's person: sign each chain's message with the wallet's key, paste."""
    by_chain = {c["chain"]: c for c in challenge["chains"]}
    btc, eth = by_chain["bitcoin"], by_chain["ethereum"]
    assert [a["address"] for a in btc["addresses"]] == [world.btc_address]
    assert [a["address"].lower() for a in eth["addresses"]] == [world.eth_account.address.lower()]
    proof = world.wallet.ownership_proof(world.btc_address, btc["message"])
    assert proof["scheme"] == "bip137"
    eth_signature = world.eth_account.sign_message(encode_defunct(text=eth["message"])).signature
    config = world.cwd / "por.toml"
    replace(config, "# ownership = {", "ownership = {", count=2)
    replace(config, "REPLACE: the base64 signature of the challenge", str(proof["signature"]))
    replace(
        config,
        "REPLACE: the 0x signature of the challenge",
        "0x" + eth_signature.hex().removeprefix("0x"),
    )
    replace(config, "REPLACE: your epoch id", EPOCH, count=2)
    text = config.read_text()
    at = text.index(f"max_age_blocks = {{ bitcoin = {MAX_AGE_BLOCKS} }}\n")
    at = text.index("\n", at) + 1
    config.write_text(text[:at] + "\n" + toml + text[at:])


# ----------------------------------------------------------------------------- the loop


def start_loop(world: World, command: str) -> tuple[subprocess.Popen[str], Queue[str]]:
    argv = command.split()
    assert argv[0] == "por" and "--every" in argv
    argv[argv.index("--every") + 1] = "1s"  # the document's 1h, every second here
    process = subprocess.Popen(
        [str(BIN / "por"), *argv[1:]],
        cwd=world.cwd,
        env=world.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: Queue[str] = Queue()

    def reader() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=reader, daemon=True).start()
    return process, lines


def next_run(lines: Queue[str], process: subprocess.Popen[str]) -> dict[str, Any]:
    try:
        line = lines.get(timeout=300)
    except Empty:
        process.kill()
        _, err = process.communicate()
        pytest.fail(f"no run line from the loop: {err[-3000:]}")
    assert line.endswith("\n") and line.count("\n") == 1
    run: dict[str, Any] = json.loads(line)  # every line is one JSON document
    return run


def wallet_rows(world: World, report_file: str) -> dict[str, dict[str, Any]]:
    """The report's wallets by chain (the run line names the report as given: relative to
    the loop's directory)."""
    report = json.loads((world.cwd / report_file).read_text())
    return {w["chain"]: w for w in report["wallets"]}


# ----------------------------------------------------------------------------- the path


@pytest.mark.node
def test_the_documented_path_end_to_end(world: World) -> None:
    blocks = doc_blocks()
    state: dict[str, Any] = {}
    for block in blocks:
        first = block.commands[0]
        if block.by_hand == HAND_NODES:
            continue  # the fixture started the nodes and funded the wallets
        if block.by_hand == HAND_SIGN:
            sign_and_paste(world, state["challenge"], state["toml"])
            continue
        if first.startswith("por init"):
            world.shell(block)
            assert world.cwd == world.work / "exchange"
            # config check on the fresh files names the placeholders (exit 3)
            fresh = world.por("config", "check", "--json")
            assert fresh.returncode == 3
            names = {p["key"] for p in json.loads(fresh.stdout)["problems"]}
            assert "exchange.name" in names
            fill_in(world)
        elif first.startswith("por challenge"):
            text = world.shell(block).stdout
            messages, toml = printed_challenge(text)
            doc = json.loads(world.por(*first.split()[1:], "--json").stdout)
            assert doc["kind"] == "epoch" and doc["epoch"]["id"] == EPOCH
            assert messages == [c["message"] for c in doc["chains"]]
            assert toml == doc["toml"]
            assert f"epoch: {EPOCH}" in messages[0] and "Newcomer Exchange KK" in messages[0]
            state["challenge"], state["toml"] = doc, toml
            state["epoch_height"] = {c["chain"]: c["height"] for c in doc["chains"]}
        elif first.startswith("por config check"):
            done = world.shell(block)
            assert done.stdout.strip().splitlines()[-1] == "config OK", done.stdout
        elif "--every" in first:
            scheduled(world, first, state)
        elif first.startswith("por reconcile"):
            world.shell(block)  # exit 0: covered and the reserve met
        elif first.startswith("por attest"):
            world.shell(block)
            assert (world.cwd / "attestation" / "attestation.json").is_file()
        elif first.startswith("por history"):
            world.shell(block)
            doc = json.loads(world.por("history", "--config", "por.toml", "--json").stdout)
            state["history"] = doc
        else:
            world.shell(block)
    assert (world.cwd / "keys" / "attest.key.pub").is_file()
    assert (world.cwd / "keys" / "bcoin.pass").stat().st_mode & 0o077 == 0
    history = state["history"]
    runs = history["runs"]
    ids = {r["run_id"] for r in state["loop_runs"]}
    assert ids <= {r["id"] for r in runs}
    assert len(runs) >= len(ids) + 1  # the single run too


def scheduled(world: World, command: str, state: dict[str, Any]) -> None:
    process, lines = start_loop(world, command)
    runs: list[dict[str, Any]] = []
    try:
        for _ in range(RUNS):
            runs.append(next_run(lines, process))
            world.mine(1)  # the next run is at a later tip
        # past the maximum age on Bitcoin: the next runs find the proof stale
        world.wallet.mine(MAX_AGE_BLOCKS + 2)
        stale = None
        for _ in range(5):
            run = next_run(lines, process)
            runs.append(run)
            if run["exit_code"] == 1:
                stale = run
                break
        process.send_signal(signal.SIGTERM)
        rest, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    for line in rest.splitlines():
        runs.append(json.loads(line))
    covered = [r for r in runs if r["exit_code"] == 0]
    assert len(covered) >= RUNS, runs
    epoch_btc = state["epoch_height"]["bitcoin"]
    heights, ages = [], []
    for run in covered:
        assert run["format"] == "por-run-v1" and run["status"] == "ok"
        assert run["verdict"]["covered"] is True
        btc = next(c for c in run["chains"] if c["chain"] == "bitcoin")
        rows = wallet_rows(world, run["report"])
        ownership = rows["bitcoin"]["ownership"]
        assert ownership["status"] == "proven" and ownership["epoch"]["id"] == EPOCH
        assert ownership["age"]["blocks"] == btc["height"] - epoch_btc
        assert rows["ethereum"]["ownership"]["status"] == "proven"
        heights.append(btc["height"])
        ages.append(ownership["age"]["blocks"])
    assert heights == sorted(heights) and heights[-1] > heights[0]
    assert ages == sorted(ages) and ages[-1] > ages[0]
    assert stale is not None, runs
    assert stale["status"] != "failed" and stale["verdict"]["covered"] is False
    rows = wallet_rows(world, stale["report"])
    ownership = rows["bitcoin"]["ownership"]
    assert ownership["status"] == "stale", ownership
    assert ownership["age"]["blocks"] > MAX_AGE_BLOCKS
    assert "max_age_blocks" in ownership["reason"] or "blocks" in ownership["reason"]
    assert rows["ethereum"]["ownership"]["status"] == "proven"  # no block limit on ethereum
    latest = json.loads((world.cwd / "reports" / "latest.json").read_text())
    assert latest["report"] == "por-report-v1"
    state["loop_runs"] = runs
