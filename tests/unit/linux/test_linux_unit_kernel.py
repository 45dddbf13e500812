"""LinuxKernel without a real kernel: attr packing, buffer pinning and copy-back, errors.

The syscall itself is replaced by a fake that plays the kernel: it reads the packed
``union bpf_attr``, writes through the user addresses it finds there, and fails or
succeeds.  This pins down the contract of the Linux backend (task brief; protocol.py).
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from structops.errors import BadFd, BpfError, NotFound, PermissionDenied, VerifierError
from structops.kernel.attrs import BtfLoadAttr, InfoAttr, MapElemAttr, ProgLoadAttr, TestRunAttr
from structops.linux import CtypesUserBuffer, LinuxKernel, command_name
from structops.linux import kernel as kmod
from structops.linux._pin import Pinner
from structops.linux._syscall import sys_bpf_number
from structops.uapi import BPF_ATTR_SIZE, Cmd

FakeSyscall = Callable[[int, bytearray], tuple[int, int]]
Install = Callable[[FakeSyscall], list[tuple[int, bytes]]]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Install:
    """Install a fake ``sys_bpf``; the handler edits the attr bytes and returns (ret, errno)."""

    def install(handler: FakeSyscall) -> list[tuple[int, bytes]]:
        calls: list[tuple[int, bytes]] = []

        def sys_bpf(cmd: int, attr: ctypes.Array[ctypes.c_char], size: int) -> tuple[int, int]:
            raw = bytearray(attr.raw[:size])
            calls.append((cmd, bytes(raw)))
            ret, err = handler(cmd, raw)
            ctypes.memmove(attr, bytes(raw), size)
            return ret, err

        monkeypatch.setattr(kmod, "sys_bpf", sys_bpf)
        return calls

    return install


def _u64(raw: bytes | bytearray, off: int) -> int:
    return int(struct.unpack_from("<Q", raw, off)[0])


def test_prog_load_log_is_copied_back_and_carried_by_the_error(fake: Install) -> None:
    """A refused load fills the caller's log_buf in place and the error's ``log`` (observed §5)."""

    def handler(cmd: int, raw: bytearray) -> tuple[int, int]:
        assert cmd == Cmd.BPF_PROG_LOAD
        insn_cnt, insns = struct.unpack_from("<IQ", raw, 4)
        assert insn_cnt == 2 and ctypes.string_at(insns, 16) == b"\x95" + bytes(7) + b"\x96" + bytes(7)
        assert ctypes.string_at(_u64(raw, 16)) == b"GPL"
        log_size, log_buf = struct.unpack_from("<IQ", raw, 28)
        assert log_size == 64
        ctypes.memmove(log_buf, b"R0 !read_ok\n\0", 13)
        struct.pack_into("<I", raw, 140, 13)
        return -1, errno.EACCES

    fake(handler)
    log = bytearray(64)
    attr = ProgLoadAttr(27, b"\x95" + bytes(7) + b"\x96" + bytes(7), log_buf=log, log_level=1)
    with pytest.raises(VerifierError) as info:
        LinuxKernel().bpf(Cmd.BPF_PROG_LOAD, attr)
    assert attr.log_buf is log and log.startswith(b"R0 !read_ok\n\0")
    assert info.value.errno == errno.EACCES
    assert info.value.log == "R0 !read_ok\n"
    assert info.value.op == "prog load"
    assert attr.log_true_size == 13


def test_lookup_value_is_output_update_value_is_input(fake: Install) -> None:
    """Lookup / GET_NEXT_KEY write ``value``; update only reads it (brief: decide by cmd)."""

    def handler(cmd: int, raw: bytearray) -> tuple[int, int]:
        ctypes.memmove(_u64(raw, 16), b"\xab\xcd", 2)  # the kernel writes whatever slot it is
        return 0, 0

    fake(handler)
    k = LinuxKernel()
    for cmd in (Cmd.BPF_MAP_LOOKUP_ELEM, Cmd.BPF_MAP_GET_NEXT_KEY, Cmd.BPF_MAP_LOOKUP_AND_DELETE_ELEM):
        out = bytearray(4)
        assert k.bpf(cmd, MapElemAttr(3, key=bytes(4), value=out)) == 0
        assert out == b"\xab\xcd\0\0", cmd.name
    value = bytearray(4)
    k.bpf(Cmd.BPF_MAP_UPDATE_ELEM, MapElemAttr(3, key=bytes(4), value=value))
    assert value == bytes(4)


def test_lookup_into_bytes_is_a_type_error() -> None:
    """An output buffer the kernel writes must be mutable; bytes is refused before the call."""
    with pytest.raises(TypeError, match="bytearray"):
        LinuxKernel().bpf(Cmd.BPF_MAP_LOOKUP_ELEM, MapElemAttr(3, key=bytes(4), value=bytes(4)))


def test_test_run_scalars_and_ctx_out(fake: Install) -> None:
    """TEST_RUN: ctx_in goes in, ctx_out and retval/duration/sizes come back (DM6)."""

    def handler(cmd: int, raw: bytearray) -> tuple[int, int]:
        size_in, size_out, ctx_in, ctx_out = struct.unpack_from("<IIQQ", raw, 40)
        assert (size_in, size_out) == (8, 8)
        assert ctypes.string_at(ctx_in, 8) == struct.pack("<Q", 0x1234)
        ctypes.memmove(ctx_out, b"\x01" * 8, 8)
        struct.pack_into("<I", raw, 4, 0xF2F3F4F5)
        struct.pack_into("<I", raw, 36, 99)
        return 0, 0

    fake(handler)
    run = TestRunAttr(5, ctx_in=struct.pack("<Q", 0x1234), ctx_out=bytearray(8))
    LinuxKernel().bpf(Cmd.BPF_PROG_TEST_RUN, run)
    assert (run.retval, run.duration, run.ctx_out) == (0xF2F3F4F5, 99, bytearray(b"\x01" * 8))


def test_info_buffer_is_in_and_out(fake: Install) -> None:
    """OBJ_GET_INFO_BY_FD reads the caller's info bytes and writes them back (K8)."""

    def handler(cmd: int, raw: bytearray) -> tuple[int, int]:
        info_len, info = struct.unpack_from("<IQ", raw, 4)
        assert info_len == 32 and ctypes.string_at(info, 4) == b"seed"
        ctypes.memmove(info, struct.pack("<III", 9, 42, 0), 12)
        struct.pack_into("<I", raw, 4, 24)
        return 0, 0

    fake(handler)
    info = InfoAttr(7, bytearray(b"seed" + bytes(28)))
    LinuxKernel().bpf(Cmd.BPF_OBJ_GET_INFO_BY_FD, info)
    assert struct.unpack_from("<II", info.info) == (9, 42) and info.info_len == 24


def test_attr_size_and_tail(fake: Install) -> None:
    """The syscall gets the 168-byte union; a ``tail`` past END lands at END (C1 probes)."""
    calls = fake(lambda cmd, raw: (0, 0))
    k = LinuxKernel()
    k.bpf(Cmd.BPF_BTF_LOAD, BtfLoadAttr(btf=b"x", tail=b"\x01"))
    cmd, raw = calls[-1]
    assert cmd == Cmd.BPF_BTF_LOAD and len(raw) == BPF_ATTR_SIZE
    assert raw[BtfLoadAttr.END] == 1 and struct.unpack_from("<I", raw, 16)[0] == 1


def test_btf_log_on_failure(fake: Install) -> None:
    """BTF_LOAD errors carry the BTF log text (observed §5: empty BTF, "No type found")."""

    def handler(cmd: int, raw: bytearray) -> tuple[int, int]:
        ctypes.memmove(_u64(raw, 8), b"No type found\n\0", 15)
        return -1, errno.EINVAL

    fake(handler)
    with pytest.raises(BpfError) as info:
        LinuxKernel().bpf(Cmd.BPF_BTF_LOAD, BtfLoadAttr(btf=b"\0" * 24, btf_log_buf=bytearray(32)))
    assert info.value.log == "No type found\n" and info.value.op == "btf load"


def test_raw_address_passes_through(fake: Install) -> None:
    """An int in a buffer field is a raw user address and goes in unchanged (EFAULT probes)."""
    calls = fake(lambda cmd, raw: (-1, errno.EFAULT))
    with pytest.raises(BpfError) as info:
        LinuxKernel().bpf(Cmd.BPF_MAP_UPDATE_ELEM, MapElemAttr(3, key=0x10, value=b"v"))  # type: ignore[arg-type]
    assert info.value.errno == errno.EFAULT
    assert _u64(calls[-1][1], 8) == 0x10


def test_command_names() -> None:
    """Error contexts name the command in lower case."""
    assert command_name(Cmd.BPF_MAP_UPDATE_ELEM) == "map update elem"
    assert command_name(Cmd.BPF_PROG_TEST_RUN) == "prog test run"
    assert command_name(999) == "bpf cmd 999"


def test_pinner_rejects_non_buffers() -> None:
    """Only bytes-like values and raw int addresses can be pinned."""
    with pytest.raises(TypeError):
        Pinner([])("text")  # type: ignore[arg-type]
    pin = Pinner([])
    addr = pin(b"abc")
    assert ctypes.string_at(addr, 3) == b"abc"
    assert pin(0x1000) == 0x1000


def test_syscall_numbers() -> None:
    """``__NR_bpf`` by machine: 321 on x86_64, 280 on aarch64; unknown -> ENOSYS."""
    assert sys_bpf_number("x86_64") == 321
    assert sys_bpf_number("aarch64") == 280
    with pytest.raises(OSError) as info:
        sys_bpf_number("pdp11")
    assert info.value.errno == errno.ENOSYS


def test_close_maps_ebadf() -> None:
    """close() of an fd that is not open is BadFd (EBADF), like the embedded kernel."""
    r, w = os.pipe()
    os.close(w)
    k = LinuxKernel()
    k.close(r)
    with pytest.raises(BadFd) as info:
        k.close(r)
    assert info.value.errno == errno.EBADF


def test_btf_files(tmp_path: Path) -> None:
    """vmlinux_btf / module_btfs read the sysfs directory; a missing vmlinux is NotFound."""
    k = LinuxKernel(btf_dir=tmp_path)
    with pytest.raises(NotFound):
        k.vmlinux_btf()
    (tmp_path / "vmlinux").write_bytes(b"base")
    (tmp_path / "bpf_testmod").write_bytes(b"split")
    assert k.vmlinux_btf() == b"base"
    assert k.module_btfs() == {"bpf_testmod": b"split"}
    assert LinuxKernel(btf_dir=tmp_path / "absent").module_btfs() == {}


def test_user_buffer() -> None:
    """alloc_user: zeroed, addressable, bounds-checked, stable address (DM6 state)."""
    buf = LinuxKernel().alloc_user(8)
    assert isinstance(buf, CtypesUserBuffer)
    assert buf.size == 8 and buf.read() == bytes(8)
    buf.write(b"\x07\0\0\0", 4)
    assert ctypes.string_at(buf.addr + 4, 4) == b"\x07\0\0\0"
    assert buf.read(4) == b"\x07\0\0\0"
    ctypes.memmove(buf.addr, b"\x5a", 1)
    assert buf.read(0, 1) == b"\x5a"
    with pytest.raises(ValueError):
        buf.write(b"123", 6)
    with pytest.raises(ValueError):
        buf.read(-1, 2)
    with pytest.raises(ValueError):
        LinuxKernel().alloc_user(-1)
    assert LinuxKernel().alloc_user(0).read() == b""


def test_error_classes_by_command() -> None:
    """PROG_LOAD refusals are VerifierError like the embedded kernel's; the rest go by errno."""
    assert type(kmod.error_for(Cmd.BPF_PROG_LOAD, 524, "x")) is VerifierError
    assert type(kmod.error_for(Cmd.BPF_PROG_LOAD, errno.EPERM)) is PermissionDenied
    err = kmod.error_for(Cmd.BPF_MAP_CREATE, errno.EACCES)
    assert type(err) is PermissionDenied and err.op == "map create"
