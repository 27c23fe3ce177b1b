"""Who is asking, behind reverse proxies: the per-client budgets (feedback, unanswered and ask
log records) and the askers' labels count per client, so the client must be the visitor, not
the proxy in front of the service.

A proxy appends the address it got the request from to X-Forwarded-For. Read from the right,
every address is one hop nearer the visitor; the first that is not a trusted proxy is the
client (addresses further left were written by the visitor and prove nothing).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from fastapi import Request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    def __init__(self, spec: str):
        """`spec`: FORWARDED_ALLOW_IPS, addresses or networks separated by commas, or "*"."""
        parts = [part.strip() for part in spec.split(",") if part.strip()]
        self.any = "*" in parts
        self.networks: list[Network] = []
        for part in parts:
            if part == "*":
                continue
            try:
                self.networks.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                raise ValueError(f"FORWARDED_ALLOW_IPS: {part!r} is not an address or a network") from None

    def trusts(self, address: str) -> bool:
        if self.any:
            return True
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def client(self, peer: str, forwarded_for: Sequence[str]) -> str:
        """The visitor's address: the peer, unless the peer is a trusted proxy; then the nearest
        address of the chain that is not one (the farthest, when all of them are)."""
        if not self.trusts(peer):
            return peer
        chain = [hop.strip() for header in forwarded_for for hop in header.split(",") if hop.strip()]
        for hop in reversed(chain):
            if not self.trusts(hop):
                return hop
        return chain[0] if chain else peer

    def of(self, request: Request) -> str:
        peer = request.client.host if request.client else "unknown"
        return self.client(peer, request.headers.getlist("x-forwarded-for"))
