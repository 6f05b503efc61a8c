"""The demo's world for node tests: sample liabilities and their tree, then bcoin and anvil
funded and configured as `por demo` does (verifier/tools/demo_funding.py `fund_and_configure`).

Six integration modules share it; each keeps its own module-scoped fixture around it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from bcoin_fixtures import start_bcoin
from eth_fixtures import start_anvil

from attestations.build import build_tree
from verifier.inputs.assets import read_assets
from verifier.inputs.liabilities import read_liabilities
from verifier.tools.demo_funding import ATTESTATION, Nodes, fund_and_configure
from verifier.tools.sample import assets_toml, sample_assets, write_sample

AS_OF = "2026-11-21T00:00:00Z"


@contextmanager
def demo_world(
    work: Path, *, accounts: int = 200, epochs: bool = False, tree: Path | None = None
) -> Iterator[tuple[Path, Nodes]]:
    """Yield (por.toml, nodes) for `work`: `accounts` sample customers x 3 assets, their tree
    in `tree` (default work/tree), the demo's wallets (epoch proofs with `epochs`). Both
    nodes are stopped on exit, also when the second one fails to start."""
    assets = sample_assets(3)
    write_sample(work / "liabilities.csv", accounts, assets)
    (work / "assets.toml").write_text(assets_toml(assets))
    data = read_liabilities(work / "liabilities.csv", read_assets(work / "assets.toml"))
    result = build_tree(data, tree or work / "tree", attestation_id=ATTESTATION, as_of=AS_OF)
    totals = dict(zip((a.code for a in result.root.assets), result.root.root.sums, strict=True))
    with ExitStack() as stack:
        bcoin = start_bcoin()
        stack.callback(bcoin.stop)
        anvil = start_anvil()
        stack.callback(anvil.stop)
        nodes = Nodes(bcoin, anvil)
        yield fund_and_configure(work, nodes, totals, epochs=epochs), nodes
