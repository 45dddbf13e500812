"""Checksum helpers of tc programs: ``bpf_csum_diff``, ``bpf_l3_csum_replace``,
``bpf_l4_csum_replace`` (Linux 6.18 on x86-64, measured here).

Internet checksums are ones' complement sums; the kernel keeps 32-bit partial sums
(``__wsum``, end-around carry) and folds them to 16 bits (``__sum16``).  In 6.18
``bpf_csum_diff`` returns its sum already folded to 16 bits (measured: every result fits
in 16 bits, e.g. 0xffff for a seed of 0xffffffff and no data) and takes any sizes.

``bpf_l3_csum_replace(skb, off, from, to, flags)`` rewrites the 16-bit checksum at ``off``
for a field changing from ``from`` to ``to`` (``flags & 0xf``: the field size 2 or 4, or 0
with ``to`` a ``bpf_csum_diff`` result); ``bpf_l4_csum_replace`` does the same for a
TCP/UDP checksum and also understands ``BPF_F_PSEUDO_HDR`` (a pseudo-header field: under
CHECKSUM_COMPLETE ``skb->csum`` moves too), ``BPF_F_MARK_MANGLED_0`` (a zero checksum,
UDP's "none", stays zero and a result of zero becomes 0xffff) and ``BPF_F_MARK_ENFORCE``.
An odd offset or one above 0xffff is -EFAULT, as is a field past the packet; unknown flags
or a non-zero ``from`` with size 0 are -EINVAL.  The test-run skb is never
CHECKSUM_PARTIAL.
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

from structops.kernel.testrun_skb import active_skb
from structops.vm.helpers import HelperSpec

if TYPE_CHECKING:
    from structops.kernel.packet import PacketBuffer
    from structops.vm.context import RunContext

__all__ = ["csum_helpers"]

_U64 = (1 << 64) - 1
_M32 = 0xFFFFFFFF
_BPF_F_HDR_FIELD_MASK = 0xF
_BPF_F_PSEUDO_HDR = 1 << 4
_BPF_F_MARK_MANGLED_0 = 1 << 5
_BPF_F_MARK_ENFORCE = 1 << 6
_BPF_F_IPV6 = 1 << 7
_L4_FLAGS = _BPF_F_HDR_FIELD_MASK | _BPF_F_PSEUDO_HDR | _BPF_F_MARK_MANGLED_0 | _BPF_F_MARK_ENFORCE | _BPF_F_IPV6
_CSUM_MANGLED_0 = 0xFFFF


def _add32(a: int, b: int) -> int:
    """``csum_add``: 32-bit ones' complement addition (end-around carry)."""
    s = (a & _M32) + (b & _M32)
    return (s & _M32) + (s >> 32)


def _sub32(a: int, b: int) -> int:
    return _add32(a, ~b & _M32)


def _partial(data: bytes, seed: int) -> int:
    """``csum_partial``: the 32-bit sum of ``data`` (little-endian words, zero-padded) and ``seed``."""
    if len(data) % 4:
        data += bytes(4 - len(data) % 4)
    s = seed & _M32
    for (word,) in struct.iter_unpack("<I", data):
        s = _add32(s, word)
    return s & _M32


def _fold16(x: int) -> int:
    x &= _M32
    x = (x & 0xFFFF) + (x >> 16)
    return (x & 0xFFFF) + (x >> 16)


def _csum_fold(x: int) -> int:
    """``csum_fold``: the complemented 16-bit fold."""
    return ~_fold16(x) & 0xFFFF


def csum_diff(old: bytes, new: bytes, seed: int) -> int:
    """``bpf_csum_diff`` of Linux 6.18 (folded to 16 bits)."""
    if not new:
        r = ~_partial(old, ~seed) & _M32
    elif not old:
        r = _partial(new, seed)
    else:
        r = _sub32(_partial(new, seed), _partial(old, 0))
    return _fold16(r)


def _csum_diff_helper(run: RunContext, frm: int, from_size: int, to: int, to_size: int, seed: int) -> int:
    from_size &= _M32
    to_size &= _M32
    old = run.space.read(frm, from_size) if from_size else b""
    new = run.space.read(to, to_size) if to_size else b""
    return csum_diff(old, new, seed)


def _field(
    run: RunContext, ctx: int, off: int, flags: int, allowed: int
) -> tuple[PacketBuffer, bytearray, int, int] | int:
    """The packet, its bytes, the offset in them and the value of the 16-bit checksum at
    ``off``; or the helper's result for an error: -EINVAL for ``flags`` outside
    ``allowed``, -EFAULT for a field that is not in the packet."""
    if flags & ~allowed:
        return -errno.EINVAL & _U64
    buf = active_skb(run.vm.space, ctx)
    off &= _M32
    if buf is None or off > 0xFFFF or off & 1 or off + 2 > buf.end - buf.data or buf.region is None:
        return -errno.EFAULT & _U64
    mem = buf.region.buf
    pos = buf.data - buf.meta + off
    return buf, mem, pos, struct.unpack_from("<H", mem, pos)[0]


def _replace4(old_sum: int, frm: int, to: int) -> int:
    """``inet_proto_csum_replace4`` / ``csum_replace4`` on a checksum as stored."""
    diff = struct.pack("<II", ~frm & _M32, to & _M32)
    return _csum_fold(_partial(diff, ~old_sum & _M32))


def _l3_csum_replace(run: RunContext, ctx: int, off: int, frm: int, to: int, flags: int) -> int:
    where = _field(run, ctx, off, flags, _BPF_F_HDR_FIELD_MASK)
    if isinstance(where, int):
        return where
    _, mem, pos, old = where
    size = flags & _BPF_F_HDR_FIELD_MASK
    if size == 0:
        if frm:
            return -errno.EINVAL & _U64
        new = _csum_fold(_add32(to, ~old & 0xFFFF))  # csum_replace_by_diff
    elif size == 2:
        new = ~_csum16_add(_csum16_add(~old & 0xFFFF, ~frm & 0xFFFF), to & 0xFFFF) & 0xFFFF
    elif size == 4:
        new = _replace4(old, frm, to)
    else:
        return -errno.EINVAL & _U64
    struct.pack_into("<H", mem, pos, new)
    return 0


def _csum16_add(a: int, b: int) -> int:
    s = (a & 0xFFFF) + (b & 0xFFFF)
    return (s & 0xFFFF) + (s >> 16)


def _l4_csum_replace(run: RunContext, ctx: int, off: int, frm: int, to: int, flags: int) -> int:
    where = _field(run, ctx, off, flags, _L4_FLAGS)
    if isinstance(where, int):
        return where
    buf, mem, pos, old = where
    pseudo, mmzero, mforce = flags & _BPF_F_PSEUDO_HDR, flags & _BPF_F_MARK_MANGLED_0, flags & _BPF_F_MARK_ENFORCE
    if mmzero and not mforce and not old:
        return 0
    size = flags & _BPF_F_HDR_FIELD_MASK
    if size == 0:
        if frm:
            return -errno.EINVAL & _U64
        new = _csum_fold(_add32(to, ~old & 0xFFFF))
        if buf.csum is not None and pseudo and not flags & _BPF_F_IPV6:
            buf.csum = _unfolded_update(buf.csum, lambda c: ~_sub32(to, c) & _M32)
    elif size in (2, 4):
        mask = 0xFFFF if size == 2 else _M32
        new = _replace4(old, frm & mask, to & mask)
        if buf.csum is not None and pseudo:
            diff = struct.pack("<II", ~(frm & mask) & _M32, to & mask)
            buf.csum = _unfolded_update(buf.csum, lambda c: ~_partial(diff, ~c & _M32) & _M32)
    else:
        return -errno.EINVAL & _U64
    if mmzero and not new:
        new = _CSUM_MANGLED_0
    struct.pack_into("<H", mem, pos, new)
    return 0


def _unfolded_update(csum16: int, step: Callable[[int], int]) -> int:
    """Apply a ``skb->csum`` update (a 32-bit step) to the tracked sum (kept mod 0xffff)."""
    return step(csum16) % 0xFFFF


def csum_helpers() -> list[HelperSpec]:
    """The VM implementations of the checksum helpers."""
    return [
        HelperSpec(28, "csum_diff", _csum_diff_helper),
        HelperSpec(10, "l3_csum_replace", _l3_csum_replace),
        HelperSpec(11, "l4_csum_replace", _l4_csum_replace),
    ]
