"""Other exchanges' published files: liabilities proofs and ownership files, checked offline.

check (the edge of `por verify-proof` and `por verify-ownership`), detect (which format a
proof file is) and ownership_files (the
layouts of ownership signature files: ownership_okx, ownership_htx; rows and summaries in
ownership_rows, the chain of a row in ownership_chains, EVM digests in ownership_evm).
Beside inputs: it reads files and calls the pure verifiers of attestations/formats and
chains; nothing of the main job depends on it.
"""
