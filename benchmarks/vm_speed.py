"""VM speed: ns per executed BPF instruction, fast path vs reference interpreter vs Python.

The workload is an integer cube root (the bit-by-bit method, as ``tcp_cubic`` needs a
cube root) applied to N pseudo-random 32-bit values, written once in BPF assembly and
once in plain Python.  Prints::

    insns_executed=...  (exact count, from the reference interpreter)
    fast_ns_per_insn=...  interp_ns_per_insn=...  python_ms=...  fast_ms=...
    ratio_fast_vs_ref=...      (interp time / fast time; target >= 10)
    ratio_fast_vs_python=...   (fast time / plain Python time; target <= 3)
    kernel_jit_ns_per_insn=... (real kernel, BPF_PROG_TEST_RUN with repeat; root only)

Run: ``python3 benchmarks/vm_speed.py [N]``.
"""

from __future__ import annotations

import ctypes
import os
import platform
import struct
import sys
import time

from structops.isa import assemble, encode
from structops.vm import Program

ASM = """
mov %r6, 0
mov %r7, 0
mov %r8, {n}
outer:
mov %r1, %r6
mul %r1, 0x9E3779B1
mov32 %r1, %r1
mov %r0, 0
mov %r2, 30
inner:
lsh %r0, 1
mov %r3, %r0
add %r3, 1
mul %r3, %r0
mul %r3, 3
add %r3, 1
lsh %r3, %r2
jgt %r3, %r1, skip
sub %r1, %r3
add %r0, 1
skip:
sub %r2, 3
jsge %r2, 0, inner
add %r7, %r0
add %r6, 1
jlt %r6, %r8, outer
mov %r0, %r7
exit
"""


def cube_roots_python(n: int) -> int:
    """The same algorithm in plain Python."""
    acc = 0
    for i in range(n):
        x = (i * 0x9E3779B1) & 0xFFFFFFFF
        y = 0
        for s in range(30, -1, -3):
            y <<= 1
            b = (3 * y * (y + 1) + 1) << s
            if x >= b:
                x -= b
                y += 1
        acc += y
    return acc


def best_of(fn: object, repeat: int) -> float:
    """Smallest wall time of ``repeat`` calls (seconds)."""
    assert callable(fn)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


# ---------------------------------------------------------------------------- real kernel
_SYS_BPF = {"x86_64": 321, "aarch64": 280}.get(platform.machine())


def _bpf(cmd: int, attr: ctypes.Array[ctypes.c_char]) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    ret = int(libc.syscall(_SYS_BPF, cmd, attr, len(attr)))
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return ret


def kernel_ns_per_run(bytecode: bytes, repeat: int) -> float | None:
    """Average ns per run of ``bytecode`` as a socket filter on the real kernel (None if unavailable)."""
    if _SYS_BPF is None or os.geteuid() != 0:
        return None
    insns = ctypes.create_string_buffer(bytecode)
    lic = ctypes.create_string_buffer(b"GPL")
    attr = ctypes.create_string_buffer(128)
    struct.pack_into("<IIQQ", attr, 0, 1, len(bytecode) // 8, ctypes.addressof(insns), ctypes.addressof(lic))
    try:
        fd = _bpf(5, attr)  # BPF_PROG_LOAD, BPF_PROG_TYPE_SOCKET_FILTER
    except OSError as exc:
        print(f"kernel: load failed: {exc}", file=sys.stderr)
        return None
    try:
        data = ctypes.create_string_buffer(64)  # 0-filled packet
        run = ctypes.create_string_buffer(128)
        struct.pack_into("<IIII", run, 0, fd, 0, 64, 0)
        struct.pack_into("<Q", run, 16, ctypes.addressof(data))
        struct.pack_into("<I", run, 32, repeat)
        _bpf(10, run)  # BPF_PROG_TEST_RUN
        duration = struct.unpack_from("<I", run, 36)[0]  # average ns per repetition
        return float(duration)
    finally:
        os.close(fd)


def main(argv: list[str]) -> None:
    n = int(argv[1]) if len(argv) > 1 else 400
    prog = Program.load(assemble(ASM.format(n=n)), name="cbrt")
    expected = cube_roots_python(n)
    assert prog.run(engine="interp", insn_limit=10**9) == expected
    assert prog.run(engine="fast", insn_limit=10**9) == expected
    from structops.vm.context import RunContext

    run = RunContext(prog.vm, prog, engine="interp", limit=10**9)
    prog.enter(run, (0, 0, 0, 0, 0))
    insns = 10**9 - run.left

    t_fast = best_of(lambda: prog.run(engine="fast", insn_limit=10**9), 7)
    t_interp = best_of(lambda: prog.run(engine="interp", insn_limit=10**9), 2)
    t_py = best_of(lambda: cube_roots_python(n), 7)
    print(f"insns_executed={insns}")
    print(f"fast_ns_per_insn={t_fast / insns * 1e9:.1f}")
    print(f"interp_ns_per_insn={t_interp / insns * 1e9:.1f}")
    print(f"python_ms={t_py * 1e3:.2f} fast_ms={t_fast * 1e3:.2f} interp_ms={t_interp * 1e3:.2f}")
    print(f"ratio_fast_vs_ref={t_interp / t_fast:.1f}")
    print(f"ratio_fast_vs_python={t_fast / t_py:.2f}")
    ns = kernel_ns_per_run(encode(prog.insns), 200)
    if ns is None:
        print("kernel_jit_ns_per_insn=unavailable (needs root and the bpf() syscall)")
    else:
        print(f"kernel_jit_ns_per_insn={ns / insns:.3f}")
        print(f"ratio_fast_vs_kernel={t_fast * 1e9 / ns:.0f}")


if __name__ == "__main__":
    main(sys.argv)
