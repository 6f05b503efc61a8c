"""`por challenge`'s signing instructions name only tools that can sign its message: every
challenge has several lines, and Coldcard's message signing takes one line of printable
ASCII (docs/signing.md), so Coldcard is never suggested for BIP-137 (only ruled out)."""

from __future__ import annotations

import pytest

from verifier.holdings.signing_howto import bitcoin_how as _bitcoin_how

MESSAGE = "por ownership epoch\nexchange: Acme KK\nepoch: 2026-q4"


@pytest.mark.parametrize("kind", ["P2PKH", "P2SH", "P2WPKH"])
def test_bip137_instructions_do_not_suggest_coldcard(kind: str) -> None:
    how = _bitcoin_how("bip137", "bcrt1qexample", kind, MESSAGE)
    text = " ".join(how)
    assert "Trezor" in text and "Ledger" in text and "Sparrow" in text
    for step in how:
        if "Coldcard" in step:
            assert "not Coldcard" in step and "one line" in step
    assert "docs/signing.md#bip-137-signmessage" in text
