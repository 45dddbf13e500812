"""More upstream sched-ext/scx C schedulers, unmodified, on the simulated machine (issue 13
stretch: scx_userland, scx_nest, scx_flatcg), and the kernel pieces they need.

The objects are built locally from sched-ext/scx (never committed); those tests skip when
they are absent.  ``STRUCTOPS_SCX_BUILD`` may point at another build directory.
"""

from __future__ import annotations

import errno
import os
import struct
from pathlib import Path
from typing import Any

import pytest

from structops.errors import BpfError, VMFault
from structops.kernel.attrs import MapCreateAttr, MapElemAttr
from structops.kernel.emulated import EmulatedKernel
from structops.schedsim.job import SchedConfig, run_sched
from structops.schedsim.machine import Machine
from structops.schedsim.userland import PASS_NS
from structops.schedsim.workload import Group
from structops.uapi import Cmd, MapType

BUILD = Path(os.environ.get("STRUCTOPS_SCX_BUILD", "/work/ext/scx-build"))
CPU_BOUND = (Group("hog", count=8),)
SEC = 1_000_000_000


def _obj(name: str) -> Path:
    path = BUILD / f"scx_{name}.bpf.o"
    if not path.is_file():
        pytest.skip(f"{path} is absent (build sched-ext/scx scheds/c locally, or set STRUCTOPS_SCX_BUILD)")
    return path


# -- kernel pieces ------------------------------------------------------------------------------
def test_queue_map_push_and_pop_from_user_space() -> None:
    """QUEUE maps from user space (what scx_userland's user half does): UPDATE with a NULL key
    pushes, LOOKUP_AND_DELETE with a NULL key pops (map_pop_elem), an empty queue is ENOENT."""
    k = EmulatedKernel()
    fd = k.bpf(Cmd.BPF_MAP_CREATE, MapCreateAttr(MapType.BPF_MAP_TYPE_QUEUE, 0, 4, 4))
    for v in (5, 6):
        k.bpf(Cmd.BPF_MAP_UPDATE_ELEM, MapElemAttr(fd, key=None, value=struct.pack("<i", v)))
    got = []
    for _ in range(2):
        out = bytearray(4)
        k.bpf(Cmd.BPF_MAP_LOOKUP_AND_DELETE_ELEM, MapElemAttr(fd, key=None, value=out))
        got.append(struct.unpack("<i", out)[0])
    assert got == [5, 6]
    with pytest.raises(BpfError) as ei:
        k.bpf(Cmd.BPF_MAP_LOOKUP_AND_DELETE_ELEM, MapElemAttr(fd, key=None, value=bytearray(4)))
    assert ei.value.errno == errno.ENOENT


# -- scx_userland -------------------------------------------------------------------------------
def test_userland_runs_with_its_python_user_half() -> None:
    """scx_userland: every CPU-bound task goes through the Python user half (QUEUE ``enqueued``
    -> vruntime order -> QUEUE ``dispatched``), which runs as its own task and yields; no
    error exit, every task served, equal shares for equal weights.  The CPU that runs the
    user half stays busy; the others idle until the next tick after each synchronous slice
    expiry (update_idle kicks only while user space holds tasks, and it had dispatched all)."""
    res = run_sched(SchedConfig(_obj("userland"), cpus=4, duration_ns=SEC, workload=CPU_BOUND))
    assert res.exit is None
    assert res.scheduler == "userland"
    hogs = [t for t in res.machine.tasks if t.group == "hog"]
    user = next(t for t in res.machine.tasks if t.group == "usersched")
    assert all(t.runtime_ns > 400_000_000 for t in hogs)
    assert max(t.runtime_ns for t in hogs) - min(t.runtime_ns for t in hogs) < 30_000_000
    assert max(c.busy_ns for c in res.machine.cpus) == SEC
    assert all(c.busy_ns >= 0.9 * SEC for c in res.machine.cpus)
    assert res.maps["nr_user_enqueues"] > 100
    assert res.maps["nr_kernel_enqueues"] == 0 and res.maps["nr_failed_enqueues"] == 0
    # the user half ran in short passes (5 us each), not whole slices
    assert 0 < user.runtime_ns < 200 * PASS_NS


def test_userland_keeps_pinned_tasks_in_the_kernel() -> None:
    """keep_in_kernel(): a task allowed on fewer CPUs than exist is enqueued by BPF directly."""
    wl = (Group("hog", count=4), Group("pinned", count=1, affinity=(1,)))
    res = run_sched(SchedConfig(_obj("userland"), cpus=2, duration_ns=SEC // 2, workload=wl))
    assert res.exit is None
    assert res.maps["nr_kernel_enqueues"] > 0 and res.maps["nr_user_enqueues"] > 0
    pinned = next(t for t in res.machine.tasks if t.group == "pinned")
    assert pinned.runtime_ns > 50_000_000 and pinned.nr_migrations == 0


# -- bpf_cpumask kfuncs and kptrs -----------------------------------------------------------------
def _kfunc(k: EmulatedKernel, name: str) -> Any:
    return next(kf.fn for kf in k.kfuncs.values() if kf.name == name)


def test_bpf_cpumask_kfuncs_follow_cpumask_c() -> None:
    """bpf_cpumask objects: create (zeroed, one reference), set/clear ignore CPUs >= nr_cpu_ids,
    and/or/xor/copy/equal/subset/first*, setall covers nr_cpu_ids bits, the last release frees
    after a grace period."""
    k = EmulatedKernel()
    m = Machine(k, 6)
    k.sched_ext.machine = m  # type: ignore[attr-defined]
    f = {n: _kfunc(k, n) for n in ("bpf_cpumask_create", "bpf_cpumask_release", "bpf_cpumask_acquire")}
    a, b = f["bpf_cpumask_create"](), f["bpf_cpumask_create"]()
    assert a and b and a != b
    for cpu in (1, 3, 9):  # 9 >= nr_cpu_ids: ignored
        _kfunc(k, "bpf_cpumask_set_cpu")(cpu, a)
    _kfunc(k, "bpf_cpumask_set_cpu")(3, b)
    _kfunc(k, "bpf_cpumask_set_cpu")(4, b)
    assert k.kmem.space.read(a, 1)[0] == 0b1010
    assert _kfunc(k, "bpf_cpumask_test_cpu")(9, a) == 0
    assert _kfunc(k, "bpf_cpumask_test_and_set_cpu")(1, a) == 1
    assert _kfunc(k, "bpf_cpumask_test_and_clear_cpu")(1, a) == 1 and _kfunc(k, "bpf_cpumask_test_cpu")(1, a) == 0
    dst = f["bpf_cpumask_create"]()
    assert _kfunc(k, "bpf_cpumask_and")(dst, a, b) == 1 and k.kmem.space.read(dst, 1)[0] == 0b1000
    _kfunc(k, "bpf_cpumask_or")(dst, a, b)
    assert k.kmem.space.read(dst, 1)[0] == 0b11000
    _kfunc(k, "bpf_cpumask_xor")(dst, a, b)
    assert k.kmem.space.read(dst, 1)[0] == 0b10000
    assert _kfunc(k, "bpf_cpumask_first_and")(a, b) == 3
    assert _kfunc(k, "bpf_cpumask_first_zero")(b) == 0
    assert _kfunc(k, "bpf_cpumask_subset")(a, b) == 1 and _kfunc(k, "bpf_cpumask_subset")(b, a) == 0
    _kfunc(k, "bpf_cpumask_copy")(dst, b)
    assert _kfunc(k, "bpf_cpumask_equal")(dst, b) == 1
    _kfunc(k, "bpf_cpumask_setall")(dst)
    assert k.kmem.space.read(dst, 2) == bytes([0b111111, 0]) and _kfunc(k, "bpf_cpumask_full")(dst) == 1
    assert _kfunc(k, "bpf_cpumask_first_zero")(dst) == 6  # nothing found: nr_cpu_ids
    _kfunc(k, "bpf_cpumask_clear")(dst)
    assert _kfunc(k, "bpf_cpumask_weight")(dst) == 0 and _kfunc(k, "bpf_cpumask_first")(dst) == 6
    picks = [_kfunc(k, "bpf_cpumask_any_distribute")(b) for _ in range(3)]
    assert picks in ([3, 4, 3], [4, 3, 4])  # rotates over the set CPUs
    assert f["bpf_cpumask_acquire"](a) == a
    f["bpf_cpumask_release"](a)
    assert k.kmem.space.read(a, 1)[0] == 0b1000  # one reference left
    f["bpf_cpumask_release"](a)
    k.rcu.synchronize()
    with pytest.raises(VMFault):
        k.kmem.space.read(a, 1)
    m.close()


# -- scx_nest -----------------------------------------------------------------------------------
def test_nest_keeps_all_cpus_busy_and_serves_every_task() -> None:
    """scx_nest (bpf_cpumask kptrs in .data.nests and task storage, bpf_kptr_xchg, cpumask
    kfuncs, per-CPU BPF timers): CPU-bound workload, every CPU busy, no error exit, equal
    shares in SCX_SLICE_DFL slices (the tool's default slice_ns)."""
    res = run_sched(SchedConfig(_obj("nest"), cpus=4, duration_ns=SEC, workload=CPU_BOUND))
    assert res.exit is None
    assert res.scheduler == "nest"
    assert all(c.busy_ns == SEC for c in res.machine.cpus)
    assert all(t.runtime_ns == SEC // 2 for t in res.machine.tasks)
    assert all(20 <= t.nr_switches <= 30 for t in res.machine.tasks)  # 20 ms slices
    assert res.maps["vtime_now"] > 0


# nest's stats array (scx_nest_stats_table.h order)
WAKEUP_ATTACHED, PROMOTED_TO_PRIMARY, SCHEDULED_COMPACTION, CALLBACK_COMPACTED = 0, 8, 12, 15


def test_nest_keeps_woken_tasks_on_their_primary_cores() -> None:
    """Tasks that sleep less than p_remove_ns (2 ms) wake on their attached core in the
    primary nest; the other cores stay idle."""
    wl = (Group("io", count=6, run_ns=2_000_000, sleep_ns=1_000_000),)
    res = run_sched(SchedConfig(_obj("nest"), cpus=8, duration_ns=SEC, workload=wl))
    assert res.exit is None
    stats = res.maps["stats"]
    assert stats[WAKEUP_ATTACHED] > 1500
    assert res.maps["stats_primary_mask"] == 0b111111
    assert [c.busy_ns for c in res.machine.cpus][6:] == [0, 0]


def test_nest_compacts_cores_from_its_timer() -> None:
    """A core idle for longer than p_remove_ns is demoted by its per-CPU bpf_timer callback."""
    wl = (Group("io", count=6, run_ns=2_000_000, sleep_ns=3_000_000),)
    res = run_sched(SchedConfig(_obj("nest"), cpus=8, duration_ns=SEC, workload=wl))
    assert res.exit is None
    stats = res.maps["stats"]
    assert stats[SCHEDULED_COMPACTION] > 100 and stats[CALLBACK_COMPACTED] > 100
    assert stats[PROMOTED_TO_PRIMARY] > 100
    assert all(t.runtime_ns >= 350_000_000 for t in res.machine.tasks)


# -- cgroups ------------------------------------------------------------------------------------
def test_cgroup_tree_and_cgroup_kfuncs() -> None:
    """SX-T30/SX-K27 pieces: the root cgroup (id 1, level 0) and one cgroup per workload group
    (level 1) with level and kn->id readable in the struct; bpf_cgroup_ancestor /
    bpf_cgroup_from_id / scx_bpf_task_cgroup (no scheduler: the task's cgroup)."""
    k = EmulatedKernel()
    m = Machine(k, 2)
    k.sched_ext.machine = m  # type: ignore[attr-defined]
    web = m.cgroups.add("web")
    t = m.add_task("w", group="web", cgroup=web)
    assert (m.cgroups.root.id, m.cgroups.root.level, web.id, web.level, web.path) == (1, 0, 2, 1, "/web")
    spec = k.vmlinux.spec
    from structops import btf as btflib
    from structops.kernel.btfview import field_path

    cg_t = spec.find("cgroup", btflib.Struct)
    level = struct.unpack_from("<i", k.kmem.space.read(web.addr + field_path(cg_t, "level").offset, 4))[0]
    kn = struct.unpack("<Q", k.kmem.space.read(web.addr + field_path(cg_t, "kn").offset, 8))[0]
    kn_t = spec.find("kernfs_node", btflib.Struct)
    cgid = struct.unpack("<Q", k.kmem.space.read(kn + field_path(kn_t, "id").offset, 8))[0]
    assert (level, cgid) == (1, 2)
    assert _kfunc(k, "bpf_cgroup_ancestor")(web.addr, 0) == m.cgroups.root.addr
    assert _kfunc(k, "bpf_cgroup_ancestor")(web.addr, 1) == web.addr
    assert _kfunc(k, "bpf_cgroup_ancestor")(web.addr, 2) == 0
    assert _kfunc(k, "bpf_cgroup_from_id")(2) == web.addr and _kfunc(k, "bpf_cgroup_from_id")(9) == 0
    assert _kfunc(k, "scx_bpf_task_cgroup")(t.addr) == web.addr
    assert [c.name for c in m.cgroups.pre_order()] == ["", "web"]
    assert [c.name for c in m.cgroups.post_order()] == ["web", ""]
    m.close()


# -- verifier: referenced kptrs in map values ------------------------------------------------------
class _FakeVerifier:
    """What verifier/kptr.py uses of a Verifier: the kernel BTF, helper availability, ids."""

    def __init__(self, spec: Any) -> None:
        self.env = type("Env", (), {"spec": spec, "helper_proto": None})()
        self._id = 0

    def new_id(self) -> int:
        self._id += 1
        return self._id


def _kptr_map() -> Any:
    """A map whose value is ``struct { u64 a; struct bpf_cpumask __kptr *mask; }``."""
    from structops import btf as btflib

    u64 = btflib.Int("unsigned long long", 8)
    fwd = btflib.Struct("bpf_cpumask", 0)
    ptr = btflib.Pointer(btflib.TypeTag("kptr", fwd))
    value = btflib.Struct("ctx", 16, (btflib.Member("a", u64, 0), btflib.Member("mask", ptr, 64)))
    spec = type("S", (), {"type_by_id": staticmethod(lambda i: value)})()
    return type("M", (), {"btf": type("B", (), {"spec": spec})(), "btf_value_type_id": 1, "value_size": 16})()


def test_kptr_fields_loads_stores_and_xchg_follow_check_map_kptr_access() -> None:
    """An 8-byte load of the kptr is a maybe-NULL pointer of the kernel type, an 8-byte store
    is refused; bpf_kptr_xchg needs the field's exact offset and a
    referenced pointer of the type (or NULL), releases it and returns a new reference."""
    from structops.verifier.env import Reject
    from structops.verifier.kptr import call_kptr_xchg, kptr_fields, map_kptr_access
    from structops.verifier.state import Frame, Reg, RegType, State, const

    k = EmulatedKernel()
    v = _FakeVerifier(k.vmlinux.spec)
    m = _kptr_map()
    assert kptr_fields(m) == {8: "bpf_cpumask"}
    ptr = Reg(RegType.PTR_TO_MAP_VALUE, 0, 0, obj=m)
    assert map_kptr_access(v, m, ptr, 0, 8, write=True) is None  # the plain u64
    loaded = map_kptr_access(v, m, ptr, 8, 8, write=False)
    assert loaded is not None and loaded.type == RegType.PTR_TO_BTF_ID and loaded.maybe_null
    assert loaded.obj.name == "bpf_cpumask" and not loaded.ref_obj_id
    with pytest.raises(Reject, match="store to referenced kptr disallowed"):
        map_kptr_access(v, m, ptr, 8, 8, write=True)
    # narrower or straddling accesses are plain map-value bytes (Linux 6.18 accepts a u32
    # load/store at 8 or 12 and a u64 load/store at 4 of such a value: measured)
    for lo, size, write in ((8, 4, False), (12, 4, True), (4, 8, False), (4, 8, True)):
        assert map_kptr_access(v, m, ptr, lo, size, write=write) is None

    def state(r1: Reg, r2: Reg) -> State:
        regs = [Reg(RegType.NOT_INIT)] * 11
        regs[1], regs[2] = r1, r2
        return State([Frame(regs, {})], {})

    mask_t = k.vmlinux.spec.find("bpf_cpumask", type(loaded.obj))
    owned = Reg(RegType.PTR_TO_BTF_ID, 0, 0, obj=mask_t, trusted=True, ref_obj_id=7, id=7)
    st = state(Reg(RegType.PTR_TO_MAP_VALUE, 0, 0, off=8, obj=m), owned)
    st.refs[7] = 3
    assert call_kptr_xchg(v, st, 10) == 11
    r0 = st.cur.regs[0]
    assert 7 not in st.refs and r0.ref_obj_id in st.refs and r0.maybe_null and r0.obj.name == "bpf_cpumask"
    st = state(Reg(RegType.PTR_TO_MAP_VALUE, 0, 0, off=8, obj=m), const(0))
    call_kptr_xchg(v, st, 10)  # NULL: nothing released
    for r1, r2, msg in (
        (Reg(RegType.PTR_TO_MAP_VALUE, 0, 0, off=0, obj=m), const(0), "off=0 doesn't point to kptr"),
        (Reg(RegType.PTR_TO_MAP_VALUE, 0, 0, off=8, obj=m), loaded, "must be referenced"),
        (Reg(RegType.PTR_TO_MAP_VALUE, 0, 0, off=8, obj=m), const(5), "expected=ptr_bpf_cpumask"),
    ):
        with pytest.raises(Reject, match=msg):
            call_kptr_xchg(v, state(r1, r2), 10)


def test_userland_from_the_cli_is_deterministic() -> None:
    """``structops sched scx_userland.bpf.o --json``: the Python user half is picked by itself,
    its task is reported (group usersched), the same seed gives the same JSON."""
    import io
    import json

    from structops.cli import main

    argv = ["sched", str(_obj("userland")), "--cpus", "2", "--duration", "0.2s", "--json", "--seed", "3"]
    outs = []
    for _ in range(2):
        out = io.StringIO()
        assert main(argv, out) == 0
        outs.append(out.getvalue())
    assert outs[0] == outs[1]
    report = json.loads(outs[0])
    assert report["scheduler"] == "userland" and report["exit"] is None
    groups = {t["group"] for t in report["tasks"]}
    assert "usersched" in groups and all(t["runtime_ns"] > 0 for t in report["tasks"])


def test_nest_task_cpumasks_are_released_when_tasks_exit() -> None:
    """Each task's tmp_mask kptr (task storage) is released when the task exits
    (bpf_obj_free_fields calls bpf_cpumask_release): only the live tasks' masks and the
    two nest masks remain; when the maps are freed nothing remains."""
    from structops.schedsim.job import add_workload, load_scheduler
    from structops.schedsim.machine import Machine as M

    k = EmulatedKernel()
    m = M(k, 4)
    k.sched_ext.machine = m  # type: ignore[attr-defined]
    add_workload(m, (Group("stay", count=3), Group("gone", count=5, exit_ns=50_000_000)))
    coll = load_scheduler(k, _obj("nest"), 4)
    link = coll.maps["nest_ops"].attach_struct_ops()

    def masks() -> int:
        return sum(1 for a in k.kmem.live() if a.name == "bpf_cpumask")

    m.run(20_000_000)
    assert masks() == 8 + 2
    m.run(80_000_000)
    k.rcu.synchronize()
    assert masks() == 3 + 2
    assert k.sched_ext.sch is not None and not k.sched_ext.sch.exit.kind  # type: ignore[attr-defined]
    link.close()
    coll.close()
    m.close()
    for _ in range(3):  # programs, then their maps, go after grace periods
        k.rcu.synchronize()
    assert masks() == 0  # .data.nests' two masks went with the array, the tasks' with task storage


# -- scx_flatcg ----------------------------------------------------------------------------------
def test_flatcg_shares_the_machine_by_cgroup_weight() -> None:
    """scx_flatcg: cgroups (cgroup_init per cgroup with its cpu.weight, CGRP_STORAGE,
    task_cgroup, cgroup_ancestor), allocated cgv_node objects (bpf_obj_new, stashed as __kptr
    in a HASH value via bpf_kptr_xchg) in an rbtree ordered by its BPF less() callback.
    Two cgroups of four CPU-bound tasks, cpu.weight 300 and 100: every CPU busy, no error
    exit, every task served, CPU time 3:1."""
    wl = (Group("hi", count=4, cgroup_weight=300), Group("lo", count=4))
    res = run_sched(SchedConfig(_obj("flatcg"), cpus=4, duration_ns=SEC, workload=wl))
    assert res.exit is None
    assert res.scheduler == "flatcg"
    assert all(c.busy_ns == SEC for c in res.machine.cpus)
    assert all(t.runtime_ns >= 100_000_000 for t in res.machine.tasks)
    hi = sum(t.runtime_ns for t in res.machine.tasks if t.group == "hi")
    lo = sum(t.runtime_ns for t in res.machine.tasks if t.group == "lo")
    assert 2.7 < hi / lo < 3.3
    assert res.maps["cvtime_now"] > 0
    assert res.maps["stats"][15] > 50  # FCG_STAT_PNC_NEXT: a cgroup taken from the rbtree


def test_workload_cgroup_weight_is_checked() -> None:
    """cgroup_weight in a workload file: cpu.weight 1..10000, default 100."""
    from structops.schedsim.workload import WorkloadError, parse_workload

    assert parse_workload({"group": [{"name": "a", "cgroup_weight": 250}]})[0].cgroup_weight == 250
    assert parse_workload({"group": [{"name": "a"}]})[0].cgroup_weight == 100
    with pytest.raises(WorkloadError, match=r"cgroup_weight must be a cpu\.weight from 1 to 10000"):
        parse_workload({"group": [{"name": "a", "cgroup_weight": 0}]})


def test_graph_verifier_owning_and_non_owning_node_references() -> None:
    """bpf_obj_new gives an owning maybe-NULL reference; bpf_rbtree_add takes it at the node
    offset and leaves non-owning copies (no reference to release) that bpf_spin_unlock
    invalidates; bpf_rbtree_remove returns a new owning reference; bpf_obj_drop wants one."""
    from structops import btf as btflib
    from structops.verifier.env import Reject
    from structops.verifier.graph import call_graph_kfunc, invalidate_non_owning
    from structops.verifier.state import Frame, Reg, RegType, State, const

    k = EmulatedKernel()
    u64 = btflib.Int("unsigned long long", 8)
    rb_node = k.vmlinux.spec.find("bpf_rb_node", btflib.Struct)
    rb_root = k.vmlinux.spec.find("bpf_rb_root", btflib.Struct)
    node_t = btflib.Struct("item", 40, (btflib.Member("node", rb_node, 0), btflib.Member("key", u64, 256)))
    var = btflib.Var("tree", rb_root)
    sec = btflib.Datasec(".data.tree", 16, (btflib.VarSecinfo(var, 0, 16),))
    types = [btflib.Void(), node_t, var, sec, btflib.DeclTag("contains:item:node", var)]

    class Spec:
        def type_by_id(self, i: int) -> Any:
            return types[i]

        def find(self, name: str, kind: Any) -> Any:
            return next(t for t in types if isinstance(t, kind) and getattr(t, "name", None) == name)

    spec = Spec()
    spec.types = types  # type: ignore[attr-defined]
    m = type("M", (), {"btf": type("B", (), {"spec": spec})(), "btf_value_type_id": 3})()
    v = _FakeVerifier(k.vmlinux.spec)
    v.env.prog_btf = spec
    regs = [Reg(RegType.NOT_INIT)] * 11
    st = State([Frame(regs, {})], {})
    st.cur.regs[1] = const(1)
    call_graph_kfunc(v, st, 5, "bpf_obj_new_impl")
    obj = st.cur.regs[0]
    assert obj.type == RegType.PTR_TO_BTF_ID and obj.maybe_null and obj.ref_obj_id in st.refs
    owned = Reg(RegType.PTR_TO_BTF_ID, 0, 0, obj=node_t, trusted=True, ref_obj_id=obj.ref_obj_id, id=obj.id)
    st.cur.regs[6] = owned
    root = Reg(RegType.PTR_TO_MAP_VALUE, 0, 0, obj=m)
    st.cur.regs[1], st.cur.regs[2], st.cur.regs[3] = root, owned, Reg(RegType.PTR_TO_FUNC, 0, 0, obj=40)
    with pytest.raises(Reject, match="must be held for bpf_rb_root"):  # the tree's lock is not held
        call_graph_kfunc(v, st.copy(), 6, "bpf_rbtree_add_impl")
    st.lock = (root.id, id(m))  # bpf_spin_lock of the root's map value taken
    call_graph_kfunc(v, st, 6, "bpf_rbtree_add_impl")
    r6 = st.cur.regs[6]
    assert not st.refs and r6.type == RegType.PTR_TO_BTF_ID and not r6.ref_obj_id  # non-owning
    st.cur.regs[1], st.cur.regs[2] = r6, const(0)
    with pytest.raises(Reject, match="owning reference"):
        call_graph_kfunc(v, st, 7, "bpf_obj_drop_impl")
    st.cur.regs[1] = root
    call_graph_kfunc(v, st, 8, "bpf_rbtree_first")
    first = st.cur.regs[0]
    assert first.maybe_null and not first.ref_obj_id and first.obj is node_t
    st.cur.regs[1], st.cur.regs[2] = root, r6
    call_graph_kfunc(v, st, 9, "bpf_rbtree_remove")
    assert st.cur.regs[0].ref_obj_id in st.refs
    st.cur.regs[7] = first
    invalidate_non_owning(v, st)  # bpf_spin_unlock
    assert st.cur.regs[6].type == RegType.SCALAR and st.cur.regs[7].type == RegType.SCALAR
