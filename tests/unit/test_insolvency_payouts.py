"""The payouts reconciliation (verifier/insolvency/payouts.py), pure: by hand and as properties.

Properties (hypothesis, any due list and any payments): per asset paid − due over the known
accounts equals overpaid − unpaid (nothing netted between accounts: each account's excess
and shortfall are counted on their own); every (account, asset) due or paid has one status;
the run is consistent exactly when nothing is overpaid, nothing went to an unknown account
and no (account, asset, reference) repeats.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verifier.base.errors import InputError
from verifier.insolvency.payouts import Payment, read_distributions, read_paid, reconcile

ASSETS = {"BTC": 8, "JPY": 0}


def test_by_hand() -> None:
    due = read_distributions(
        b"account_id,asset,claim_units,distribution_units\n"
        b"a,BTC,10,7\nb,BTC,5,3\nc,BTC,1,1\na,JPY,100,100\n",
        "d.csv",
        ASSETS,
    )
    paid = read_paid(
        b"asset,account_id,reference,units\r\n"  # any column order, CRLF
        b"BTC,a,tx1,7\r\nBTC,b,tx1,4\r\nJPY,z,bank-1,5\r\nJPY,a,bank-2,50\r\n",
        "p.csv",
        ASSETS,
    )
    r = reconcile("sha256:x", "00", ASSETS, due, paid)
    btc, jpy = r.assets
    # b overpaid by 1 while c is unpaid by 1: reported both, never netted to zero
    assert (btc.due, btc.paid, btc.unpaid, btc.overpaid) == (11, 11, 1, 1)
    assert (jpy.due, jpy.paid, jpy.unpaid, jpy.paid_unknown) == (100, 50, 50, 5)
    assert dict(r.statuses) == {"paid": 0, "partial": 1, "unpaid": 1, "overpaid": 1, "unknown": 1}
    assert not r.consistent


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"account_id,asset,claim_units,distribution_units\na,BTC,1,2\n", "exceed"),
        (b"account_id,asset,claim_units,distribution_units\na,BTC,1,1\na,BTC,1,1\n", "twice"),
        (b"account_id,asset,claim_units,distribution_units\na,ETH,1,1\n", "not in the plan"),
    ],
)
def test_a_distributions_file_the_plan_could_not_have_written(data: bytes, words: str) -> None:
    with pytest.raises(InputError, match=words):
        read_distributions(data, "d.csv", ASSETS)


accounts = st.sampled_from(["a", "b", "c", "d", "e"])
dues = st.dictionaries(
    st.tuples(st.sampled_from(["a", "b", "c"]), st.sampled_from(sorted(ASSETS))),
    st.integers(0, 10**20),
)
payments = st.lists(
    st.builds(
        Payment,
        line=st.integers(2, 10**6),
        account_id=accounts,
        asset=st.sampled_from(sorted(ASSETS)),
        units=st.integers(1, 10**20),
        reference=st.sampled_from(["t1", "t2", "t3", "t4"]),
    ),
    max_size=20,
)


@given(dues, payments)
def test_never_netted(due: dict[tuple[str, str], int], paid: list[Payment]) -> None:
    r = reconcile("sha256:x", "00", ASSETS, due, paid)
    known = {a for a, _ in due}
    for asset in r.assets:
        mine = [row for row in r.rows if row.asset == asset.code]
        known_rows = [row for row in mine if row.account_id in known]
        assert asset.paid - asset.due == asset.overpaid - asset.unpaid
        assert asset.overpaid == sum(max(0, row.paid - row.due) for row in known_rows)
        assert (
            asset.paid_unknown == sum(p.units for p in paid if p.asset == asset.code) - asset.paid
        )
        assert sum(asset.accounts.values()) == len(mine)
    keys = [(row.account_id, row.asset) for row in r.rows]
    assert len(keys) == len(set(keys)) and set(keys) == set(due) | {
        (p.account_id, p.asset) for p in paid
    }
    repeated = len({(p.account_id, p.asset, p.reference) for p in paid}) < len(paid)
    assert r.consistent == (
        not repeated and all(a.overpaid == 0 and a.paid_unknown == 0 for a in r.assets)
    )
