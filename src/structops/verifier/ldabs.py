"""Legacy packet loads: ``BPF_LD | BPF_ABS`` / ``BPF_LD | BPF_IND`` (``check_ld_abs`` of Linux 6.18).

``r0 = ntoh(*(u8/u16/u32 *)(skb->data + imm))`` (``+ src`` for IND): an implicit call
into the kernel with the skb in R6.  What Linux 6.18 checks, in its order (measured here):

* the program type reads an skb (socket filters and tc): else EINVAL "not allowed for this
  program type";
* dst must be R0, off 0, and an ABS load has no source register: EINVAL "uses reserved
  fields" (there is no 8-byte form: the opcode itself is unknown);
* R6 readable (EACCES "R6 !read_ok"); no bpf_spin_lock held, no reference held in the main
  frame ("Unreleased reference ..." then "would lead to reference leak"), no RCU read
  section (EINVAL): the load may end the program;
* R6 is the context (EINVAL "R6 != pointer to skb"), the IND source readable, R6 unmodified
  (EACCES "dereference of modified ctx ptr");
* R1-R5 become unreadable, R0 an unknown scalar (not bounded by the load size).

An out-of-bounds load ends the program with R0 = 0; in a subprogram that is a return to
the caller, which the verifier explores as a second path.  Before the walk, a subprogram
with such a load needs BTF (``check_abnormal_return``): "LD_ABS is not allowed in
subprogs without BTF"; with func_info its function must return ``int``.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from structops.uapi import ProgType
from structops.verifier.env import Reject
from structops.verifier.state import NOT_INIT, RegType, unknown

if TYPE_CHECKING:
    from structops.verifier.core import Verifier
    from structops.verifier.state import State

__all__ = ["LD_PKT_CODES", "check_ld_abs", "subprogs_with_ld_abs"]

#: ``BPF_LD | BPF_ABS|BPF_IND | BPF_W/H/B``.
LD_PKT_CODES = frozenset({0x20, 0x28, 0x30, 0x40, 0x48, 0x50})
#: ``may_access_skb``.
_SKB_TYPES = frozenset(
    {ProgType.BPF_PROG_TYPE_SOCKET_FILTER, ProgType.BPF_PROG_TYPE_SCHED_CLS, ProgType.BPF_PROG_TYPE_SCHED_ACT}
)
_WHAT = "BPF_LD_[ABS|IND]"


def check_ld_abs(v: Verifier, st: State, code: int, dst: int, src: int, off: int) -> None:
    """Check one legacy packet load and apply it to ``st`` (module docstring)."""
    ops = v.env.prog_ops
    if ops is None or ops.prog_type not in _SKB_TYPES:
        raise Reject(errno.EINVAL, f"{_WHAT} instructions not allowed for this program type")
    ind = code & 0xE0 == 0x40
    if dst or off or (not ind and src):
        raise Reject(errno.EINVAL, f"{_WHAT} uses reserved fields")
    regs = st.cur.regs
    if regs[6].type == RegType.NOT_INIT:
        raise Reject(errno.EACCES, "R6 !read_ok")
    if st.lock is not None:  # check_resource_leak
        raise Reject(errno.EINVAL, f"{_WHAT} cannot be used inside bpf_spin_lock-ed region")
    if st.refs and len(st.frames) == 1:
        lines = [f"Unreleased reference id={ref} alloc_insn={at}" for ref, at in sorted(st.refs.items())]
        raise Reject(errno.EINVAL, "\n".join([*lines, f"{_WHAT} would lead to reference leak"]))
    if st.rcu:
        raise Reject(errno.EINVAL, f"{_WHAT} cannot be used inside bpf_rcu_read_lock-ed region")
    ctx = regs[6]
    if ctx.type != RegType.PTR_TO_CTX:
        raise Reject(errno.EINVAL, "at the time of BPF_LD_ABS|IND R6 != pointer to skb")
    if ind and regs[src].type == RegType.NOT_INIT:
        raise Reject(errno.EACCES, f"R{src} !read_ok")
    if ctx.off < 0:  # check_ptr_off_reg
        raise Reject(errno.EACCES, f"negative offset ctx ptr R6 off={ctx.off} disallowed")
    if ctx.off:
        raise Reject(errno.EACCES, f"dereference of modified ctx ptr R6 off={ctx.off} disallowed")
    if ctx.var_off:
        raise Reject(errno.EACCES, f"variable ctx access var_off={ctx.describe()} disallowed")
    for r in range(1, 6):
        regs[r] = NOT_INIT
    regs[0] = unknown()


def subprogs_with_ld_abs(insns: bytes, starts: list[int]) -> list[int]:
    """Indexes (into ``starts``) of the subprograms holding a legacy packet load."""
    out: list[int] = []
    bounds = [*starts[1:], len(insns) // 8]
    for n, (lo, hi) in enumerate(zip(starts, bounds, strict=True)):
        if any(insns[pc * 8] in LD_PKT_CODES for pc in range(lo, hi)):
            out.append(n)
    return out
