"""The signed attestation document `por-attestation-v1`: build, sign, read, check, verify.

Where it sits: the last step of the attestation stage (layer 2, attestations/). The exchange
assembles, from the liabilities root document (`root.json`, attestations/build.py), the
chain snapshots (verifier/holdings/snapshot.py), its off-chain reserve statement, prices and
the rule pack, one JSON document; signs it with an Ed25519 key; and publishes it. An auditor
reads it back and verifies it before reconciling. docs/attestation.md is the user's guide,
docs/spec/por-attestation-v1.md the normative description of the schema and of the
canonical encoding.

The modules, in the order a document flows through them:

  model.py      the document's shape: member names, limits and the frozen value objects
                (`WalletEntry`, `ChainEntry`, `PriceQuote`, `RulePackRef`, `OwnershipMaxAge`,
                `SignatureBlock`, `Attestation`) with the JSON each writes
  canonical.py  the canonical bytes: `canonical_json` (RFC 8785 through the `rfc8785`
                package, behind our stricter refusals) and `signing_payload`
  fields.py     one check per field shape (object, list, text, integer, hex, amount, ...),
                each raising `InvalidProof("field <path>")`
  ownership.py  the ownership members: each wallet's proof (epoch, age, status) and
                ``settings.ownership_max_age``, and that one epoch means one block
  parse.py      `parse_attestation`: every member of a document checked, into values
  sign.py       `build_attestation`, `sign_attestation`, `verify_attestation` (Ed25519)
  files.py      reading (`load_attestation`, strict JSON) and publishing (`write_attestation`,
                atomic) the files

Pure apart from two edges: the signing key (its files are verifier/inputs/keys.py's job) and
the published files (files.py). No network, no asyncio. Names with a leading underscore are
private to this package: its modules share them, code outside it does not use them. This
``__init__`` exports nothing: import each name from its module.

Invariants:
  1. What is signed is ``b"por-attestation-v1\\n" || canonical_json(document without its
     "signature" member)``. The canonical encoding is a subset of RFC 8785 (JCS): UTF-8,
     object keys sorted by UTF-16 code units, no whitespace, minimal string escapes, integers
     only (``|n| <= 2**53 - 1``), serialised by the `rfc8785` package. Floats, NaN and
     non-JSON values are rejected before it, naming their path, never rounded. So any file
     layout (pretty, reordered) verifies alike.
  2. Amounts are decimal strings of integer base units; prices are decimal strings.
  3. Every field a verifier reads is checked, one check per line, raising `InvalidProof`
     whose ``check`` is ``"format"``, ``"signature"``, ``"public_key"`` (a pinned key that
     differs) or ``"field <path>"`` (e.g. ``"field chains[0].wallets[2].balances.BTC"``).
     Fields are checked before the signature, so the error names what is wrong.
  4. The document is closed: an unknown member at the top level, in a chain or in a wallet
     is an error. ``reserve``, ``report`` and each wallet's ``ownership`` are carried as given
     (signed, shape-checked; their content is checked by the reserve rules and the ownership
     verifiers), and ``liabilities`` is the root document verbatim. Inside ``ownership``, the
     members a verifier decides with (``message``, ``epoch``, ``age``, ``status``) and the
     top-level ``settings`` (the maximum proof age applied) are checked strictly: an epoch
     proof's message, age and staleness are recomputed from them (verifier/jobs/verify.py).
  5. The private key is never part of an error message.
"""
