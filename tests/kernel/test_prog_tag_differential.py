"""Program tags and info fields agree between the embedded kernel and the real one."""

from __future__ import annotations

import struct

import pytest
import test_linux_scenarios as S
from realkernel import real_kernel_skip_reason

from structops.kernel.attrs import InfoAttr
from structops.kernel.emulated import EmulatedKernel
from structops.kernel.protocol import Kernel
from structops.uapi import Cmd


def _info(k: Kernel, code: bytes, member: str) -> tuple[bytes, int, int]:
    env = S.resolve_env(k.vmlinux_btf())
    with S.tracked(k) as t:
        fd = S.load_struct_ops_prog(k, t, env.tcp_ops, member, code)
        info = InfoAttr(fd, bytearray(232))
        k.bpf(Cmd.BPF_OBJ_GET_INFO_BY_FD, info)
        ptype, _pid, tag = struct.unpack_from("<II8s", info.info, 0)
        (xlated_len,) = struct.unpack_from("<I", info.info, 20)
        return tag, ptype, xlated_len


def test_prog_tag_matches_real_kernel() -> None:
    reason = real_kernel_skip_reason()
    if reason:
        pytest.skip(reason)
    from structops.linux import LinuxKernel

    emb, real = EmulatedKernel(), LinuxKernel()
    for member, code in (("init", S.prog_bare_exit()), ("ssthresh", None)):
        if code is None:
            code = S.prog_ssthresh(S.resolve_env(real.vmlinux_btf()))
            emb_code = S.prog_ssthresh(S.resolve_env(emb.vmlinux_btf()))
        else:
            emb_code = code
        tag_e, type_e, _ = _info(emb, emb_code, member)
        tag_r, type_r, _ = _info(real, code, member)
        assert type_e == type_r == 27
        if emb_code == code:
            assert tag_e == tag_r, (member, tag_e.hex(), tag_r.hex())
