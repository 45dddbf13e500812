"""Same command + same seed => byte-identical summary and CSV, on any machine (issue 15).

The simulator drives one clock: the VM's time helpers (``bpf_jiffies64`` in the
``cubic_like`` example) read simulated time through the TCP bridge, so host speed and
load cannot change a run.  One run happens while a busy subprocess loads the CPU; both
must agree byte for byte, and with the committed golden summary (regenerate with
``STRUCTOPS_UPDATE_GOLDEN=1`` after an intended model change).
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from structops.run import RunConfig, example_path, print_summary, run_job, write_csv

DATA = Path(__file__).parent / "data"
GOLDEN = [("cubic_like", 7, "golden_cubic_like_seed7.txt"), ("cubic", 7, "golden_cubic_seed7.txt")]


def _run(example: str, seed: int, tmp: Path) -> tuple[str, bytes]:
    cfg = RunConfig(obj=example_path(example), flows=2, duration_us=3_000_000, seed=seed)
    result = run_job(cfg)
    out = io.StringIO()
    print_summary(result, out)
    csv = tmp / f"{example}-{seed}-{os.getpid()}-{len(list(tmp.iterdir()))}.csv"
    write_csv(result, csv)
    return out.getvalue(), csv.read_bytes()


def test_same_seed_identical_under_cpu_load(tmp_path: Path) -> None:
    quiet = _run("cubic_like", 5, tmp_path)
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        loaded = _run("cubic_like", 5, tmp_path)
    finally:
        busy.kill()
        busy.wait()
    assert loaded[0] == quiet[0]
    assert loaded[1] == quiet[1]
    assert "events in" not in quiet[0]  # host timing stays out of the summary


def test_other_seed_differs(tmp_path: Path) -> None:
    """A seed changes more than ISNs: start and processing jitter (issue 15 item 4)."""
    a = _run("cubic_like", 5, tmp_path)
    b = _run("cubic_like", 6, tmp_path)
    assert a[1] != b[1]


@pytest.mark.parametrize(("example", "seed", "name"), GOLDEN)
def test_golden_summary(tmp_path: Path, example: str, seed: int, name: str) -> None:
    summary, csv = _run(example, seed, tmp_path)
    text = summary + f"csv sha256 {hashlib.sha256(csv).hexdigest()}\n"
    path = DATA / name
    if os.environ.get("STRUCTOPS_UPDATE_GOLDEN") == "1":
        path.write_text(text)
    assert text == path.read_text()
