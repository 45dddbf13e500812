"""The example CC of docs/writing-a-cc.md registers on Linux and carries a loopback transfer."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest

from structops.api import Collection

OBJ = Path(__file__).resolve().parents[2] / "examples" / "cc" / "mycc.bpf.o"
TCP_CONGESTION = getattr(socket, "TCP_CONGESTION", 13)


def _skip_reason() -> str | None:
    if not Path("/sys/kernel/btf/vmlinux").exists():
        return "no kernel BTF at /sys/kernel/btf/vmlinux"
    if os.geteuid() != 0:
        return "not root: CAP_BPF is needed for the real bpf() syscall"
    return None


pytestmark = pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or "")


def _transfer(cc: bytes, size: int = 4 << 20) -> tuple[bytes, int]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    got = bytearray()

    def serve() -> None:
        conn, _ = srv.accept()
        with conn:
            while chunk := conn.recv(1 << 16):
                got.extend(chunk)

    th = threading.Thread(target=serve)
    th.start()
    with socket.socket() as c:
        c.setsockopt(socket.IPPROTO_TCP, TCP_CONGESTION, cc)
        c.connect(srv.getsockname())
        c.sendall(b"x" * size)
        name = c.getsockopt(socket.IPPROTO_TCP, TCP_CONGESTION, 16).rstrip(b"\0")
    th.join(30)
    srv.close()
    return name, len(got)


def test_mycc_registers_and_carries_traffic() -> None:
    from structops.linux import LinuxKernel

    with Collection.open(OBJ).load(LinuxKernel()) as obj, obj.maps["mycc"].attach_struct_ops():
        assert "mycc" in Path("/proc/sys/net/ipv4/tcp_available_congestion_control").read_text().split()
        name, received = _transfer(b"mycc")
        assert (name, received) == (b"mycc", 4 << 20)
        from structops.testing import GlobalVariables

        assert GlobalVariables(obj)["n_inits"] == 1  # the BPF init ran for the client socket
    assert "mycc" not in Path("/proc/sys/net/ipv4/tcp_available_congestion_control").read_text().split()
