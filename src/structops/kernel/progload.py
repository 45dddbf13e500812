"""BPF_PROG_LOAD in the embedded kernel: attr checks, struct_ops attach checks, load-time analysis.

Order follows ``bpf_prog_load`` then ``bpf_check``: attrs and capabilities (V1), the
attach target (V2, V3), ``check_struct_ops_btf_id`` (V4-V11), then the instruction
scan: map references and kfunc rules, then the verifier for every supported program
type (:mod:`structops.kernel.progtypes`; other types are EINVAL like a kernel without
them): helper availability (V16), ctx access (V12), nullable arguments (V13), the
return register (V15), with the kernel's errno and log text.
"""

from __future__ import annotations

import errno
import re
import struct
from collections.abc import Iterator
from typing import TYPE_CHECKING

from structops.errors import VerifierError, bpf_error
from structops.kernel.btf_obj import BtfObject
from structops.kernel.maps.base import BpfMap, check_obj_name
from structops.kernel.prog import BpfProg, StructOpsAttach, is_gpl_compatible, prog_tag
from structops.kernel.progtypes import SUPPORTED_PROG_TYPES
from structops.kernel.struct_ops import _func_proto_of, find_desc
from structops.kernel.verifier_env import verify_prog
from structops.uapi import (
    BPF_PSEUDO_BTF_ID,
    BPF_PSEUDO_CALL,
    BPF_PSEUDO_FUNC,
    BPF_PSEUDO_KFUNC_CALL,
    BPF_PSEUDO_MAP_FD,
    BPF_PSEUDO_MAP_IDX,
    BPF_PSEUDO_MAP_IDX_VALUE,
    BPF_PSEUDO_MAP_VALUE,
    ENOTSUPP,
    MapType,
    ProgLoadFlags,
    ProgType,
)

if TYPE_CHECKING:
    from structops.kernel.attrs import ProgLoadAttr
    from structops.kernel.emulated import Process

__all__ = ["Slot", "load_program", "slots"]

BPF_MAXINSNS = 1_000_000
_KNOWN_PROG_FLAGS = int(
    ProgLoadFlags.BPF_F_STRICT_ALIGNMENT
    | ProgLoadFlags.BPF_F_ANY_ALIGNMENT
    | ProgLoadFlags.BPF_F_TEST_RND_HI32
    | ProgLoadFlags.BPF_F_TEST_STATE_FREQ
    | ProgLoadFlags.BPF_F_SLEEPABLE
    | ProgLoadFlags.BPF_F_XDP_HAS_FRAGS
    | ProgLoadFlags.BPF_F_XDP_DEV_BOUND_ONLY
    | ProgLoadFlags.BPF_F_TEST_REG_INVARIANTS
    | ProgLoadFlags.BPF_F_TOKEN_FD
)
#: Program types any loader may use without CAP_BPF (when unprivileged bpf is enabled).
_UNPRIV_TYPES = {ProgType.BPF_PROG_TYPE_SOCKET_FILTER, ProgType.BPF_PROG_TYPE_CGROUP_SKB}
#: Types that also need CAP_PERFMON (V1).
_PERFMON_TYPES = {
    ProgType.BPF_PROG_TYPE_KPROBE,
    ProgType.BPF_PROG_TYPE_TRACEPOINT,
    ProgType.BPF_PROG_TYPE_PERF_EVENT,
    ProgType.BPF_PROG_TYPE_RAW_TRACEPOINT,
    ProgType.BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE,
    ProgType.BPF_PROG_TYPE_TRACING,
    ProgType.BPF_PROG_TYPE_LSM,
    ProgType.BPF_PROG_TYPE_STRUCT_OPS,
    ProgType.BPF_PROG_TYPE_EXT,
}


class Slot:
    """One raw 8-byte instruction slot."""

    __slots__ = ("code", "dst", "imm", "off", "src")

    def __init__(self, code: int, dst: int, src: int, off: int, imm: int) -> None:
        self.code = code
        self.dst = dst
        self.src = src
        self.off = off
        self.imm = imm


def slots(insns: bytes) -> list[Slot]:
    """Decode raw slots (no validation); one shared (read-only) Slot per distinct encoding."""
    return list(map(_Slots().__getitem__, struct.iter_unpack("<BBhi", insns)))


class _Slots(dict[tuple[int, int, int, int], Slot]):
    def __missing__(self, raw: tuple[int, int, int, int]) -> Slot:
        s = self[raw] = Slot(*_split(raw))
        return s


def _split(raw: tuple[int, int, int, int]) -> tuple[int, int, int, int, int]:
    code, regs, off, imm = raw
    return code, regs & 0xF, regs >> 4, off, imm


def _with_opcode(insns: bytes, pattern: re.Pattern[bytes]) -> Iterator[int]:
    """Slot indexes whose opcode byte matches ``pattern`` (every slot, in order)."""
    for m in pattern.finditer(insns[0::8]):
        yield m.start()


_LD_OR_CALL = re.compile(b"[\x18\x85]")
_CALL = re.compile(b"\x85")


class _Log:
    def __init__(self, buf: bytearray | None, level: int) -> None:
        self.buf = buf
        self.level = level
        self.lines: list[str] = []

    def add(self, line: str) -> None:
        self.lines.append(line)

    def text(self) -> str:
        return "".join(line + "\n" for line in self.lines)

    def flush(self) -> None:
        if self.buf is None or not self.level or not len(self.buf):
            return
        data = self.text().encode()[: len(self.buf) - 1]
        self.buf[: len(data)] = data
        self.buf[len(data)] = 0


def _fail(log: _Log, code: int, message: str) -> VerifierError:
    log.add(message)
    log.flush()
    return VerifierError(code, message, op="prog load", log=log.text())


def load_program(proc: Process, attr: ProgLoadAttr) -> BpfProg:
    """Create a program object from ``attr`` or raise the kernel's error."""
    from structops.kernel.emulated import CAP_BPF, CAP_PERFMON

    kernel = proc.kernel
    log = _Log(attr.log_buf, attr.log_level)
    if attr.log_level and (attr.log_buf is None or len(attr.log_buf) < 128):
        raise bpf_error(errno.EINVAL, "log buffer too small or missing")
    try:
        ptype = ProgType(attr.prog_type)
    except ValueError:
        raise bpf_error(errno.EINVAL, f"unknown prog type {attr.prog_type}") from None
    if ptype == ProgType.BPF_PROG_TYPE_UNSPEC:
        raise bpf_error(errno.EINVAL, "prog type 0")
    if attr.prog_flags & ~_KNOWN_PROG_FLAGS:
        raise bpf_error(errno.EINVAL, f"unknown prog_flags {attr.prog_flags:#x}")
    insns = bytes(attr.insns)
    cnt = attr.insn_cnt if attr.insn_cnt is not None else len(insns) // 8
    if cnt == 0 or len(insns) % 8:
        raise bpf_error(errno.EINVAL, "no instructions")
    if cnt > BPF_MAXINSNS:
        raise bpf_error(errno.E2BIG, "too many instructions")
    insns = insns[: cnt * 8]
    if len(insns) < cnt * 8:
        raise bpf_error(errno.EFAULT, "insns buffer shorter than insn_cnt")
    # The license is an opaque C string (issue 12 item 6): bytes up to the NUL, any values.
    raw_license = attr.license if isinstance(attr.license, bytes) else (attr.license or "").encode("utf-8", "replace")
    license_ = raw_license.split(b"\0", 1)[0].decode("latin-1")
    # V1: capabilities
    if kernel.unprivileged_bpf_disabled and not proc.capable(CAP_BPF):
        raise bpf_error(errno.EPERM, "unprivileged bpf is disabled")
    if ptype not in _UNPRIV_TYPES and not proc.capable(CAP_BPF):
        raise bpf_error(errno.EPERM, "this program type needs CAP_BPF")
    if ptype in _PERFMON_TYPES and not proc.capable(CAP_PERFMON):
        raise bpf_error(errno.EPERM, "this program type needs CAP_PERFMON")
    # V2: attach target
    attach_btf: BtfObject | None = None
    if attr.attach_btf_obj_fd:
        file = proc.get_file(attr.attach_btf_obj_fd)
        if isinstance(file.obj, BpfProg):
            raise bpf_error(errno.EINVAL, "attach_prog_fd is not valid for this program type")
        if not isinstance(file.obj, BtfObject):
            raise bpf_error(errno.EINVAL, "attach_btf_obj_fd is not a BTF object")
        if not file.obj.kernel_btf:
            raise bpf_error(ENOTSUPP, "attach BTF must be a kernel BTF")
        attach_btf = file.obj
        if not attr.attach_btf_id:
            raise bpf_error(errno.EINVAL, "attach_btf_obj_fd without attach_btf_id")
    elif attr.attach_btf_id:
        attach_btf = kernel.vmlinux
    if attr.attach_btf_id > 0xFFFFF:
        raise bpf_error(errno.EINVAL, "attach_btf_id out of range")
    prog = BpfProg(kernel)
    prog.prog_type = int(ptype)
    prog.expected_attach_type = attr.expected_attach_type
    prog.insns = insns
    prog.license = license_
    prog.gpl_compatible = is_gpl_compatible(license_)
    prog.prog_flags = attr.prog_flags
    prog.sleepable = bool(attr.prog_flags & ProgLoadFlags.BPF_F_SLEEPABLE)
    prog.attach_btf_id = attr.attach_btf_id
    prog.tag = prog_tag(insns)
    try:
        prog.name = check_obj_name(attr.prog_name, "prog name")
        if attach_btf is not None:
            attach_btf.get()
            prog.attach_btf = attach_btf
        if attr.prog_btf_fd:
            pbtf = proc.get_btf(attr.prog_btf_fd)
            pbtf.get()
            prog.btf = pbtf
        prog.func_info = bytes(attr.func_info or b"")
        prog.line_info = bytes(attr.line_info or b"")
        code = slots(insns)
        if ptype == ProgType.BPF_PROG_TYPE_STRUCT_OPS:
            _check_struct_ops(proc, prog, code, log)
        elif ptype not in SUPPORTED_PROG_TYPES:  # find_prog_type: a type this kernel lacks
            raise bpf_error(
                errno.EINVAL, f"program type {ptype.name} is not supported by the embedded kernel; load it on Linux"
            )
        _scan(proc, prog, code, log)
        if not prog.verified_insns:  # a program type the embedded kernel does not verify
            prog.verified_insns = len(code)
        kernel_exec = kernel.executor
        if kernel_exec is not None:
            prog.runner = kernel_exec.load(prog, proc)
    except OSError:
        prog.put()
        raise
    except Exception as exc:  # the VM's translation rejected the bytecode
        prog.put()
        raise _fail(log, errno.EINVAL, f"invalid program: {exc}") from None
    return prog


def _check_struct_ops(proc: Process, prog: BpfProg, code: list[Slot], log: _Log) -> None:
    """``check_struct_ops_btf_id`` (V4-V11)."""
    kernel = proc.kernel
    if not prog.gpl_compatible:  # V4
        raise _fail(log, errno.EINVAL, "struct ops programs must have a GPL compatible license")
    if not prog.attach_btf_id or prog.attach_btf is None:  # V5
        raise _fail(log, ENOTSUPP, "")
    btf = prog.attach_btf
    if btf.module is not None and not kernel.module_try_get(btf.module):  # V6
        raise _fail(log, ENOTSUPP, f"struct_ops module {btf.module} is not found")
    try:
        desc = find_desc(kernel, btf, prog.attach_btf_id)
        if desc is None:  # V7
            raise _fail(log, ENOTSUPP, f"attach_btf_id {prog.attach_btf_id} is not a supported struct")
        t = desc.type
        idx = prog.expected_attach_type
        if idx >= len(t.members):  # V8
            raise _fail(log, errno.EINVAL, f"attach to invalid member idx {idx} of struct {t.name}")
        m = t.members[idx]
        proto = _func_proto_of(m.type)
        if proto is None:
            raise _fail(log, errno.EINVAL, f"attach to invalid member {m.name}(@idx {idx}) of struct {t.name}")
        if not desc.member_supported(idx):
            raise _fail(log, ENOTSUPP, f"attach to unsupported member {m.name} of struct {t.name}")
        if desc.ops.check_member is not None:
            err = desc.ops.check_member(t, m, prog)
            if err:
                raise _fail(log, -err, f"attach to unsupported member {m.name} of struct {t.name}")
        ctx_args = desc.arg_info[idx]
        if ctx_args and ctx_args[0].refcounted and any(_is_tail_call(s) for s in code):  # V10 (Q3)
            raise _fail(log, errno.EINVAL, "program with __ref argument cannot tail call")
        prog.st_ops = StructOpsAttach(desc, idx, m.name, m.offset, proto, ctx_args)  # V11
    finally:
        if btf.module is not None:
            kernel.module_put(btf.module)


def _is_tail_call(s: Slot) -> bool:
    return s.code == 0x85 and s.src == 0 and s.imm == 12


def _scan(proc: Process, prog: BpfProg, code: list[Slot], log: _Log) -> None:
    """Map references and kfunc availability (``add_subprog_and_kfunc``), then the verifier.

    Helper availability is the verifier's (``check_helper_call``: only reached calls, so
    libbpf's poisoned CO-RE / weak-kfunc calls in dead code pass, V16); kfunc calls are
    checked for every call insn, as Linux does before ``check_cfg``.  A kernel whose
    ``verify_programs`` attribute is False skips the verifier: the VM-containment tests
    use it to load hostile bytecode "as if the verifier were wrong" (issue 12 item 4).
    """
    kernel = proc.kernel
    n = len(code)
    nxt = 0  # the next insn start: the slot after a ld_imm64 is its second half
    for i in _with_opcode(prog.insns, _LD_OR_CALL):  # other insns need nothing here
        if i < nxt:
            continue
        s = code[i]
        if s.code == 0x18:  # ld_imm64
            if i + 1 >= n:
                raise _fail(log, errno.EINVAL, "invalid bpf_ld_imm64 insn")
            if s.src in (BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE):
                off = code[i + 1].imm & 0xFFFF_FFFF
                if s.src == BPF_PSEUDO_MAP_FD and off:
                    raise _fail(log, errno.EINVAL, "unrecognized bpf_ld_imm64 insn")
                if s.src == BPF_PSEUDO_MAP_VALUE and off >= _MAX_VAR_OFF:
                    raise _fail(log, errno.EINVAL, f"direct value offset of {off} is not allowed")
                m, _ = proc.get_map(s.imm)
                if s.src == BPF_PSEUDO_MAP_VALUE:
                    _direct_value_addr(m, off, log)
                if m not in prog.used_maps:
                    m.get()
                    prog.used_maps.append(m)
            elif s.src in (BPF_PSEUDO_MAP_IDX, BPF_PSEUDO_MAP_IDX_VALUE):
                raise _fail(log, errno.EINVAL, "fd_array map references are not supported")
            elif s.src not in (0, BPF_PSEUDO_BTF_ID, BPF_PSEUDO_FUNC):
                raise _fail(log, errno.EINVAL, "unrecognized bpf_ld_imm64 insn")
            nxt = i + 2
            continue
        if s.src == BPF_PSEUDO_KFUNC_CALL:  # a call
            _check_kfunc(proc, prog, s, log)
        elif s.src not in (0, BPF_PSEUDO_CALL):
            raise _fail(log, errno.EINVAL, f"unknown call src {s.src}")
    if getattr(kernel, "verify_programs", True):  # False only in tests of VM containment
        prog.verified_insns = verify_prog(proc, prog, log).insns_processed  # env->insn_processed
    _check_implemented(proc, prog, log)


#: ``BPF_MAX_VAR_OFF``: the largest direct offset into a map value an ld_imm64 may carry.
_MAX_VAR_OFF = 1 << 29


def _direct_value_addr(m: BpfMap, off: int, log: _Log) -> None:
    """``map_direct_value_addr`` (resolve_pseudo_ldimm64): only a one-element ARRAY gives a
    program the address of its value, at an offset inside the value."""
    if m.map_type != MapType.BPF_MAP_TYPE_ARRAY:
        raise _fail(log, errno.EINVAL, "no direct value access support for this map type")
    if m.max_entries != 1 or off >= m.value_size:
        code = ENOTSUPP if m.max_entries != 1 else errno.EINVAL
        raise _fail(log, code, f"invalid access to map value pointer, value_size={m.value_size} off={off}")


def _check_kfunc(proc: Process, prog: BpfProg, s: Slot, log: _Log) -> None:
    """``add_kfunc_call``: GPL, a FUNC in the target BTF, in the kfunc set of this program."""
    kernel = proc.kernel
    if not prog.gpl_compatible:
        raise _fail(log, errno.EINVAL, "cannot call kernel function from non-GPL compatible program")
    k = kernel.kfunc_by_id(s.imm, s.off)
    allowed = k is not None and prog.prog_type in k.prog_types
    st = prog.st_ops
    if allowed and k is not None and st is not None:
        kfilter = st.desc.ops.verifier_ops.kfunc_filter  # per-member sets (sched_ext)
        allowed = kfilter is None or kfilter(k.name, prog)
    if allowed:
        return
    name = k.name if k is not None else _btf_func_name(kernel, s.imm)
    if name is None:
        raise _fail(log, errno.EINVAL, f"kernel btf_id {s.imm} is not a function")
    if k is None and name in kernel.__dict__.get("unimplemented_kfuncs", ()):
        raise _fail(
            log,
            errno.EINVAL,
            f"kernel function {name} is allowed here by Linux but the embedded kernel does not implement it; "
            "load this program on the real kernel",
        )
    raise _fail(log, errno.EACCES, f"calling kernel function {name} is not allowed")


def _btf_func_name(kernel: object, btf_id: int) -> str | None:
    """The name of FUNC ``btf_id`` in vmlinux BTF, None when it is not a FUNC."""
    from structops import btf as btflib

    try:
        t = kernel.vmlinux.spec.type_by_id(btf_id)  # type: ignore[attr-defined]
    except Exception:
        return None
    return t.name if isinstance(t, btflib.Func) else None


def _check_implemented(proc: Process, prog: BpfProg, log: _Log) -> None:
    """Helpers the verifier allowed that the VM cannot run refuse the load (EINVAL) by name."""
    table = proc.kernel.helpers
    insns = prog.insns
    for i in _with_opcode(insns, _CALL):
        s = Slot(*_split(struct.unpack_from("<BBhi", insns, i * 8)))
        if s.src == 0:
            d = table.get(s.imm)
            if d is None:
                continue  # dead poisoned call, sanitized or never reached
            if d.impl is None or (d.prog_types is not None and prog.prog_type not in d.prog_types):
                raise _fail(
                    log,
                    errno.EINVAL,
                    f"helper {d.name}#{d.id} is allowed here by Linux but the embedded kernel does not "
                    "implement it; use another helper or load on the real kernel",
                )
