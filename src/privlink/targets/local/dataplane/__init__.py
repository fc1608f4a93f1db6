"""The local sandbox's data plane: endpoint ENIs, NLB nodes, demo targets and DNS on loopback.

`config` is the file format (`DataPlaneConfig`), `dns`, `health`, `choice`, `security` and `ppv2` are
sans-IO pieces, `server` is the asyncio process and `control` starts, reloads and stops it.
"""
