"""Open-coded iterators (``bpf_for``: ``bpf_iter_num_new/next/destroy``) in the verifier and the VM.

Every verdict, errno and message below was taken from Linux 6.18 on this machine by
loading the same raw programs as ``tcp_congestion_ops.ssthresh`` (issue 13).
"""

from __future__ import annotations

import errno
import struct

import test_linux_scenarios as S
import vfixtures
from vasm import EXIT, JEQ, add, insn, ja, jmp_imm, ldx_dw, ldx_w, mov, movr, st_dw, st_w
from vfixtures import Loader

from structops import btf as btflib
from structops.kernel.emulated import EmulatedKernel
from structops.vm.iter_num import BPF_MAX_LOOPS, iter_num_kfuncs

kernel, env, tracker, load = vfixtures.kernel, vfixtures.env, vfixtures.tracker, vfixtures.load
TCP = "tcp_congestion_ops"


def _kf(kernel: EmulatedKernel, name: str) -> bytes:
    spec = kernel.vmlinux.spec
    return S.call_kfunc(spec.type_id(spec.find(name, btflib.Func)))


def _fp(reg: int, off: int) -> bytes:
    return movr(reg, 10) + add(reg, off)


def _new(k: EmulatedKernel, off: int = -8, start: int = 0, end: int = 10) -> bytes:
    return _fp(1, off) + mov(2, start) + mov(3, end) + _kf(k, "bpf_iter_num_new")


def _destroy(k: EmulatedKernel, off: int = -8) -> bytes:
    return _fp(1, off) + _kf(k, "bpf_iter_num_destroy")


def _sum_loop(k: EmulatedKernel, end: int = 10) -> bytes:
    """``r6 = 0; bpf_for(i, 0, end) r6 += i; return r6``."""
    loop = _fp(1, -8) + _kf(k, "bpf_iter_num_next") + jmp_imm(JEQ, 0, 0, 3) + ldx_w(2, 0, 0)
    loop += insn(0x0F, 6, 2) + ja(-7)
    return mov(6, 0) + _new(k, end=end) + loop + _destroy(k) + movr(0, 6) + EXIT


def _err(load: Loader, code: bytes, want: int) -> str:
    err = S.expect_errno(want, lambda: load(TCP, "ssthresh", code))
    return str(err.log)


def test_bpf_for_loop_converges(load: Loader, kernel: EmulatedKernel) -> None:
    """A counting loop over an iterator verifies in a handful of states whatever its length."""
    assert load(TCP, "ssthresh", _sum_loop(kernel, 10)) > 0
    log = bytearray(1 << 16)
    assert load(TCP, "ssthresh", _sum_loop(kernel, 1_000_000), log) > 0
    processed = int(bytes(log).split(b"processed ")[1].split()[0])
    assert processed < 200  # widened and pruned at the next() call, not unrolled


def test_iterator_never_destroyed_is_a_leak(load: Loader, kernel: EmulatedKernel) -> None:
    log = _err(load, _new(kernel) + mov(0, 0) + EXIT, errno.EINVAL)
    assert "Unreleased reference id=1 alloc_insn=4" in log
    assert "BPF_EXIT instruction in main prog would lead to reference leak" in log


def test_next_or_destroy_needs_an_initialised_iterator(load: Loader, kernel: EmulatedKernel) -> None:
    log = _err(load, _fp(1, -8) + _kf(kernel, "bpf_iter_num_next") + mov(0, 0) + EXIT, errno.EINVAL)
    assert "expected an initialized iter_num as arg #0" in log
    twice = _new(kernel) + _destroy(kernel) + _destroy(kernel) + mov(0, 0) + EXIT
    assert "expected an initialized iter_num as arg #0" in _err(load, twice, errno.EINVAL)
    overwritten = _new(kernel) + st_dw(10, -8, 0) + _destroy(kernel) + mov(0, 0) + EXIT
    assert "expected an initialized iter_num as arg #0" in _err(load, overwritten, errno.EINVAL)


def test_new_on_a_live_iterator_is_refused(load: Loader, kernel: EmulatedKernel) -> None:
    log = _err(load, _new(kernel) + _new(kernel) + mov(0, 0) + EXIT, errno.EINVAL)
    assert "expected uninitialized iter_num as arg #0" in log


def test_iterator_argument_must_be_an_aligned_stack_slot(load: Loader, kernel: EmulatedKernel) -> None:
    log = _err(load, _new(kernel, off=-12) + _destroy(kernel, -12) + mov(0, 0) + EXIT, errno.EINVAL)
    assert "expected uninitialized iter_num as arg #0" in log
    ctx = mov(2, 0) + mov(3, 10) + _kf(kernel, "bpf_iter_num_new") + mov(0, 0) + EXIT
    assert "arg#0 expected pointer to an iterator on stack" in _err(load, ctx, errno.EINVAL)
    null = mov(1, 0) + mov(2, 0) + mov(3, 10) + _kf(kernel, "bpf_iter_num_new") + mov(0, 0) + EXIT
    assert "Possibly NULL pointer passed to trusted arg0" in _err(load, null, errno.EACCES)


def test_iterator_slots_are_not_readable(load: Loader, kernel: EmulatedKernel) -> None:
    code = _new(kernel) + ldx_dw(0, 10, -8) + _destroy(kernel) + mov(0, 0) + EXIT
    assert "invalid read from stack off -8+0 size 8" in _err(load, code, errno.EACCES)


def test_next_result_is_nullable_readonly_memory(load: Loader, kernel: EmulatedKernel) -> None:
    unchecked = _new(kernel) + _fp(1, -8) + _kf(kernel, "bpf_iter_num_next") + ldx_w(6, 0, 0)
    unchecked += _destroy(kernel) + movr(0, 6) + EXIT
    assert "R0 invalid mem access 'scalar'" in _err(load, unchecked, errno.EACCES)
    write = _new(kernel) + _fp(1, -8) + _kf(kernel, "bpf_iter_num_next") + jmp_imm(JEQ, 0, 0, 1) + st_w(0, 0, 1)
    write += _destroy(kernel) + mov(0, 0) + EXIT
    assert "R0 cannot write into rdonly_mem" in _err(load, write, errno.EACCES)


class _Mem:
    def __init__(self) -> None:
        self.buf = bytearray(16)

    def read(self, addr: int, size: int) -> bytes:
        return bytes(self.buf[addr : addr + size])

    def write(self, addr: int, data: bytes) -> None:
        self.buf[addr : addr + len(data)] = data


def test_vm_iter_num_counts_from_start_to_end() -> None:
    mem = _Mem()
    kf = iter_num_kfuncs(mem)
    assert kf["bpf_iter_num_new"](8, 3, 6) == 0
    seen = []
    while (p := kf["bpf_iter_num_next"](8)) != 0:
        seen.append(struct.unpack("<i", mem.read(p, 4))[0])
    assert seen == [3, 4, 5]
    assert kf["bpf_iter_num_next"](8) == 0  # stays drained
    assert kf["bpf_iter_num_new"](8, (-2) & 0xFFFFFFFF, 0) == 0
    assert struct.unpack("<i", mem.read(kf["bpf_iter_num_next"](8), 4))[0] == -2
    kf["bpf_iter_num_destroy"](8)
    assert mem.read(8, 8) == bytes(8)


def test_vm_iter_num_refuses_bad_ranges() -> None:
    mem = _Mem()
    kf = iter_num_kfuncs(mem)
    assert kf["bpf_iter_num_new"](0, 5, 4) == -errno.EINVAL & (1 << 64) - 1
    assert kf["bpf_iter_num_next"](0) == 0
    assert kf["bpf_iter_num_new"](0, 0, BPF_MAX_LOOPS + 1) == -errno.E2BIG & (1 << 64) - 1
    assert kf["bpf_iter_num_next"](0) == 0
    assert kf["bpf_iter_num_new"](0, 0, BPF_MAX_LOOPS) == 0
