"""The load-time verifier of the embedded kernel: an abstract interpreter like Linux's.

Spec §15 V12-V18, §13 DM4, §14 T8/T9.  :func:`verify` walks every path of a program
tracking register and stack types (scalars with ranges, ctx, stack, map, BTF
pointers with NULL-ness and references), prunes with state subsumption and stops at
the kernel's 1M processed-insn budget (E2BIG).  Rejections are
:class:`~structops.errors.VerifierError` with the kernel's errno and log wording.

::

    from structops.verifier import ProgEnv, ListLog, verify
    stats = verify(insns, ProgEnv(...), ListLog())     # the kernel fills ProgEnv (verifier.ops)

It knows program types only through the interface of :mod:`structops.verifier.ops`
and imports nothing from :mod:`structops.kernel`.
"""

from __future__ import annotations

from structops.verifier.core import Verifier, VerifyStats
from structops.verifier.env import BPF_COMPLEXITY_LIMIT_INSNS, MAX_CALL_FRAMES, ListLog, ProgEnv
from structops.verifier.load import verify
from structops.verifier.ops import KF, CtxField, HelperProto, KfuncProto, ProgTypeOps, VerifierOps

__all__ = [
    "BPF_COMPLEXITY_LIMIT_INSNS",
    "KF",
    "MAX_CALL_FRAMES",
    "CtxField",
    "HelperProto",
    "KfuncProto",
    "ListLog",
    "ProgEnv",
    "ProgTypeOps",
    "Verifier",
    "VerifierOps",
    "VerifyStats",
    "verify",
]
