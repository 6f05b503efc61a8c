"""The bottom layer: the error tree with its exit codes, and the helpers every layer shares.

errors (PorError and its subclasses, each with an exit code), redact (masking credentials),
safejson/safetoml (strict readers that refuse duplicates, floats and lone surrogates), logs,
console (terminal and JSON output, plurals), atomic (a file written whole or not at all),
outdir (an output directory never swallows an
input). Imports nothing of ours outside this package.
"""
