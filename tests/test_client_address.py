"""The client address middleware: REMOTE_ADDR, or X-Forwarded-For read from the right behind trusted proxies."""

from __future__ import annotations

import pytest

from gateway.environ import CLIENT_ADDRESS
from gateway.errors import SettingsError
from gateway.middleware.client_address import ClientAddress
from gateway.settings import load, proxy_networks, trusts_unix_peer


def client(trusted: str, remote_addr: str, forwarded_for: str | None = None) -> str:
    """The address the middleware hands the application for one request."""
    seen = {}

    def app(environ, start_response):
        seen.update(environ)
        return [b""]

    environ = {"REMOTE_ADDR": remote_addr}
    if forwarded_for is not None:
        environ["HTTP_X_FORWARDED_FOR"] = forwarded_for
    ClientAddress(app, proxy_networks(trusted), unix=trusts_unix_peer(trusted))(environ, lambda *args: None)
    assert seen["REMOTE_ADDR"] == remote_addr and seen.get("HTTP_X_FORWARDED_FOR") == forwarded_for  # left as they came
    return seen[CLIENT_ADDRESS]


def test_without_trusted_proxies_the_header_is_ignored():
    assert client("", "192.0.2.10", "198.51.100.1") == "192.0.2.10"


def test_a_header_from_an_address_that_is_no_trusted_proxy_is_ignored():
    assert client("10.0.0.1", "192.0.2.10", "198.51.100.1") == "192.0.2.10"


def test_behind_a_trusted_proxy_the_forwarded_address_decides():
    assert client("10.0.0.1", "10.0.0.1", "198.51.100.1") == "198.51.100.1"
    assert client("10.0.0.1", "10.0.0.1") == "10.0.0.1"  # the proxy's own request


def test_what_the_client_wrote_in_front_of_the_proxys_entry_is_not_believed():
    """A client sends X-Forwarded-For: <anything>; the proxy appends the address it saw."""
    assert client("10.0.0.1", "10.0.0.1", "127.0.0.1, 203.0.113.9") == "203.0.113.9"
    assert client("10.0.0.1", "10.0.0.1", "127.0.0.1,203.0.113.9") == "203.0.113.9"


def test_a_chain_of_trusted_proxies_is_walked_to_the_first_untrusted_address():
    trusted = "10.0.0.0/8, 172.16.0.5"
    assert client(trusted, "10.0.0.1", "6.6.6.6, 203.0.113.9, 172.16.0.5, 10.2.3.4") == "203.0.113.9"
    assert client(trusted, "10.0.0.1", "172.16.0.5, 10.2.3.4") == "172.16.0.5"  # all trusted: the farthest


def test_an_entry_that_is_no_address_ends_the_walk_at_the_hop_that_vouched_for_it():
    assert client("10.0.0.0/8", "10.0.0.1", "203.0.113.9, unknown, 10.0.0.2") == "10.0.0.2"
    assert client("10.0.0.1", "10.0.0.1", "not-an-address") == "10.0.0.1"
    assert client("10.0.0.1", "10.0.0.1", "") == "10.0.0.1"


def test_ipv6_and_mapped_ipv4_addresses_are_compared_and_given_canonically():
    assert client("2001:db8::/32", "2001:db8::1", "2001:0DB8:0000::0099") == "2001:db8::99"
    assert client("127.0.0.1", "::ffff:127.0.0.1", "203.0.113.9") == "203.0.113.9"
    assert client("", "::ffff:192.0.2.1") == "192.0.2.1"


def test_a_peer_that_is_no_ip_address_is_kept_as_it_is():
    assert client("10.0.0.1", "", "203.0.113.9") == ""


@pytest.mark.parametrize("value", ["10.0.0.300", "proxy.example", "10.0.0.0/33"])
def test_a_trusted_proxies_setting_that_is_no_address_or_network_is_refused_at_start(value):
    with pytest.raises(SettingsError, match="trusted_proxies"):
        load(environ={"GATEWAY_TRUSTED_PROXIES": value})


def test_a_proxy_on_a_unix_socket_is_trusted_only_when_listed():
    """Behind a proxy on gateway's unix socket every client would otherwise be '' and share one count."""
    assert client("", "", "198.51.100.1") == ""
    assert client("unix", "", "198.51.100.1") == "198.51.100.1"
    assert client("unix, 10.0.0.1", "", "198.51.100.1, 10.0.0.1") == "198.51.100.1"
    assert client("unix", "", "not-an-address") == ""
    assert client("unix", "192.0.2.10", "198.51.100.1") == "192.0.2.10"  # an IP peer must be listed itself


def test_a_quote_the_client_wrote_does_not_hide_the_address_the_proxy_appended():
    """nginx appends to what the client sent: `"` then `, <client>`; read with quoting rules, the whole header
    was an empty list and the client counted as the proxy (loopback: /metrics was open to it)."""
    assert client("127.0.0.1", "127.0.0.1", '", 203.0.113.9') == "203.0.113.9"
