"""The 16-byte immediate load ``BPF_LD | BPF_IMM | BPF_DW`` (``check_ld_imm`` of Linux 6.18).

By its source register: 0 is a 64-bit constant (imm of both slots); ``BPF_PSEUDO_MAP_FD``
a map pointer and ``BPF_PSEUDO_MAP_VALUE`` a pointer into the map's value at the second
slot's imm (an fd that is not a map: EBADF or the lookup's errno, EINVAL when the load has
no maps; an offset outside the value: EINVAL); ``BPF_PSEUDO_FUNC`` a callback's address
(``pc + 1 + imm``); ``BPF_PSEUDO_BTF_ID`` a kernel object.  Any other source is EINVAL.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from structops.uapi import BPF_PSEUDO_BTF_ID, BPF_PSEUDO_FUNC, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE
from structops.verifier.env import Reject
from structops.verifier.state import Reg, RegType, State, const

if TYPE_CHECKING:
    from structops.verifier.core import Verifier

__all__ = ["check_ld_imm64"]

_M32 = 0xFFFFFFFF


def check_ld_imm64(v: Verifier, st: State, pc: int, d: int, s: int, i: int) -> None:
    """Set dst from the ``ld_imm64`` at ``pc`` (its second slot at ``pc + 1``)."""
    v._dst_ok(d)
    hi = v.code[pc + 1][4]
    regs = st.cur.regs
    if s == 0:
        regs[d] = const(((hi & _M32) << 32) | (i & _M32))
    elif s in (BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE):
        if v.env.get_map is None:
            raise Reject(errno.EINVAL, f"fd {i} is not pointing to valid bpf_map")
        try:
            m = v.env.get_map(i)
        except OSError as exc:
            raise Reject(exc.errno or errno.EBADF, f"fd {i} is not pointing to valid bpf_map") from None
        if s == BPF_PSEUDO_MAP_FD:
            regs[d] = Reg(RegType.CONST_PTR_TO_MAP, 0, 0, obj=m)
        else:
            vsize = int(getattr(m, "value_size", 0))
            if not 0 <= hi < max(vsize, 1):
                raise Reject(errno.EINVAL, f"invalid access to map value pointer, value_size={vsize} off={hi}")
            regs[d] = Reg(RegType.PTR_TO_MAP_VALUE, 0, 0, off=hi, obj=m)
    elif s == BPF_PSEUDO_FUNC:
        regs[d] = Reg(RegType.PTR_TO_FUNC, 0, 0, obj=pc + 1 + i)
    elif s == BPF_PSEUDO_BTF_ID:
        regs[d] = Reg(RegType.PTR_TO_MEM, 0, 0)
    else:
        raise Reject(errno.EINVAL, f"unrecognized bpf_ld_imm64 insn src {s}")
