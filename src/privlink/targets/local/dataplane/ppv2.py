"""Sans-IO PROXY protocol v2: the header an NLB puts before PrivateLink traffic, and a parser for it."""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Callable
from dataclasses import dataclass

SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
VERSION_PROXY = 0x21  # version 2, command PROXY
AF_INET_STREAM = 0x11
PP2_TYPE_AWS = 0xEA
PP2_SUBTYPE_AWS_VPCE_ID = 0x01
HEADER_FIXED = 16


def encode(src_ip: str, src_port: int, dst_ip: str, dst_port: int, endpoint_id: str | None = None) -> bytes:
    """A PPv2 PROXY header for TCP over IPv4, with the AWS VPC endpoint ID TLV when given."""
    body = (
        ipaddress.IPv4Address(src_ip).packed
        + ipaddress.IPv4Address(dst_ip).packed
        + struct.pack("!HH", src_port, dst_port)
    )
    if endpoint_id:
        value = bytes([PP2_SUBTYPE_AWS_VPCE_ID]) + endpoint_id.encode("ascii")
        body += struct.pack("!BH", PP2_TYPE_AWS, len(value)) + value
    return SIGNATURE + bytes([VERSION_PROXY, AF_INET_STREAM]) + struct.pack("!H", len(body)) + body


def encoder(
    src_ip: str, dst_ip: str, dst_port: int, endpoint_id: str | None = None
) -> Callable[[int], bytes]:
    """`encode` with all but the source port fixed: a header per connection is then one join."""
    whole = encode(src_ip, 0, dst_ip, dst_port, endpoint_id)
    head, tail = whole[:24], whole[26:]  # the source port sits after the fixed part and both addresses
    port = struct.Struct("!H").pack
    return lambda src_port: b"".join((head, port(src_port), tail))


@dataclass(frozen=True)
class ProxyHeader:
    src_ip: str | None
    src_port: int | None
    dst_ip: str | None
    dst_port: int | None
    endpoint_id: str | None
    local: bool = False  # a LOCAL command (health checks): no addresses


class ProxyProtocolError(ValueError):
    pass


def parse(data: bytes) -> tuple[ProxyHeader, int] | None:
    """Parse a header at the start of `data`: (header, bytes consumed), or None when more bytes are needed."""
    if len(data) < HEADER_FIXED:
        if not SIGNATURE.startswith(bytes(data[: len(SIGNATURE)])):
            raise ProxyProtocolError("no PROXY protocol v2 signature")
        return None
    if data[:12] != SIGNATURE:
        raise ProxyProtocolError("no PROXY protocol v2 signature")
    ver_cmd, fam = data[12], data[13]
    (length,) = struct.unpack_from("!H", data, 14)
    if len(data) < HEADER_FIXED + length:
        return None
    if ver_cmd >> 4 != 2:
        raise ProxyProtocolError("not version 2")
    body = bytes(data[HEADER_FIXED : HEADER_FIXED + length])
    total = HEADER_FIXED + length
    if ver_cmd & 0x0F == 0:
        return ProxyHeader(None, None, None, None, None, local=True), total
    if fam != AF_INET_STREAM or length < 12:
        raise ProxyProtocolError(f"unsupported family/protocol 0x{fam:02x}")
    src = str(ipaddress.IPv4Address(body[0:4]))
    dst = str(ipaddress.IPv4Address(body[4:8]))
    sport, dport = struct.unpack_from("!HH", body, 8)
    endpoint_id = None
    pos = 12
    while pos + 3 <= len(body):
        tlv_type, tlv_len = body[pos], struct.unpack_from("!H", body, pos + 1)[0]
        value = body[pos + 3 : pos + 3 + tlv_len]
        if tlv_type == PP2_TYPE_AWS and value[:1] == bytes([PP2_SUBTYPE_AWS_VPCE_ID]):
            endpoint_id = value[1:].decode("ascii", "replace")
        pos += 3 + tlv_len
    return ProxyHeader(src, sport, dst, dport, endpoint_id), total
