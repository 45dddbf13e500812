"""The emulated kernel's vmlinux BTF (src/structops/kernel/data/vmlinux.btf).

Expected numbers are facts measured on the real 6.18 kernel, quoted from
reference/kernel-6.18-observed.md (section numbers in the docstrings), not read back
from the blob.
"""

from __future__ import annotations

import pytest

from structops import btf
from structops.kernel import kbtf


@pytest.fixture(scope="module")
def spec() -> btf.Spec:
    return btf.parse(kbtf.vmlinux_btf_bytes())


def strip(t: btf.Type) -> btf.Type:
    """Follow typedefs and qualifiers down to the underlying type."""
    while isinstance(t, btf.Typedef | btf.Const | btf.Volatile | btf.Restrict):
        t = t.type
    return t


def pointee_name(t: btf.Type) -> str:
    """Name of the struct a (possibly const) pointer points to."""
    p = strip(t)
    assert isinstance(p, btf.Pointer), p
    target = strip(p.target)
    assert isinstance(target, btf.Struct | btf.Fwd), target
    return target.name


def func_proto_of_member(spec: btf.Spec, struct: str, member: str) -> btf.FuncProto:
    ptr = strip(spec.find(struct, btf.Struct).member(member).type)
    assert isinstance(ptr, btf.Pointer)
    proto = strip(ptr.target)
    assert isinstance(proto, btf.FuncProto)
    return proto


def shape(t: btf.Type) -> str:
    """A name-level rendering of a type, to compare two signatures."""
    if isinstance(t, btf.Void):
        return "void"
    if isinstance(t, btf.Pointer):
        return shape(t.target) + "*"
    if isinstance(t, btf.Const):
        return "const " + shape(t.type)
    if isinstance(t, btf.Struct | btf.Union | btf.Enum | btf.Typedef | btf.Int | btf.Fwd):
        return t.name
    raise AssertionError(f"unexpected type {t!r}")


def test_blob_holds_only_kernel_like_kinds(spec: btf.Spec) -> None:
    """No DATASEC/VAR of the compiled object, no tags: what a vmlinux built by pahole holds."""
    allowed = (
        btf.Int,
        btf.Pointer,
        btf.Array,
        btf.Struct,
        btf.Union,
        btf.Enum,
        btf.Enum64,  # 64-bit enumerators, as pahole encodes them (the scx_* enums)
        btf.Fwd,
        btf.Typedef,
        btf.Volatile,
        btf.Const,
        btf.FuncProto,
        btf.Func,
    )
    kinds = {type(t).__name__ for t in spec.types[1:]}
    assert all(isinstance(t, allowed) for t in spec.types[1:]), kinds
    assert spec.first_id == 1 and spec.split_base is None


def test_loader_returns_the_same_bytes_each_time() -> None:
    assert kbtf.vmlinux_btf_bytes() is kbtf.vmlinux_btf_bytes()
    assert kbtf.vmlinux_btf_bytes()[:2] == b"\x9f\xeb"  # BTF magic, little endian


@pytest.mark.parametrize(
    ("name", "size", "data_type"),
    [
        ("bpf_struct_ops_bpf_dummy_ops", 128, "bpf_dummy_ops"),
        ("bpf_struct_ops_tcp_congestion_ops", 256, "tcp_congestion_ops"),
    ],
)
def test_value_types_are_common_then_data_at_64(spec: btf.Spec, name: str, size: int, data_type: str) -> None:
    """Observed §2: both wrappers have vlen=2, common at 0 and data at offset 64; sizes 128 / 256."""
    value = spec.find(name, btf.Struct)
    assert value.size == size
    assert [m.name for m in value.members] == ["common", "data"]
    common, data = value.members
    assert common.offset == 0 and data.offset == 64
    assert strip(common.type).name == "bpf_struct_ops_common_value"  # type: ignore[attr-defined]
    assert strip(data.type).name == data_type  # type: ignore[attr-defined]
    assert data.offset + strip(data.type).size <= value.size  # type: ignore[attr-defined]


def test_common_value_and_state_enum(spec: btf.Spec) -> None:
    """Observed §2: common value is 8 bytes (refcnt + state); INIT=0 INUSE=1 TOBEFREE=2 READY=3."""
    common = spec.find("bpf_struct_ops_common_value", btf.Struct)
    assert common.size == 8
    refcnt, state = common.members
    assert (refcnt.name, refcnt.offset) == ("refcnt", 0)
    assert isinstance(refcnt.type, btf.Typedef) and refcnt.type.name == "refcount_t"
    assert (state.name, state.offset) == ("state", 4)
    enum = state.type
    assert isinstance(enum, btf.Enum) and enum.name == "bpf_struct_ops_state"
    assert {v.name: v.value for v in enum.values} == {
        "BPF_STRUCT_OPS_STATE_INIT": 0,
        "BPF_STRUCT_OPS_STATE_INUSE": 1,
        "BPF_STRUCT_OPS_STATE_TOBEFREE": 2,
        "BPF_STRUCT_OPS_STATE_READY": 3,
    }
    generic = spec.find("bpf_struct_ops_value", btf.Struct)
    assert [(m.name, m.offset) for m in generic.members] == [("common", 0), ("data", 64)]
    data = generic.member("data").type
    assert isinstance(data, btf.Array) and data.nelems == 0


def test_struct_ops_map_has_the_real_size(spec: btf.Spec) -> None:
    """Observed §2: STRUCT 'bpf_struct_ops_map' size=512 vlen=11 (memlock accounting uses it)."""
    m = spec.find("bpf_struct_ops_map", btf.Struct)
    assert (m.size, len(m.members)) == (512, 11)
    kvalue = m.member("kvalue")
    assert kvalue.offset % 64 == 0 and strip(kvalue.type).name == "bpf_struct_ops_value"  # type: ignore[attr-defined]


# Observed §2: tcp_congestion_ops members as (name, byte offset).
TCP_CA_MEMBERS = [
    ("ssthresh", 0),
    ("cong_avoid", 8),
    ("set_state", 16),
    ("cwnd_event", 24),
    ("in_ack_event", 32),
    ("pkts_acked", 40),
    ("min_tso_segs", 48),
    ("cong_control", 56),
    ("undo_cwnd", 64),
    ("sndbuf_expand", 72),
    ("get_info", 80),
    ("name", 88),
    ("owner", 104),
    ("list", 112),
    ("key", 128),
    ("flags", 132),
    ("init", 136),
    ("release", 144),
]


def test_tcp_congestion_ops_layout_matches_the_real_kernel(spec: btf.Spec) -> None:
    """Observed §2: size 192, 18 members, order and offsets as listed; name is char[16]."""
    ops = spec.find("tcp_congestion_ops", btf.Struct)
    assert ops.size == 192
    assert [(m.name, m.offset) for m in ops.members] == TCP_CA_MEMBERS
    name = ops.member("name").type
    assert isinstance(name, btf.Array) and name.nelems == 16
    assert pointee_name(ops.member("owner").type) == "module"
    assert strip(ops.member("list").type).name == "list_head"  # type: ignore[attr-defined]


def test_cong_control_has_the_6_18_signature(spec: btf.Spec) -> None:
    """Observed §2: cong_control is (struct sock *, u32, int, const struct rate_sample *)."""
    proto = func_proto_of_member(spec, "tcp_congestion_ops", "cong_control")
    assert [shape(p.type) for p in proto.params] == ["sock*", "u32", "int", "const rate_sample*"]
    assert shape(proto.return_type) == "void"


# Each supported tcp_congestion_ops member and the cfi stub whose BTF the kernel reads.
TCP_CA_STUBS = {
    "ssthresh": "bpf_tcp_ca_ssthresh",
    "cong_avoid": "bpf_tcp_ca_cong_avoid",
    "set_state": "bpf_tcp_ca_set_state",
    "cwnd_event": "bpf_tcp_ca_cwnd_event",
    "in_ack_event": "bpf_tcp_ca_in_ack_event",
    "pkts_acked": "bpf_tcp_ca_pkts_acked",
    "min_tso_segs": "bpf_tcp_ca_min_tso_segs",
    "cong_control": "bpf_tcp_ca_cong_control",
    "undo_cwnd": "bpf_tcp_ca_undo_cwnd",
    "sndbuf_expand": "bpf_tcp_ca_sndbuf_expand",
    "init": "__bpf_tcp_ca_init",
    "release": "__bpf_tcp_ca_release",
}


@pytest.mark.parametrize(("member", "stub"), sorted(TCP_CA_STUBS.items()))
def test_tcp_ca_stub_signature_matches_its_member(spec: btf.Spec, member: str, stub: str) -> None:
    """A cfi stub's prototype must be the member's, with named parameters (none nullable)."""
    func = spec.find(stub, btf.Func)
    want = func_proto_of_member(spec, "tcp_congestion_ops", member)
    got = func.type
    assert [shape(p.type) for p in got.params] == [shape(p.type) for p in want.params]
    assert shape(got.return_type) == shape(want.return_type)
    assert all(p.name for p in got.params)
    assert got.params[0].name == "sk"
    assert not any(p.name.endswith(("__nullable", "__ref")) for p in got.params)


def test_get_info_has_no_stub(spec: btf.Spec) -> None:
    """Observed selftest 9 (unsupp_cong_op): get_info is unsupported, so no cfi stub exists."""
    with pytest.raises(KeyError):
        spec.find("bpf_tcp_ca_get_info", btf.Func)


@pytest.mark.parametrize(
    ("kfunc", "params"),
    [
        ("tcp_reno_ssthresh", ["sock*"]),
        ("tcp_reno_cong_avoid", ["sock*", "u32", "u32"]),
        ("tcp_reno_undo_cwnd", ["sock*"]),
        ("tcp_slow_start", ["tcp_sock*", "u32"]),
        ("tcp_cong_avoid_ai", ["tcp_sock*", "u32", "u32"]),
    ],
)
def test_reno_kfuncs_exist(spec: btf.Spec, kfunc: str, params: list[str]) -> None:
    """Observed §2 / §5: these FUNCs are the kfuncs a BPF CC calls (BPF_PSEUDO_KFUNC_CALL imm)."""
    func = spec.find(kfunc, btf.Func)
    assert [shape(p.type) for p in func.type.params] == params


@pytest.mark.parametrize(
    ("kfunc", "params", "ret"),
    [
        ("bpf_task_acquire", [("p", "task_struct*")], "task_struct*"),
        ("bpf_task_release", [("p", "task_struct*")], "void"),
        ("bpf_cgroup_acquire", [("cgrp", "cgroup*")], "cgroup*"),
        ("bpf_cgroup_release", [("cgrp", "cgroup*")], "void"),
    ],
)
def test_reference_kfuncs_exist(spec: btf.Spec, kfunc: str, params: list[tuple[str, str]], ret: str) -> None:
    """Selftests #42/#47 release the __ref task with bpf_task_release: the kfunc must be in vmlinux."""
    func = spec.find(kfunc, btf.Func)
    assert [(p.name, shape(p.type)) for p in func.type.params] == params
    assert shape(func.type.return_type) == ret


def test_dummy_ops_and_stubs(spec: btf.Spec) -> None:
    """Observed §2/§4: bpf_dummy_ops is 24 bytes; only test_1's state argument is nullable."""
    ops = spec.find("bpf_dummy_ops", btf.Struct)
    assert ops.size == 24
    assert [m.name for m in ops.members] == ["test_1", "test_2", "test_sleepable"]
    test_2 = func_proto_of_member(spec, "bpf_dummy_ops", "test_2")
    assert [shape(p.type) for p in test_2.params] == [
        "bpf_dummy_ops_state*",
        "int",
        "short unsigned int",
        "char",
        "long unsigned int",
    ]
    assert spec.find("bpf_dummy_ops_state", btf.Struct).member("val").offset == 0
    stubs = {
        "test_1": spec.find("bpf_dummy_ops__test_1", btf.Func),
        "test_2": spec.find("bpf_dummy_test_2", btf.Func),
        "test_sleepable": spec.find("bpf_dummy_test_sleepable", btf.Func),
    }
    nullable = {member: [p.name.endswith("__nullable") for p in f.type.params] for member, f in stubs.items()}
    assert nullable == {
        "test_1": [True],
        "test_2": [False] * 5,
        "test_sleepable": [False],
    }
    for member, func in stubs.items():
        want = func_proto_of_member(spec, "bpf_dummy_ops", member)
        assert [shape(p.type) for p in func.type.params] == [shape(p.type) for p in want.params]


def test_socket_structs_nest_the_real_way(spec: btf.Spec) -> None:
    """tcp_sock > inet_connection_sock > inet_sock > sock > sock_common, each first, at 0."""
    chain = [
        ("tcp_sock", "inet_conn", "inet_connection_sock"),
        ("inet_connection_sock", "icsk_inet", "inet_sock"),
        ("inet_sock", "sk", "sock"),
        ("sock", "__sk_common", "sock_common"),
    ]
    for outer, member, inner in chain:
        first = spec.find(outer, btf.Struct).members[0]
        assert (first.name, first.offset) == (member, 0)
        assert strip(first.type).name == inner  # type: ignore[attr-defined]


def test_tcp_sock_offsets_equal_the_real_kernel(spec: btf.Spec) -> None:
    """Observed §5: the verifier log names tcp_sock.snd_cwnd at 1444 and snd_una at 1672."""
    tp = spec.find("tcp_sock", btf.Struct)
    assert tp.member("snd_cwnd").offset == 1444
    assert tp.member("snd_una").offset == 1672


def test_bitfields_are_kept(spec: btf.Spec) -> None:
    """CO-RE bitfield relocations need the real bitfield members (icsk_ca_state:5 etc.)."""
    icsk = spec.find("inet_connection_sock", btf.Struct)
    ca_state = icsk.member("icsk_ca_state")
    assert ca_state.bitfield_size == 5
    assert icsk.member("icsk_ca_initialized").bit_offset == ca_state.bit_offset + 5
    tp = spec.find("tcp_sock", btf.Struct)
    assert tp.member("is_cwnd_limited").bitfield_size == 1
    priv = icsk.member("icsk_ca_priv").type
    assert isinstance(priv, btf.Array) and priv.nelems == 13
    assert strip(priv.type).size == 8  # type: ignore[attr-defined]
    ack = strip(icsk.member("icsk_ack").type)
    assert isinstance(ack, btf.Struct) and ack.member("pending").offset == 0


def test_opaque_structs_hold_only_their_size(spec: btf.Spec) -> None:
    """Opaque stand-ins carry one `__opaque` member; no invented field names leak into the BTF."""
    opaque = [t for t in spec.types[1:] if isinstance(t, btf.Struct) and [m.name for m in t.members] == ["__opaque"]]
    # iterators and graph roots/nodes: the kernel's own member is named __opaque
    real_opaque = {"bpf_iter_num", "bpf_iter_scx_dsq", "bpf_rb_root", "bpf_rb_node"}
    stand_ins = {"hrtimer", "mutex", "request_sock_queue", "inet_cork_full", "bpf_map"}
    assert {t.name for t in opaque} - real_opaque == stand_ins
    names = {m.name for t in spec.types[1:] if isinstance(t, btf.Struct | btf.Union) for m in t.members if m.name}
    assert not {n for n in names if n.startswith("__pad")}
