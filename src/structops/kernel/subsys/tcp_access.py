"""The tcp_congestion_ops write windows (spec §14 T8, ``bpf_tcp_ca_btf_struct_access``).

A BPF congestion control may write only a few fields of ``struct tcp_sock``: the pacing
fields of ``struct sock``, ``icsk_ca_priv[]`` and ``icsk_ack.pending`` of
``struct inet_connection_sock``, and the cwnd / ssthresh / ecn / app_limited fields of
``struct tcp_sock``.  A write must start at the field (anywhere inside
``icsk_ca_priv``) and end within it.  Offsets are taken from the kernel's BTF by
walking the embedded structs, so they follow whatever layout the BTF describes.
"""

from __future__ import annotations

import errno
from collections.abc import Callable

from structops import btf as btflib

__all__ = ["TCP_WRITE_FIELDS", "tcp_sock_windows", "tcp_sock_write_check"]

#: (owning struct, field path inside it) of every writable field (T8).
TCP_WRITE_FIELDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("sock", ("sk_pacing_rate",)),
    ("sock", ("sk_pacing_status",)),
    ("inet_connection_sock", ("icsk_ca_priv",)),
    ("inet_connection_sock", ("icsk_ack", "pending")),
    ("tcp_sock", ("snd_cwnd",)),
    ("tcp_sock", ("snd_cwnd_cnt",)),
    ("tcp_sock", ("snd_cwnd_stamp",)),
    ("tcp_sock", ("snd_ssthresh",)),
    ("tcp_sock", ("ecn_flags",)),
    ("tcp_sock", ("app_limited",)),
)


def _embedded_offset(outer: btflib.Type, name: str, depth: int = 0) -> int | None:
    """Byte offset of the struct named ``name`` embedded (by value, at any depth) in ``outer``."""
    u = btflib.underlying(outer)
    if isinstance(u, btflib.Struct) and u.name == name:
        return 0
    if depth > 8 or not isinstance(u, btflib.Struct | btflib.Union):
        return None
    for m in u.members:
        if m.bitfield_size or m.bit_offset % 8:
            continue
        inner = _embedded_offset(m.type, name, depth + 1)
        if inner is not None:
            return m.bit_offset // 8 + inner
    return None


def _field(t: btflib.Type, path: tuple[str, ...]) -> tuple[int, int] | None:
    """(offset, size) of a member path inside ``t`` (anonymous members searched too)."""
    off = 0
    cur = btflib.underlying(t)
    for name in path:
        found = _find_member(cur, name)
        if found is None:
            return None
        m, moff = found
        off += moff
        cur = btflib.underlying(m.type)
    try:
        size = btflib.sizeof(cur)
    except Exception:
        return None
    return off, size


def _find_member(t: btflib.Type, name: str) -> tuple[btflib.Member, int] | None:
    if not isinstance(t, btflib.Struct | btflib.Union):
        return None
    for m in t.members:
        if m.bit_offset % 8:
            continue
        if m.name == name:
            return m, m.bit_offset // 8
        if not m.name:
            inner = _find_member(btflib.underlying(m.type), name)
            if inner is not None:
                return inner[0], m.bit_offset // 8 + inner[1]
    return None


def tcp_sock_windows(spec: btflib.Spec) -> list[tuple[str, int, int]]:
    """(field name, start, end) of every T8 window inside ``struct tcp_sock``."""
    tcp = spec.find("tcp_sock", btflib.Struct)
    out = []
    for owner, path in TCP_WRITE_FIELDS:
        base = _embedded_offset(tcp, owner)
        if base is None:
            continue
        owner_t = spec.find(owner, btflib.Struct)
        f = _field(owner_t, path)
        if f is None:
            continue
        out.append((".".join(path), base + f[0], base + f[0] + f[1]))
    return out


def tcp_sock_write_check(spec: btflib.Spec) -> Callable[[str, int, int], int]:
    """A ``btf_struct_access(type_name, off, size) -> 0 | -errno`` implementing T8 for ``spec``."""
    windows = tcp_sock_windows(spec)

    def check(type_name: str, off: int, size: int) -> int:
        if type_name != "tcp_sock":
            return -errno.EACCES
        for name, start, end in windows:
            inside_any = name == "icsk_ca_priv" and start <= off < end
            if off == start or inside_any:
                return 0 if off + size <= end else -errno.EACCES
        return -errno.EACCES

    return check
