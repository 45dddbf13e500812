"""``tcp_congestion_ops`` registration semantics (T1-T11) and the congestion-control list.

The list (:class:`CongestionControls`) is the emulated ``tcp_cong_list``: built-in
native algorithms (reno, bbr, cubic, as on the project machines) and BPF ones
registered through struct_ops maps.  ``available()`` is what
``/proc/sys/net/ipv4/tcp_available_congestion_control`` prints.  Sockets (the TCP
simulator) look algorithms up by name and hold a map reference for BPF ones (T6, F2).
"""

from __future__ import annotations

import errno
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from structops import btf as btflib
from structops.errors import bpf_error
from structops.kernel.helpers import BASE_HELPERS, helper_id
from structops.kernel.maps.base import check_obj_name
from structops.kernel.struct_ops import KData, StructOpsLink, StructOpsOps
from structops.kernel.subsys.tcp_access import tcp_sock_write_check
from structops.kernel.subsystem import STRUCT_OPS_PROGS, KfuncDef, Subsystem, plug_in
from structops.sim.ops import OP_NAMES
from structops.verifier.ops import ARG_ANY, ARG_RDMEM, ARG_SIZE, ARG_SOCK, ARG_TCPSK, ARG_WRMEM, RET_INT, VerifierOps

if TYPE_CHECKING:
    from structops.kernel.emulated import EmulatedKernel
    from structops.kernel.prog import BpfProg

__all__ = ["TCP_CONG_MASK", "CongestionControl", "CongestionControls", "install", "jhash"]

NAME = "tcp_congestion_ops"
TCP_CONG_NON_RESTRICTED = 0x1
TCP_CONG_NEEDS_ECN = 0x2
TCP_CONG_NEEDS_ACCECN = 0x4
TCP_CONG_ECT_1_NEGOTIATION = 0x8
TCP_CONG_NO_FALLBACK_RFC3168 = 0x10
#: TCP_CONG_MASK of Linux 6.18 (T3): each of these bits is accepted, any other is EINVAL
#: (measured on the project machines: 0x1..0x10 and 0x1f pass, 0x20 and above fail).
TCP_CONG_MASK = (
    TCP_CONG_NON_RESTRICTED
    | TCP_CONG_NEEDS_ECN
    | TCP_CONG_NEEDS_ACCECN
    | TCP_CONG_ECT_1_NEGOTIATION
    | TCP_CONG_NO_FALLBACK_RFC3168
)

#: The callable members of struct tcp_congestion_ops: one table, shared with the simulator.
_OPS = OP_NAMES
_STUBS: dict[str, str | None] = {op: f"bpf_tcp_ca_{op}" for op in _OPS}
_STUBS["init"] = "__bpf_tcp_ca_init"
_STUBS["release"] = "__bpf_tcp_ca_release"
_STUBS["get_info"] = None  # T1: no stub -> unsupported (V8)

_KFUNCS = (
    "tcp_reno_ssthresh",
    "tcp_reno_cong_avoid",
    "tcp_reno_undo_cwnd",
    "tcp_slow_start",
    "tcp_cong_avoid_ai",
)


def _rot(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & 0xFFFFFFFF


_MIX_ROTS = (4, 6, 8, 16, 19, 4)
_FINAL_ROTS = (14, 11, 25, 16, 4, 14, 24)


def _add_words(r: list[int], chunk: bytes) -> None:
    """Add the three little-endian u32 words of the 12-byte ``chunk`` to ``r`` (a, b, c)."""
    for i in range(3):
        r[i] = (r[i] + int.from_bytes(chunk[4 * i : 4 * i + 4], "little")) & 0xFFFFFFFF


def _mix(r: list[int]) -> None:
    """lookup3's ``__jhash_mix`` on ``r`` (a, b, c): step i works on register i % 3."""
    for i, k in enumerate(_MIX_ROTS):
        x, y, z = i % 3, (i + 2) % 3, (i + 1) % 3
        r[x] = (r[x] - r[y]) & 0xFFFFFFFF
        r[x] ^= _rot(r[y], k)
        r[y] = (r[y] + r[z]) & 0xFFFFFFFF


def _final(r: list[int]) -> int:
    """lookup3's ``__jhash_final`` on ``r`` (a, b, c), starting at c; returns c."""
    for i, k in enumerate(_FINAL_ROTS):
        x, y = (i + 2) % 3, (i + 1) % 3
        r[x] ^= r[y]
        r[x] = (r[x] - _rot(r[y], k)) & 0xFFFFFFFF
    return r[2]


def jhash(data: bytes, initval: int) -> int:
    """Bob Jenkins' lookup3 hash as the kernel's ``jhash`` (T5 key)."""
    length = len(data)
    r = [(0xDEADBEEF + length + initval) & 0xFFFFFFFF] * 3
    i = 0
    while length > 12:
        _add_words(r, data[i : i + 12])
        _mix(r)
        i += 12
        length -= 12
    if length == 0:
        return r[2]
    _add_words(r, data[i:].ljust(12, b"\0"))
    return _final(r)


def ca_key(name: str) -> int:
    """``jhash(ca->name, sizeof(ca->name), strlen(ca->name))``."""
    raw = name.encode()[:16].ljust(16, b"\0")
    return jhash(raw, len(name.encode()))


@dataclass(eq=False)
class CongestionControl:
    """One entry of ``tcp_cong_list``: native (``impl``) or BPF (``kdata``)."""

    name: str
    key: int
    flags: int = 0
    impl: Any = None
    kdata: KData | None = None
    sockets: int = 0

    @property
    def is_bpf(self) -> bool:
        """Registered through a struct_ops map."""
        return self.kdata is not None

    def try_get(self) -> bool:
        """``bpf_try_module_get``: BPF ops take a map reference (F2, F5c)."""
        if self.kdata is None:
            return True
        return self.kdata.map.try_get()

    def put(self) -> None:
        """``bpf_module_put``."""
        if self.kdata is not None:
            self.kdata.map.put()


@dataclass
class CongestionControls:
    """The emulated ``tcp_cong_list`` plus the default algorithm."""

    entries: list[CongestionControl] = field(default_factory=list)
    default: str = "bbr"
    lock: threading.Lock = field(default_factory=threading.Lock)

    def available(self) -> list[str]:
        """``tcp_available_congestion_control`` names, in registration order."""
        with self.lock:
            return [e.name for e in self.entries]

    def allowed(self) -> list[str]:
        """``tcp_allowed_congestion_control``: the algorithms flagged TCP_CONG_NON_RESTRICTED."""
        with self.lock:
            return [e.name for e in self.entries if e.flags & TCP_CONG_NON_RESTRICTED]

    def find(self, name: str) -> CongestionControl | None:
        """Look an algorithm up by name (RCU reader side in the kernel)."""
        with self.lock:
            return next((e for e in self.entries if e.name == name), None)

    def find_key(self, key: int) -> CongestionControl | None:
        """Look an algorithm up by its jhash key."""
        with self.lock:
            return next((e for e in self.entries if e.key == key), None)


def _validate(kdata: KData) -> int:
    """T4: ssthresh, undo_cwnd and (cong_avoid or cong_control) are required."""
    if not (kdata.has("ssthresh") and kdata.has("undo_cwnd")):
        return -errno.EINVAL
    if not (kdata.has("cong_avoid") or kdata.has("cong_control")):
        return -errno.EINVAL
    return 0


def _validate_with_reason(kdata: KData) -> int:
    """T4 as the map update's validate step: EINVAL naming the members that are missing."""
    if _validate(kdata):
        missing = [op for op in ("ssthresh", "undo_cwnd") if not kdata.has(op)]
        if not (kdata.has("cong_avoid") or kdata.has("cong_control")):
            missing.append("cong_avoid or cong_control")
        raise bpf_error(errno.EINVAL, f"a tcp_congestion_ops must implement {', '.join(missing)} (Linux requires them)")
    return 0


def _init_member(t: btflib.Struct, m: btflib.Member, kdata: KData, udata: bytes) -> int:
    """T3: flags (mask) and name (bpf_obj_name_cpy) are handled; the rest default.

    Refusals are EINVAL as in Linux, raised with a message that says what to change.
    """
    off = m.offset
    if m.name == "flags":
        flags = int.from_bytes(udata[off : off + 4], "little")
        if flags & ~TCP_CONG_MASK:
            raise bpf_error(
                errno.EINVAL,
                f"tcp_congestion_ops.flags {flags:#x} has bits this kernel does not know "
                f"({flags & ~TCP_CONG_MASK:#x}); only {TCP_CONG_MASK:#x} may be set",
            )
        kdata.write("flags", udata[off : off + 4])
        return 1
    if m.name == "name":
        raw = bytes(udata[off : off + 16])
        shown = raw.split(b"\0", 1)[0].decode(errors="replace")
        if b"\0" not in raw:
            raise bpf_error(
                errno.EINVAL,
                f"congestion control name {shown!r}... is too long: at most 15 characters of [A-Za-z0-9_.]",
            )
        try:
            name = check_obj_name(raw, "congestion control name")
        except OSError:
            raise bpf_error(
                errno.EINVAL, f"congestion control name {shown!r} has characters outside [A-Za-z0-9_.]"
            ) from None
        if not name:
            raise bpf_error(errno.EINVAL, "congestion control name is empty: set .name (1 to 15 characters)")
        kdata.write("name", name.encode())
        return 1
    return 0


def install(kernel: EmulatedKernel) -> None:
    """Register tcp_congestion_ops, its kfuncs, and the built-in algorithms."""
    ccs = CongestionControls()
    for native in ("reno", "bbr", "cubic"):
        # reno is always allowed to unprivileged users; the default (bbr) is made allowed
        # when it becomes the default (tcp_set_default_congestion_control).
        flags = TCP_CONG_NON_RESTRICTED if native in ("reno", ccs.default) else 0
        ccs.entries.append(CongestionControl(native, ca_key(native), flags, impl=native))
    kernel.tcp_congestion = ccs  # type: ignore[attr-defined]

    def reg(kdata: KData, link: StructOpsLink | None) -> int:
        if _validate(kdata):  # T5.1
            return -errno.EINVAL
        name = kdata.read_str("name")
        key = ca_key(name)
        with ccs.lock:
            if key == 0 or any(e.key == key for e in ccs.entries):  # T5.3
                return -errno.EEXIST
            cc = CongestionControl(name, key, kdata.read_int("flags"), kdata=kdata)
            ccs.entries.append(cc)
        kdata.state["tcp_cc"] = cc
        return 0

    def unreg(kdata: KData, link: StructOpsLink | None) -> None:
        cc = kdata.state.pop("tcp_cc", None)
        with ccs.lock:
            if cc in ccs.entries:
                ccs.entries.remove(cc)
        if not kernel.rcu.in_reader():  # T6
            kernel.rcu.synchronize()

    def update(new: KData, old: KData, link: StructOpsLink) -> int:
        new_name = new.read_str("name")
        key = ca_key(new_name)
        old_cc: CongestionControl | None = old.state.get("tcp_cc")
        existing = ccs.find_key(old_cc.key) if old_cc is not None else None
        if key == 0 or existing is None or existing.name != new_name:  # T7
            return -errno.EINVAL
        if existing is None or existing is not old_cc:
            return -errno.EINVAL
        cc = CongestionControl(new_name, key, new.read_int("flags"), kdata=new)
        with ccs.lock:
            idx = ccs.entries.index(existing)
            ccs.entries[idx] = cc
        old.state.pop("tcp_cc", None)
        new.state["tcp_cc"] = cc
        if not kernel.rcu.in_reader():
            kernel.rcu.synchronize()
        return 0

    def init(spec: btflib.Spec) -> int:
        for needed in ("sock", "tcp_sock", NAME):  # T2
            try:
                spec.find(needed, btflib.Struct)
            except KeyError:
                return -errno.EINVAL
        return 0

    def get_func_proto(hid: int, prog: BpfProg) -> bool:
        """T10."""
        st = prog.st_ops
        member = st.member_name if st is not None else ""
        if hid in (helper_id("setsockopt"), helper_id("getsockopt")):
            return member != "release"
        if hid in _TCP_HELPERS:
            return True
        return hid in BASE_HELPERS

    ops = StructOpsOps(
        name=NAME,
        cfi_stubs=_STUBS,
        init=init,
        init_member=_init_member,
        reg=reg,
        unreg=unreg,
        validate=_validate_with_reason,
        update=update,
        verifier_ops=VerifierOps(
            get_func_proto=get_func_proto,
            btf_struct_access=tcp_sock_write_check(kernel.vmlinux.spec),
            promote_ptr={"sock": "tcp_sock"},
            write_denied=_write_denied,
        ),
    )
    plug_in(kernel, _subsystem(kernel, ops))


def _subsystem(kernel: EmulatedKernel, ops: StructOpsOps) -> Subsystem:
    """tcp_congestion_ops as a :class:`Subsystem`: the type, T10 helpers, T2 kfunc sets.

    Kfunc sets are per program type: any struct_ops program may call them (measured on
    Linux 6.18: tcp_reno_* and cubictcp_* load from bpf_dummy_ops programs too).
    """
    from structops.kernel.maps.sk_storage import sk_storage_helpers
    from structops.kernel.subsys import tcp_kfuncs
    from structops.kernel.subsys.tcp_sockopt import helper_specs

    kfuncs = [KfuncDef(kf, tcp_kfuncs.implementation(kernel, kf)) for kf in _KFUNCS]
    kfuncs += [KfuncDef(kf, tcp_kfuncs.cubic_implementation(kernel, kf)) for kf in tcp_kfuncs.CUBIC_KFUNCS]
    return Subsystem(
        NAME,
        struct_ops=[ops],
        kfuncs=kfuncs,
        unimplemented_kfuncs=tcp_kfuncs.BBR_KFUNCS,
        helpers=[*helper_specs(kernel, STRUCT_OPS_PROGS), *sk_storage_helpers(kernel, STRUCT_OPS_PROGS)],
        helper_protos=HELPER_PROTOS,
    )


#: ``bpf_sk_setsockopt_proto``, ``bpf_sk_getsockopt_proto``, ``bpf_tcp_send_ack_proto``.
HELPER_PROTOS = {
    49: ((ARG_SOCK, ARG_ANY, ARG_ANY, ARG_RDMEM, ARG_SIZE), RET_INT),  # setsockopt(sk, level, opt, val, len)
    57: ((ARG_SOCK, ARG_ANY, ARG_ANY, ARG_WRMEM, ARG_SIZE), RET_INT),  # getsockopt(sk, level, opt, buf, len)
    116: ((ARG_TCPSK, ARG_ANY), RET_INT),  # tcp_send_ack(tp, rcv_nxt)
}

_TCP_HELPERS = frozenset(
    helper_id(n) for n in ("tcp_send_ack", "sk_storage_get", "sk_storage_delete", "ktime_get_coarse_ns")
)


def _write_denied(type_name: str, off: int, size: int) -> str:
    """``bpf_tcp_ca_btf_struct_access`` wording of a refused write (T8)."""
    if type_name != "tcp_sock":
        return "only read is supported"
    return f"no write support to tcp_sock at off {off}"
