"""Socket pointers from ``bpf_sk_lookup_*`` (``PTR_TO_SOCKET``, ``struct bpf_sock``).

A lookup returns ``sock_or_null`` (``bpf_skc_lookup_tcp``: ``sock_common_or_null``, whose
``type``..``priority`` fields are not readable: ``bpf_sock_common_is_valid_access``) and
acquires a reference; the NULL check gives a
``sock`` the program may read (``bpf_sock_is_valid_access``: 4-byte fields, narrow
loads of the address/port/state fields, nothing written) and must release with
``bpf_sk_release`` before it exits.  Releasing takes a non-NULL socket
(``ARG_PTR_TO_BTF_ID_SOCK_COMMON``); every copy of a released reference becomes an
unknown scalar.
"""

from __future__ import annotations

import errno

from structops.verifier.env import Reject
from structops.verifier.state import Reg, RegType, unknown

__all__ = ["SOCK_COMMON", "SOCK_COMMON_EXPECTED", "check_sock_release_arg", "sock_access"]

#: ``Reg.obj`` of a ``PTR_TO_SOCKET`` that is the kernel's PTR_TO_SOCK_COMMON.
SOCK_COMMON = "sock_common"

#: The register types ``ARG_PTR_TO_BTF_ID_SOCK_COMMON`` accepts, as Linux 6.18 lists them.
SOCK_COMMON_EXPECTED = "sock_common, sock, tcp_sock, xdp_sock, ptr_, trusted_ptr_"
#: Fields read with a narrow (1/2-byte) load as well as whole.
_NARROW = {"state", "family", "type", "protocol", "src_port", "rx_queue_mapping", "src_ip4", "src_ip6"}
_NARROW |= {"dst_ip4", "dst_ip6", "dst_port"}


def sock_access(regno: int, reg: Reg, off: int, size: int, write: bool) -> Reg | None:
    """``check_sock_access`` of ``[R<regno> + off]`` on a non-NULL socket; the loaded value."""
    tstr = reg.type_str()
    if write:
        raise Reject(errno.EACCES, f"R{regno} cannot write into {tstr}")
    if reg.off or reg.var_off:
        raise Reject(errno.EACCES, f"dereference of modified {tstr} ptr R{regno} off={reg.off} disallowed")
    if not _valid(off, size) or (reg.obj == SOCK_COMMON and _NOT_COMMON[0] <= off < _NOT_COMMON[1]):
        raise Reject(errno.EACCES, f"R{regno} invalid {tstr} access off={off} size={size}")
    return unknown(0, (1 << (8 * size)) - 1) if size < 8 else unknown()


#: ``struct bpf_sock`` (uapi ``linux/bpf.h``): field start offsets in order; 80 bytes.
_FIELDS = (
    (0, "bound_dev_if"),
    (4, "family"),
    (8, "type"),
    (12, "protocol"),
    (16, "mark"),
    (20, "priority"),
    (24, "src_ip4"),
    (28, "src_ip6"),
    (44, "src_port"),
    (48, "dst_port"),
    (52, "dst_ip4"),
    (56, "dst_ip6"),
    (72, "state"),
    (76, "rx_queue_mapping"),
)
_SIZE = 80
#: ``type`` through ``priority``: not part of ``sock_common``.
_NOT_COMMON = (8, 24)


def _valid(off: int, size: int) -> bool:
    """``bpf_sock_is_valid_access`` for a read."""
    if off < 0 or off >= _SIZE or size not in (1, 2, 4, 8) or off % size:
        return False
    owner = next(name for start, name in reversed(_FIELDS) if start <= off)
    if owner in _NARROW:
        return size <= 4
    return size == 4


def check_sock_release_arg(st_regs: list[Reg], regno: int) -> int:
    """``bpf_sk_release``'s argument: a non-NULL referenced socket; returns its reference id."""
    reg = st_regs[regno]
    if reg.type != RegType.PTR_TO_SOCKET or reg.maybe_null:
        raise Reject(errno.EACCES, f"R{regno} type={reg.type_str()} expected={SOCK_COMMON_EXPECTED}")
    if reg.off or reg.var_off:
        raise Reject(errno.EACCES, f"R{regno} must have zero offset when passed to release func")
    if not reg.ref_obj_id:  # e.g. __sk_buff.sk: a sock_common the program does not own
        raise Reject(errno.EINVAL, f"R{regno} must be referenced when passed to release function")
    return reg.ref_obj_id
