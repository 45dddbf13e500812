"""Op-call cost: median µs of one struct_ops op call through each bridge vs plain Python.

Measures, on the embedded kernel, one call of:

- ``tcp_cc_bridge``: ``reno.cong_avoid`` through the TCP bridge as
  :func:`structops.testing.load_cc` does it (socket fields written to ``struct tcp_sock``,
  trampoline, VM, writable fields read back);
- ``tcp_kdata_call``: the same op through ``kdata.call`` alone (no socket sync);
- ``tcp_sim_op_call``: the same op as the simulator calls it (the socket's sync plan,
  the ops entry, read-back; issue 17 item 1);
- ``dummy_test_run``: ``bpf_dummy_ops.test_1`` through ``BPF_PROG_TEST_RUN``;
- ``sched_ext_call``: ``sched_ext_ops.select_cpu`` of ``sx_fifo`` through ``ScxSched.call``;
- ``python``: a plain Python reno ``cong_avoid`` on an object (the baseline).

Prints ``<name>_us=<median>``, ``<name>_vs_python=<ratio>`` and ``<name>_best_us=<fastest
round>`` lines in thread CPU time (the best round is the figure closest to an idle
machine; CPU time leaves out the time other jobs on a shared machine hold the CPU), plus load times
(``load_ms``: first load, repeated loads with the translation cache, and repeated loads
with the cache off, as before issue 17 item 3).

Run: ``python3 benchmarks/op_call.py [calls]``.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTDATA = ROOT / "testdata"


#: The fastest round of each measurement (µs per call), by name: on a shared machine the
#: median of the rounds includes other jobs' load, the best round is closest to idle.
BEST: dict[str, float] = {}


def _median_us(fn: Callable[[], object], calls: int, rounds: int = 7, name: str = "") -> float:
    samples = []
    for _ in range(rounds):
        start = time.thread_time_ns()
        for _ in range(calls):
            fn()
        samples.append((time.thread_time_ns() - start) / calls / 1000)
    if name:
        BEST[name] = min(samples)
    return statistics.median(samples)


class _PySock:
    __slots__ = ("snd_cwnd", "snd_cwnd_cnt", "snd_ssthresh")

    def __init__(self) -> None:
        self.snd_cwnd = 10
        self.snd_ssthresh = 1 << 30
        self.snd_cwnd_cnt = 0


def _py_cong_avoid(sk: _PySock, ack: int, acked: int) -> None:
    if sk.snd_cwnd < sk.snd_ssthresh:
        sk.snd_cwnd = min(sk.snd_cwnd + acked, 1 << 30)
        return
    sk.snd_cwnd_cnt += acked
    if sk.snd_cwnd_cnt >= sk.snd_cwnd:
        sk.snd_cwnd_cnt = 0
        sk.snd_cwnd += 1


def bench_python(calls: int) -> float:
    sk = _PySock()

    def one() -> None:
        sk.snd_cwnd = 10
        _py_cong_avoid(sk, 1, 1)

    return _median_us(one, calls, name="python")


def bench_tcp(calls: int) -> tuple[float, float]:
    from structops.testing import load_cc

    with load_cc(TESTDATA / "reno.bpf.o") as cc:
        sk = cc.socket(snd_cwnd=10, snd_ssthresh=1 << 30, is_cwnd_limited=1)

        cong_avoid = cc.cong_avoid  # the op's callable (cc.<op> builds it on each access)
        sock = sk._sock  # what sk.snd_cwnd = 10 sets, without the test socket's field checks

        def bridge() -> None:
            sock.snd_cwnd = 10
            cong_avoid(sk, 1, 1)

        bridge()
        assert sk.snd_cwnd == 11, sk.snd_cwnd
        bridge_us = _median_us(bridge, calls, name="tcp_cc_bridge")
        kdata = cc.entry.kdata
        assert kdata is not None
        addr = sk.addr
        rcu = cc.kernel.rcu

        def direct() -> None:
            with rcu.read_lock():
                kdata.call("cong_avoid", addr, 1, 1)

        direct_us = _median_us(direct, calls, name="tcp_kdata_call")
        sk.close()
    return bridge_us, direct_us


def bench_tcp_sim_path(calls: int) -> float:
    """One ``cong_avoid`` as the simulator makes it (``flowbase.call_op``): sync the socket's
    planned fields, call the ops entry, read the written fields back, truncate."""
    from structops.api import Collection
    from structops.kernel.emulated import EmulatedKernel
    from structops.kernel.tcp_bridge import TcpBridge

    k = EmulatedKernel()
    coll = Collection.open(TESTDATA / "reno.bpf.o").load(k)
    with coll, coll.maps["so_reno"].attach_struct_ops():
        bridge = TcpBridge(k)
        ops = bridge.registry.find("so_reno")
        assert ops is not None
        sock = bridge.socket()
        sock.icsk_ca_ops = ops
        sock.snd_ssthresh = 1 << 30
        sock.is_cwnd_limited = 1
        fn = ops.cong_avoid
        assert fn is not None

        def one() -> None:
            sock.snd_cwnd = 10
            sock.sync_to_kernel()
            fn(sock, 1, 1)
            sock.sync_from_kernel()
            sock.truncate_writable()

        one()
        assert sock.snd_cwnd == 11, sock.snd_cwnd
        us = _median_us(one, calls, name="tcp_sim_op_call")
        bridge.close()
        return us


def bench_dummy(calls: int) -> float:
    from structops.testing import load_struct_ops

    with load_struct_ops(TESTDATA / "dummy_ops.bpf.o") as ops:
        # one state buffer for every call (``ops.test_1(state)`` allocates one per call)
        buf = ops.kernel.alloc_user(4)  # type: ignore[attr-defined]
        buf.write((3).to_bytes(4, "little"))
        prog = ops.collection.programs[ops._funcs["test_1"]]
        words = [buf.addr]
        assert isinstance(prog.test_run(args=words).retval, int)
        return _median_us(lambda: prog.test_run(args=words), calls, name="dummy_test_run")


def bench_sched_ext(calls: int) -> float:
    from structops.api import Collection
    from structops.kernel.emulated import EmulatedKernel
    from structops.schedsim.machine import Machine

    k = EmulatedKernel()
    m = Machine(k, 4)
    k.sched_ext.machine = m  # type: ignore[attr-defined]
    for i in range(4):
        m.add_task(f"hog{i}")
    coll = Collection.open(TESTDATA / "sched" / "sx_fifo.bpf.o").load(k)
    try:
        with coll, coll.maps["sx_fifo"].attach_struct_ops():
            sch = k.sched_ext.sch  # type: ignore[attr-defined]
            t = m.tasks[0]
            sch.call("select_cpu", t.cpu, t.addr, t.cpu, 0, tasks=(t,))
            return _median_us(
                lambda: sch.call("select_cpu", t.cpu, t.addr, t.cpu, 0, tasks=(t,)), calls, name="sched_ext_call"
            )
    finally:
        m.close()


def bench_load(obj: str, repeats: int = 7) -> tuple[float, float, float]:
    """First load, repeated loads (translation cached), repeated loads with the cache off."""
    from structops.api import Collection
    from structops.kernel.emulated import EmulatedKernel
    from structops.vm import jit

    def one() -> float:
        k = EmulatedKernel()
        spec = Collection.open(TESTDATA / obj)
        start = time.perf_counter_ns()
        coll = spec.load(k)
        took = (time.perf_counter_ns() - start) / 1e6
        coll.close()
        return took

    jit.clear_cache()
    first = one()
    cached = statistics.median(one() for _ in range(repeats))
    size = jit.CACHE_SIZE
    jit.CACHE_SIZE = 0  # every translation is dropped at once: each load compiles
    try:
        uncached = statistics.median(one() for _ in range(repeats))
    finally:
        jit.CACHE_SIZE = size
    return first, cached, uncached


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    py = bench_python(calls * 10)
    tcp_bridge, tcp_direct = bench_tcp(calls)
    tcp_sim = bench_tcp_sim_path(calls)
    dummy = bench_dummy(calls)
    scx = bench_sched_ext(calls)
    for obj in ("reno.bpf.o", "cubic.bpf.o"):
        first, cached, uncached = bench_load(obj)
        print(
            f"load_ms[{obj}] first={first:.2f} repeat_cached={cached:.2f} repeat_uncached={uncached:.2f}"
            f" uncached_vs_cached={uncached / cached:.2f}"
        )
    print(f"python_us={py:.3f}")
    for name, us in (
        ("tcp_cc_bridge", tcp_bridge),
        ("tcp_kdata_call", tcp_direct),
        ("tcp_sim_op_call", tcp_sim),
        ("dummy_test_run", dummy),
        ("sched_ext_call", scx),
    ):
        print(f"{name}_us={us:.2f} {name}_vs_python={us / py:.1f} {name}_best_us={BEST[name]:.2f}")


if __name__ == "__main__":
    main()
