"""VM memory-access speed: ns per instruction of a load/store-heavy loop on the fast path.

The loop walks a 4 KiB map value (not the stack, whose constant-offset accesses skip the
checked accessors) with a pointer register: every iteration does two checked loads, one
checked store.  Compares with a register-only loop of the same length
in the same run, so the printed ``ratio_mem_vs_reg`` shows what the checked accesses
cost (the containment grants of issue 12 item 4 live on that path).

To compare two trees, run it once per tree::

    PYTHONPATH=/path/to/old/src python3 benchmarks/vm_memory_speed.py
    python3 benchmarks/vm_memory_speed.py
"""

from __future__ import annotations

import sys
import time

from structops.isa import assemble
from structops.vm import VM, Program

MEM = """
ld_pseudo %r6, 2, 0
mov %r7, 0
mov %r8, {n}
loop:
mov %r1, %r7
and %r1, 511
lsh %r1, 3
mov %r2, %r6
add %r2, %r1
ldxdw %r3, [%r2]
ldxw %r4, [%r2+4]
add %r3, %r4
stxdw [%r2], %r3
add %r4, 1
add %r7, 1
jlt %r7, %r8, loop
mov %r0, %r7
exit
"""

REG = """
mov %r6, 0
mov %r7, 0
mov %r8, {n}
loop:
mov %r1, %r7
and %r1, 511
lsh %r1, 3
mov %r2, %r6
add %r2, %r1
mov %r3, %r2
mov %r4, %r2
add %r3, %r4
mov %r5, %r3
add %r5, %r4
add %r7, 1
jlt %r7, %r8, loop
mov %r0, %r7
exit
"""


def best_of(fn: object, repeat: int) -> float:
    """Smallest wall time of ``repeat`` calls (seconds)."""
    assert callable(fn)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv: list[str]) -> None:
    n = int(argv[1]) if len(argv) > 1 else 20000
    vm = VM()
    value = vm.space.map(4096, name="value", kind="map")
    mem = Program.load(assemble(MEM.format(n=n)), vm=vm, resolver=lambda src, imm, hi: value.base)
    reg = Program.load(assemble(REG.format(n=n)), vm=vm)
    insns = 3 + 12 * n + 2
    assert mem.run(insn_limit=10**9) == n
    t_mem = best_of(lambda: mem.run(insn_limit=10**9), 7)
    t_reg = best_of(lambda: reg.run(insn_limit=10**9), 7)
    print(f"insns={insns}")
    print(f"mem_ns_per_insn={t_mem * 1e9 / insns:.1f} reg_ns_per_insn={t_reg * 1e9 / insns:.1f}")
    print(f"ratio_mem_vs_reg={t_mem / t_reg:.2f}")


if __name__ == "__main__":
    main(sys.argv)
