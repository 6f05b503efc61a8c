"""Other exchanges' published files: liabilities proofs and ownership files, checked offline.

check (the edge of `por verify-proof` and `por verify-ownership`), detect (which format a
proof file is) and ownership_files (the
layouts of ownership signature files). Beside inputs: it reads files and calls the pure
verifiers of attestations/formats and chains; nothing of the main job depends on it.
"""
