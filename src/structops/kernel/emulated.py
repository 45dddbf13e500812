"""The embedded kernel: global state plus per-process views implementing ``Kernel``.

``EmulatedKernel`` owns what the real kernel owns globally: the id tables, BTF objects
(vmlinux + modules + user), the struct_ops type registry, kernel memory, RCU, bpffs,
trampoline pages and the sysctls.  A :class:`Process` is one fd table with its
capabilities; ``EmulatedKernel`` itself forwards ``bpf()`` to a default root process, so
``EmulatedKernel()`` can be used directly wherever a ``Kernel`` is expected.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from structops import btf as btflib
from structops.errors import bpf_error
from structops.kernel import kbtf
from structops.kernel.attrs import Attr
from structops.kernel.btf_obj import BtfObject
from structops.kernel.executor import VmExecutor
from structops.kernel.helpers import HelperTable
from structops.kernel.kmem import KernelMemory
from structops.kernel.maps.base import BpfMap
from structops.kernel.modules import Module, load_module, unload_module
from structops.kernel.objects import Bpffs, FdTable, File, IdTable, KObject
from structops.kernel.prog import BpfProg
from structops.kernel.rcu import Rcu
from structops.kernel.services import ALL_CAPS, CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON, CAP_SYS_ADMIN
from structops.kernel.stats import StatsSwitch
from structops.kernel.struct_ops import FuncModel, StructOpsDesc, Trampoline, default_trampoline_size
from structops.kernel.subsys import install_builtin
from structops.kernel.syscall import dispatch
from structops.uapi import PAGE_SIZE, Cmd

if TYPE_CHECKING:
    from structops.kernel.services import StructOpsServices
    from structops.kernel.subsystem import Subsystem

__all__ = ["CAP_BPF", "CAP_NET_ADMIN", "CAP_PERFMON", "CAP_SYS_ADMIN", "EmulatedKernel", "Process"]

USER_BASE = 0x7F00_0000_0000
TRAMP_BASE = 0xFFFF_FFFF_C000_0000  # bpf trampoline images (never mapped for programs)
_KSYM_TEXT = 0xFFFF_FFFF_8100_0000  # kallsyms() addresses of functions (never mapped)
_KSYM_DATA = 0xFFFF_FFFF_8300_0000  # ... and of variables


@dataclass(frozen=True)
class Kfunc:
    """A registered kfunc: Python implementation plus the program types allowed to call it."""

    name: str
    fn: Callable[..., int]
    prog_types: frozenset[int]
    func: btflib.Func
    btf: BtfObject
    #: ``KF_*`` flags (:class:`structops.verifier.ops.KF`); None: inferred from the name.
    flags: int | None = None


class UserMemory:
    """A process's user memory: buffers handed out by ``alloc_user`` (copy_{from,to}_user)."""

    def __init__(self, base: int) -> None:
        self._next = base
        self._bufs: dict[int, bytearray] = {}
        self._lock = threading.Lock()

    def alloc(self, size: int) -> EmuUserBuffer:
        """Allocate ``size`` zeroed bytes."""
        with self._lock:
            addr = self._next
            self._next += (max(size, 1) + 4095) // 4096 * 4096 + 4096
            buf = bytearray(size)
            self._bufs[addr] = buf
        return EmuUserBuffer(addr, buf)

    def _find(self, addr: int, size: int) -> tuple[bytearray, int]:
        for base, buf in self._bufs.items():
            if base <= addr and addr + size <= base + len(buf):
                return buf, addr - base
        raise bpf_error(errno.EFAULT, f"bad user address {addr:#x}")

    def copy_from(self, addr: int, size: int) -> bytes:
        """copy_from_user: -EFAULT outside an allocated buffer."""
        buf, off = self._find(addr, size)
        return bytes(buf[off : off + size])

    def copy_to(self, addr: int, data: bytes) -> None:
        """copy_to_user: -EFAULT outside an allocated buffer."""
        buf, off = self._find(addr, len(data))
        buf[off : off + len(data)] = data


class EmuUserBuffer:
    """A ``UserBuffer`` in a process's emulated user memory."""

    def __init__(self, addr: int, buf: bytearray) -> None:
        self._addr = addr
        self._buf = buf

    @property
    def addr(self) -> int:
        """User-space address."""
        return self._addr

    @property
    def size(self) -> int:
        """Size in bytes."""
        return len(self._buf)

    def read(self, offset: int = 0, length: int | None = None) -> bytes:
        """Copy bytes out."""
        end = len(self._buf) if length is None else offset + length
        return bytes(self._buf[offset:end])

    def write(self, data: bytes, offset: int = 0) -> None:
        """Copy bytes in."""
        self._buf[offset : offset + len(data)] = data


class Process:
    """One process of the embedded kernel: an fd table, capabilities, user memory."""

    name = "embedded"

    def __init__(self, kernel: EmulatedKernel, pid: int, caps: frozenset[int]) -> None:
        self.kernel = kernel
        self.pid = pid
        self.caps = caps
        self.fds = FdTable()
        self.umem = UserMemory(USER_BASE + pid * (1 << 32))
        self.exited = False

    # -- Kernel protocol ----------------------------------------------------------------
    def bpf(self, cmd: Cmd | int, attr: Attr) -> int:
        """Run one bpf() command as this process."""
        if self.exited:
            raise bpf_error(errno.ESRCH, "process has exited")
        with self.kernel.as_process(self):
            return dispatch(self, Cmd(cmd) if int(cmd) in Cmd._value2member_map_ else int(cmd), attr)

    def close(self, fd: int) -> None:
        """close(2) on a bpf fd: drops the file's reference (KP2: may unregister a link)."""
        file = self.fds.remove(fd)
        self._drop_file(file)

    def _drop_file(self, file: File) -> None:
        if not file.closed:
            file.closed = True
            with self.kernel.as_process(self):
                file.obj.user_put()

    def vmlinux_btf(self) -> bytes:
        """Raw bytes of the embedded kernel's vmlinux BTF."""
        return self.kernel.vmlinux.raw

    def fdinfo(self, fd: int) -> str:
        """``/proc/<pid>/fdinfo/<fd>`` of a bpf fd (C17 maps, K7 links; progs and BTF too)."""
        file = self.get_file(fd)
        obj = file.obj
        # f_flags as Linux opens each kind: links and BTF objects are anon inodes opened
        # O_RDONLY|O_CLOEXEC whatever they allow; maps and programs show their access mode.
        if obj.KIND in ("link", "btf", "stats"):
            mode = "02000000"
        else:
            mode = "02000002" if file.readable and file.writable else ("02000000" if file.readable else "02000001")
        head = f"pos:\t0\nflags:\t{mode}\nmnt_id:\t15\nino:\t{1000 + obj.id}\n"
        body = getattr(obj, "fdinfo", None)
        if callable(body):
            return head + str(body())
        if isinstance(obj, BpfProg):
            return head + (
                f"prog_type:\t{obj.prog_type}\nprog_jited:\t1\nprog_tag:\t{obj.tag.hex()}\n"
                f"memlock:\t{(obj.insn_cnt * 8 + 4095) // 4096 * 4096}\nprog_id:\t{obj.id}\n"
                f"run_time_ns:\t{obj.stats.run_time_ns}\nrun_cnt:\t{obj.stats.run_cnt}\n"
                f"recursion_misses:\t{obj.stats.misses}\nverified_insns:\t{obj.verified_insns}\n"
            )
        if isinstance(obj, BtfObject):
            return head + f"btf_id:\t{obj.id}\n"
        return head

    def module_btfs(self) -> dict[str, bytes]:
        """Split BTF of each loaded module."""
        return {name: m.btf for name, m in self.kernel.modules.items()}

    def alloc_user(self, size: int) -> EmuUserBuffer:
        """Allocate user memory of this process."""
        return self.umem.alloc(size)

    # -- helpers for the syscall layer ---------------------------------------------------
    def capable(self, cap: int) -> bool:
        """``capable(cap)``; CAP_SYS_ADMIN implies CAP_BPF and CAP_PERFMON (C9)."""
        if cap in self.caps:
            return True
        return cap in (CAP_BPF, CAP_PERFMON) and CAP_SYS_ADMIN in self.caps

    def bpf_capable(self) -> bool:
        """``bpf_capable()``."""
        return self.capable(CAP_BPF)

    def install(self, obj: KObject, *, new: bool, readable: bool = True, writable: bool = True) -> int:
        """Give ``obj`` an fd; ``new`` objects hand their initial reference to the fd."""
        if new:
            obj.usercnt += 1
        else:
            obj.user_get()
        return self.fds.install(File(obj, readable, writable))

    def get_file(self, fd: int) -> File:
        """The file at ``fd``: -EBADF if closed; stdio fds are not bpf objects (-EINVAL)."""
        if 0 <= fd < FdTable.FIRST_FD:
            raise bpf_error(errno.EINVAL, f"fd {fd} is not a bpf object")
        if fd < 0:
            raise bpf_error(errno.EBADF, f"fd {fd} is not open")
        return self.fds.lookup(fd)

    def get_obj(self, fd: int, kind: type[KObject], what: str) -> tuple[Any, File]:
        """The object behind ``fd`` if it is a ``kind`` (else -EINVAL), without a new ref."""
        file = self.get_file(fd)
        if not isinstance(file.obj, kind):
            raise bpf_error(errno.EINVAL, f"fd {fd} is not a {what}")
        return file.obj, file

    def get_map(self, fd: int) -> tuple[BpfMap, File]:
        """``__bpf_map_get``."""
        m, f = self.get_obj(fd, BpfMap, "map")
        return m, f

    def get_prog(self, fd: int) -> BpfProg:
        """``bpf_prog_get``: takes a reference (-EBADF / -EINVAL)."""
        p, _ = self.get_obj(fd, BpfProg, "program")
        p.get()
        return p  # type: ignore[no-any-return]

    def get_btf(self, fd: int) -> BtfObject:
        """``btf_get_by_fd`` without a new reference."""
        b, _ = self.get_obj(fd, BtfObject, "BTF object")
        return b  # type: ignore[no-any-return]

    def exit(self) -> None:
        """Process exit: close every fd (links unregister, unreferenced objects go)."""
        for fd in self.fds.fds():
            with contextlib.suppress(OSError):
                self.close(fd)
        self.exited = True


class EmulatedKernel:
    """The in-process kernel.  Use :meth:`process` for more processes (fd tables)."""

    name = "embedded"

    def __init__(
        self,
        *,
        vmlinux: bytes | None = None,
        with_subsystems: bool = True,
        unprivileged_bpf_disabled: int = 2,
    ) -> None:
        self.ids: dict[str, IdTable] = {k: IdTable() for k in ("map", "prog", "link", "btf")}
        self.kmem = KernelMemory()
        self.rcu = Rcu()
        self.bpffs = Bpffs()
        self.update_mutex = threading.RLock()
        self.unprivileged_bpf_disabled = unprivileged_bpf_disabled
        self.config_modules = True
        #: CONFIG_HZ (the project machines' kernel: 250).
        self.config_hz = 250
        self.bpf_jit_limit = 1 << 30
        self.jit_charged = 0
        self.struct_ops_descs: dict[int, list[StructOpsDesc]] = {}
        self.trampolines: dict[int, Trampoline] = {}
        self.modules: dict[str, Module] = {}
        self.kfuncs: dict[tuple[int, int], Kfunc] = {}
        #: Kfuncs Linux offers that no plugged-in subsystem implements (named at PROG_LOAD).
        self.unimplemented_kfuncs: set[str] = set()
        #: Subsystems plugged in (``kernel.subsystem.plug_in``), by name: the one way in.
        self.subsystems: dict[str, Subsystem] = {}
        self.logs: list[str] = []
        self.trace_log: list[str] = []
        self.trampoline_size: Callable[[FuncModel, bool], int] = default_trampoline_size
        self._tramp_pages: set[int] = set()
        self._tramp_next = TRAMP_BASE
        self._pids = itertools.count(1000)
        self._tls = threading.local()
        self._lock = threading.RLock()
        self.executor: Any = VmExecutor(self)
        #: The one helper registry (prototypes for the verifier, implementations for the VM).
        self.helpers = HelperTable()
        self.stats = StatsSwitch()
        self.helpers.attach_vm(self.executor.vm.helpers)
        raw = vmlinux if vmlinux is not None else kbtf.vmlinux_btf_bytes()
        spec = btflib.parse(raw)
        self.vmlinux = BtfObject(self, raw, spec, name="vmlinux", kernel_btf=True)
        self.ids["btf"].add(self.vmlinux)
        self.sizeof_st_map = self._sizeof("bpf_struct_ops_map", 512)
        self.sizeof_st_value = self._sizeof("bpf_struct_ops_value", 64)
        self.root = self.process(ALL_CAPS)
        from structops.kernel.current_task import install_current_task

        install_current_task(self)
        if with_subsystems:
            install_builtin(self)

    def _sizeof(self, name: str, default: int) -> int:
        try:
            return self.vmlinux.spec.find(name, btflib.Struct).size
        except KeyError:
            return default

    # -- processes -------------------------------------------------------------------------
    def process(self, caps: frozenset[int] | set[int] = ALL_CAPS) -> Process:
        """A new process (fd table) with capabilities ``caps``."""
        return Process(self, next(self._pids), frozenset(caps))

    @contextmanager
    def as_process(self, proc: Process) -> Iterator[None]:
        """Make ``proc`` the current process of this thread (for fd lookups in callbacks)."""
        prev = getattr(self._tls, "proc", None)
        self._tls.proc = proc
        try:
            yield
        finally:
            self._tls.proc = prev

    def current_process(self) -> Process:
        """The process executing the current syscall on this thread."""
        proc = getattr(self._tls, "proc", None)
        return proc if proc is not None else self.root

    # -- Kernel protocol (default root process) ---------------------------------------------
    def bpf(self, cmd: Cmd | int, attr: Attr) -> int:
        """bpf() as the default root process."""
        return self.root.bpf(cmd, attr)

    def close(self, fd: int) -> None:
        """close() in the default root process."""
        self.root.close(fd)

    def vmlinux_btf(self) -> bytes:
        """The embedded vmlinux BTF bytes."""
        return self.vmlinux.raw

    def module_btfs(self) -> dict[str, bytes]:
        """Split BTF of each loaded module."""
        return self.root.module_btfs()

    def alloc_user(self, size: int) -> EmuUserBuffer:
        """User memory of the default root process."""
        return self.root.alloc_user(size)

    def kconfig(self) -> dict[str, str]:
        """The embedded kernel's configuration (what ``.kconfig`` externs resolve to)."""
        return {
            "CONFIG_HZ": str(self.config_hz),
            "CONFIG_BPF_SYSCALL": "y",
            "CONFIG_BPF_JIT": "y",
            "CONFIG_DEBUG_INFO_BTF": "y",
            "CONFIG_MODULES": "y" if self.config_modules else "n",
            "CONFIG_TCP_CONG_CUBIC": "y",
            "CONFIG_TCP_CONG_BBR": "y",
            "CONFIG_DEFAULT_TCP_CONG": '"bbr"',
        }

    def kallsyms(self) -> dict[str, int | None]:
        """The embedded kernel's symbol table: every function and variable of its vmlinux BTF.

        Addresses are synthetic, stable and unmapped (functions from ``0xffffffff81000000``,
        variables from ``0xffffffff83000000``, in name order): an untyped ``__ksym`` gets a
        real-looking constant, and a program that dereferences it faults.
        """
        spec = self.vmlinux.spec
        funcs = sorted({t.name for t in spec.types if isinstance(t, btflib.Func)})
        variables = sorted({t.name for t in spec.types if isinstance(t, btflib.Var)})
        table: dict[str, int | None] = {name: _KSYM_TEXT + 16 * i for i, name in enumerate(funcs)}
        table.update({name: _KSYM_DATA + 64 * i for i, name in enumerate(variables) if name not in table})
        return table

    # -- logging ----------------------------------------------------------------------------
    def log(self, message: str) -> None:
        """The kernel log (pr_warn / pr_err lines)."""
        self.logs.append(message)

    # -- modules ----------------------------------------------------------------------------
    def load_module(self, module: Module) -> None:
        """Load a module: its BTF becomes a kernel BTF object, its init runs."""
        load_module(self, module)

    def unload_module(self, name: str) -> None:
        """Unload a module (-EBUSY while something holds it)."""
        unload_module(self, name)

    def module_put(self, name: str) -> None:
        """Drop a module reference."""
        mod = self.modules.get(name)
        if mod is not None:
            mod.refcnt -= 1

    def module_try_get(self, name: str) -> bool:
        """``try_module_get``: fails while the module is going away."""
        mod = self.modules.get(name)
        if mod is None or mod.going:
            return False
        mod.refcnt += 1
        return True

    # -- trampolines -------------------------------------------------------------------------
    def alloc_tramp_page(self) -> int:
        """Allocate one image page, charging the JIT limit (M2: -EPERM / -ENOMEM)."""
        with self._lock:
            if self.jit_charged + PAGE_SIZE > self.bpf_jit_limit and not self.current_process().bpf_capable():
                raise bpf_error(errno.EPERM, "bpf_jit_limit exceeded")
            self.jit_charged += PAGE_SIZE
            page = self._tramp_next
            self._tramp_next += PAGE_SIZE
            self._tramp_pages.add(page)
            return page

    def free_tramp_page(self, page: int) -> None:
        """Free an image page (uncharge)."""
        with self._lock:
            if page in self._tramp_pages:
                self._tramp_pages.remove(page)
                self.jit_charged -= PAGE_SIZE

    @property
    def tramp_pages(self) -> int:
        """Image pages currently allocated."""
        return len(self._tramp_pages)

    def run_trampoline(self, tr: Trampoline, args: Sequence[int]) -> int:
        """Enter a struct_ops trampoline: run its prog with ``args`` under RCU.

        Inside a read-side section already (an op called from a bridge that holds the
        lock, or from another op) the lock only nests.  Without run statistics the
        program's runner is called straight away (:meth:`run_prog` otherwise).
        """
        runner = tr.prog.runner
        stats = self.stats
        if runner is None or stats.sysctl or stats.fds > 0:  # StatsSwitch.enabled, inlined
            with self.rcu.read_lock():
                return self.run_prog(tr.prog, args)
        return int(self.rcu.call(runner, args))

    def run_prog(self, prog: BpfProg, args: Sequence[int]) -> int:
        """Run ``prog`` with u64 arguments (struct_ops / tracing calling convention)."""
        runner = prog.runner
        if runner is None:
            raise bpf_error(errno.EOPNOTSUPP, f"prog {prog.id} cannot run")
        if not self.stats.enabled:  # counted only while stats are on (BPF_ENABLE_STATS)
            return int(runner(args))
        start = time.perf_counter_ns()
        try:
            return int(runner(args))
        finally:
            prog.stats.run_time_ns += max(time.perf_counter_ns() - start, 1)
            prog.stats.run_cnt += 1

    # -- helpers and kfuncs --------------------------------------------------------------------
    def helper_exists(self, helper_id: int) -> bool:
        """The helper id is in ``enum bpf_func_id``."""
        return self.helpers.get(helper_id) is not None

    def helper_name(self, helper_id: int) -> str:
        """Helper name for logs."""
        return self.helpers.name(helper_id)

    def register_kfunc(
        self,
        name: str,
        fn: Callable[..., int],
        prog_types: frozenset[int],
        btf: BtfObject | None = None,
        flags: int | None = None,
    ) -> int:
        """Register kfunc ``name`` (a FUNC in ``btf``, vmlinux by default); returns its BTF id."""
        owner = btf or self.vmlinux
        func = owner.spec.find(name, btflib.Func)
        btf_id = owner.spec.type_id(func)
        self.kfuncs[(owner.id, btf_id)] = Kfunc(name, fn, prog_types, func, owner, flags)
        if self.executor is not None and owner is self.vmlinux:
            self.executor.register_kfunc(name, fn, btf_id, prog_types)
        return btf_id

    def kfunc_allowed(self, btf_id: int, btf_fd_idx: int, prog: BpfProg) -> bool:
        """A kfunc call insn targets a registered kfunc allowed for the program's type."""
        k = self.kfunc_by_id(btf_id, btf_fd_idx)
        return k is not None and prog.prog_type in k.prog_types

    def kfunc_by_id(self, btf_id: int, btf_fd_idx: int = 0) -> Kfunc | None:
        """The kfunc a call insn (imm = BTF id, off = fd_array index; 0 = vmlinux) names."""
        if btf_fd_idx == 0:
            return self.kfuncs.get((self.vmlinux.id, btf_id))
        for (_bid, fid), k in self.kfuncs.items():
            if fid == btf_id and k.btf is not self.vmlinux:
                return k
        return None

    # -- objects -----------------------------------------------------------------------------
    def live_objects(self) -> dict[str, list[int]]:
        """Ids of live objects by kind (leak checks)."""
        return {k: sorted(o.id for o in t) for k, t in self.ids.items()}

    def find_struct_ops(self, name: str) -> StructOpsDesc | None:
        """A registered struct_ops type by name (vmlinux first, then modules)."""
        for descs in self.struct_ops_descs.values():
            for d in descs:
                if d.name == name:
                    return d
        return None


def services_of(kernel: EmulatedKernel) -> StructOpsServices:
    """``kernel`` as the services its objects use (statically checks that it provides them)."""
    return kernel
