"""The public site: published proofs customers verify in their browser, and its server.

publish (`por publish` writes the site from a tree and an attestation), serve (`por serve`),
assets/ (the in-browser verifier). Sits above history (the server exports its metrics).
"""
