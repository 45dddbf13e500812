"""The bpftool JSON layout writer and the BTF value dumper used by the bpftool-style CLI.

Expected strings are bpftool 7.1 output captured on the project machine
(kernel-6.18-observed sections 3 and 7), not output of our implementation.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from structops import btf
from structops.cli._btfvalue import Pairs, decode, proto_string, type_name
from structops.cli._jsonw import dumps
from structops.kernel import kbtf


def test_compact_json_has_no_spaces_and_ends_with_newline() -> None:
    row = {"id": 29, "name": "feas_reno", "kernel_struct_ops": "tcp_congestion_ops"}
    assert dumps([row]) == '[{"id":29,"name":"feas_reno","kernel_struct_ops":"tcp_congestion_ops"}]\n'
    assert dumps([]) == "[]\n"
    assert dumps(None) == "null\n"


def test_pretty_layout_matches_bpftool_link_show() -> None:
    observed = '[{\n        "id": 177,\n        "type": "struct_ops",\n        "prog_id": 0\n    }\n]\n'
    assert dumps([{"id": 177, "type": "struct_ops", "prog_id": 0}], pretty=True) == observed


def test_pretty_arrays_keep_elements_on_the_opening_line() -> None:
    observed = '{\n    "id": 1049,\n    "jited": true,\n    "map_ids": [490\n    ]\n}\n'
    assert dumps({"id": 1049, "jited": True, "map_ids": [490]}, pretty=True) == observed
    two = dumps([{"a": 1}, {"b": 2}], pretty=True)
    assert two == '[{\n        "a": 1\n    },{\n        "b": 2\n    }\n]\n'


def test_pairs_keep_repeated_keys() -> None:
    assert dumps(Pairs([("", 1), ("", 2)])) == '{"":1,"":2}\n'


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20,
)


@given(json_values, st.booleans())
def test_output_is_valid_json_with_the_same_value(value: object, pretty: bool) -> None:
    assert json.loads(dumps(value, pretty)) == value


@pytest.fixture(scope="module")
def kspec() -> btf.Spec:
    return btf.parse(kbtf.vmlinux_btf_bytes())


def _member_proto(spec: btf.Spec, member: str) -> btf.FuncProto:
    ops = spec.find("tcp_congestion_ops", btf.Struct)
    t = btf.underlying(ops.member(member).type)
    assert isinstance(t, btf.Pointer)
    proto = btf.underlying(t.target)
    assert isinstance(proto, btf.FuncProto)
    return proto


@pytest.mark.parametrize(
    ("member", "observed"),
    [
        ("ssthresh", "u32 (struct sock *)"),
        ("cong_avoid", "void (struct sock *, u32, u32)"),
        ("cwnd_event", "void (struct sock *, enum tcp_ca_event)"),
        ("pkts_acked", "void (struct sock *, const struct ack_sample *)"),
        ("cong_control", "void (struct sock *, u32, int, const struct rate_sample *)"),
        ("get_info", "size_t (struct sock *, u32, int *, union tcp_cc_info *)"),
    ],
)
def test_prototypes_print_like_bpftool(kspec: btf.Spec, member: str, observed: str) -> None:
    assert proto_string(_member_proto(kspec, member)) == observed


def test_struct_ops_value_func_slots_and_pointers(kspec: btf.Spec) -> None:
    vt = kspec.find("bpf_struct_ops_tcp_congestion_ops", btf.Struct)
    ops = kspec.find("tcp_congestion_ops", btf.Struct)
    data_off = vt.member("data").offset
    raw = bytearray(vt.size)
    raw[data_off + btf.member_offset(ops, "ssthresh") : data_off + btf.member_offset(ops, "ssthresh") + 8] = (
        7
    ).to_bytes(8, "little")
    name_off = data_off + btf.member_offset(ops, "name")
    raw[name_off : name_off + 4] = b"abc\0"
    names = {7: "my_ssthresh"}
    value = decode(vt, bytes(raw), prog_names=names.get)
    data = dict(dict(value)["data"])
    assert data["ssthresh"] == "u32 (struct sock *) my_ssthresh/prog_id:7"
    assert data["undo_cwnd"] == "u32 (struct sock *) 0"
    assert data["name"] == "abc"
    assert data["owner"] == 0  # a plain pointer under -j
    plain = dict(dict(decode(vt, bytes(raw), plain=True))["data"])
    assert plain["owner"] == "(nil)" and plain["ssthresh"] == "0x7"
    unknown = dict(dict(decode(vt, bytes(raw), prog_names=lambda i: None))["data"])
    assert unknown["ssthresh"].endswith(" <unknown_prog_name>/prog_id:7")


def test_bitfields_enums_bools_and_arrays() -> None:
    u8 = btf.Int("unsigned char", 1)
    s32 = btf.Int("int", 4, btf.IntEncoding.SIGNED)
    boolean = btf.Int("_Bool", 1, btf.IntEncoding.BOOL)
    color = btf.Enum("color", 4, (btf.EnumValue("RED", 0), btf.EnumValue("BLUE", 2)))
    arr = btf.Array(s32, s32, 2)
    chars = btf.Array(btf.Int("char", 1, btf.IntEncoding.CHAR), s32, 4)
    s = btf.Struct(
        "s",
        24,
        (
            btf.Member("lo", s32, 0, 3),
            btf.Member("hi", s32, 3, 5),
            btf.Member("c", color, 32),
            btf.Member("b", boolean, 64),
            btf.Member("u", u8, 72),
            btf.Member("a", arr, 96),
            btf.Member("t", chars, 160),
        ),
    )
    raw = bytes([0b10101_011, 0, 0, 0]) + (2).to_bytes(4, "little") + bytes([1, 200, 0, 0])
    raw += (-5).to_bytes(4, "little", signed=True) + (9).to_bytes(4, "little") + b"\x01\x02\x03\x04"
    got = dict(decode(s, raw))
    assert got == {"lo": 3, "hi": -11, "c": "BLUE", "b": True, "u": 200, "a": [-5, 9], "t": [1, 2, 3, 4]}
    assert type_name(btf.Pointer(btf.Const(s))) == "const struct s *"
