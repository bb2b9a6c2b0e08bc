"""SSRF guard: an outgoing request may only go to public addresses unless explicitly allowed."""
from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.utils.translation import gettext as _


class UnsafeTarget(ValueError):
    pass


def _is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
                or ip.is_unspecified or (isinstance(ip, ipaddress.IPv4Address) and ip in ipaddress.ip_network("100.64.0.0/10")))


def check_url(url: str, *, allow_private: bool = False) -> str | None:
    """Resolve the host and refuse the URL if ANY address is not public (DNS may answer several).

    Returns the checked address to connect to (None when private targets are allowed): see
    ``pinned_request`` for why the connection must use it rather than resolve the name again."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeTarget(_("Only http and https URLs with a host are allowed."))
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80),
                                   proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeTarget(_("The host name does not resolve.")) from exc
    checked = None
    for info in infos:
        ip = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if not _is_public(ip):
            raise UnsafeTarget(_("The target resolves to a private or loopback address (%(ip)s).") % {"ip": ip})
        checked = checked or ip
    if checked is None:
        raise UnsafeTarget(_("The host name does not resolve."))
    return str(checked)


def pinned_request(url: str, *, allow_private: bool = False) -> tuple[str, dict, dict]:
    """``(url, extra headers, httpx extensions)`` for a request that connects to the address
    ``check_url`` approved. Resolving the name again at connect time would let a DNS answer that
    changed in between (rebinding) reach a private address; so the URL names the checked IP, the
    Host header keeps the name, and TLS checks the certificate against the name (``sni_hostname``)."""
    ip = check_url(url, allow_private=allow_private)
    if ip is None:
        return url, {}, {}
    parts = urlsplit(url)
    host = f"[{ip}]" if ":" in ip else ip
    netloc = f"{host}:{parts.port}" if parts.port else host
    pinned = parts._replace(netloc=netloc).geturl()
    headers = {"host": parts.netloc.rsplit("@", 1)[-1]}
    return pinned, headers, ({"sni_hostname": parts.hostname} if parts.scheme == "https" else {})
