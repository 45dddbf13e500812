"""The fidelity benchmark's machinery on the real kernel (benchmarks/sim_vs_linux.py).

Builds the 4-namespace path (tbf 20 Mbit/s + pfifo, user-space delay line), runs Linux
Reno for a few seconds and the simulator on the same parameters, and checks that the
path behaves as designed (the RTT is the delay line's, the bottleneck rate is tbf's),
that the simulator agrees with Linux on most metrics, and that every namespace is gone
afterwards.  Needs root and network namespaces; skipped elsewhere with the reason.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "not root: the benchmark builds network namespaces and raw sockets"
    for tool in ("ip", "tc"):
        if shutil.which(tool) is None:
            return f"iproute2 '{tool}' not found"
    if not Path("/proc/self/ns/net").exists():
        return "no network namespaces"
    return None


pytestmark = [
    pytest.mark.linux,
    pytest.mark.timeout(120),
    pytest.mark.skipif(_skip_reason() is not None, reason=str(_skip_reason())),
]


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sim_vs_linux", ROOT / "benchmarks" / "sim_vs_linux.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["sim_vs_linux"] = mod
    spec.loader.exec_module(mod)
    return mod


def _namespaces() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def test_real_path_reno_matches_simulator_and_tears_down() -> None:
    bench = _bench()
    before = _namespaces()
    seconds = 4.0
    for _attempt in range(2):
        with bench.real_path(33) as path:
            assert set(path.all) <= _namespaces()
            data = bench.linux_run(path, "reno", 1, seconds)
        assert _namespaces() == before  # every namespace we made is gone
        linux = bench.metrics(data, seconds, bench._linux_retrans(data))
        if linux["goodput flow#1 Mbit/s"] >= 17.5:
            break
        # the user-space delay line lost CPU to something else on this 2-core host (Linux's
        # goodput then falls to 16-17 Mbit/s and the sawtooth changes): measure once more
    # tbf's 20 Mbit/s, minus headers and slow start; a busy 2-core host (the delay line
    # is a user-space process) has given 16.2-19 Mbit/s over these 4 s
    assert 15.0 < linux["goodput flow#1 Mbit/s"] < 20.5
    min_rtt = min(r[3] for r in data[0]) / 1000
    assert 19.0 <= min_rtt <= 25.0  # the delay line's 20 ms RTT
    sim_data = bench.sim_run("reno", 1, 33, seconds, seed=1)
    sim = bench.metrics(sim_data, seconds, [int(rows[-1][6]) for rows in sim_data])
    close = [k for k in linux if linux[k] and abs(sim[k] / linux[k] - 1) <= 0.15]
    assert len(close) >= len(linux) - 2, (linux, sim)


def test_path_is_removed_when_the_block_raises() -> None:
    bench = _bench()
    before = _namespaces()
    with pytest.raises(RuntimeError, match="boom"), bench.real_path(16):
        raise RuntimeError("boom")
    assert _namespaces() == before
