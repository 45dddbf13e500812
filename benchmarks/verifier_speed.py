"""Verifier speed: the embedded verifier against the real kernel's, in the same run.

Workloads (issue 12 item 5), each loaded as a ``tcp_congestion_ops.ssthresh`` /
``bpf_dummy_ops.test_1`` struct_ops program through BPF_PROG_LOAD with ``log_level=0``:

* ``corpus``: every privileged case of ``tests/corpus/verifier`` but the 1M-insn loop,
  once each (raw instruction cases through PROG_LOAD, C cases through the loader);
* ``straight``: N-1 ``r0 = 0`` then ``exit`` (N processed insns; N = 1,000,000 by default);
* ``loop_limit``: a counted loop of 10M iterations that hits the 1M processed-insn limit
  (E2BIG on both kernels);
* ``realistic``: the biggest realistic objects here through the loader (the shipped CUBIC
  congestion control and a 50,000-insn unrolled socket filter).

Prints the seconds on each kernel and ``ratio`` (embedded / kernel); the kernel column is
skipped without root.  Run: ``python3 benchmarks/verifier_speed.py [N]``.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CORPUS = ROOT / "tests" / "corpus" / "verifier"
sys.path.insert(0, str(CORPUS))

from cases import CASES, Case  # type: ignore[import-not-found]  # noqa: E402
from record import _attr, _load_obj, kernel_facts  # type: ignore[import-not-found]  # noqa: E402

from structops.errors import BpfError  # noqa: E402
from structops.kernel.emulated import EmulatedKernel  # noqa: E402
from structops.uapi import Cmd  # noqa: E402

MOV_R0_0 = bytes([0xB7, 0, 0, 0, 0, 0, 0, 0])
EXIT = bytes([0x95, 0, 0, 0, 0, 0, 0, 0])
LOOP = "mov %r1, 0\nloop:\nadd %r1, 1\njlt %r1, 10000000, loop\nmov %r0, 0\nexit"


def _load(k: Any, case: Case, facts: dict[str, int], code: bytes | None = None) -> float:
    """Seconds one load of ``case`` (or of raw ``code`` for its target) takes, accepted or not."""
    if case.obj is not None and code is None:
        t0 = time.perf_counter()
        _load_obj(k, case)
        return time.perf_counter() - t0
    attr = _attr(k, case, facts, None)
    if code is not None:
        attr.insns = code
    t0 = time.perf_counter()
    try:
        fd = k.bpf(Cmd.BPF_PROG_LOAD, attr)
    except BpfError:
        pass
    else:
        k.close(fd)
    return time.perf_counter() - t0


def workloads(n: int) -> dict[str, list[tuple[Case, bytes | None]]]:
    """name -> [(case, raw bytecode replacing the case's own or None)]."""
    corpus: list[tuple[Case, bytes | None]] = [(c, None) for c in CASES if c.priv and c.name != "loop_hits_1m_limit"]
    base = next(c for c in CASES if c.name == "ret0")
    loop = Case("loop_limit", base.target, LOOP, base.item)
    # the biggest realistic objects the project has, through the loader: the shipped CUBIC
    # (HyStart, fixed-point cube root; 554 insns) and a 50,000-insn unrolled socket filter
    realistic = [
        (Case(name, None, "", "5", obj=os.path.relpath(ROOT / rel, CORPUS)), None)
        for name, rel in (("cubic", "testdata/cubic.bpf.o"), ("big_prog", "testdata/loader/big_prog.bpf.o"))
    ]
    return {
        "corpus": corpus,
        "straight": [(base, MOV_R0_0 * (n - 1) + EXIT)],
        "loop_limit": [(loop, None)],
        "realistic": realistic,
    }


def measure(k: Any, items: list[tuple[Case, bytes | None]]) -> float:
    """Total seconds to load every item on ``k``."""
    facts = kernel_facts(k)
    return sum(_load(k, case, facts, code) for case, code in items)


def main(argv: list[str]) -> None:
    n = int(argv[1]) if len(argv) > 1 else 1_000_000
    linux = None
    if os.geteuid() == 0 and Path("/sys/kernel/btf/vmlinux").exists():
        from structops.linux import LinuxKernel

        linux = LinuxKernel()
    emb_total = lin_total = 0.0
    for name, items in workloads(n).items():
        emb = measure(EmulatedKernel(), items)
        emb_total += emb
        line = f"{name:11} embedded {emb:8.3f} s"
        if linux is not None:
            lin = measure(linux, items)
            lin_total += lin
            line += f"   kernel {lin:8.3f} s   ratio {emb / lin:7.1f}x"
        print(line, flush=True)
    if linux is not None:
        ratio = emb_total / lin_total
        print(f"{'total':11} embedded {emb_total:8.3f} s   kernel {lin_total:8.3f} s   ratio {ratio:7.1f}x")


if __name__ == "__main__":
    main(sys.argv)
