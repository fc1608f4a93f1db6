"""The doctor's checks: one module per check (or small family), each declaring its `CHECKS`.

A check module holds the function that judges (named as the check, `endpoint-sg-blocks-clients` ->
`endpoint_sg_blocks_clients`), the kinds of finding it emits with their fix texts, and what it needs
(`privlink.doctor.check`). The registry imports every module here (`privlink.doctor.registry`).

`ORDER` is the order the checks run in, and so the order of the findings of one severity in the
report: what was not read first, then whether the link is deployed and connected, then the producer's
and consumers' network, load balancer, DNS and VPN. A new check goes into a module of its own and
into this list; the registry fails on a check missing here or a name here no module declares.
"""

ORDER = (
    "observe-errors",
    "not-deployed",
    "endpoint-missing",
    "connection-pending-acceptance",
    "connection-rejected",
    "principal-not-allowed",
    "endpoint-sg-blocks-clients",
    "targets-unhealthy",
    "az-without-healthy-targets",
    "az-not-served",
    "vpc-dns-attributes",
    "private-dns-unverified",
    "private-name-unresolved",
    "vpn-cidr-overlap",
    "vpn-not-authorized",
    "listener-target-port-mismatch",
    "cross-region-not-supported",
    "nlb-idle-timeout",
)
