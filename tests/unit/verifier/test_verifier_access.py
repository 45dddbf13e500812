"""The access set: every BTF-pointer load/store the verifier accepts, over all paths (issue 17)."""

from __future__ import annotations

from vasm import EXIT, insn, jmp_imm, ldx_dw, ldx_w, mov, stx_w

from structops import btf as btflib
from structops.kernel.btfview import field_path
from structops.kernel.emulated import EmulatedKernel
from structops.kernel.struct_ops import _func_proto_of
from structops.verifier import ListLog, ProgEnv, verify
from structops.verifier.access import AccessSet, called_functions

_KERNEL = EmulatedKernel()
_JGT = 0x25


def _tcp_env(member: str) -> ProgEnv:
    d = _KERNEL.find_struct_ops("tcp_congestion_ops")
    assert d is not None
    idx = [m.name for m in d.type.members].index(member)
    proto = _func_proto_of(d.type.members[idx].type)
    assert proto is not None
    vops = d.ops.verifier_ops
    return ProgEnv(
        spec=_KERNEL.vmlinux.spec,
        member_name=member,
        params=tuple(proto.params),
        ret=proto.return_type,
        ctx_args=tuple(d.arg_info[idx]),
        promote=dict(vops.promote_ptr),
        write_check=vops.btf_struct_access,
        st_ops_name="tcp_congestion_ops",
        access=AccessSet(),
    )


def _off(path: str) -> int:
    return field_path(_KERNEL.vmlinux.spec.find("tcp_sock", btflib.Struct), path).offset


def test_reads_and_writes_of_every_path_are_recorded_against_the_promoted_struct() -> None:
    """T8: a ``struct sock *`` argument is promoted to ``tcp_sock``; both branches' loads count,
    the store is a write; fields the program never touches are absent."""
    cwnd, ssthresh, clamp = _off("snd_cwnd"), _off("snd_ssthresh"), _off("snd_cwnd_clamp")
    code = (
        ldx_dw(2, 1, 0)  # r2 = sk
        + ldx_w(3, 2, cwnd)  # r3 = tp->snd_cwnd
        + jmp_imm(_JGT, 3, 5, 2)
        + ldx_w(4, 2, ssthresh)  # only when cwnd <= 5
        + stx_w(2, 4, cwnd)  # tp->snd_cwnd = ssthresh
        + mov(0, 0)
        + EXIT
    )
    env = _tcp_env("cong_avoid")
    verify(code, env, ListLog())
    acc = env.access
    assert acc is not None
    assert acc.reads == {("tcp_sock", cwnd, 4), ("tcp_sock", ssthresh, 4)}
    assert acc.writes == {("tcp_sock", cwnd, 4)}
    assert all(off != clamp for _, off, _ in acc.reads | acc.writes)


def test_no_recorder_records_nothing() -> None:
    """Programs verified without a recorder (the default ProgEnv) pay nothing."""
    env = _tcp_env("ssthresh")
    env.access = None
    verify(ldx_dw(2, 1, 0) + ldx_w(0, 2, _off("snd_cwnd")) + EXIT, env, ListLog())
    assert env.access is None


def test_called_functions_names_helpers_and_kfuncs_not_subprogs() -> None:
    code = insn(0x85, imm=5) + insn(0x85, src=2, imm=77) + insn(0x85, src=1, imm=1) + insn(0x85, src=2, imm=78) + EXIT
    names = called_functions(code, lambda hid: f"helper{hid}", lambda bid, off: "known" if bid == 77 else None)
    assert names == {"helper5", "known", "kfunc#78"}
