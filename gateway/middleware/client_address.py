"""Client address: who a request comes from, decided once, behind trusted proxies too.

::

    app = ClientAddress(app, proxy_networks(settings.trusted_proxies), unix=trusts_unix_peer(settings.trusted_proxies))

Sets ``environ["gateway.client_address"]``, the one address the failed-login limits, the
sessions (SessionGet's ``UserRemoteAddr``) and the communication log (``remote_ip``) read.
It is ``REMOTE_ADDR``, unless that is a trusted proxy: then ``X-Forwarded-For`` is read as
werkzeug's ``ProxyFix`` reads it, from the right, each proxy having appended the address it
was called from; the client is the rightmost entry that is not itself a trusted proxy.
``REMOTE_ADDR`` and the header are left as they came.

Risks, and how they are met:

- ``X-Forwarded-For`` is whatever the client wrote, plus what each proxy appended. Only
  the entries of proxies gateway trusts are believed, from the right: an entry the client
  put in front of them is never reached while a trusted proxy's own entry stands after it.
  A header from an address that is not a trusted proxy is ignored entirely.
- Trusting a network that untrusted clients can send from (a whole LAN where a proxy also
  lives) lets any of them choose their address, and so escape the per-address limits and
  lock others out. List the proxies, not their neighbours.
- A peer on a unix socket has no address (gunicorn's ``REMOTE_ADDR`` is empty): every client
  behind it would be one, and share one failed-login count. With ``unix=True`` (``unix`` in
  trusted_proxies) that peer is a trusted proxy, for a proxy on gateway's unix socket.
- An entry that is not an IP address (a proxy that writes host names, ``unknown`` or ports)
  ends the walk: the request counts as coming from the trusted hop that vouched for it,
  never from a value nobody vouched for.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from gateway.environ import CLIENT_ADDRESS
from gateway.settings import Network

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class ClientAddress:
    def __init__(self, app: WSGIApplication, trusted: Sequence[Network], unix: bool = False) -> None:
        self.app = app
        self.trusted = tuple(trusted)
        self.unix = unix

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        environ[CLIENT_ADDRESS] = self.client(environ.get("REMOTE_ADDR", ""), environ.get("HTTP_X_FORWARDED_FOR", ""))
        return self.app(environ, start_response)

    def client(self, remote_addr: str, forwarded_for: str) -> str:
        """The client's address: the peer, or the rightmost forwarded address not of a trusted proxy."""
        hop = _address(remote_addr)
        if hop is None and not self.unix:
            return remote_addr  # not an IP peer (a unix socket): nothing to trust or normalise
        # split on commas only: a list parser that honours quotes reads a client's `"`, and all the proxy
        # appended after it, as an empty list, which made the proxy itself the client
        for entry in reversed(forwarded_for.split(",") if forwarded_for else []):
            if hop is not None and not self._trusts(hop):
                break
            named = _address(entry)
            if named is None:
                break
            hop = named
        return remote_addr if hop is None else str(hop)

    def _trusts(self, address: Address) -> bool:
        return any(address in network for network in self.trusted)


def _address(value: str) -> Address | None:
    """An IP address in its canonical form; an IPv4-mapped IPv6 address as the IPv4 one."""
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
