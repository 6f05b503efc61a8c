"""Liabilities with their accounts renumbered in account-hash order: what the build used to
do before hashing, kept for the tests that compare a build of shuffled rows with one of the
same rows already in order, and for feeding the streamed build's account-ordered stages."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from attestations.build import Liabilities, binary_ids, default_workers
from attestations.encoding import TAG_ACCOUNT
from attestations.hashing import hash_varlen
from attestations.ordering import account_order


def in_account_order(liabilities: Liabilities, workers: int) -> tuple[pa.Array, Any]:
    """(account ids, balances) with the accounts in `account_order` (rows renumbered)."""
    offsets, data = binary_ids(liabilities.account_ids)
    hashes = hash_varlen(TAG_ACCOUNT, offsets, data, threads=workers or default_workers())
    order = account_order(hashes, offsets, data)
    del hashes, offsets, data
    if np.array_equal(order, np.arange(len(order))):
        return liabilities.account_ids, liabilities.balances
    return liabilities.account_ids.take(pa.array(order)), liabilities.balances[order]
