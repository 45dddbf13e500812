"""The load-time verifier of the embedded kernel: an abstract interpreter like Linux's.

Spec §15 V12-V18, §13 DM4, §14 T8/T9.  :func:`verify` walks every path of a program
tracking register and stack types (scalars with ranges, ctx, stack, map, BTF
pointers with NULL-ness and references), prunes with state subsumption and stops at
the kernel's 1M processed-insn budget (E2BIG).  Rejections are
:class:`~structops.errors.VerifierError` with the kernel's errno and log wording.

::

    from structops.verifier import verify_struct_ops_prog
    stats = verify_struct_ops_prog(proc, prog, log)   # after check_struct_ops_btf_id
"""

from __future__ import annotations

from structops.verifier.core import Verifier, VerifyStats
from structops.verifier.env import BPF_COMPLEXITY_LIMIT_INSNS, MAX_CALL_FRAMES, ListLog, ProgEnv
from structops.verifier.load import env_for_struct_ops, verify, verify_struct_ops_prog
from structops.verifier.tcp_access import tcp_sock_windows, tcp_sock_write_check

__all__ = [
    "BPF_COMPLEXITY_LIMIT_INSNS",
    "MAX_CALL_FRAMES",
    "ListLog",
    "ProgEnv",
    "Verifier",
    "VerifyStats",
    "env_for_struct_ops",
    "tcp_sock_windows",
    "tcp_sock_write_check",
    "verify",
    "verify_struct_ops_prog",
]
