"""``bpf_dummy_ops``: the struct_ops type that exists only for test_run (DM1-DM7).

Maps can be created but never populated (``init_member`` and ``reg`` are -EOPNOTSUPP,
DM3); programs run through BPF_PROG_TEST_RUN (:func:`test_run`, DM6-DM7).  Writes are
allowed only into ``struct bpf_dummy_ops_state`` (DM4); no helpers (DM4); only
``test_sleepable`` may be sleepable (DM5).
"""

from __future__ import annotations

import errno
import struct
from typing import TYPE_CHECKING

from structops import btf as btflib
from structops.errors import VMFault, bpf_error
from structops.kernel.struct_ops import StructOpsOps
from structops.kernel.subsystem import Subsystem, plug_in
from structops.verifier.ops import VerifierOps

if TYPE_CHECKING:
    from structops.kernel.attrs import TestRunAttr
    from structops.kernel.emulated import EmulatedKernel, Process
    from structops.kernel.kmem import Allocation
    from structops.kernel.prog import BpfProg

__all__ = ["install", "test_run"]

NAME = "bpf_dummy_ops"
STATE = "bpf_dummy_ops_state"


def _check_member(t: btflib.Struct, m: btflib.Member, prog: BpfProg) -> int:
    """DM5: sleepable only for test_sleepable."""
    if prog.sleepable and m.name != "test_sleepable":
        return -errno.EINVAL
    return 0


def _btf_struct_access(type_name: str, off: int, size: int) -> int:
    """DM4: writes only inside the 4-byte state."""
    if type_name != STATE:
        return -errno.EACCES
    if off < 0 or off + size > 4:
        return -errno.EACCES
    return 0


def _write_denied(type_name: str, off: int, size: int) -> str:
    """``bpf_dummy_ops_btf_struct_access`` wording of a refused write (DM4)."""
    if type_name != STATE:
        return "only access to bpf_dummy_ops_state is supported"
    return f"write access at off {off} with size {size}"


def install(kernel: EmulatedKernel) -> None:
    """Register ``bpf_dummy_ops`` in vmlinux BTF (late_initcall)."""
    ops = StructOpsOps(
        name=NAME,
        cfi_stubs={
            "test_1": "bpf_dummy_ops__test_1",
            "test_2": "bpf_dummy_test_2",
            "test_sleepable": "bpf_dummy_test_sleepable",
        },
        init_member=lambda t, m, kdata, udata: -errno.EOPNOTSUPP,
        reg=lambda kdata, link: -errno.EOPNOTSUPP,
        unreg=lambda kdata, link: None,
        check_member=_check_member,
        verifier_ops=VerifierOps(get_func_proto=None, btf_struct_access=_btf_struct_access, write_denied=_write_denied),
    )
    plug_in(kernel, Subsystem(NAME, struct_ops=[ops]))


def _plan(prog: BpfProg) -> tuple[int, struct.Struct, tuple[int, ...]]:
    """(argument count, their ``u64`` layout, the non-nullable pointer arguments) of a
    ``bpf_dummy_ops`` program, worked out on its first test run."""
    plan = prog.extra.get("dummy_test_run")
    if plan is None:
        assert prog.st_ops is not None
        params = prog.st_ops.func_proto.params
        nullable = {a.offset for a in prog.st_ops.ctx_args if a.nullable}
        required = tuple(
            i
            for i, p in enumerate(params)
            if isinstance(btflib.underlying(p.type), btflib.Pointer) and 8 * i not in nullable
        )
        plan = prog.extra["dummy_test_run"] = (len(params), struct.Struct(f"<{len(params)}Q"), required)
    return plan  # type: ignore[return-value]


def _state(kernel: EmulatedKernel, data: bytes) -> Allocation:
    """A ``struct bpf_dummy_ops_state`` holding ``data``: an idle one of an earlier run
    (kept mapped; a run is given only its own arguments), else a new allocation."""
    idle: list[Allocation] = kernel.__dict__.setdefault("dummy_ops_states", [])
    while idle:
        state = idle.pop()
        if not state.freed:
            state.buf[:4] = data
            return state
    return kernel.kmem.alloc(4, "bpf_dummy_ops_state", data=data)


def test_run(proc: Process, prog: BpfProg, attr: TestRunAttr) -> int:
    """``bpf_struct_ops_test_run`` (DM7): args from ctx_in, state copied in and out."""
    kernel = proc.kernel
    desc = kernel.find_struct_ops(NAME)
    if desc is None:  # DM7.1
        raise bpf_error(errno.EINVAL, "bpf_dummy_ops is not registered")
    if prog.attach_btf_id != desc.type_id or prog.st_ops is None:  # DM7.2
        raise bpf_error(errno.EOPNOTSUPP, "test_run is only for bpf_dummy_ops programs")
    nargs, layout, required = _plan(prog)
    ctx_in = attr.ctx_in or b""
    size_in = attr.ctx_size_in if attr.ctx_size_in is not None else len(ctx_in)
    if size_in != 8 * nargs:  # DM7.3
        raise bpf_error(errno.EINVAL, f"ctx_size_in must be {8 * nargs}")
    if len(ctx_in) < size_in:  # DM7.4
        raise bpf_error(errno.EFAULT, "ctx_in shorter than ctx_size_in")
    args = list(layout.unpack_from(ctx_in))
    state = None
    user_ptr = args[0] if nargs else 0
    if user_ptr:  # DM7.5
        state = _state(kernel, proc.umem.copy_from(user_ptr, 4))
        args[0] = state.addr
    try:
        for i in required:  # DM7.6
            if not args[i]:
                raise bpf_error(errno.EINVAL, f"argument {i} is a non-nullable pointer and is NULL")
        # DM7.7: the spec says the ABI truncates to the declared types, but Linux 6.18 passes
        # the u64 slots through unchanged (measured: a program reading ctx[1..4] as u64 sees
        # the high bits), so the arguments reach the program as given.
        with kernel.rcu.read_lock():
            try:
                ret = kernel.run_prog(prog, args)
            except VMFault as fault:
                raise bpf_error(errno.EFAULT, f"program faulted: {fault}") from fault
        if state is not None:  # DM7.8
            proc.umem.copy_to(user_ptr, bytes(state.buf[:4]))
    finally:
        if state is not None:
            kernel.__dict__["dummy_ops_states"].append(state)
    attr.retval = ret & 0xFFFFFFFF  # DM7.9
    attr.duration = 0
    return 0
