"""A hand-made report and reserve statement for the stress tests (figures in docs/stress.md).

JPY. BTC: 8 decimals at 1,000 per BTC, owed 100 BTC, held 110 (hot 10 by vaultsoft, cold 100
by signco). ETH: 18 decimals at 100 per ETH, owed 1,000, held 1,000 (hot 100 by vaultsoft,
cold 900 by signco). Cash 5,000; one insurance policy (limit 20,000, deductible 2,000, hack
covered in hot and cold wallets, insider excluded, 30 claim days); one on-demand guarantee
of 10,000 paid in 5 days.
"""

from __future__ import annotations

from typing import Any

from verifier.base import safetoml
from verifier.reserve.statement import parse_statement
from verifier.reserve.statement_model import ReserveStatement
from verifier.stress.base import StressBase, stress_base
from verifier.stress.scenario import Scenario, parse_scenarios

BTC, ETH = 10**8, 10**18


def wallet(
    key: str,
    label: str,
    cls: str,
    chain: str,
    address: str,
    balances: dict[str, int],
    vendor: str | None,
    counted_as: str = "customer backing",
) -> dict[str, Any]:
    return {
        "chain": chain,
        "label": label,
        "wallet": key,
        "class": cls,
        "attribution": "customer",
        "address": address,
        "counted_as": counted_as,
        "vendor": vendor,
        "balances": {c: {"base_units": str(u), "amount": "x"} for c, u in balances.items()},
    }


def asset(code: str, decimals: int, price: str, owed: int, held: int) -> dict[str, Any]:
    return {
        "code": code,
        "decimals": decimals,
        "price": price,
        "liabilities": {"base_units": str(owed)},
        "holdings": {"base_units": str(held)},
    }


def report(*, btc_held: int = 110 * BTC, eth_held: int = 1000 * ETH) -> dict[str, Any]:
    """The report; `btc_held`/`eth_held` move the cold wallets (and the holdings) with them."""
    return {
        "report": "por-report-v1",
        "report_id": "test",
        "exchange": "Test Exchange",
        "currency": "JPY",
        "attestation": {"id": "t", "as_of": "2026-06-01T00:00:00Z", "commitment": None},
        "snapshot_taken_at": "2026-06-01T00:00:00Z",
        "input_hashes": {},
        "assets": [
            asset("BTC", 8, "1000", 100 * BTC, btc_held),
            asset("ETH", 18, "100", 1000 * ETH, eth_held),
        ],
        "wallets": [
            wallet(
                "bitcoin.wallets[0]",
                "cold",
                "cold",
                "bitcoin",
                "bc1cold",
                {"BTC": btc_held - 10 * BTC},
                "signco",
            ),
            wallet(
                "bitcoin.wallets[1]",
                "hot",
                "hot",
                "bitcoin",
                "bc1hot",
                {"BTC": 10 * BTC},
                "vaultsoft",
            ),
            wallet(
                "ethereum.wallets[0]",
                "cold",
                "cold",
                "ethereum",
                "0xcold",
                {"ETH": eth_held - 100 * ETH},
                "signco",
            ),
            wallet(
                "ethereum.wallets[1]",
                "hot",
                "hot",
                "ethereum",
                "0xhot",
                {"ETH": 100 * ETH},
                "vaultsoft",
            ),
        ],
        "rule_pack": {"id": "jp-fsa-2026", "version": "", "name": "", "currency": "JPY"},
        "reserve_inputs": {
            "currency": "JPY",
            "client_value_by_class": {"cold": "180000", "hot": "20000", "other": "0"},
            "own_buffer_value": "0",
            "per_asset": [],
        },
        "reserve": {
            "eligible": {
                "total": "5000",
                "components": [
                    {
                        "kind": "cash",
                        "name": "trust",
                        "amount": "5000",
                        "eligible": "5000",
                        "gates": [],
                    },
                    # the policy passed every gate about itself; how much of it counts
                    # towards the reserve (the cap) does not limit what it pays
                    {
                        "kind": "insurance",
                        "name": "crime",
                        "amount": "20000",
                        "eligible": "0",
                        "gates": [
                            {"gate": g, "passed": True, "reason": ""}
                            for g in ("insurer", "in force", "term", "notice", "deductible")
                        ],
                    },
                ],
            }
        },
    }


STATEMENT = """currency = "JPY"

[[cash]]
name = "trust"
amount = "5000"
holder = "Trust Bank"
on_trust = true

[[insurance]]
name = "crime"
insurer = "Insurer"
authorised = true
limit = "20000"
limit_type = "{limit_type}"
deductible = "2000"
start = 2026-01-01
end = 2027-01-01
notice_days = 90
exclusions = ["insider"]
claim_days = 30

[insurance.perils]
hot = ["hack"]
cold = ["hack"]

[[guarantee]]
name = "standby"
issuer = "Bank"
amount = "10000"
on_demand = true
payment_days = 5
"""


def statement(limit_type: str = "per_occurrence") -> ReserveStatement:
    text = STATEMENT.replace("{limit_type}", limit_type)
    return parse_statement(safetoml.loads(text, source="statement"), "statement.toml")


def base(limit_type: str = "per_occurrence", **kw: int) -> StressBase:
    return stress_base(report(**kw), statement(limit_type), source="report.json")


def scenario(shocks: str) -> Scenario:
    """One scenario whose shocks are the TOML `shocks` ([[scenarios.shocks]] tables)."""
    text = '[[scenarios]]\nid = "t"\ntitle = "t"\ndescription = "t"\n' + shocks
    return parse_scenarios(safetoml.loads(text, source="s.toml"), "s.toml").scenarios[0]
