"""Trust of ``PTR_TO_BTF_ID`` pointers: what a walk yields, what a kfunc argument needs.

A BTF pointer is *trusted* (``PTR_TRUSTED``: a program argument, a helper's or kfunc's
return, ``bpf_get_current_task_btf``), *referenced* (``ref_obj_id``: acquired), *RCU*
(``MEM_RCU``: valid inside the RCU read section), or plain (a legacy pointer usable for
reads and helpers only).  Linux 6.18 (measured here on tcp_congestion_ops programs, which
are not sleepable and so always inside an RCU read section for the verifier):

* reading a pointer field of a trusted, referenced or RCU pointer yields a trusted pointer
  when the field is on the kernel's "safe trusted" list, an RCU pointer when it is on the
  "safe RCU" list (``task_struct`` ``real_parent``, ``group_leader``, ``cpus_ptr``), and an
  untrusted one otherwise (``task_struct->parent``: ``untrusted_ptr_``, which a helper
  taking a BTF pointer refuses); a walk from an untrusted pointer is untrusted.
  The lists are by struct and field name (this kernel's BTF carries no ``__rcu`` tags);
* a ``KF_RCU`` kfunc takes a trusted, referenced or RCU pointer (else EINVAL "R1 must be a
  rcu pointer"); any other kfunc a trusted or referenced one (else EINVAL "R1 must be
  referenced or trusted"), with or without ``KF_TRUSTED_ARGS``: 6.18 refuses a plain
  ``sk->sk_socket->sk`` for ``tcp_reno_ssthresh``, registered without flags.  The check
  comes before the argument's struct type is compared.
"""

from __future__ import annotations

import errno
from dataclasses import replace

from structops.verifier.env import Reject
from structops.verifier.ops import KF
from structops.verifier.state import Reg

__all__ = ["check_kfunc_trust", "is_trusted", "walked"]

#: (struct, pointer field) whose walk from a trusted/RCU pointer is trusted (PTR_TRUSTED).
SAFE_TRUSTED = frozenset({("linux_binprm", "file"), ("file", "f_inode")})
#: ... and whose walk is an RCU pointer (MEM_RCU) inside an RCU read section.
SAFE_RCU = frozenset(
    {
        ("task_struct", "cpus_ptr"),
        ("task_struct", "cgroups"),
        ("task_struct", "real_parent"),
        ("task_struct", "group_leader"),
        ("css_set", "dfl_cgrp"),
    }
)


def is_trusted(reg: Reg) -> bool:
    """``is_trusted_reg``: trusted or holding a reference."""
    return reg.trusted or bool(reg.ref_obj_id)


def walked(src: Reg, struct_name: str, field: str, ptr: Reg) -> Reg:
    """The pointer ``ptr`` read from field ``field`` of ``struct_name`` through ``src``."""
    if is_trusted(src) or src.rcu:
        if (struct_name, field) in SAFE_TRUSTED:
            return replace(ptr, trusted=True)
        if (struct_name, field) in SAFE_RCU:
            return replace(ptr, rcu=True)
    return replace(ptr, untrusted=True)


def check_kfunc_trust(reg: Reg, regno: int, flags: KF) -> None:
    """``check_kfunc_args`` for a ``PTR_TO_BTF_ID`` argument of a kfunc with ``flags``."""
    if is_trusted(reg):
        return
    if flags & KF.RCU and not flags & KF.RELEASE:
        if not reg.rcu:
            raise Reject(errno.EINVAL, f"R{regno} must be a rcu pointer")
        return
    raise Reject(errno.EINVAL, f"R{regno} must be referenced or trusted")
