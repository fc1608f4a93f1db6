"""The local sandbox's data plane: endpoint ENIs, NLB nodes, demo targets and DNS on loopback.

`config_model` is the file format (`DataPlaneConfig`; `privlink.targets.local.world_to_dataplane`
builds it from the simulated world), `dns`, `health`, `choice`, `security` and `ppv2` are
sans-IO pieces, `supervisor` is the asyncio process and `control` starts, reloads and stops it.
"""
