"""The newcomer's path of docs/getting-started.md, done as a user does it, on real nodes.

The document drives the test: its `sh` blocks run in order through bash, as in one terminal
session (the directory a block leaves, `cd`, and the variables it exports carry over to the
next block), with `por` the installed CLI. Step 0 runs too: docs/examples/regtest-nodes.sh
starts bcoin (regtest) and anvil (on free ports here: BTC_PORT, ETH_PORT) and
docs/examples/regtest-wallets.py makes and funds the trial wallets; the last step stops the
nodes. The one block marked `<!-- by hand: … -->` (signing with a real wallet's keys) is
done by the document's next block, the trial wallets' signer. The edits the text asks for
between blocks are made to the files as a person would, placeholder by placeholder.
Substitutions, as the document allows them: the clone (`~/src/por`: this checkout), the node
URLs (our free ports) and `--every 1h` runs every second.

The scheduled loop is stopped with SIGTERM after at least three covered runs at later
blocks (blocks are mined on both chains between runs), every stdout line parsing as JSON;
then Bitcoin is mined past `[ownership] max_age_blocks` and the next run reports the proofs
stale and is a shortfall (exit 1). A guard test (no nodes) fails when a block of the
document is neither run here nor marked as done by a person.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from queue import Empty, Queue
from typing import Any

import pytest
from embit import ec
from embit import script as escript
from embit.networks import NETWORKS

from chains.nodes.base import NodeMissing, free_port, node_program

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "getting-started.md"
BIN = Path(sys.executable).parent
"""Where the installed `por` is (the venv's bin)."""
EPOCH = "2026-q4"
MAX_AGE_BLOCKS = 12
"""[ownership] max_age_blocks.bitcoin in the test's config: small, to reach it quickly."""
RUNS = 3
DAY = 86_400
HAND_SIGN = "signing with your wallet's keys"
CLONE = "~/src/por"
"""How the document names the clone of por (this checkout here)."""
RUNNABLE = re.compile(r'(por |cd |mkdir |export |"\$POR_SRC"/|\(umask 077 && printf )')
"""What a block run by the test may hold: por commands, the trial scripts of docs/examples
and the few shell steps around them."""


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
            assert block.by_hand == HAND_SIGN, block.by_hand
            continue
        for command in block.commands:
            assert RUNNABLE.match(command), f"{DOC}: not run by the test: {command!r}"
    assert [b.by_hand for b in blocks if b.by_hand] == [HAND_SIGN]
    # the order the test follows: nodes and wallets, init, the API key, keys, challenge,
    # the trial's signatures, ..., history, the nodes stopped
    firsts = [b.commands[0].split()[:2] for b in blocks if b.by_hand is None]
    assert firsts == [
        ["export", f"POR_SRC={CLONE}"],
        ["por", "init"],
        ["mkdir", "-m"],
        ["por", "keys"],
        ["por", "challenge"],
        ["por", "challenge"],
        ["por", "config"],
        ["por", "reconcile"],
        ["por", "attest"],
        ["por", "reconcile"],
        ["por", "history"],
        ["cd", ".."],
    ]
    # the nodes are started and stopped by the scripts the document names
    text = DOC.read_text(encoding="utf-8")
    for script in ("regtest-nodes.sh start", "regtest-nodes.sh stop", "regtest-wallets.py new"):
        assert script in text


def test_the_guard_sees_an_unmarked_block() -> None:
    text = "```sh\nbitcoin-cli signmessage a b\n```\n<!-- by hand: x -->\n```sh\nrm -rf /\n```\n"
    unmarked, marked = doc_blocks(text)
    assert unmarked.by_hand is None and not RUNNABLE.match(unmarked.commands[0])
    assert marked.by_hand == "x"


# ----------------------------------------------------------------------------- the world


def _rpc(url: str, method: str, *params: Any, auth: str | None = None) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
    request = urllib.request.Request(url, body.encode(), {"Content-Type": "application/json"})
    if auth is not None:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    with urllib.request.urlopen(request, timeout=60) as reply:
        doc = json.loads(reply.read())
    assert not doc.get("error"), doc
    return doc["result"]


ELSEWHERE = str(
    escript.p2wpkh(ec.PrivateKey(b"\x01" * 32).get_public_key()).address(NETWORKS["regtest"])
)
"""Where the test mines Bitcoin blocks to: nobody's wallet of the document."""


@dataclass
class World:
    work: Path
    env: dict[str, str]
    btc_port: int
    eth_port: int
    cwd: Path = field(init=False)
    exchange: Path | None = None
    btc_address: str = ""
    eth_address: str = ""

    def __post_init__(self) -> None:
        self.cwd = self.work

    @property
    def btc_url(self) -> str:
        return f"http://127.0.0.1:{self.btc_port}"

    @property
    def eth_url(self) -> str:
        return f"http://127.0.0.1:{self.eth_port}"

    def mine_bitcoin(self, blocks: int) -> None:
        auth = f"por:{self.env['BCOIN_API_KEY']}"  # the key step 0 made
        _rpc(self.btc_url, "generatetoaddress", blocks, ELSEWHERE, auth=auth)

    def mine(self, blocks: int = 1) -> None:
        self.mine_bitcoin(blocks)
        _rpc(self.eth_url, "anvil_mine", hex(blocks))

    def shell(self, block: Block) -> subprocess.CompletedProcess[str]:
        """Run a block's text as a person pastes it into the terminal of the earlier blocks:
        in their directory, with the variables they exported."""
        text = block.text.replace(CLONE, shlex.quote(str(REPO)))
        text = text.replace('"$POR_SRC"/.venv/bin/python', shlex.quote(sys.executable))
        state = self.work / ".shell-env"
        script = (
            f"set -euo pipefail\n{text}\nprintf '\\n::pwd::%s' \"$PWD\"\n"
            f"env -0 > {shlex.quote(str(state))}\n"
        )
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
        exported = state.read_bytes().decode().split("\0")
        self.env = dict(item.split("=", 1) for item in exported if "=" in item)
        state.unlink()
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


def _needed() -> None:
    """The programs step 0 runs; outside CI a missing one skips, under CI it fails."""
    try:
        if shutil.which("node") is None:
            raise NodeMissing("node (Node.js) is not on PATH")
        if shutil.which("openssl") is None:
            raise NodeMissing("openssl is not on PATH")
        for program in (".bin/anvil", "bcoin/package.json"):
            node_program(program)
    except NodeMissing as exc:
        if os.environ.get("CI"):
            pytest.fail(f"step 0 of {DOC.name} needs it under CI: {exc}")
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A terminal in an empty directory; step 0 of the document starts the nodes in it."""
    _needed()
    work = tmp_path_factory.mktemp("newcomer")
    btc_port, eth_port = free_port(), free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("BCOIN_")},
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "COLUMNS": "100000",
        "POR_LOG_LEVEL": "",
        # the document's nodes on free ports (regtest-nodes.sh, regtest-wallets.py)
        "BTC_PORT": str(btc_port),
        "ETH_PORT": str(eth_port),
        "BTC_URL": f"http://127.0.0.1:{btc_port}",
        "ETH_URL": f"http://127.0.0.1:{eth_port}",
    }
    env.pop("POR_CONFIG", None)
    world = World(work, env, btc_port, eth_port)
    try:
        yield world
    finally:
        # the document's last step stops them; after a failure, the pid files do
        for pid_file in work.glob("*/nodes/*.pid"):
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text()), signal.SIGKILL)


# ----------------------------------------------------------------------------- edits by a person


def replace(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    assert text.count(old) == count, (path, old)
    path.write_text(text.replace(old, new))


def nodes_and_wallets(world: World, block: Block) -> None:
    """Step 0: the nodes answer and the wallets are funded; their addresses, as printed."""
    out = world.shell(block).stdout
    found = dict(re.findall(r"^(bitcoin|ethereum) address: (\S+)$", out, re.M))
    world.btc_address, world.eth_address = found["bitcoin"], found["ethereum"]
    assert world.env["BCOIN_API_KEY"] and len(world.env["BCOIN_API_KEY"]) == 64
    assert str(REPO / ".venv" / "bin") in world.env["PATH"] or BIN.is_dir()
    trial = world.cwd
    assert (trial / "wallets" / "regtest-wallets.json").stat().st_mode & 0o077 == 0
    assert (trial / "nodes" / "bcoin.pid").is_file() and (trial / "nodes" / "anvil.pid").is_file()
    # the API key is in no process's argv
    for pid_file in (trial / "nodes").glob("*.pid"):
        argv = Path(f"/proc/{pid_file.read_text().strip()}/cmdline").read_bytes()
        assert world.env["BCOIN_API_KEY"].encode() not in argv


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
        f'"{world.eth_address}"',
    )
    replace(config, '"http://127.0.0.1:48332"', f'"{world.btc_url}"')
    replace(config, '"http://127.0.0.1:8545"', f'"{world.eth_url}"')
    # ownership stays commented out until step 4 (the template has it so)
    assert "\nownership = {" not in config.read_text()
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


def paste(world: World, signed: list[str], toml: str) -> None:
    """Step 4's edits: each commented ownership line replaced by its signed one, and the
    epoch's table in place of the commented example under [ownership]."""
    assert len(signed) == 2 and all(f'epoch = "{EPOCH}"' in line for line in signed)
    assert "bip137" in signed[0] and "eip191" in signed[1]  # bitcoin's wallet comes first
    config = world.cwd / "por.toml"
    text = config.read_text()
    commented = re.findall(r"^# ownership = \{.*\}$", text, re.M)
    assert len(commented) == 2
    for old, new in zip(commented, signed, strict=True):
        text = text.replace(old + "\n", new + "\n", 1)
    example = re.search(r"^# \[\[ownership\.epochs\]\]\n(?:# .*\n)*", text, re.M)
    assert example is not None
    config.write_text(text.replace(example.group(0), toml))


# ----------------------------------------------------------------------------- --expires


def _utc(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def expiry_on_the_nodes(world: World) -> None:
    """A new epoch's expiry, against the nodes' real block times: later than the maximum age
    allows is a warning (exit 0); not after the epoch's block is refused (exit 2). The
    Ethereum chain is moved 10 days ahead for the second, then reverted."""
    now = int(datetime.now(UTC).timestamp())
    far = world.por("challenge", "--epoch", "far", "--expires", _utc(now + 400 * DAY), "--json")
    assert far.returncode == 0, far.stderr
    (warning,) = json.loads(far.stdout)["warnings"]
    assert "stale at" in warning and "92 days" in warning
    assert "the maximum age makes them stale first" in " ".join(far.stderr.split())
    snapshot = _rpc(world.eth_url, "evm_snapshot")
    try:
        _rpc(world.eth_url, "evm_setNextBlockTimestamp", now + 10 * DAY)
        _rpc(world.eth_url, "anvil_mine", "0x1")
        early = world.por("challenge", "--epoch", "early", "--expires", _utc(now + 5 * DAY))
        assert early.returncode == 2, early.stderr
        flat = " ".join(early.stderr.split())
        assert _utc(now + 5 * DAY) in flat and "ethereum block" in flat and "Traceback" not in flat
    finally:
        assert _rpc(world.eth_url, "evm_revert", snapshot) is True


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
        if block.by_hand == HAND_SIGN:
            continue  # the trial wallets' block right after it signs the same messages
        if first.startswith("export POR_SRC="):
            nodes_and_wallets(world, block)
        elif first.startswith("por init"):
            world.shell(block)
            assert world.cwd.name == "exchange"
            world.exchange = world.cwd
            # config check on the fresh files names the placeholders (exit 3)
            fresh = world.por("config", "check", "--json")
            assert fresh.returncode == 3
            names = {p["key"] for p in json.loads(fresh.stdout)["problems"]}
            assert "exchange.name" in names
            fill_in(world)
        elif "regtest-wallets.py sign" in block.text:
            out = world.shell(block).stdout
            signed = [line for line in out.splitlines() if line.startswith("ownership = {")]
            written = json.loads((world.cwd / "challenge.json").read_text())
            assert [c["message"] for c in written["chains"]] == [
                c["message"] for c in state["challenge"]["chains"]
            ]
            paste(world, signed, state["toml"])
        elif first.startswith("por challenge"):
            text = world.shell(block).stdout
            messages, toml = printed_challenge(text)
            doc = json.loads(world.por(*first.split()[1:], "--json").stdout)
            assert doc["kind"] == "epoch" and doc["epoch"]["id"] == EPOCH
            assert messages == [c["message"] for c in doc["chains"]]
            assert toml == doc["toml"]
            assert f"epoch: {EPOCH}" in messages[0] and "Newcomer Exchange KK" in messages[0]
            by_chain = {c["chain"]: c for c in doc["chains"]}
            assert [a["address"] for a in by_chain["bitcoin"]["addresses"]] == [world.btc_address]
            assert [a["address"].lower() for a in by_chain["ethereum"]["addresses"]] == [
                world.eth_address.lower()
            ]
            state["challenge"], state["toml"] = doc, toml
            expiry_on_the_nodes(world)
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
        elif "regtest-nodes.sh stop" in block.text:
            nodes = world.cwd.parent / "nodes"  # the block's `cd ..` leaves exchange/
            pids = [int(f.read_text()) for f in nodes.glob("*.pid")]
            assert len(pids) == 2
            world.shell(block)
            assert not list(nodes.glob("*.pid"))
            for pid in pids:  # stopped: gone, or a zombie the test's shell has not reaped
                status = Path(f"/proc/{pid}/status")
                assert not status.exists() or "zombie" in status.read_text()
        else:
            world.shell(block)
    assert world.exchange is not None
    assert (world.exchange / "keys" / "attest.key.pub").is_file()
    assert (world.exchange / "keys" / "bcoin.pass").stat().st_mode & 0o077 == 0
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
        world.mine_bitcoin(MAX_AGE_BLOCKS + 2)
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
