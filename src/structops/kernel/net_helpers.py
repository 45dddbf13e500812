"""Networking and task helpers of tc / xdp / tracepoint programs (issue 12 item 3).

Prototypes for the verifier and what the embedded kernel does when a program calls them.
The embedded kernel has no network devices, no socket table for tc/xdp programs and no
packet headroom, so: ``bpf_redirect`` returns the program type's redirect verdict
(``TC_ACT_REDIRECT`` / ``XDP_REDIRECT``; bad flags: ``TC_ACT_SHOT`` / ``XDP_ABORTED``)
without a device to send to; ``bpf_sk_lookup_tcp``/``_udp`` find no socket (NULL), so
``bpf_sk_release`` is never given one; ``bpf_xdp_adjust_head`` accepts only a zero delta
(-EINVAL otherwise: no room to move the start); ``bpf_get_current_task`` is NULL (programs
run in the kernel's own context, see ``bpf_get_current_pid_tgid``).
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import TYPE_CHECKING

from structops.kernel.testrun_xdp import XdpBuff, active_xdp, adjust_head, adjust_meta, adjust_tail
from structops.uapi import ProgType
from structops.verifier.ops import (
    ARG_ANY,
    ARG_CTX,
    ARG_RDONLY,
    ARG_SIZE,
    ARG_SOCK_RELEASE,
    RET_INT,
    RET_SOCK_OR_NULL,
)
from structops.vm.helpers import HelperSpec

if TYPE_CHECKING:
    from structops.vm.context import RunContext
    from structops.vm.memory import Domain

__all__ = ["NET_PROTOS", "net_helpers"]

_U64 = (1 << 64) - 1
_BPF_F_INGRESS = 1
_TC_ACT_SHOT, _TC_ACT_REDIRECT = 2, 7
_XDP_ABORTED, _XDP_REDIRECT = 0, 4

#: ``bpf_func_proto`` of each helper (argument kinds, return kind).
NET_PROTOS: dict[int, tuple[tuple[str, ...], str]] = {
    23: ((ARG_ANY, ARG_ANY), RET_INT),  # redirect(ifindex, flags)
    35: ((), RET_INT),  # get_current_task
    44: ((ARG_CTX, ARG_ANY), RET_INT),  # xdp_adjust_head(xdp_md, delta)
    54: ((ARG_CTX, ARG_ANY), RET_INT),  # xdp_adjust_meta(xdp_md, delta)
    65: ((ARG_CTX, ARG_ANY), RET_INT),  # xdp_adjust_tail(xdp_md, delta)
    84: ((ARG_CTX, ARG_RDONLY, ARG_SIZE, ARG_ANY, ARG_ANY), RET_SOCK_OR_NULL),  # sk_lookup_tcp
    85: ((ARG_CTX, ARG_RDONLY, ARG_SIZE, ARG_ANY, ARG_ANY), RET_SOCK_OR_NULL),  # sk_lookup_udp
    86: ((ARG_SOCK_RELEASE,), RET_INT),  # sk_release
}


def _redirect(run: object, ifindex: int, flags: int, *_: int) -> int:
    xdp = getattr(getattr(run, "program", None), "prog_type", None) == ProgType.BPF_PROG_TYPE_XDP
    if xdp:
        return _XDP_ABORTED if flags else _XDP_REDIRECT
    return _TC_ACT_SHOT if flags & ~_BPF_F_INGRESS & _U64 else _TC_ACT_REDIRECT


def _null(run: object, *_: int) -> int:
    return 0


def _xdp_adjuster(fn: Callable[[Domain, XdpBuff, int], int]) -> Callable[..., int]:
    """A ``bpf_xdp_adjust_*`` helper: ``fn`` on the XDP test run whose ``xdp_md`` is ``ctx``."""

    def helper(run: RunContext, ctx: int, offset: int, *_: int) -> int:
        xdp = active_xdp(ctx)
        if xdp is None:  # not a packet context the embedded kernel made: nothing to move
            return -errno.EINVAL & _U64
        return fn(run.space, xdp, offset) & _U64

    return helper


def net_helpers() -> list[HelperSpec]:
    """The VM implementations of :data:`NET_PROTOS`."""
    return [
        HelperSpec(23, "redirect", _redirect),
        HelperSpec(35, "get_current_task", _null),
        HelperSpec(44, "xdp_adjust_head", _xdp_adjuster(adjust_head)),
        HelperSpec(54, "xdp_adjust_meta", _xdp_adjuster(adjust_meta)),
        HelperSpec(65, "xdp_adjust_tail", _xdp_adjuster(adjust_tail)),
        HelperSpec(84, "sk_lookup_tcp", _null),
        HelperSpec(85, "sk_lookup_udp", _null),
        HelperSpec(86, "sk_release", _null),
    ]
