"""Who a client is, for counting: an IPv4 address, or an IPv6 /64 (one host's usual share)."""

from __future__ import annotations

import ipaddress

IPV6_PREFIX = 64


def client_key(address: str) -> str:
    """The unit limits are counted in. An IPv6 host holds a whole /64 and can change address
    at will inside it, so the /64 is one client; an IPv4-mapped address is its IPv4 one."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, IPV6_PREFIX), strict=False))
    return str(ip)
