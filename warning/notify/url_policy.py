"""Where webhooks may go: subscribers are configured over the API, so a target URL must not
turn Tocsin into a way to reach what only Tocsin can reach (server-side request forgery).

The host is resolved and every address it resolves to must pass, in this order:

1. in ``webhook_denied_networks``: refused;
2. in ``webhook_allowed_networks``: allowed (the explicit way to reach, say, a link-local sidecar);
3. link-local (169.254.0.0/16, fe80::/10, cloud metadata among them), other metadata
   addresses, multicast, unspecified: refused;
4. loopback or private (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7, ...): allowed only
   with ``webhook_allow_private`` (``TOCSIN_WEBHOOK_ALLOW_PRIVATE=true``);
5. broadcast or reserved: refused; anything else (public): allowed.

The check runs when a subscription is created or changed and again before every attempt,
because what a name resolves to can change. The attempt then resolves the name once more
(httpx connects by name), so a resolver that answers differently within that moment is not
caught: pin the addresses with ``webhook_denied_networks`` where that matters.
"""
from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Sequence[str]]

# Metadata services outside the link-local ranges (AWS over IPv6, Alibaba Cloud).
METADATA = (ipaddress.ip_network("fd00:ec2::254/128"), ipaddress.ip_network("100.100.100.200/32"))


class UrlRefused(ValueError):
    """The URL may not be used as a webhook target; the message says why."""


@dataclass(slots=True, frozen=True)
class Target:
    url: str
    host: str
    port: int


def parse_target(url: str) -> Target:
    """The URL's host and port, or :class:`UrlRefused` for a URL that is not plain http(s)."""
    if not url.isprintable():  # urlsplit drops tabs and keeps NULs; httpx refuses both on every attempt
        raise UrlRefused("the URL contains a control character; percent-encode it")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UrlRefused(f"not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise UrlRefused(f"the scheme must be http or https, not {parts.scheme or 'missing'!r}")
    if not parts.hostname:
        raise UrlRefused("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("credentials in the URL are not accepted; the signature authenticates Tocsin")
    if parts.fragment:
        raise UrlRefused("a fragment (#...) is never sent; leave it out")
    return Target(url, parts.hostname, port or (443 if parts.scheme == "https" else 80))


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


@dataclass(slots=True, frozen=True)
class UrlPolicy:
    allow_private: bool = False
    allowed: tuple[Network, ...] = ()
    denied: tuple[Network, ...] = ()

    @classmethod
    def of(cls, allow_private: bool, allowed: Iterable[str], denied: Iterable[str]) -> UrlPolicy:
        return cls(allow_private, tuple(ipaddress.ip_network(n, strict=False) for n in allowed),
                   tuple(ipaddress.ip_network(n, strict=False) for n in denied))

    def check(self, url: str, resolve: Resolver = system_resolver) -> Target:
        """The target if ``url`` may be used now, else :class:`UrlRefused` with the reason."""
        target = parse_target(url)
        try:
            addresses = resolve(target.host, target.port)
        except (OSError, ValueError) as exc:  # ValueError: a NUL byte; UnicodeError: a bad IDNA label
            raise UrlRefused(f"the host {target.host!r} does not resolve: {exc}") from None
        if not addresses:
            raise UrlRefused(f"the host {target.host!r} resolves to no address")
        for text in addresses:
            refusal = self.refusal(ipaddress.ip_address(text.split("%", 1)[0]))  # drop an IPv6 zone
            if refusal is not None:
                raise UrlRefused(f"the host {target.host!r} resolves to {text}, {refusal}")
        return target

    def refusal(self, address: IPAddress) -> str | None:
        """Why ``address`` may not be a target, or None when it may."""
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # ::ffff:169.254.169.254 is 169.254.169.254
        if any(address in n for n in self.denied):
            return "a denied network (webhook_denied_networks)"
        if any(address in n for n in self.allowed):
            return None
        if address.is_link_local or any(address in n for n in METADATA):
            return "a link-local or cloud metadata address"
        if address.is_multicast:
            return "a multicast address"
        if address.is_unspecified:
            return "the unspecified address"
        if address.is_loopback or address.is_private or _shared(address):  # before "reserved": ::1 is both
            if self.allow_private:
                return None
            return "a loopback or private address (allowed only with TOCSIN_WEBHOOK_ALLOW_PRIVATE=true)"
        if address == ipaddress.IPv4Address("255.255.255.255") or address.is_reserved:
            return "a reserved address"
        return None


_CARRIER_GRADE_NAT = ipaddress.ip_network("100.64.0.0/10")


def _shared(address: IPAddress) -> bool:
    """100.64.0.0/10 is neither global nor private to :mod:`ipaddress`; it is someone's inside."""
    return isinstance(address, ipaddress.IPv4Address) and address in _CARRIER_GRADE_NAT
