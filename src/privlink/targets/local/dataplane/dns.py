"""Sans-IO DNS: a zone table built from the config, and one function from query bytes to reply bytes.

We are not a recursive resolver: names we hold get A answers, every other name gets NXDOMAIN.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

from dnslib import QTYPE, RCODE, RR, A, DNSHeader, DNSRecord

from privlink.targets.local.dataplane.config_model import DataPlaneConfig, DnsView


def normalize(name: str) -> str:
    """Lower case, no trailing dot: the form zone keys use."""
    return name.strip().rstrip(".").lower()


class ZoneTable:
    """Name -> A values; names are matched case-insensitively, with or without a trailing dot."""

    def __init__(self, records: Mapping[str, list[str]], ttl: int = 60) -> None:
        self.records = {normalize(k): list(v) for k, v in records.items()}
        self.ttl = ttl

    @classmethod
    def from_config(cls, config: DataPlaneConfig, view: DnsView | None = None) -> ZoneTable:
        """The shared server's table, or one consumer VPC's `view`."""
        source = view if view is not None else config.dns
        table: dict[str, list[str]] = {}
        for rec in source.records:
            table.setdefault(normalize(rec.name), []).extend(rec.values)
        endpoints = {e.endpoint_id: e for e in config.endpoints}
        for alias in source.aliases:
            ep = endpoints[alias.endpoint_id]
            ips = [eni.bind_ip for eni in ep.enis if alias.az_name in (None, eni.az_name)]
            table.setdefault(normalize(alias.name), []).extend(ips)
        return cls(table, config.dns.ttl)

    def lookup(self, name: str) -> list[str] | None:
        """The A values of `name`, or None when we do not hold it (NXDOMAIN)."""
        return self.records.get(normalize(name))


def answer(table: ZoneTable, query: bytes) -> bytes | None:
    """The reply to one DNS message, or None when it is not even a parsable header (drop it)."""
    try:
        request = DNSRecord.parse(query)
    except Exception:  # dnslib raises assorted errors on garbage
        if len(query) < 12:
            return None
        (msg_id,) = struct.unpack_from("!H", query)
        return DNSRecord(DNSHeader(id=msg_id, qr=1, rcode=RCODE.FORMERR)).pack()
    reply = request.reply()
    reply.header.ra = 0
    if request.header.opcode != 0 or len(request.questions) != 1:
        reply.header.rcode = RCODE.NOTIMP if request.header.opcode != 0 else RCODE.FORMERR
        return reply.pack()
    q = request.q
    values = table.lookup(str(q.qname))
    if values is None:
        reply.header.rcode = RCODE.NXDOMAIN
    elif q.qtype in (QTYPE.A, QTYPE.ANY):
        for ip in values:
            reply.add_answer(RR(q.qname, QTYPE.A, rdata=A(ip), ttl=table.ttl))
    # other types of a name we hold: NOERROR with no answers (NODATA)
    return reply.pack()
