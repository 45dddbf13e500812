"""The raw ``bpf(2)`` syscall through ctypes: the Linux backend's single choke point.

``syscall(SYS_bpf, cmd, &attr, size)`` with ``use_errno=True`` so the kernel's errno is
read reliably right after the call (kernel-6.18-observed §5: ``sizeof(union bpf_attr)``
is 168 on 6.18).  The syscall number depends on the architecture.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

__all__ = ["SYS_BPF_BY_MACHINE", "libc", "sys_bpf", "sys_bpf_number"]

#: ``__NR_bpf`` by ``platform.machine()``.
SYS_BPF_BY_MACHINE: dict[str, int] = {
    "x86_64": 321,
    "amd64": 321,
    "aarch64": 280,
    "arm64": 280,
    "riscv64": 280,
    "loongarch64": 280,
    "i386": 357,
    "i686": 357,
    "s390x": 351,
    "ppc64le": 361,
    "ppc64": 361,
}


def sys_bpf_number(machine: str | None = None) -> int:
    """Return ``__NR_bpf`` for ``machine`` (default: this machine); OSError(ENOSYS) if unknown."""
    import errno

    name = (machine or platform.machine()).lower()
    try:
        return SYS_BPF_BY_MACHINE[name]
    except KeyError:
        raise OSError(errno.ENOSYS, f"bpf() syscall number unknown for machine {name!r}") from None


_libc: ctypes.CDLL | None = None
_nr: int | None = None


def libc() -> ctypes.CDLL:
    """The C library loaded with ``use_errno=True`` (cached)."""
    global _libc
    if _libc is None:
        lib = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        lib.syscall.restype = ctypes.c_long
        _libc = lib
    return _libc


def sys_bpf(cmd: int, attr: ctypes.Array[ctypes.c_char], size: int) -> tuple[int, int]:
    """Call ``bpf(cmd, attr, size)``; return ``(result, errno)`` (errno 0 on success)."""
    global _nr
    lib = libc()
    if _nr is None:
        _nr = sys_bpf_number()
    ctypes.set_errno(0)
    ret = int(
        lib.syscall(
            ctypes.c_long(_nr),
            ctypes.c_long(int(cmd)),
            ctypes.cast(attr, ctypes.c_void_p),
            ctypes.c_uint(size),
        )
    )
    if ret < 0:
        return ret, ctypes.get_errno()
    return ret, 0
