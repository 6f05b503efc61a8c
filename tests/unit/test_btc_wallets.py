"""chains.btc_wallets: addresses, HD derivation, descriptors, multisig and the gap limit.

Known vectors for the "abandon ... about" seed: BIP-84 and BIP-49 (the values printed in
those BIPs) and the widely published BIP-44 first address; a 2-of-3 P2WSH/P2SH-P2WSH multisig from a public vector set checked
against Bitcoin Core 27 and bitcoinjs-lib, and the descriptor checksum from Bitcoin Core's
own `scantxoutset` help example.
"""

from __future__ import annotations

from collections.abc import Collection

import pytest
from embit.descriptor.checksum import add_checksum
from hypothesis import given
from hypothesis import strategies as st

from chains.btc_wallets import (
    AddressWallet,
    GapLimitScan,
    MultisigWallet,
    ScriptType,
    WatchedAddress,
    XpubWallet,
    address_of,
    discover,
    fixed_addresses,
    multisig_address,
    script_pubkey,
    watch_addresses,
    xpub_addresses,
)
from verifier.base.errors import InputError

# BIP-84 (m/84'/0'/0'), BIP-49 (m/49'/1'/0', testnet) and BIP-44 (m/44'/0'/0') account keys
# of the mnemonic "abandon abandon ... about", as printed in the BIPs
ZPUB = (
    "zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUk"
    "gDKf31mGDtKsAYz2oz2AGutZYs"
)
UPUB = (
    "upub5EFU65HtV5TeiSHmZZm7FUffBGy8UKeqp7vw43jYbvZPpoVsgU93oac7Wk3u6moKegAEWtGNF8DehrnHt"
    "v21XXEMYRUocHqguyjknFHYfgY"
)
XPUB44 = (
    "xpub6BosfCnifzxcFwrSzQiqu2DBVTshkCXacvNsWGYJVVhhawA7d4R5WSWGFNbi8Aw6ZRc1brxMyWMzG3DSS"
    "SSoekkudhUd9yLb6qx39T9nMdj"
)
# m/84'/1'/0' of the same seed (BIP-84's testnet account), as a tpub
TPUB84 = (
    "tpubDC8msFGeGuwnKG9Upg7DM2b4DaRqg3CUZa5g8v2SRQ6K4NSkxUgd7HsL2XVWbVm39yBA4LAxysQAm397z"
    "wQSQoQgewGiYZqrA9DsP4zbQ1M"
)
# 2-of-3: the keys at 0/0 of three tpubs in a public vector set (sortedmulti)
KEYS = (
    "037653e25afc48ec05d9083dd78e52bedc1679f053b75eb82d0dd5be95a87a1583",
    "03aa93b6a70ed21658af2fafcc7344ccc5bff0703cd872bd9d9f06825e02f2145c",
    "030b90ed2e86bad7f2a4fe9769bb417d7ba9caa1124807dbfb362dfbeeb65e7e01",
)
P2WSH_2OF3 = "tb1qmv9kucx4tjtyfwddc3698p2flxqvts89n8kllr0hvdv7qs4z476s70nuf5"
P2SH_P2WSH_2OF3 = "2N1J3ys6Z1bc7n4GTsNJ3EAR9v9Qd3LmtJq"
WITNESS_2OF3 = (
    "52"
    "21030b90ed2e86bad7f2a4fe9769bb417d7ba9caa1124807dbfb362dfbeeb65e7e01"
    "21037653e25afc48ec05d9083dd78e52bedc1679f053b75eb82d0dd5be95a87a1583"
    "2103aa93b6a70ed21658af2fafcc7344ccc5bff0703cd872bd9d9f06825e02f2145c"
    "53ae"
)


# ---------------------------------------------------------------------- HD vectors


def test_bip84_vectors() -> None:
    wallet = XpubWallet("hot", "main", ZPUB, account_path="m/84'/0'/0'")
    assert wallet.script_type is ScriptType.P2WPKH  # implied by the zpub prefix
    first = wallet.derive(0, 0)
    assert first.address == "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu"
    assert first.path == "m/84'/0'/0'/0/0"
    assert first.script_pubkey == "0014c0cebcd6c3d3ca8c75dc5ec62ebe55330ef910e2"
    assert wallet.derive(0, 1).address == "bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g"
    assert wallet.derive(1, 0).address == "bc1q8c6fshw2dlwun7ekn9qwf37cu2rn755upcp6el"


def test_bip49_vector() -> None:
    wallet = XpubWallet("nested", "test", UPUB, account_path="m/49'/1'/0'")
    assert wallet.script_type is ScriptType.P2SH_P2WPKH
    first = wallet.derive(0, 0)
    assert first.address == "2Mww8dCYPUpKHofjgcXcBCEGmniw9CoaiD2"
    assert first.redeem_script is not None and first.redeem_script.startswith("0014")


def test_bip44_vector() -> None:
    wallet = XpubWallet("legacy", "main", XPUB44, ScriptType.P2PKH, "m/44'/0'/0'")
    assert wallet.derive(0, 0).address == "1LqBGSKuX5yYUonjxT5qGfpUsXKYYWeabA"


def test_the_same_tpub_on_testnet_and_regtest() -> None:
    test = XpubWallet("t", "test", TPUB84, ScriptType.P2WPKH)
    regtest = XpubWallet("r", "regtest", TPUB84, ScriptType.P2WPKH)
    # BIP-84's testnet vector; regtest is the same key with Core's "bcrt" prefix
    assert test.derive(0, 0).address == "tb1q6rz28mcfaxtmd6v789l9rrlrusdprr9pqcpvkl"
    assert regtest.derive(0, 0).address == "bcrt1q6rz28mcfaxtmd6v789l9rrlrusdprr9pz3cppk"
    assert test.derive(0, 0).script_pubkey == regtest.derive(0, 0).script_pubkey
    assert regtest.derive(0, 0).path == "0/0"


def test_a_range_matches_single_derivations() -> None:
    wallet = XpubWallet("r", "regtest", TPUB84, ScriptType.P2WPKH)
    batch = wallet.derive_range(1, 3, 7)
    assert [w.path for w in batch] == ["1/3", "1/4", "1/5", "1/6"]
    assert batch[2] == wallet.derive(1, 5)


# ---------------------------------------------------------------------- descriptors


def test_descriptor_checksum_matches_cores_help_example() -> None:
    # scantxoutset's help text in Bitcoin Core: raw(76a914...88ac)#fm24fxxy
    raw = "raw(76a91411b366edfc0a8b66feebae5c2e25a7b6a5d1cf3188ac)"
    assert add_checksum(raw) == raw + "#fm24fxxy"


@pytest.mark.parametrize(
    ("xpub", "network", "script", "body"),
    [
        (ZPUB, "main", None, "wpkh(xpub6CatWdiZiodmUeTDp8LT5or8nmbKNcuyvz7WyksVFkKB4RHwCD3XyuvPE"),
        (UPUB, "test", None, "sh(wpkh(tpub"),
        (XPUB44, "main", ScriptType.P2PKH, "pkh(xpub6BosfCnifzxcFwrSzQiqu2DBVTshkCXacvNsWGYJV"),
        (TPUB84, "regtest", ScriptType.P2WPKH, "wpkh(" + TPUB84),
    ],
)
def test_descriptors_use_xpub_or_tpub_and_a_range(
    xpub: str, network: str, script: ScriptType | None, body: str
) -> None:
    wallet = XpubWallet("w", network, xpub, script)
    receive, change = wallet.descriptor(0), wallet.descriptor(1)
    assert receive.startswith(body)
    assert "/0/*)" in receive and "/1/*)" in change
    text, checksum = receive.split("#")
    assert len(checksum) == 8 and add_checksum(text) == receive
    # ypub/zpub become xpub/tpub: Core's descriptors accept only those
    assert "zpub" not in receive and "upub" not in receive


# ---------------------------------------------------------------------- bad HD specs


@pytest.mark.parametrize(
    ("kwargs", "key", "fragment"),
    [
        ({"xpub": "xpub-not-base58!"}, "w.xpub", "base58check"),
        ({"xpub": ZPUB[:-1] + ("a" if ZPUB[-1] != "a" else "b")}, "w.xpub", "base58check"),
        ({"xpub": ZPUB, "network": "regtest"}, "w.xpub", "mainnet"),
        ({"xpub": TPUB84, "network": "main"}, "w.xpub", "test network"),
        ({"xpub": TPUB84}, "w.script_type", "give the script type"),
        ({"xpub": ZPUB, "network": "main", "script_type": "p2pkh"}, "w.script_type", "p2wpkh"),
        ({"xpub": TPUB84, "script_type": "p2wsh"}, "w.script_type", "p2pkh, p2sh-p2wpkh"),
        ({"xpub": TPUB84, "script_type": "p2tr"}, "w.script_type", "must be one of"),
        ({"xpub": TPUB84, "script_type": "p2wpkh", "gap_limit": 0}, "w.gap_limit", "1..1000"),
        ({"xpub": TPUB84, "script_type": "p2wpkh", "gap_limit": 5000}, "w.gap_limit", "1..1000"),
        (
            {"xpub": TPUB84, "script_type": "p2wpkh", "account_path": "m/84'/1'"},
            "w.account_path",
            "depth 2",
        ),
        (
            {"xpub": TPUB84, "script_type": "p2wpkh", "account_path": "84/1/0"},
            "w.account_path",
            "derivation path",
        ),
        ({"xpub": TPUB84, "network": "testnet3"}, "w.network", "unknown Bitcoin network"),
    ],
)
def test_bad_hd_specs_name_the_key(kwargs: dict[str, object], key: str, fragment: str) -> None:
    args: dict[str, object] = {"name": "w", "network": "regtest", **kwargs}
    with pytest.raises(InputError) as caught:
        XpubWallet(**args)  # type: ignore[arg-type]
    assert caught.value.key == key
    assert fragment in str(caught.value)


def test_a_private_key_is_refused_and_never_echoed() -> None:
    from embit import bip32, bip39

    root = bip32.HDKey.from_seed(bip39.mnemonic_to_seed("abandon " * 11 + "about"))
    xprv = root.derive("m/84h/0h/0h").to_base58()
    with pytest.raises(InputError, match="PRIVATE") as caught:
        XpubWallet("w", "main", xprv, ScriptType.P2WPKH)
    assert xprv not in str(caught.value)
    assert caught.value.value is None


# ---------------------------------------------------------------------- multisig


def test_two_of_three_p2wsh_vector() -> None:
    vault = MultisigWallet("vault", "test", 2, KEYS)
    assert vault.address == P2WSH_2OF3
    assert vault.witness_script.hex() == WITNESS_2OF3
    assert vault.watched.witness_script == WITNESS_2OF3
    assert vault.watched.redeem_script is None
    assert vault.descriptor.startswith("wsh(sortedmulti(2," + KEYS[0])


def test_two_of_three_p2sh_p2wsh_vector() -> None:
    vault = MultisigWallet("vault", "test", 2, KEYS, ScriptType.P2SH_P2WSH)
    assert vault.address == P2SH_P2WSH_2OF3
    assert vault.watched.redeem_script is not None
    assert vault.watched.redeem_script.startswith("0020")
    assert vault.descriptor.startswith("sh(wsh(sortedmulti(")


def test_sorted_keys_ignore_the_given_order_and_multi_keeps_it() -> None:
    shuffled = (KEYS[2], KEYS[0], KEYS[1])
    assert MultisigWallet("v", "test", 2, shuffled).address == P2WSH_2OF3
    as_given = MultisigWallet("v", "test", 2, KEYS, sorted_keys=False)
    assert as_given.address != P2WSH_2OF3
    assert as_given.witness_script.hex().startswith("5221" + KEYS[0])
    assert as_given.descriptor.startswith("wsh(multi(2,")


def test_regtest_multisig_uses_bcrt() -> None:
    assert MultisigWallet("v", "regtest", 2, KEYS).address.startswith("bcrt1q")


@pytest.mark.parametrize(
    ("threshold", "keys", "key", "fragment"),
    [
        (3 + 1, KEYS, "v.threshold", "m > n"),
        (0, KEYS, "v.threshold", "1..3"),
        (1, (), "v.pubkeys", "1..15"),
        (2, (KEYS[0], KEYS[1] + "00", KEYS[2]), "v.pubkeys[1]", "33-byte"),
        (2, (KEYS[0], "zz" * 33, KEYS[2]), "v.pubkeys[1]", "not hex"),
        (2, (KEYS[0], KEYS[1], "02" + "00" * 32), "v.pubkeys[2]", "secp256k1"),
        (2, (KEYS[0], "04" + KEYS[1][2:] * 2), "v.pubkeys[1]", "compressed"),
        (2, (KEYS[0], KEYS[0], KEYS[1]), "v.pubkeys", "twice"),
    ],
)
def test_bad_multisig_specs_name_the_key(
    threshold: int, keys: tuple[str, ...], key: str, fragment: str
) -> None:
    with pytest.raises(InputError) as caught:
        MultisigWallet("v", "test", threshold, keys)
    assert caught.value.key == key
    assert fragment in str(caught.value)


def test_a_multisig_of_another_kind_is_refused() -> None:
    with pytest.raises(InputError, match="p2wsh or p2sh-p2wsh"):
        MultisigWallet("v", "test", 2, KEYS, ScriptType.P2WPKH)


# ---------------------------------------------------------------------- addresses


@pytest.mark.parametrize(
    ("address", "network", "script"),
    [
        (
            "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu",
            "main",
            "0014c0cebcd6c3d3ca8c75dc5ec62ebe55330ef910e2",
        ),
        (
            "BC1QCR8TE4KR609GCAWUTMRZA0J4XV80JY8Z306FYU",
            "main",
            "0014c0cebcd6c3d3ca8c75dc5ec62ebe55330ef910e2",
        ),
        (
            "1LqBGSKuX5yYUonjxT5qGfpUsXKYYWeabA",
            "main",
            "76a914d986ed01b7a22225a70edbf2ba7cfb63a15cb3aa88ac",
        ),
        (
            "2Mww8dCYPUpKHofjgcXcBCEGmniw9CoaiD2",
            "regtest",
            "a914336caa13e08b96080a32b5d818d59b4ab3b3674287",
        ),
        # BIP-350 (bech32m) P2TR vector
        (
            "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
            "main",
            "512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
        ),
    ],
)
def test_addresses_map_to_their_scripts(address: str, network: str, script: str) -> None:
    assert script_pubkey(address, network).hex() == script
    segwit = address.lower().startswith(("bc1", "tb1", "bcrt1"))
    assert address_of(bytes.fromhex(script), network) == (address.lower() if segwit else address)


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu", "regtest"),
        ("tb1q6rz28mcfaxtmd6v789l9rrlrusdprr9pqcpvkl", "regtest"),
        ("bcrt1q6rz28mcfaxtmd6v789l9rrlrusdprr9pz3cppk", "test"),
        ("1LqBGSKuX5yYUonjxT5qGfpUsXKYYWeabA", "test"),
        ("bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyv", "main"),  # checksum
        ("1LqBGSKuX5yYUonjxT5qGfpUsXKYYWeabB", "main"),  # checksum
        ("", "main"),
        ("not an address", "main"),
    ],
)
def test_bad_or_foreign_addresses_are_input_errors(address: str, network: str) -> None:
    with pytest.raises(InputError):
        script_pubkey(address, network, key="cold.addresses[0]")


def test_an_address_wallet_names_the_bad_entry() -> None:
    good = "bcrt1q6rz28mcfaxtmd6v789l9rrlrusdprr9pz3cppk"
    with pytest.raises(InputError) as caught:
        AddressWallet("cold", "regtest", (good, "tb1q6rz28mcfaxtmd6v789l9rrlrusdprr9pqcpvkl"))
    assert caught.value.key == "cold.addresses[1]"
    with pytest.raises(InputError, match="twice"):
        AddressWallet("cold", "regtest", (good, good))
    wallet = AddressWallet("cold", "regtest", (good,))
    assert fixed_addresses(wallet)[0].wallet == "cold"


def test_watch_drops_repeats_and_refuses_two_texts_for_one_script() -> None:
    lower = "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu"
    assert len(watch_addresses([lower, lower], "main")) == 1
    with pytest.raises(InputError, match="same output script"):
        watch_addresses([lower, lower.upper()], "main")


def test_fixed_addresses_of_each_kind() -> None:
    assert fixed_addresses(XpubWallet("h", "main", ZPUB)) == ()
    vault = MultisigWallet("vault", "test", 2, KEYS)
    assert fixed_addresses(vault) == (vault.watched,)


# ---------------------------------------------------------------------- gap limit


def walk(used: set[int], gap: int, batch: int | None = None) -> tuple[tuple[int, ...], int, int]:
    scan = GapLimitScan(gap, batch)
    calls = 0
    while (indexes := scan.next_batch()) is not None:
        calls += 1
        scan.feed(i for i in indexes if i in used)
    return scan.used, scan.checked, calls


def test_an_unused_chain_stops_after_one_gap() -> None:
    assert walk(set(), 20) == ((), 20, 1)


def test_a_used_index_near_the_end_of_a_batch_asks_for_another() -> None:
    used, checked, calls = walk({0, 3, 19}, 20)
    assert used == (0, 3, 19)
    assert checked == 40 and calls == 2


def test_an_address_beyond_the_gap_is_not_found() -> None:
    used, checked, _ = walk({0, 25}, 5)
    assert used == (0,)
    assert checked == 10


@given(
    used=st.sets(st.integers(0, 300), max_size=20),
    gap=st.integers(1, 30),
    batch=st.integers(1, 50),
)
def test_the_walk_finds_every_index_within_the_gap_and_stops_after_one_gap(
    used: set[int], gap: int, batch: int
) -> None:
    found, checked, _ = walk(used, gap, batch)
    reachable, last = [], -1
    for i in sorted(used):
        if i - last - 1 >= gap:
            break
        reachable.append(i)
        last = i
    assert set(reachable) <= set(found)
    # what it reports is exactly what it checked (a batch may reach past the gap)
    assert found == tuple(sorted(i for i in used if i < checked))
    # done only after `gap` unused indexes past the last used one were checked
    top = max(found, default=-1)
    assert checked >= top + 1 + gap
    assert checked < top + 1 + gap + batch


def test_feed_checks_its_batch() -> None:
    scan = GapLimitScan(5)
    with pytest.raises(RuntimeError):
        scan.feed([])
    scan.next_batch()
    with pytest.raises(ValueError, match="not in the batch"):
        scan.feed([7])


async def test_discover_drives_the_callback_in_batches() -> None:
    wallet = XpubWallet("r", "regtest", TPUB84, ScriptType.P2WPKH, gap_limit=5)
    used = {wallet.derive(0, 2).address, wallet.derive(0, 6).address}
    batches: list[int] = []

    async def has_history(batch: tuple[WatchedAddress, ...]) -> Collection[str]:
        batches.append(len(batch))
        return {w.address for w in batch} & used

    found = await discover(wallet, 0, has_history)
    assert [w.path for w in found.used] == ["0/2", "0/6"]
    assert found.checked == 15 and batches == [5, 5, 5]


# ---------------------------------------------------------------------- plain helpers


def test_xpub_addresses_lists_receive_then_change() -> None:
    addresses = xpub_addresses(ZPUB, script="p2wpkh", network="main", count=2)
    assert addresses == [
        "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu",
        "bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g",
        "bc1q8c6fshw2dlwun7ekn9qwf37cu2rn755upcp6el",
        XpubWallet("w", "main", ZPUB).derive(1, 1).address,
    ]
    with pytest.raises(InputError, match=r"cold\.script"):
        xpub_addresses(ZPUB, script="p2tr", network="main", count=2, name="cold")


def test_multisig_address_matches_the_vector() -> None:
    assert multisig_address(2, list(KEYS), script="p2wsh", network="test") == P2WSH_2OF3
    assert multisig_address(2, KEYS, script="p2sh-p2wsh", network="test") == P2SH_P2WSH_2OF3
    with pytest.raises(InputError, match="m > n"):
        multisig_address(4, KEYS, script="p2wsh", network="test")
