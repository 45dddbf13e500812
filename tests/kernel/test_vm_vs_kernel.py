"""The conformance vectors on the real kernel (BPF_PROG_TEST_RUN) agree with our VM.

Each vector that needs no input memory is loaded as a ``BPF_PROG_TYPE_SOCKET_FILTER``
program and run once on a 0-filled 64-byte packet.  ``retval`` carries only the low 32
bits of ``r0``, so every vector runs twice: as written, and with each exit of the main
function redirected to an epilogue ``r0 >>= 32; exit`` for the high half.  Vectors the
verifier rejects (unreachable code, uninitialised registers, the suite's helper 5 …) are
skipped for the kernel column only.  Uses a private ctypes ``bpf()`` wrapper.
"""

from __future__ import annotations

import ctypes
import os
import platform
import struct
from pathlib import Path

import pytest

from structops.isa import BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, Insn, encode
from structops.isa.codec import slot_index
from structops.vm import Program
from structops.vm.conformance import Vector, conformance_vm, load_vector
from structops.vm.testrun import run_with_data

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT.parent / "shared" / "conformance" / "bpf_conformance" / "tests"
SYS_BPF = {"x86_64": 321, "aarch64": 280}.get(platform.machine())


def _skip_reason() -> str | None:
    if SYS_BPF is None:
        return f"no bpf() syscall number known for {platform.machine()}"
    if os.geteuid() != 0:
        return "not root: CAP_BPF is needed for the real bpf() syscall"
    if not Path("/sys/kernel/btf/vmlinux").exists():
        return "no kernel BTF at /sys/kernel/btf/vmlinux"
    if not SUITE.is_dir():
        return f"no conformance vectors under {SUITE}"
    return None


pytestmark = [pytest.mark.linux, pytest.mark.skipif(_skip_reason() is not None, reason=str(_skip_reason()))]


def _bpf(cmd: int, attr: ctypes.Array[ctypes.c_char]) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    ret = int(libc.syscall(SYS_BPF, cmd, attr, len(attr)))
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return ret


def kernel_run(bytecode: bytes) -> int | None:
    """Load as a socket filter and test-run once; the u32 retval, or None if refused."""
    insns = ctypes.create_string_buffer(bytecode)
    lic = ctypes.create_string_buffer(b"GPL")
    attr = ctypes.create_string_buffer(128)
    struct.pack_into("<IIQQ", attr, 0, 1, len(bytecode) // 8, ctypes.addressof(insns), ctypes.addressof(lic))
    try:
        fd = _bpf(5, attr)  # BPF_PROG_LOAD
    except OSError:
        return None
    try:
        data = ctypes.create_string_buffer(64)
        run = ctypes.create_string_buffer(128)
        struct.pack_into("<IIII", run, 0, fd, 0, 64, 0)
        struct.pack_into("<Q", run, 16, ctypes.addressof(data))
        struct.pack_into("<I", run, 32, 1)
        _bpf(10, run)  # BPF_PROG_TEST_RUN
        return int(struct.unpack_from("<I", run, 4)[0])
    finally:
        os.close(fd)


def high_half_variant(insns: list[Insn]) -> list[Insn]:
    """``insns`` with every main-function exit jumping to ``r0 >>= 32; exit``.

    The epilogue goes right after the main function (before the first subprogram), so
    calls and function references from the main function into subprograms shift by 2.
    """
    pcs = slot_index(insns)
    targets = {pcs[i] + 1 + ins.imm for i, ins in enumerate(insns) if _is_func_ref(ins)}
    total = pcs[-1] + insns[-1].slots
    main_end = min([t for t in targets if t > 0] + [total])
    out: list[Insn] = []
    for i, ins in enumerate(insns):
        pc = pcs[i]
        if pc == main_end:
            out += [Insn(0x77, 0, 0, 0, 32), Insn(0x95)]
        if pc < main_end and ins.opcode == 0x95:
            ins = Insn(0x05, off=main_end - pc - 1)
        elif pc < main_end and _is_func_ref(ins) and pc + 1 + ins.imm >= main_end:
            ins = Insn(ins.opcode, ins.dst, ins.src, ins.off, ins.imm + 2, ins.imm_hi)
        out.append(ins)
    if main_end == total:
        out += [Insn(0x77, 0, 0, 0, 32), Insn(0x95)]
    return out


def _is_func_ref(ins: Insn) -> bool:
    return (ins.opcode == 0x85 and ins.src == BPF_PSEUDO_CALL) or (ins.opcode == 0x18 and ins.src == BPF_PSEUDO_FUNC)


def _eligible() -> list[Path]:
    if _skip_reason() is not None:
        return []
    return [p for p in sorted(SUITE.glob("*.data")) if not load_vector(p).mem]


def _ours(vector: Vector, insns: list[Insn]) -> int:
    prog = Program.load(insns, vm=conformance_vm(), name=vector.name)
    return run_with_data(prog, b"").retval


def test_high_half_variant_is_equivalent_on_our_vm() -> None:
    """The rewriting used for the kernel column preserves semantics (checked on our VM)."""
    vector = load_vector(SUITE / "call_local.data")
    insns = vector.program()
    full = _ours(vector, insns)
    assert _ours(vector, high_half_variant(insns)) == full >> 32


def test_vectors_match_kernel() -> None:
    ran = 0
    mismatches: list[str] = []
    for path in _eligible():
        vector = load_vector(path)
        insns = vector.program()
        ours = _ours(vector, insns)
        lo = kernel_run(encode(insns))
        if lo is None:
            continue  # the verifier refuses it: no kernel column for this vector
        hi = kernel_run(encode(high_half_variant(insns)))
        if hi is None:
            continue
        ran += 1
        theirs = (hi << 32) | lo
        if theirs != ours:
            mismatches.append(f"{path.stem}: kernel {theirs:#x}, vm {ours:#x}")
    assert mismatches == []
    assert ran >= 100, f"only {ran} vectors were accepted by the kernel verifier"
