"""Concurrency: ops called from many threads while links come and go (F3, F4, F6, KD2, KU2, KP2).

Four caller threads run the registered ``bpf_testmod_ops`` instances in a loop inside RCU
read sections (as a subsystem calling through its ops table does); a control thread
creates links, swaps maps with BPF_LINK_UPDATE, detaches and closes fds.  Every call must
run a program that is still alive (not freed, not released), no exception may escape,
and at the end every object is freed.
"""

from __future__ import annotations

import contextlib
import os
import random
import struct
import threading
import time

import pytest
import test_linux_scenarios as S

from structops.errors import LinkDetached
from structops.kernel.attrs import GetIdAttr, ProgLoadAttr
from structops.kernel.emulated import EmulatedKernel
from structops.kernel.prog import BpfProg
from structops.kernel.subsys.testmod import make_module, registered
from structops.uapi import Cmd, ProgType

DURATION = float(os.environ.get("STRUCTOPS_STRESS_SECONDS", "3"))


def _prog_returning(value: int) -> bytes:
    """test_2(int a, int b): return a + b + value."""
    return (
        S.ldx_dw(2, 1, 8)  # r2 = b
        + S.ldx_dw(1, 1, 0)  # r1 = a
        + S.insn(0xBF, 0, 1)  # r0 = r1
        + S.insn(0x0F, 0, 2)  # r0 += r2
        + S.insn(0x07, 0, 0, 0, value)  # r0 += value
        + S.insn(0x95)
    )


def test_stress_ops_vs_link_churn() -> None:
    k = EmulatedKernel()
    k.load_module(make_module())
    d = k.find_struct_ops("bpf_testmod_ops")
    assert d is not None
    mod_fd = k.bpf(Cmd.BPF_BTF_GET_FD_BY_ID, GetIdAttr(id=d.btf.id))
    names = [m.name for m in d.type.members]
    violations: list[str] = []
    errors: list[BaseException] = []
    calls = [0]
    real_run = k.run_prog

    def checked_run(prog: BpfProg, args: list[int]) -> int:
        if prog.freed or prog.runner is None or prog.refcnt <= 0:
            violations.append(f"prog {prog.id} ran after it was freed")
        return real_run(prog, args)

    k.run_prog = checked_run  # type: ignore[method-assign]

    def load(version: int) -> int:
        attr = ProgLoadAttr(
            ProgType.BPF_PROG_TYPE_STRUCT_OPS,
            _prog_returning(version),
            expected_attach_type=names.index("test_2"),
            attach_btf_id=d.type_id,
            attach_btf_obj_fd=mod_fd,
        )
        return k.bpf(Cmd.BPF_PROG_LOAD, attr)

    def make_map(version: int) -> int:
        from structops.kernel.attrs import MapCreateAttr
        from structops.uapi import MapFlags, MapType

        btf_fd = k.bpf(Cmd.BPF_BTF_LOAD, S.BtfLoadAttr(btf=S.minimal_btf()))
        fd = k.bpf(
            Cmd.BPF_MAP_CREATE,
            MapCreateAttr(
                MapType.BPF_MAP_TYPE_STRUCT_OPS,
                4,
                d.value_type.size,
                1,
                map_flags=int(MapFlags.BPF_F_LINK | MapFlags.BPF_F_VTYPE_BTF_OBJ_FD),
                btf_fd=btf_fd,
                btf_vmlinux_value_type_id=d.value_id,
                value_type_btf_obj_fd=mod_fd,
            ),
        )
        k.close(btf_fd)
        prog_fd = load(version)
        value = bytearray(d.value_type.size)
        struct.pack_into("<Q", value, d.value_type.member("data").offset + d.type.member("test_2").offset, prog_fd)
        S.update(k, fd, bytes(value))
        k.close(prog_fd)  # the map holds the program now (F4)
        return fd

    stop = threading.Event()

    def caller() -> None:
        try:
            while not stop.is_set():
                with k.rcu.read_lock():
                    for kdata in registered(k, "bpf_testmod_ops"):
                        r = kdata.call("test_2", 3, 4)
                        if r - 7 not in range(1, 100):
                            violations.append(f"unexpected result {r}")
                        calls[0] += 1
        except BaseException as exc:
            errors.append(exc)

    def control() -> None:
        rng = random.Random(1)
        links: list[int] = []
        maps: list[int] = []
        try:
            version = 1
            while not stop.is_set():
                action = rng.random()
                if action < 0.35 or not links:
                    m = make_map(version)
                    version = version % 98 + 1
                    maps.append(m)
                    links.append(k.bpf(Cmd.BPF_LINK_CREATE, S.LinkCreateAttr.struct_ops(m)))
                elif action < 0.6:
                    m = make_map(version)
                    version = version % 98 + 1
                    maps.append(m)
                    with contextlib.suppress(LinkDetached):  # KD3: a detached link gives ENOLINK
                        S.link_update(k, rng.choice(links), m)
                elif action < 0.8:
                    S.link_detach(k, rng.choice(links))
                else:
                    fd = links.pop(rng.randrange(len(links)))
                    k.close(fd)
                while len(maps) > 6:
                    k.close(maps.pop(0))
        except BaseException as exc:
            errors.append(exc)
        finally:
            for fd in links + maps:
                k.close(fd)

    threads = [threading.Thread(target=caller) for _ in range(4)] + [threading.Thread(target=control)]
    for t in threads:
        t.start()
    time.sleep(DURATION)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    k.close(mod_fd)
    assert not errors, errors[:3]
    assert not violations, violations[:5]
    assert calls[0] > 100
    assert registered(k, "bpf_testmod_ops") == []
    live = k.live_objects()
    assert live["map"] == [] and live["prog"] == [] and live["link"] == [], live
    assert k.rcu.pending_callbacks() == 0
    assert k.tramp_pages == 0


@pytest.mark.parametrize("seed", [0, 1])
def test_free_is_deferred_while_a_reader_runs(seed: int) -> None:
    """F3: a reader that fetched the ops before unregister keeps a live program until it leaves."""
    k = EmulatedKernel()
    k.load_module(make_module())
    d = k.find_struct_ops("bpf_testmod_ops")
    assert d is not None
    with S.tracked(k) as t:
        mod_fd = t.own(k.bpf(Cmd.BPF_BTF_GET_FD_BY_ID, GetIdAttr(id=d.btf.id)), S.OBJ_BTF, track_id=False)
        names = [m.name for m in d.type.members]
        prog_fd = t.own(
            k.bpf(
                Cmd.BPF_PROG_LOAD,
                ProgLoadAttr(
                    ProgType.BPF_PROG_TYPE_STRUCT_OPS,
                    _prog_returning(seed + 1),
                    expected_attach_type=names.index("test_2"),
                    attach_btf_id=d.type_id,
                    attach_btf_obj_fd=mod_fd,
                ),
            ),
            S.OBJ_PROG,
        )
        from test_registration import _testmod_map

        map_fd = _testmod_map(k, t, "bpf_testmod_ops", link=True)
        value = bytearray(d.value_type.size)
        struct.pack_into("<Q", value, d.value_type.member("data").offset + d.type.member("test_2").offset, prog_fd)
        S.update(k, map_fd, bytes(value))
        link_fd = k.bpf(Cmd.BPF_LINK_CREATE, S.LinkCreateAttr.struct_ops(map_fd))
        with k.rcu.read_lock():
            (kdata,) = registered(k, "bpf_testmod_ops")
            k.close(link_fd)
            t.close(map_fd)
            t.close(prog_fd)
            assert kdata.call("test_2", 1, 1) == 2 + seed + 1  # still runs: the free waits for us
        assert k.rcu.pending_callbacks() == 0
