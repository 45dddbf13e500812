"""The TCP simulator bridge: simulated sockets whose state lives in kernel memory.

Three pieces connect :mod:`structops.sim` to the embedded kernel's ``tcp_cong_list``
(:mod:`structops.kernel.subsys.tcp_ca`), following the bridge contract of
docs/tcp-sim.md ("The socket object and the bridge"):

* :class:`KernelTcpSock` -- a :class:`~structops.sim.TcpSock` backed by a
  ``struct tcp_sock`` allocated in kernel memory (the VM's address space).
  ``sync_to_kernel`` writes simulated fields into the struct at their BTF offsets
  (bitfields included) -- only those the algorithm's programs may touch, and only when
  changed (:mod:`structops.kernel.tcp_sync`, issue 17) -- and ``sync_from_kernel``
  reads back the fields a BPF congestion control may write (spec T8: ``snd_cwnd``, ``snd_cwnd_cnt``, ``snd_cwnd_stamp``,
  ``snd_ssthresh``, ``ecn_flags``, ``app_limited``, ``sk_pacing_rate``,
  ``sk_pacing_status``, ``icsk_ack.pending``) and ``icsk_ca_priv``.  A socket holds a
  reference on the struct_ops map of the BPF algorithm it uses (``bpf_try_module_get``
  in ``tcp_assign_congestion_control`` / ``tcp_set_congestion_control``) and drops it
  after ``release`` (``tcp_cleanup_congestion_control``), so ``common.refcnt`` of a
  map lookup grows by one per socket (spec F2, T6).  Closed sockets free their struct
  and their ``BPF_MAP_TYPE_SK_STORAGE`` elements (``bpf_sk_storage_free``).
* :func:`ops_for` -- turns a :class:`~structops.kernel.subsys.tcp_ca.CongestionControl`
  into a :class:`~structops.sim.TcpCongestionOps`: each BPF op calls
  ``kdata.call(op, sk_addr, ...)`` (the trampoline, under RCU); ``ack_sample`` and
  ``rate_sample`` arguments are written into kernel allocations and passed by address;
  return values are truncated to the C type.  Native entries (``impl="reno"``,
  ``"cubic"``) map to the simulator's Python implementations.
* :class:`KernelCongestionRegistry` -- the simulator's registry backed by the kernel
  list: ``find`` is ``tcp_ca_find`` (unknown names: ``ENOENT`` as for
  ``setsockopt(TCP_CONGESTION)``), the default is a pointer like
  ``net->ipv4.tcp_congestion_control`` (a link update leaves it on the old version).

:class:`TcpBridge` ties them together; :func:`kernel_simulator` builds a ready
:class:`~structops.sim.Simulator`.

One clock: while a simulator is bound (:meth:`TcpBridge.bind`), the VM's clock -- what
``bpf_ktime_get_ns``, ``bpf_ktime_get_coarse_ns``, ``bpf_ktime_get_boot_ns`` and
``bpf_jiffies64`` return -- is the simulator's clock, and the simulator's ``HZ`` is the
kernel's ``CONFIG_HZ``, so ``tcp_jiffies32``, ``tcp_mstamp``, ``tcp_clock_cache`` and
whatever a BPF algorithm derives from the helpers all advance with simulated time and
no host clock is read.  :meth:`TcpBridge.close` gives the VM its previous clock back.
"""

from __future__ import annotations

import dataclasses
import errno
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from structops import btf as btflib
from structops.errors import bpf_error
from structops.kernel.btfview import StructView
from structops.kernel.maps.sk_storage import free_socket_storage
from structops.kernel.subsys.tcp_ca import CongestionControl
from structops.kernel.tcp_bridge_ops import Scratch, bpf_op
from structops.kernel.tcp_bridge_ops import _locate as _locate  # tcp_sockopt uses it
from structops.kernel.tcp_sync import SyncLayout, SyncPlan
from structops.sim import cubic as native_cubic
from structops.sim import reno as native_reno
from structops.sim.config import SimConfig
from structops.sim.engine import Simulator
from structops.sim.ops import OP_NAMES, CongestionRegistry, TcpCongestionOps
from structops.sim.sock import TcpSock
from structops.verifier.access import AccessSet

if TYPE_CHECKING:
    from structops.kernel.emulated import EmulatedKernel
    from structops.kernel.kmem import Allocation

__all__ = [
    "KernelCongestionRegistry",
    "KernelTcpSock",
    "TcpBridge",
    "kernel_simulator",
    "ops_for",
]

#: Native algorithms of the kernel list that the simulator models.
NATIVE_OPS: dict[str, Callable[[], TcpCongestionOps]] = {"reno": native_reno, "cubic": native_cubic}
#: Shadow value of a unit never written (differs from every value).
_UNSET: Any = object()


_CA_OPS_SLOT: Any = TcpSock.__dict__["icsk_ca_ops"]  # the member descriptor of the base class slot


def _bpf_cc(ops: object) -> CongestionControl | None:
    owner = getattr(ops, "owner", None)
    return owner if isinstance(owner, CongestionControl) and owner.is_bpf else None


class KernelTcpSock(TcpSock):
    """A simulated socket whose ``struct tcp_sock`` lives in kernel memory (bridge contract).

    ``addr`` is the ``struct sock *`` BPF programs receive.  Assigning ``icsk_ca_ops``
    takes a map reference for a BPF algorithm (``EBUSY`` if the map is going away) and
    drops the previous one.

    ``NEEDS_SYNC`` is per socket here: false while the algorithm in use has an empty
    sync plan (a native algorithm, a BPF one touching no socket field itself) and no
    setsockopt state, so the simulator calls its ops directly; assigning
    ``icsk_ca_ops``, setsockopt state and freeing set it again.
    """

    __slots__ = (
        "NEEDS_SYNC",
        "_alloc",
        "_base",
        "_bridge",
        "_buf",
        "_ca_addr",
        "_free_pending",
        "_held",
        "_plan",
        "_plan_src",
        "_shadow",
        "_sync_ops",
        "addr",
        "sockopt",
    )

    def __init__(self, bridge: TcpBridge, mss: int = 1448, *, flow_id: int = 0, role: str = "snd") -> None:
        self._bridge = bridge
        self._plan: SyncPlan | None = None  # what the socket's algorithms touch (grows on a switch)
        self._plan_src: SyncPlan | None = None  # the plan of the algorithm last merged in
        self._shadow: list[Any] = [_UNSET] * len(bridge.layout.units)  # dirty tracking
        self._held: CongestionControl | None = None
        self._free_pending = False
        self._alloc: Allocation | None = bridge.kernel.kmem.alloc(bridge.layout.size, f"tcp_sock:{flow_id}:{role}")
        self.addr = self._alloc.addr
        self._buf = self._alloc.buf
        self._base = self.addr - self._alloc.addr  # the struct's offset in its allocation
        # sync_to_kernel's cache: the ops it last synced for, and their ``icsk_ca_ops`` value
        self._sync_ops: Any = _UNSET
        self._ca_addr = 0
        self.NEEDS_SYNC = True  # type: ignore[misc]  # until the first sync plans the socket
        super().__init__(mss, flow_id=flow_id, role=role)
        bridge.sockets.append(self)
        # tcp_sockopt: option state the simulator lacks, and the kernel's socket table by address
        self.sockopt: Any = None
        bridge.kernel.__dict__.setdefault("tcp_socks", {})[self.addr] = self

    # -- icsk_ca_ops with the module reference ----------------------------------------
    def _set_ca_ops(self, ops: Any) -> None:
        try:
            old = _CA_OPS_SLOT.__get__(self, TcpSock)
        except AttributeError:
            old = None
        if ops is old and ops is not None:
            return
        cc = _bpf_cc(ops)
        if cc is not None and not cc.try_get():
            raise bpf_error(errno.EBUSY, f"congestion control {cc.name} is going away", op="set congestion control")
        self.drop_ca_ref()
        if cc is not None:
            cc.sockets += 1
            self._held = cc
        _CA_OPS_SLOT.__set__(self, ops)
        self.resync()  # the next op call plans the new ops

    #: The ops the socket uses; read straight from the base class slot (the simulator reads
    #: it on every event: no Python frame), set through :meth:`_set_ca_ops` (map reference).
    icsk_ca_ops = property(_CA_OPS_SLOT.__get__, _set_ca_ops, doc="The ops the socket uses (``icsk_ca_ops``).")

    def resync(self) -> None:
        """Make the next op call sync the socket (and plan it again)."""
        self.NEEDS_SYNC = True  # type: ignore[misc]  # a slot here, a class constant in TcpSock

    def drop_ca_ref(self) -> None:
        """``bpf_module_put`` of the algorithm in use (after ``release``)."""
        cc, self._held = self._held, None
        if cc is not None:
            cc.sockets -= 1
            cc.put()

    @property
    def holds(self) -> CongestionControl | None:
        """The BPF algorithm whose map this socket holds a reference on."""
        return self._held

    # -- the bridge contract ---------------------------------------------------------
    def sync_to_kernel(self) -> None:
        """Write into the kernel ``struct tcp_sock`` the fields the algorithm in use may
        read or write (all of them for an unverified program or a socket without one,
        none for a native algorithm), skipping those unchanged since they were last synced."""
        ops = _CA_OPS_SLOT.__get__(self, TcpSock)
        if ops is not self._sync_ops:
            self._sync_for(ops)
        plan: SyncPlan = self._plan  # type: ignore[assignment]
        if plan.write:
            plan.write_in(self, self._buf, self._base, self._shadow, self._ca_addr)
        if self.sockopt is not None:  # tcp_sockopt.SockoptExtras (bpf_setsockopt state)
            self.sockopt.apply(self._buf, self._base)

    def _sync_for(self, ops: Any) -> None:
        """Plan the syncs of a socket now using ``ops``: their plan merged into the socket's,
        and the ``icsk_ca_ops`` value (the struct_ops map's kdata address of a BPF algorithm)."""
        if self._alloc is None:
            raise bpf_error(errno.EBADF, f"socket {self.sim_flow_id}/{self.sim_role} is closed", op="sync tcp_sock")
        bridge = self._bridge
        plan = bridge.plans.get(id(ops))
        if plan is None:
            plan = bridge.plan_for_ops(ops)
        if plan is not self._plan_src:
            self._plan = bridge.layout.merge(self._plan, plan)
            self._plan_src = plan
        cc = _bpf_cc(ops)
        self._ca_addr = cc.kdata.addr if cc is not None and cc.kdata is not None else 0
        self._sync_ops = ops
        plan = self._plan
        assert plan is not None
        self.NEEDS_SYNC = bool(plan.write or plan.back) or self.sockopt is not None  # type: ignore[misc]

    def sync_from_kernel(self) -> None:
        """Read back the fields the algorithm may write (T8, ``icsk_ca_priv``); frees the
        struct if the socket was closed."""
        if self._alloc is None:
            return
        plan = self._plan
        if plan is None:
            plan = self._bridge.layout.full
        if plan.back:
            plan.read_back(self, self._buf, self._base, self._shadow)
        if self._free_pending:
            self.free()

    def synced_fields(self) -> frozenset[str]:
        """Names of the fields synced around op calls (the plan of the algorithms used so far)."""
        return self._plan.names if self._plan is not None else frozenset()

    def invalidate(self) -> None:
        """Forget what the kernel struct holds: the next sync rewrites every planned field
        (after writing the struct by other means than a program, e.g. through :meth:`view`)."""
        self._shadow[:] = [_UNSET] * len(self._shadow)
        if self.sockopt is not None:
            self.sockopt.invalidate()

    def view(self) -> StructView:
        """A BTF view of the kernel struct (``view().snd_cwnd``).

        Op calls sync only the fields their programs touch; the view first writes every
        field, so it shows the whole socket.  Writes through the view are overwritten by
        the next sync, as the simulator's fields are the truth (:meth:`invalidate`).
        """
        alloc = self._alloc
        if alloc is None:
            raise bpf_error(errno.EBADF, "socket is closed", op="tcp_sock view")
        cc = _bpf_cc(_CA_OPS_SLOT.__get__(self, TcpSock))
        ca_addr = cc.kdata.addr if cc is not None and cc.kdata is not None else 0
        self._bridge.layout.full.write_in(self, alloc.buf, self.addr - alloc.addr, self._shadow, ca_addr)
        if self.sockopt is not None:
            self.sockopt.apply(alloc.buf, self.addr - alloc.addr)
        self.invalidate()
        return StructView(self._bridge.kernel.kmem, self.addr, self._bridge.tcp_sock_type)

    @property
    def freed(self) -> bool:
        """The kernel struct was freed (socket destroyed)."""
        return self._alloc is None

    def free(self) -> None:
        """Destroy the kernel side: sk_storage elements, map reference, the struct."""
        alloc, self._alloc = self._alloc, None
        if alloc is None:
            return
        self.resync()  # an op call syncs, and fails (EBADF)
        self._sync_ops = _UNSET  # the next sync_to_kernel raises EBADF
        self.drop_ca_ref()
        self._bridge.kernel.__dict__.get("tcp_socks", {}).pop(self.addr, None)  # tcp_sockopt table
        free_socket_storage(self._bridge.kernel, self.addr)
        self._bridge.kernel.kmem.free(alloc)


# ---------------------------------------------------------------------------------------
# ops adapter
# ---------------------------------------------------------------------------------------
def _release(inner: Callable[[TcpSock], Any] | None) -> Callable[[TcpSock], None]:
    """``tcp_cleanup_congestion_control``: the algorithm's ``release`` (if any), then module put."""

    def release(sk: TcpSock) -> None:
        if inner is not None:
            inner(sk)
        if isinstance(sk, KernelTcpSock):
            sk._bridge.released(sk)

    return release


def ops_for(cc: CongestionControl, scratch: Scratch) -> TcpCongestionOps:
    """A :class:`TcpCongestionOps` running ``cc``: BPF ops through ``kdata.call``, natives in Python.

    Raises ``EOPNOTSUPP`` for a native algorithm the simulator does not model (bbr).
    """
    if not cc.is_bpf:
        factory = NATIVE_OPS.get(str(cc.impl))
        if factory is None:
            raise bpf_error(
                errno.EOPNOTSUPP, f"native congestion control {cc.name} is not modelled by the simulator", op="tcp ca"
            )
        ops = factory()
        ops.owner = cc
        ops.release = _release(ops.release)
        return ops
    kdata = cc.kdata
    assert kdata is not None
    fns = {op: bpf_op(kdata, op, scratch) for op in OP_NAMES if kdata.has(op)}
    inner = fns.pop("release", None)
    return TcpCongestionOps(cc.name, flags=cc.flags, owner=cc, release=_release(inner), **fns)


# ---------------------------------------------------------------------------------------
# registry and bridge
# ---------------------------------------------------------------------------------------
class KernelCongestionRegistry(CongestionRegistry):
    """The simulator's ``tcp_cong_list`` view of the kernel's list (per-socket selection).

    Registration goes through struct_ops maps on the kernel, so :meth:`register`,
    :meth:`unregister` and :meth:`update` are refused (``EPERM``).
    """

    def __init__(self, bridge: TcpBridge) -> None:
        super().__init__(with_reno=False)
        self.bridge = bridge
        self.ccs = bridge.kernel.tcp_congestion  # type: ignore[attr-defined]
        self._cache: dict[CongestionControl, TcpCongestionOps] = {}
        first = self.ccs.find(self.ccs.default)
        if first is None or not (first.is_bpf or str(first.impl) in NATIVE_OPS):
            first = self.ccs.find("reno")  # tcp_assign_congestion_control falls back to reno
        self._default_cc: CongestionControl | None = first

    def ops(self, cc: CongestionControl) -> TcpCongestionOps:
        """The (cached, identity-stable) ops object of list entry ``cc``."""
        ops = self._cache.get(cc)
        if ops is None:
            ops = ops_for(cc, self.bridge.scratch)
            self._cache[cc] = ops
        return ops

    def find(self, name: str) -> TcpCongestionOps | None:
        """``tcp_ca_find``: ops of the entry called ``name`` now, or None."""
        cc = self.ccs.find(name)
        return None if cc is None else self.ops(cc)

    def available(self) -> list[str]:
        """The kernel's ``tcp_available_congestion_control``."""
        return list(self.ccs.available())

    def set_default(self, name: str) -> TcpCongestionOps:
        """``tcp_set_default_congestion_control``: ``ENOENT`` for an unknown name."""
        cc = self.ccs.find(name)
        if cc is None:
            raise bpf_error(errno.ENOENT, f"no congestion control named {name!r}", op="set default cc")
        ops = self.ops(cc)
        self._default_cc = cc
        self.ccs.default = name
        return ops

    @property
    def default(self) -> TcpCongestionOps:
        """The default ops (a pointer: stays on the old version across a link update)."""
        if self._default_cc is None:
            raise bpf_error(errno.ENOENT, "no default congestion control", op="assign cc")
        return self.ops(self._default_cc)

    def register(self, ca: TcpCongestionOps) -> None:
        """Refused: register through a struct_ops map on the kernel."""
        raise bpf_error(errno.EPERM, "register congestion controls through struct_ops maps", op="register cc")

    def unregister(self, ca: TcpCongestionOps) -> None:
        """Refused: detach the struct_ops link / delete the map element."""
        raise bpf_error(errno.EPERM, "unregister congestion controls through struct_ops maps", op="unregister cc")

    def update(self, ca: TcpCongestionOps, old_ca: TcpCongestionOps) -> None:
        """Refused: use ``BPF_LINK_UPDATE`` (``Link.update_map``)."""
        raise bpf_error(errno.EPERM, "update congestion controls through BPF_LINK_UPDATE", op="update cc")


class TcpBridge:
    """Kernel-backed sockets and the registry for one simulator on ``kernel``.

    ``bridge.socket`` is the simulator's ``sock_factory``.  After :meth:`close` every
    socket struct, sk_storage element and map reference is gone.
    """

    def __init__(self, kernel: EmulatedKernel) -> None:
        if getattr(kernel, "tcp_congestion", None) is None:
            raise bpf_error(errno.EOPNOTSUPP, "kernel has no tcp_congestion_ops subsystem", op="tcp bridge")
        self.kernel = kernel
        self.tcp_sock_type = kernel.vmlinux.spec.find("tcp_sock", btflib.Struct)
        self.layout = _layout(self.tcp_sock_type)
        self.scratch = Scratch(kernel)
        self.sockets: list[KernelTcpSock] = []
        #: id(ops) -> the sync plan of those ops (ops objects are kept alive by the registry)
        self.plans: dict[int, SyncPlan] = {}
        self._plan_ops: list[Any] = []  # keeps the keys of ``plans`` alive
        self.registry = KernelCongestionRegistry(self)
        self.sim: Simulator | None = None
        self._saved_clock: Callable[[], int] | None = None

    def _vm(self) -> Any:
        """The VM that runs the kernel's programs (its ``clock_ns`` feeds the time helpers)."""
        executor = getattr(self.kernel, "executor", None)
        vm = getattr(executor, "vm", None)
        if vm is None or not hasattr(vm, "clock_ns"):
            raise bpf_error(errno.EOPNOTSUPP, "kernel has no VM clock to drive", op="tcp bridge")
        return vm

    def bind(self, sim: Simulator) -> None:
        """Drive ``sim`` and make its clock the VM's clock (one simulated time base)."""
        vm = self._vm()
        if self._saved_clock is None:
            self._saved_clock = vm.clock_ns
        vm.clock_ns = sim.clock_ns
        self.sim = sim

    def _unbind_clock(self) -> None:
        saved, self._saved_clock = self._saved_clock, None
        if saved is not None:
            self._vm().clock_ns = saved

    def plan_for_ops(self, ops: Any) -> SyncPlan:
        """The sync plan of a socket using ``ops`` (cached): the union of the access sets of
        the BPF algorithm's programs, nothing for a native algorithm, everything without ops."""
        layout = self.layout
        if ops is None:
            return layout.full
        cc = getattr(ops, "owner", None)
        if not isinstance(cc, CongestionControl) or not cc.is_bpf:
            plan = layout.empty  # native Python: the struct is not read
        else:
            plan = layout.plan_for(_map_access(cc))
        self.plans[id(ops)] = plan
        self._plan_ops.append(ops)
        return plan

    def socket(self, mss: int = 1448, *, flow_id: int = 0, role: str = "snd") -> KernelTcpSock:
        """``sock_factory``: a new kernel-backed socket."""
        return KernelTcpSock(self, mss, flow_id=flow_id, role=role)

    def released(self, sk: KernelTcpSock) -> None:
        """After ``release``: drop the map reference; a closed flow's socket is destroyed."""
        sk.drop_ca_ref()
        sim = self.sim
        if sim is None or not 0 <= sk.sim_flow_id < len(sim.flows):
            return
        flow = sim.flows[sk.sim_flow_id]
        if not flow.closed:
            return
        plan = sk._plan
        if plan is not None and not plan.back:
            sk.free()  # nothing to read back after the op: freed now, as right after it
        else:
            sk._free_pending = True  # freed right after the op returns (sync_from_kernel)
        rcv = flow.rcv.sk if flow.rcv is not None else None
        if isinstance(rcv, KernelTcpSock) and rcv is not sk and rcv.icsk_ca_ops is None:
            rcv.free()  # a receiver without a CC has no release to wait for

    def live_sockets(self) -> list[KernelTcpSock]:
        """Sockets whose kernel struct still exists."""
        return [s for s in self.sockets if not s.freed]

    def close(self) -> None:
        """Close the simulator's flows, then destroy every socket and the scratch space."""
        if self.sim is not None:
            self.sim.close()
        for sk in self.sockets:
            sk.free()
        self.sockets = []
        if self.scratch is not None:
            self.scratch.free(self.kernel)
            self.scratch = None  # type: ignore[assignment]
        self._unbind_clock()


def _map_access(cc: CongestionControl) -> AccessSet | None:
    """The union of the access sets of the programs of ``cc``'s struct_ops map (None: unknown)."""
    kdata = cc.kdata
    trampolines = getattr(getattr(kdata, "map", None), "trampolines", None)
    if not trampolines:
        return None
    sets = [tr.prog.extra.get("access") for tr in trampolines.values()]
    if not all(isinstance(a, AccessSet) for a in sets):
        return None  # a program loaded without the verifier
    return AccessSet.union_of(a for a in sets if isinstance(a, AccessSet))


@cache
def _layout(tcp_sock: btflib.Struct) -> SyncLayout:
    """The sync units and plans for one ``struct tcp_sock`` type (computed once per BTF)."""
    return SyncLayout(tcp_sock)


def kernel_simulator(kernel: EmulatedKernel, config: SimConfig | None = None) -> tuple[Simulator, TcpBridge]:
    """A :class:`Simulator` whose sockets, congestion controls and clock are the kernel's.

    The simulator's ``hz`` becomes the kernel's ``CONFIG_HZ`` (jiffies seen by BPF through
    ``bpf_jiffies64`` and by the TCP stack as ``tcp_jiffies32`` are one count).
    """
    bridge = TcpBridge(kernel)
    hz = int(getattr(kernel, "config_hz", 0) or 0)
    cfg = config if config is not None else SimConfig()
    if hz and cfg.hz != hz:
        cfg = dataclasses.replace(cfg, hz=hz)
    sim = Simulator(cfg, bridge.registry, sock_factory=bridge.socket)
    bridge.bind(sim)
    return sim, bridge
