"""The liabilities side and the signed attestation: pure, no network.

The por-mst-v1 Merkle sum tree (encoding, levels, build, store, proofs, proof_files,
proof_container: every proof in one file, audit), the signed
por-attestation-v1 document (document), and other exchanges' proof formats (formats/).
Sits above chains (an attestation carries ownership proofs) and below all of verifier but
its base.
"""
