"""The webhook target policy, with a resolver the test controls (no DNS)."""
from __future__ import annotations

from collections.abc import Sequence

import pytest

from warning.notify.url_policy import Resolver, UrlPolicy, UrlRefused


def resolving(*addresses: str) -> Resolver:
    def resolve(host: str, port: int) -> Sequence[str]:
        return addresses

    return resolve


@pytest.mark.parametrize(("address", "refusal"), [
    pytest.param("169.254.169.254", "link-local", id="AWS/GCP/Azure metadata"),
    pytest.param("fe80::1", "link-local", id="IPv6 link-local"),
    pytest.param("fd00:ec2::254", "metadata", id="AWS IPv6 metadata"),
    pytest.param("100.100.100.200", "metadata", id="Alibaba metadata"),
    pytest.param("::ffff:169.254.169.254", "link-local", id="IPv4-mapped metadata"),
    pytest.param("239.1.2.3", "multicast", id="multicast"),
    pytest.param("0.0.0.0", "unspecified", id="unspecified"),
    pytest.param("127.0.0.1", "loopback or private", id="loopback"),
    pytest.param("::1", "loopback or private", id="IPv6 loopback"),
    pytest.param("192.168.1.10", "loopback or private", id="private"),
    pytest.param("100.64.0.1", "loopback or private", id="carrier-grade NAT"),
])
def test_refused_addresses_say_why(address: str, refusal: str) -> None:
    with pytest.raises(UrlRefused, match=refusal):
        UrlPolicy().check("https://hooks.example.com/x", resolving(address))


def test_a_public_address_is_allowed() -> None:
    target = UrlPolicy().check("https://hooks.example.com:8443/x", resolving("93.184.216.34"))

    assert (target.host, target.port) == ("hooks.example.com", 8443)


def test_one_bad_address_among_good_ones_refuses_the_host() -> None:
    with pytest.raises(UrlRefused, match="169.254.169.254"):
        UrlPolicy().check("https://x.example/", resolving("93.184.216.34", "169.254.169.254"))


def test_private_targets_need_allow_private_but_metadata_stays_refused() -> None:
    policy = UrlPolicy(allow_private=True)

    policy.check("http://10.0.0.5/x", resolving("10.0.0.5"))
    with pytest.raises(UrlRefused, match="link-local"):
        policy.check("http://169.254.169.254/x", resolving("169.254.169.254"))


def test_configured_networks_override_the_defaults_both_ways() -> None:
    policy = UrlPolicy.of(False, allowed=["169.254.10.0/24"], denied=["93.184.216.0/24"])

    policy.check("http://sidecar/x", resolving("169.254.10.7"))
    with pytest.raises(UrlRefused, match="denied network"):
        policy.check("https://x.example/", resolving("93.184.216.34"))


@pytest.mark.parametrize(("url", "refusal"), [
    pytest.param("ftp://x.example/", "scheme", id="not http"),
    pytest.param("http:///x", "no host", id="no host"),
    pytest.param("http://u:p@x.example/", "credentials", id="credentials"),
    pytest.param("http://x.example:99999/", "not a valid URL", id="bad port"),
    pytest.param("http://x.example/a\tb", "control character", id="tab (urlsplit drops it, httpx refuses it)"),
    pytest.param("http://x.example/\x00", "control character", id="NUL"),
])
def test_malformed_urls_are_refused_before_resolving(url: str, refusal: str) -> None:
    def never(host: str, port: int) -> Sequence[str]:
        raise AssertionError("resolved")

    with pytest.raises(UrlRefused, match=refusal):
        UrlPolicy(allow_private=True).check(url, never)


def test_a_host_that_does_not_resolve_is_refused() -> None:
    def fail(host: str, port: int) -> Sequence[str]:
        raise OSError("Name or service not known")

    with pytest.raises(UrlRefused, match="does not resolve"):
        UrlPolicy().check("https://nowhere.example/", fail)


@pytest.mark.parametrize("host", [
    pytest.param("2852039166", id="decimal 169.254.169.254"),
    pytest.param("0251.0376.0251.0376", id="octal 169.254.169.254"),
    pytest.param("0xa9.0xfe.0xa9.0xfe", id="hex 169.254.169.254"),
    pytest.param("[::ffff:169.254.169.254]", id="IPv4-mapped IPv6 literal"),
    pytest.param("[::ffff:a9fe:a9fe]", id="IPv4-mapped IPv6 in hex"),
    pytest.param("0", id="0 is 0.0.0.0"),
    pytest.param("[::]", id="IPv6 unspecified"),
])
def test_numeric_spellings_of_refused_addresses_are_refused_by_the_system_resolver(host: str) -> None:
    # getaddrinfo reads numeric hosts the way the connection will (inet_aton): no DNS involved.
    with pytest.raises(UrlRefused, match="link-local|unspecified"):
        UrlPolicy(allow_private=True).check(f"http://{host}/x")
