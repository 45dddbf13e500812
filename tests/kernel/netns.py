"""Network namespaces for real-traffic tests: a veth pair between two private namespaces.

:func:`veth_pair` creates two namespaces (``ip netns add``), a veth pair with one end in
each, /30 addresses, brings the links up, and deletes both namespaces however the block
exits (deleting a namespace destroys its veth end, and with it the peer).  Traffic never
leaves the two namespaces.  :func:`add_qdisc` shapes one end (``tbf``, ``netem``) and
raises :class:`QdiscUnavailable` when the kernel lacks that qdisc, so tests can skip with
the reason.  Everything goes through the ``ip`` / ``tc`` binaries of iproute2.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

__all__ = [
    "NetnsError",
    "QdiscUnavailable",
    "VethPair",
    "add_qdisc",
    "namespace_exists",
    "ns_exec",
    "qdisc_kinds",
    "run",
    "skip_reason",
    "veth_pair",
]

#: Seconds any single ``ip`` / ``tc`` command may take before it counts as hung.
COMMAND_TIMEOUT = 10.0


class NetnsError(RuntimeError):
    """An ``ip`` / ``tc`` command failed; the message carries the argv and its stderr."""


class QdiscUnavailable(NetnsError):
    """The kernel does not provide the requested qdisc kind (e.g. ``CONFIG_NET_SCH_NETEM`` unset)."""


@dataclass(frozen=True)
class VethPair:
    """Two namespaces joined by a veth pair: ``ns_a:dev_a (addr_a)`` <-> ``ns_b:dev_b (addr_b)``."""

    ns_a: str
    ns_b: str
    dev_a: str
    dev_b: str
    addr_a: str
    addr_b: str


def run(argv: Sequence[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` with a timeout; raise :class:`NetnsError` naming it and its stderr on failure."""
    try:
        res = subprocess.run(list(argv), capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False)
    except subprocess.TimeoutExpired as exc:
        raise NetnsError(f"{' '.join(argv)}: timed out after {COMMAND_TIMEOUT} s") from exc
    if check and res.returncode != 0:
        raise NetnsError(f"{' '.join(argv)}: exit {res.returncode}: {res.stderr.strip()}")
    return res


def ns_exec(ns: str, argv: Sequence[str]) -> list[str]:
    """The argv that runs ``argv`` inside namespace ``ns`` (``ip netns exec``)."""
    return ["ip", "netns", "exec", ns, *argv]


def skip_reason() -> str | None:
    """Why namespaces cannot be made here (not root, no ``ip``/``tc``, no netns), or None."""
    if os.geteuid() != 0:
        return "not root: ip netns add / veth need CAP_SYS_ADMIN + CAP_NET_ADMIN"
    for tool in ("ip", "tc"):
        if shutil.which(tool) is None:
            return f"iproute2 '{tool}' binary not found in PATH"
    if not os.path.exists("/proc/self/ns/net"):
        return "kernel without network namespaces (/proc/self/ns/net missing)"
    return None


def _delete_ns(name: str) -> str | None:
    res = run(["ip", "netns", "del", name], check=False)
    if res.returncode != 0 and "No such file" not in res.stderr:
        return f"ip netns del {name}: {res.stderr.strip()}"
    return None


def namespace_exists(name: str) -> bool:
    """Whether ``ip netns list`` shows ``name``."""
    out = run(["ip", "netns", "list"]).stdout
    return any(line.split()[0] == name for line in out.splitlines() if line.strip())


@contextmanager
def veth_pair(tag: str, *, subnet: int = 199, third_octet: int = 0) -> Iterator[VethPair]:
    """Namespaces ``<tag>a`` / ``<tag>b`` joined by veth ``<tag>A`` / ``<tag>B``, 10.<subnet>.<third>.1-2/30.

    ``tag`` must make the names unique (tests put their pid in it) and keep interface names
    within 15 bytes.  Both namespaces are deleted on exit, even when the block raises.
    """
    if len(tag) + 1 > 15 or not tag.replace("_", "").isalnum():
        raise ValueError(f"netns tag {tag!r}: want [A-Za-z0-9_], at most 14 characters")
    pair = VethPair(
        ns_a=f"{tag}a",
        ns_b=f"{tag}b",
        dev_a=f"{tag}A",
        dev_b=f"{tag}B",
        addr_a=f"10.{subnet}.{third_octet}.1",
        addr_b=f"10.{subnet}.{third_octet}.2",
    )
    created: list[str] = []
    try:
        for ns in (pair.ns_a, pair.ns_b):
            run(["ip", "netns", "add", ns])
            created.append(ns)
        veth = ("type", "veth", "peer", "name", pair.dev_b, "netns", pair.ns_b)
        run(["ip", "link", "add", pair.dev_a, "netns", pair.ns_a, *veth])
        for ns, dev, addr in ((pair.ns_a, pair.dev_a, pair.addr_a), (pair.ns_b, pair.dev_b, pair.addr_b)):
            run(["ip", "-n", ns, "addr", "add", f"{addr}/30", "dev", dev])
            run(["ip", "-n", ns, "link", "set", dev, "up"])
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
        yield pair
    finally:
        problems = [p for p in map(_delete_ns, reversed(created)) if p]
        if problems:
            raise NetnsError("; ".join(problems))


def add_qdisc(ns: str, dev: str, kind: str, *params: str) -> None:
    """``tc qdisc add dev <dev> root <kind> <params>`` inside ``ns``.

    Raises :class:`QdiscUnavailable` when the kernel does not know ``kind`` (the qdisc
    module is not built), :class:`NetnsError` for any other failure.
    """
    res = run(ns_exec(ns, ["tc", "qdisc", "add", "dev", dev, "root", kind, *params]), check=False)
    if res.returncode == 0:
        return
    err = res.stderr.strip()
    if "qdisc kind is unknown" in err or "Unknown qdisc" in err:
        raise QdiscUnavailable(f"qdisc {kind!r} unavailable in this kernel (sch_{kind} not built/loadable): {err}")
    raise NetnsError(f"tc qdisc add dev {dev} root {kind} {' '.join(params)} in {ns}: {err}")


def qdisc_kinds(ns: str, dev: str) -> list[str]:
    """The qdisc kinds ``tc qdisc show dev`` lists for ``dev`` in ``ns``."""
    out = run(ns_exec(ns, ["tc", "qdisc", "show", "dev", dev])).stdout
    return [line.split()[1] for line in out.splitlines() if line.startswith("qdisc ")]
