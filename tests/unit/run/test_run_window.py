"""Per-flow goodput of the run summary is over one common window (issue 14).

Averaging each flow over its own lifetime let the column add up to more than the link
(25.3 Mbit/s on 20 Mbit/s with flows joining late); over the window from the last flow
start to the end, the rates share one interval and cannot exceed the link rate.
"""

from __future__ import annotations

import io

import pytest

from structops.run import RunConfig, example_path, print_summary, run_job


@pytest.mark.parametrize(("flows", "swap"), [(4, True), (3, False)])
def test_per_flow_rates_sum_to_at_most_the_link_rate(flows: int, swap: bool) -> None:
    cfg = RunConfig(
        obj=example_path("reno"),
        flows=flows,
        duration_us=2_000_000,
        seed=2,
        swap=example_path("reno_v2") if swap else None,
        swap_at_us=1_000_000 if swap else None,
    )
    result = run_job(cfg)
    starts = cfg.start_times_us()
    assert result.window_start_us == max(starts)
    per_flow = [f.window_bps for f in result.flows]
    assert all(r > 0 for r in per_flow)
    assert sum(per_flow) <= cfg.bandwidth_bps * 1.01
    assert sum(per_flow) > cfg.bandwidth_bps * 0.8  # the window is busy: the rates are real
    if swap:
        # lifetime averages of the late flows overstate their share: the old column overshot
        assert sum(f.throughput_bps for f in result.flows) > cfg.bandwidth_bps * 1.01
    out = io.StringIO()
    print_summary(result, out)
    text = out.getvalue()
    assert f"common window {max(starts) / 1e6:.2f}-2 s" in text
    for f in result.flows:
        assert f"{f.window_bps / 1e6:>8.2f}" in text
