"""The public site: published proofs customers verify in their browser, and its server.

publish (`por publish`: bundle → shape → pages → files): bundle reads and checks the signed
attestation folder, shape refuses a report it cannot show, pages renders index and verify
pages from the shared templates, files writes the manifest and the site atomically;
serve (`por serve`); assets/ (the in-browser verifier). Sits above history (the server
exports its metrics).
"""
