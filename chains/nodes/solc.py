"""Compile the test contracts in `chains/nodes/contracts/` with solc-js, offline, and load them.

Where it sits: beside the local nodes (`chains/nodes/`), for tests, the demo and benchmarks
that deploy contracts on anvil. The Solidity sources (`TestToken.sol`, an ERC-20 whose
balances mapping is at storage slot 0, and `Wallet1271.sol`, an EIP-1271 contract wallet)
are compiled by the npm package `solc` (a compiler inside the package, no download) through
a tiny node script using `require('solc').compile` with standard JSON. The artifacts (ABI and
bytecode) are committed next to the sources as `<Name>.json`, so nothing needs compiling at
test time; `python -m chains.nodes.solc` rewrites them, and a test checks that recompiling
gives the same bytecode. Sources and artifacts live inside the package (not in fixtures/)
because `por demo` deploys them: an installed wheel must carry them.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chains.nodes.base import NodeMissing, node_program
from verifier.base.errors import InputError

CONTRACTS_DIR = Path(__file__).resolve().parent / "contracts"
SOLC_VERSION = "0.8.37"
CONTRACTS = ("TestToken", "Wallet1271")
"""The contracts kept in `chains/nodes/contracts/`; each `<Name>.sol` defines contract `<Name>`."""
SETTINGS: Mapping[str, Any] = {
    "optimizer": {"enabled": True, "runs": 200},
    "evmVersion": "cancun",
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
}
"""Pinned compiler settings: the committed artifacts are reproducible only with these."""

# Reads standard JSON on stdin, writes the compiler's standard JSON output on stdout.
_COMPILE_JS = """
const solc = require(process.argv[1]);
let input = '';
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const output = JSON.parse(solc.compile(input));
  process.stdout.write(JSON.stringify({version: solc.version(), output}));
});
"""


@dataclass(frozen=True, slots=True)
class Artifact:
    """One compiled contract."""

    name: str
    abi: tuple[Mapping[str, Any], ...]
    bytecode: str
    """Creation bytecode, 0x-prefixed hex (constructor arguments are appended to it)."""
    deployed_bytecode: str
    """Runtime bytecode, 0x-prefixed hex, as `eth_getCode` returns it after deployment."""
    compiler: str
    """The solc-js version string, e.g. "0.8.37+commit.f401782d.Emscripten.clang"."""
    source_sha256: str
    """SHA-256 of the Solidity source the artifact was compiled from (hex)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "contractName": self.name,
            "compiler": self.compiler,
            "settings": SETTINGS,
            "sourceSha256": self.source_sha256,
            "abi": list(self.abi),
            "bytecode": self.bytecode,
            "deployedBytecode": self.deployed_bytecode,
        }


def compile_contracts(
    names: Iterable[str] = CONTRACTS, directory: Path = CONTRACTS_DIR
) -> dict[str, Artifact]:
    """Compile `<directory>/<name>.sol` for each name with solc-js and return the artifacts.

    Parameters
    ----------
    names
        Contract names; `<name>.sol` must define a contract of the same name.
    directory
        Where the sources are.

    Returns
    -------
    dict
        Name -> `Artifact`.

    Raises
    ------
    NodeMissing
        node or the npm package `solc` is not installed.
    InputError
        A source is missing or does not compile.
    """
    node = shutil.which("node")
    if node is None:
        raise NodeMissing("the `node` program (Node.js) is not on PATH")
    solc = node_program("solc/index.js")
    sources: dict[str, str] = {}
    for name in names:
        path = directory / f"{name}.sol"
        try:
            sources[f"{name}.sol"] = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot read the source ({exc.strerror})", file=str(path)) from None
    standard = {
        "language": "Solidity",
        "sources": {unit: {"content": text} for unit, text in sources.items()},
        "settings": SETTINGS,
    }
    done = subprocess.run(  # noqa: S603 - node with our own script
        [node, "-e", _COMPILE_JS, str(solc)],
        input=json.dumps(standard).encode(),
        capture_output=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise InputError(f"solc-js failed: {done.stderr.decode(errors='replace')[-500:]}")
    reply = json.loads(done.stdout)
    version: str = reply["version"]
    output = reply["output"]
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise InputError(
            "; ".join(str(e.get("formattedMessage", e.get("message"))) for e in errors),
            file=str(directory),
        )
    if not version.startswith(SOLC_VERSION + "+"):
        raise NodeMissing(f"solc-js is {version}, expected {SOLC_VERSION}")
    artifacts = {}
    for unit, text in sources.items():
        name = unit.removesuffix(".sol")
        compiled = output["contracts"][unit][name]
        artifacts[name] = Artifact(
            name=name,
            abi=tuple(compiled["abi"]),
            bytecode="0x" + compiled["evm"]["bytecode"]["object"],
            deployed_bytecode="0x" + compiled["evm"]["deployedBytecode"]["object"],
            compiler=version,
            source_sha256=hashlib.sha256(text.encode()).hexdigest(),
        )
    return artifacts


def write_artifacts(
    names: Iterable[str] = CONTRACTS, directory: Path = CONTRACTS_DIR
) -> list[Path]:
    """Compile the contracts and write `<directory>/<name>.json` for each.

    Parameters
    ----------
    names
        Contract names (`<name>.sol` in `directory`).
    directory
        Where the sources are and the artifacts go.

    Returns
    -------
    list of Path
        The artifact files written.
    """
    paths = []
    for name, artifact in compile_contracts(names, directory).items():
        path = directory / f"{name}.json"
        path.write_text(json.dumps(artifact.to_json(), indent=2) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def load_artifact(name: str, directory: Path = CONTRACTS_DIR) -> Artifact:
    """Read the committed artifact `<directory>/<name>.json`.

    Parameters
    ----------
    name
        The contract name, e.g. "TestToken".
    directory
        Where the artifacts are.

    Returns
    -------
    Artifact
        ABI and bytecode, ready to deploy.
    """
    path = directory / f"{name}.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the artifact ({exc})", file=str(path)) from None
    return Artifact(
        name=doc["contractName"],
        abi=tuple(doc["abi"]),
        bytecode=doc["bytecode"],
        deployed_bytecode=doc["deployedBytecode"],
        compiler=doc["compiler"],
        source_sha256=doc["sourceSha256"],
    )


if __name__ == "__main__":
    for written in write_artifacts():
        print(f"wrote {written}", file=sys.stderr)
