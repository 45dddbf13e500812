"""The Linux backend: the real ``bpf(2)`` syscall behind the ``Kernel`` protocol.

* :class:`LinuxKernel` - ``bpf(cmd, attr)``, ``close``, ``vmlinux_btf``, ``module_btfs``,
  ``alloc_user`` on the running kernel (ctypes, no libbpf);
* :class:`Fd` - an owned fd closed exactly once (:mod:`structops.abi.fd`, shared with the API);
* :func:`read_fdinfo` - ``/proc/self/fdinfo/<fd>`` as a dict;
* :mod:`structops.linux.features` - probes with human reasons for what is missing.
"""

from __future__ import annotations

from structops.abi.fd import Fd
from structops.linux.fdinfo import parse_fdinfo, read_fdinfo
from structops.linux.kernel import CtypesUserBuffer, LinuxKernel, command_name

__all__ = ["CtypesUserBuffer", "Fd", "LinuxKernel", "command_name", "parse_fdinfo", "read_fdinfo"]
