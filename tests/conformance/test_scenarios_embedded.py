"""The real-kernel oracle scenarios, run on the embedded kernel (differential suite, half 1).

``tests/kernel/test_linux_kernel.py`` runs the very same scenario functions on the real
Linux kernel; both must pass, so the embedded kernel shows the errno, states, refcnts and
lookup bytes the real one does (C*, U*, L*, D*, S*, K*, T5, DM*).
"""

from __future__ import annotations

import pytest
import test_linux_scenarios as S

from structops.kernel.emulated import EmulatedKernel


@pytest.fixture
def kernel() -> EmulatedKernel:
    return EmulatedKernel()


@pytest.fixture
def env(kernel: EmulatedKernel) -> S.Env:
    return S.resolve_env(kernel.vmlinux_btf())


def _no_leaks(kernel: EmulatedKernel) -> None:
    live = kernel.live_objects()
    assert live["map"] == [] and live["prog"] == [] and live["link"] == [], live
    assert kernel.tramp_pages == 0


@pytest.mark.parametrize(
    "name",
    [
        "scenario_btf_load",
        "scenario_map_create",
        "scenario_prog_load",
        "scenario_ids_and_info",
        "scenario_map_misc_ops",
        "scenario_verifier_extras",
    ],
)
def test_scenario(kernel: EmulatedKernel, env: S.Env, name: str) -> None:
    with S.tracked(kernel) as t:
        getattr(S, name)(kernel, env, t)
    _no_leaks(kernel)


def test_update_value_checks(kernel: EmulatedKernel, env: S.Env) -> None:
    """U3-U5, U9c-U9f, T3, T4 with the values the real kernel rejects."""
    with S.tracked(kernel) as t:
        S.scenario_update_value_checks(kernel, env, t, "emb_upd")
    _no_leaks(kernel)


@pytest.mark.parametrize("name", ["scenario_legacy_registration", "scenario_link_mode"])
def test_registration_scenario(kernel: EmulatedKernel, env: S.Env, name: str) -> None:
    """U13/D3 and K5/KU2/KD2 with the embedded tcp_cong_list as the available list (T5, T6)."""
    with S.tracked(kernel) as t:
        getattr(S, name)(kernel, env, t, "emb_cc", available=kernel.tcp_congestion.available)
    assert "emb_cc" not in kernel.tcp_congestion.available()
    _no_leaks(kernel)


def test_dummy_ops_scenario(kernel: EmulatedKernel, env: S.Env) -> None:
    """DM3, DM6, DM7 with the same programs the real kernel runs."""
    if kernel.executor is None:
        pytest.skip("no VM executor attached to the embedded kernel yet")
    with S.tracked(kernel) as t:
        S.scenario_dummy_ops(kernel, env, t)
    _no_leaks(kernel)
