"""The `por` command: thin click commands over the layers below, one module per group.

Parses options, calls one function of a lower layer, prints its result (text or --json)
and maps errors to exit codes. The top layer: nothing imports it but the entry point.
"""
