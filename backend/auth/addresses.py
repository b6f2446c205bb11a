"""The unit that per-address limits count in.

An IPv4 address is one subscriber (or one NAT). An IPv6 subscriber is usually given a whole /64,
so a client can speak from 2^64 addresses of its own: counting each address alone would let it
step around every per-address limit. Limits therefore count an IPv6 address by its /64 (and an
IPv4-mapped one as the IPv4 address it is).
"""

from __future__ import annotations

import ipaddress


def limited_unit(address: str | None) -> str | None:
    """What per-address limits count ``address`` as; anything that is not an IP address (a
    test client's name, say) counts as itself."""
    if not address:
        return address
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)
