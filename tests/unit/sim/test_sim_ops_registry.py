"""tcp_congestion_ops validation and the tcp_cong_list registry (spec T4-T7)."""

from __future__ import annotations

import errno

import pytest

from structops.errors import AlreadyExists, InvalidArgument, NotFound
from structops.sim import CongestionRegistry, TcpCongestionOps, TcpSock, cubic, reno
from structops.sim.consts import TCP_CONG_NON_RESTRICTED
from structops.sim.ops import OP_NAMES
from structops.sim.tcp_cong import tcp_reno_ssthresh, tcp_reno_undo_cwnd


def minimal(name: str, **kw: object) -> TcpCongestionOps:
    ops = TcpCongestionOps(name=name, ssthresh=tcp_reno_ssthresh, undo_cwnd=tcp_reno_undo_cwnd)
    ops.cong_control = lambda sk, ack, flag, rs: None
    for k, v in kw.items():
        setattr(ops, k, v)
    return ops


def test_op_names_follow_the_kernel_struct_order() -> None:
    assert OP_NAMES[:10] == (
        "ssthresh",
        "cong_avoid",
        "set_state",
        "cwnd_event",
        "in_ack_event",
        "pkts_acked",
        "min_tso_segs",
        "cong_control",
        "undo_cwnd",
        "sndbuf_expand",
    )


def test_registry_starts_with_reno_as_default() -> None:
    reg = CongestionRegistry()
    assert reg.available() == ["reno"]
    assert reg.default.name == "reno"
    assert reg.default.present_ops() == ["ssthresh", "cong_avoid", "undo_cwnd"]


@pytest.mark.parametrize("missing", ["ssthresh", "undo_cwnd", "both_avoid_and_control"])
def test_validate_requires_ssthresh_undo_and_one_of_avoid_or_control(missing: str) -> None:
    """T4: ssthresh, undo_cwnd and (cong_avoid or cong_control) are required."""
    ops = minimal("x")
    if missing == "both_avoid_and_control":
        ops.cong_control = None
    else:
        setattr(ops, missing, None)
    with pytest.raises(InvalidArgument) as exc:
        CongestionRegistry().register(ops)
    assert exc.value.errno == errno.EINVAL


def test_cong_avoid_alone_is_enough() -> None:
    reg = CongestionRegistry()
    ops = minimal("y", cong_control=None, cong_avoid=lambda sk, ack, acked: None)
    reg.register(ops)
    assert reg.find("y") is ops


@pytest.mark.parametrize("name", ["", "bpf-cubic", "a" * 16, "sp ace"])
def test_bad_names_are_einval(name: str) -> None:
    with pytest.raises(InvalidArgument):
        CongestionRegistry().register(minimal(name))


def test_duplicate_name_is_eexist() -> None:
    """T5: a second registration under the same name fails with EEXIST."""
    reg = CongestionRegistry()
    with pytest.raises(AlreadyExists) as exc:
        reg.register(reno())
    assert exc.value.errno == errno.EEXIST


def test_unregister_then_find_fails_and_double_unregister_is_enoent() -> None:
    reg = CongestionRegistry()
    ops = cubic()
    reg.register(ops)
    reg.unregister(ops)
    assert reg.find("cubic") is None
    with pytest.raises(NotFound):
        reg.unregister(ops)


def test_update_replaces_same_name_and_keeps_default_pointer() -> None:
    """T7: update swaps old for new under one name; the default keeps the old pointer."""
    reg = CongestionRegistry()
    old = minimal("bpfcc")
    new = minimal("bpfcc")
    reg.register(old)
    reg.set_default("bpfcc")
    reg.update(new, old)
    assert reg.find("bpfcc") is new
    assert reg.default is old
    assert reg.available() == ["reno", "bpfcc"]


def test_update_with_other_name_or_stale_old_is_einval() -> None:
    reg = CongestionRegistry()
    old = minimal("aa")
    reg.register(old)
    with pytest.raises(InvalidArgument):
        reg.update(minimal("bb"), old)
    stale = minimal("aa")
    with pytest.raises(InvalidArgument, match="invalid old"):
        reg.update(minimal("aa"), stale)


def test_set_default_unknown_is_enoent_and_marks_non_restricted() -> None:
    reg = CongestionRegistry()
    with pytest.raises(NotFound):
        reg.set_default("nope")
    ops = minimal("z", flags=0)
    reg.register(ops)
    reg.set_default("z")
    assert ops.flags & TCP_CONG_NON_RESTRICTED


def test_assign_gives_default_and_zeroes_private_area() -> None:
    reg = CongestionRegistry()
    sk = TcpSock()
    sk.icsk_ca_priv[:] = b"\xff" * len(sk.icsk_ca_priv)
    assert reg.assign(sk) is reg.default
    assert sk.icsk_ca_ops is reg.default
    assert bytes(sk.icsk_ca_priv) == bytes(104)


def test_empty_registry_has_no_default() -> None:
    with pytest.raises(NotFound):
        _ = CongestionRegistry(with_reno=False).default
