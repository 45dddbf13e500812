"""The embedded kernel's program executor: PROG_LOAD translation and running, on the VM.

One :class:`~structops.vm.VM` per kernel shares the kernel's address space
(:class:`~structops.kernel.kmem.KernelMemory`), so map values, sockets and struct_ops
state that programs reach are the bytes the Python side sees.  At load, ld_imm64
pseudo sources are resolved against the loading process's fds (map object addresses,
map value addresses); kfuncs registered with the kernel are bound by BTF id.  Running
a struct_ops / tracing program passes the u64 argument array as a read-only ctx.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import TYPE_CHECKING

from structops.errors import VMFault, bpf_error
from structops.kernel.callbacks import callback_helpers
from structops.kernel.ksym import ksym_address
from structops.uapi import (
    BPF_PSEUDO_MAP_FD,
    BPF_PSEUDO_MAP_VALUE,
)
from structops.vm import VM, HelperRegistry, HelperSpec, KfuncRegistry, KfuncSpec, Program, RunContext, base_helpers
from structops.vm.testrun import run_with_ctx

if TYPE_CHECKING:
    from structops.kernel.attrs import TestRunAttr
    from structops.kernel.kmem import Allocation
    from structops.kernel.maps.base import BpfMap
    from structops.kernel.prog import BpfProg
    from structops.kernel.services import ExecutorServices, ProcessServices

__all__ = ["VmExecutor"]


class VmExecutor:
    """Translates loaded programs with the VM and runs them."""

    def __init__(self, kernel: ExecutorServices) -> None:
        self.kernel = kernel
        self.vm = VM(kernel.kmem.space, helpers=HelperRegistry(base_helpers()), kfuncs=KfuncRegistry())
        self.vm.trace_log = kernel.trace_log
        self._map_addr: dict[int, int] = {}
        self._map_obj: dict[int, Allocation] = {}
        self._add_base_helpers()

    def _add_base_helpers(self) -> None:
        """Base helpers the VM's default set lacks: ``bpf_jiffies64`` (118) at CONFIG_HZ."""

        def jiffies64(run: object, *args: int) -> int:
            return self.vm.clock_ns() * self.kernel.config_hz // 1_000_000_000

        def probe_read_kernel(run: RunContext, dst: int, size: int, src: int, *_: int) -> int:
            """113: copy ``size`` bytes; on a bad source zero ``dst`` and return -EFAULT."""
            space = run.space  # only the memory the program was given (issue 12 item 4)
            size &= 0xFFFFFFFF
            try:
                data = space.read(src, size)
            except VMFault:
                space.write(dst, bytes(size))
                return -errno.EFAULT & 0xFFFF_FFFF_FFFF_FFFF
            space.write(dst, data)
            return 0

        def probe_read_kernel_str(run: RunContext, dst: int, size: int, src: int, *_: int) -> int:
            """115: copy a NUL-terminated string (at most ``size`` bytes incl. the NUL)."""
            space = run.space
            size &= 0xFFFFFFFF
            if size == 0:
                return 0
            out = bytearray()
            try:
                while len(out) < size - 1:
                    b = space.read_u8(src + len(out))
                    if b == 0:
                        break
                    out.append(b)
            except VMFault:
                space.write(dst, bytes(size))
                return -errno.EFAULT & 0xFFFF_FFFF_FFFF_FFFF
            space.write(dst, bytes(out) + b"\0")
            return len(out) + 1

        for hid, name, fn in (
            (118, "bpf_jiffies64", jiffies64),
            (113, "bpf_probe_read_kernel", probe_read_kernel),
            (115, "bpf_probe_read_kernel_str", probe_read_kernel_str),
        ):
            if hid not in self.vm.helpers:
                self.vm.helpers.register(HelperSpec(hid, name, fn))
        for spec in callback_helpers():  # bpf_loop, bpf_for_each_map_elem
            if spec.id not in self.vm.helpers:
                self.vm.helpers.register(spec)

    # -- maps ---------------------------------------------------------------------------
    def map_object_addr(self, m: BpfMap) -> int:
        """The kernel address standing for ``struct bpf_map *`` of ``m`` (ld_imm64 map fd)."""
        addr = self._map_addr.get(id(m))
        if addr is None:
            obj = self.kernel.kmem.alloc(64, f"bpf_map:{m.name}", writable=False)
            addr = obj.addr
            self._map_addr[id(m)] = addr
            self.vm.register_map(addr, _Backend(m))
            self._map_obj[id(m)] = obj
        return addr

    def forget_map(self, m: BpfMap) -> None:
        """Called when a map is freed: helpers given its address fault afterwards."""
        addr = self._map_addr.pop(id(m), None)
        if addr is not None:
            self.vm.unregister_map(addr)
            obj = self._map_obj.pop(id(m), None)
            if obj is not None:
                self.kernel.kmem.free(obj)

    # -- kfuncs -------------------------------------------------------------------------
    def register_kfunc(self, name: str, fn: Callable[..., int], btf_id: int, prog_types: frozenset[int]) -> None:
        """Make kfunc ``name`` callable by BTF id (vmlinux, fd_array index 0)."""

        def call(run: object, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
            return int(fn(r1, r2, r3, r4, r5)) & 0xFFFF_FFFF_FFFF_FFFF

        self.vm.kfuncs.register(
            KfuncSpec(name, call, btf_id=btf_id, btf_fd_idx=0, prog_types=prog_types, direct=fn),
            replace_existing=True,
        )

    # -- programs -----------------------------------------------------------------------
    def load(self, prog: BpfProg, proc: ProcessServices | None = None) -> Callable[[list[int]], int]:
        """Translate ``prog``; returns its runner ``(u64 args) -> r0``."""
        proc = proc if proc is not None else self.kernel.current_process()

        def resolve(src: int, imm: int, imm_hi: int) -> int:
            if src in (BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE):
                m, _ = proc.get_map(imm)
                if src == BPF_PSEUDO_MAP_FD:
                    return self.map_object_addr(m)
                value_addr = getattr(m, "value_addr", None)
                if value_addr is None:
                    raise bpf_error(errno.EINVAL, f"map {m.name} has no direct value access")
                if not 0 <= imm_hi < m.value_size:
                    raise bpf_error(errno.EINVAL, f"direct value offset {imm_hi} out of range")
                return int(value_addr(0)) + imm_hi
            if src == 3:  # BPF_PSEUDO_BTF_ID: a kfunc's address (bpf_ksym_exists)
                return ksym_address(self.kernel, imm, imm_hi)
            raise bpf_error(errno.EINVAL, f"ld_imm64 pseudo source {src} is not supported by the embedded kernel")

        vmprog = Program.load(prog.insns, vm=self.vm, resolver=resolve, prog_type=prog.prog_type, name=prog.name)
        prog.vm_program = vmprog  # BpfProg.jited_len: from the translation, made on first need

        return vmprog.args_runner  # run_with_args on the fast engine, without per-call allocations

    def test_run(self, proc: ProcessServices, prog: BpfProg, attr: TestRunAttr) -> int:
        """Generic BPF_PROG_TEST_RUN: ctx_in as a writable ctx (r1), ctx_out copied back."""
        vmprog: Program | None = getattr(prog, "vm_program", None)
        if vmprog is None:
            raise bpf_error(errno.EOPNOTSUPP, "program cannot run")
        ctx = bytes(attr.ctx_in or b"")
        repeat = max(attr.repeat, 1)
        try:
            with self.kernel.rcu.read_lock():
                for _ in range(repeat):
                    res = run_with_ctx(vmprog, ctx)
        except VMFault as fault:
            raise bpf_error(errno.EFAULT, f"program faulted: {fault}") from fault
        attr.retval = res.retval & 0xFFFFFFFF
        attr.duration = 0
        if attr.ctx_out is not None:
            n = min(len(attr.ctx_out), len(res.ctx_out))
            attr.ctx_out[:n] = res.ctx_out[:n]
            attr.ctx_size_out = n
        if attr.data_out is not None and attr.data_in is not None:
            n = min(len(attr.data_out), len(attr.data_in))
            attr.data_out[:n] = attr.data_in[:n]
            attr.data_size_out = n
        return 0


class _Backend:
    """Adapts a kernel map to the VM's MapBackend protocol (helpers from programs)."""

    def __init__(self, m: BpfMap) -> None:
        self.m = m
        self.key_size = m.key_size
        self.value_size = m.value_size

    def bpf_lookup(self, key: bytes) -> int:
        fn = getattr(self.m, "prog_lookup", None)
        return int(fn(key)) if fn is not None else 0

    def bpf_update(self, key: bytes, value: bytes, flags: int) -> int:
        fn = getattr(self.m, "prog_update", None)
        return int(fn(key, value, flags)) if fn is not None else -errno.EINVAL

    def bpf_delete(self, key: bytes) -> int:
        fn = getattr(self.m, "prog_delete", None)
        return int(fn(key)) if fn is not None else -errno.EINVAL
