"""Where the engine's own HTTP calls (``http:invoke``, in executions and in TestState) may go.

A URL comes from execution input, so without a policy anyone who can start an execution can make the
engine fetch internal addresses (cloud metadata at 169.254.169.254, Redis, admin ports on loopback)
and read the answer. :class:`EgressPolicy` decides per resolved address:

* ``deny`` entries (CIDRs or host names) are always refused;
* ``allow`` entries are always accepted (an internal service the workflows are meant to call);
* in ``restricted`` mode every other non-public address is refused: loopback, link-local, private
  (RFC 1918, unique-local IPv6), carrier-grade NAT, multicast, reserved and unspecified ones;
* in ``open`` mode everything else is accepted.

``auto`` is ``restricted`` when the HTTP API listens beyond loopback, ``open`` otherwise. The check is
made on the addresses a name resolves to, when the connection is made (a name that resolves to an
internal address later - DNS rebinding - is refused too). Redirects are not followed: a 3xx answer
fails the task like any other non-2xx status.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from aiohttp.abc import AbstractResolver

EgressMode = Literal["auto", "restricted", "open"]
EGRESS_MODES: tuple[str, ...] = ("auto", "restricted", "open")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class EgressDenied(OSError):
    """A connection the egress policy refuses (an OSError, so HTTP clients report it as a connect failure)."""


@functools.lru_cache(maxsize=64)
def _entries(items: tuple[str, ...]) -> tuple[tuple[Network, ...], frozenset[str]]:
    networks: list[Network] = []
    hosts: set[str] = set()
    for item in items:
        item = item.strip()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            hosts.add(item.lower().rstrip("."))
    return tuple(networks), frozenset(hosts)


def parse_entries(specs: Iterable[str]) -> tuple[str, ...]:
    """``["10.0.0.0/8,api.internal", ...]`` -> the entries, checked; ValueError for an empty one."""
    out: list[str] = []
    for spec in specs:
        for item in spec.split(","):
            if not item.strip():
                raise ValueError(f"empty entry in {spec!r}: give CIDRs, addresses or host names")
            out.append(item.strip())
    return tuple(out)


@dataclass(frozen=True, slots=True)
class EgressPolicy:
    """Allow/deny rules for outgoing HTTP calls (picklable: worker processes get a copy)."""

    mode: EgressMode = "open"
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()

    @property
    def unrestricted(self) -> bool:
        """Whether every address is allowed (no check needed)."""
        return self.mode == "open" and not self.deny

    def resolved(self, api_host: str | None) -> EgressPolicy:
        """This policy with ``auto`` decided for an API listening on ``api_host`` (None: no API)."""
        if self.mode != "auto":
            return self
        restricted = api_host is not None and not _is_loopback(api_host)
        return EgressPolicy("restricted" if restricted else "open", self.allow, self.deny)

    def refusal(self, host: str, address: str | None = None) -> str | None:
        """Why a connection to ``host`` (at ``address``, once resolved) is refused; None when it is allowed."""
        allow_nets, allow_hosts = _entries(self.allow)
        deny_nets, deny_hosts = _entries(self.deny)
        name = host.lower().rstrip(".").strip("[]")
        if name in deny_hosts:
            return f"{host} is on the engine's HTTP deny list"
        ip = _ip(address if address is not None else name)
        if ip is not None and any(ip in net for net in deny_nets):
            return f"{host} ({ip}) is on the engine's HTTP deny list"
        if name in allow_hosts or (ip is not None and any(ip in net for net in allow_nets)):
            return None
        if self.mode == "restricted" and ip is not None and not ip.is_global:
            return (f"{host} resolves to {ip}, an internal ({_kind(ip)}) address, which the engine's HTTP "
                    "policy refuses (allow it with --http-allow, or turn the policy off with --http-egress open)")
        return None


def _is_loopback(host: str) -> bool:
    ip = _ip(host)
    return host == "localhost" or (ip is not None and ip.is_loopback)


def _ip(text: str) -> Address | None:
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _kind(ip: Address) -> str:
    for test, kind in (("is_loopback", "loopback"), ("is_link_local", "link-local"), ("is_private", "private"),
                       ("is_multicast", "multicast"), ("is_unspecified", "unspecified")):
        if getattr(ip, test):
            return kind
    return "reserved"


def policy_resolver(policy: EgressPolicy) -> AbstractResolver:
    """An aiohttp resolver that refuses a name when the policy refuses any address it resolves to."""
    from aiohttp.abc import AbstractResolver, ResolveResult
    from aiohttp.resolver import DefaultResolver

    class PolicyResolver(AbstractResolver):
        def __init__(self) -> None:
            self._inner = DefaultResolver()

        async def resolve(self, host: str, port: int = 0,
                          family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
            results = await self._inner.resolve(host, port, family)
            for result in results:
                reason = policy.refusal(host, result["host"])
                if reason is not None:
                    raise EgressDenied(reason)
            return results

        async def close(self) -> None:
            await self._inner.close()

    return PolicyResolver()
