"""Kernel symbol addresses for ``ld_imm64`` with ``BPF_PSEUDO_BTF_ID`` (``check_pseudo_btf_id``).

libbpf's ``bpf_ksym_exists(kfunc)`` loads the address of a kfunc this way; Linux accepts
a FUNC id and the program sees the function's (non-zero) address.  The embedded kernel
has no function addresses, so each kfunc gets a stable made-up kernel text address.
Typed ``__ksym`` variables (per-CPU data) are not modelled: -EINVAL.
"""

from __future__ import annotations

import errno
from typing import Any

from structops import btf as btflib
from structops.errors import bpf_error

__all__ = ["KSYM_TEXT_BASE", "ksym_address"]

#: Base of the made-up kernel text addresses (x86-64 kernel text starts here).
KSYM_TEXT_BASE = 0xFFFF_FFFF_8100_0000


def ksym_address(kernel: Any, btf_id: int, btf_fd: int) -> int:
    """The address a program sees for BTF id ``btf_id`` of vmlinux (``btf_fd`` 0)."""
    if btf_fd:
        raise bpf_error(errno.EINVAL, "ld_imm64 of a module BTF symbol is not supported by the embedded kernel")
    try:
        t = kernel.vmlinux.spec.type_by_id(btf_id)
    except (KeyError, IndexError, ValueError):
        raise bpf_error(errno.ENOENT, f"ld_imm64 names BTF id {btf_id}, which vmlinux does not have") from None
    if not isinstance(t, btflib.Func):
        raise bpf_error(errno.EINVAL, f"ld_imm64 of ksym {getattr(t, 'name', btf_id)!r}: only kfuncs are supported")
    return KSYM_TEXT_BASE + 16 * btf_id
