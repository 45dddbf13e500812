"""``Fd`` (structops.abi.fd, re-exported by structops.linux) closes exactly once; ``fdinfo`` parsing (spec K7)."""

from __future__ import annotations

import errno
import gc
import os

import pytest

from structops import abi
from structops.abi.consts import Cmd, MapType
from structops.abi.fd import Fd
from structops.errors import BadFd
from structops.kernel.emulated import EmulatedKernel
from structops.linux import Fd as LinuxFd
from structops.linux import parse_fdinfo, read_fdinfo


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def test_close_once_with_context_manager() -> None:
    """``with`` closes, a second close is a no-op, the number is unusable afterwards."""
    closed: list[int] = []
    with Fd(42, closed.append) as fd:
        assert int(fd) == 42 and fd.fileno() == 42 and not fd.closed
    assert closed == [42] and fd.closed
    fd.close()
    assert closed == [42]
    with pytest.raises(ValueError):
        int(fd)


def test_garbage_collection_closes_real_fd() -> None:
    """Dropping the last reference closes a real fd (weakref.finalize)."""
    r, w = os.pipe()
    os.close(w)
    fd = Fd(r)
    assert _is_open(r)
    del fd
    gc.collect()
    assert not _is_open(r)


def test_detach_gives_up_ownership() -> None:
    """``detach`` returns the number and never closes it."""
    closed: list[int] = []
    fd = Fd(5, closed.append)
    assert fd.detach() == 5
    del fd
    gc.collect()
    assert closed == []


def test_index_and_errors() -> None:
    """An Fd works where an int index is expected; negative fds are refused."""
    r, w = os.pipe()
    with Fd(r) as fr, Fd(w) as fw:
        os.write(fw, b"x")  # type: ignore[arg-type]
        assert os.read(fr, 1) == b"x"  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Fd(-1)


def test_one_class_serves_both_backends() -> None:
    """``structops.linux.Fd`` is the API's fd wrapper (one implementation)."""
    assert LinuxFd is Fd


def _embedded_map(k: EmulatedKernel) -> int:
    return k.bpf(Cmd.BPF_MAP_CREATE, abi.MapCreateAttr(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 1))


def test_kernel_fd_closes_through_the_kernel_once() -> None:
    """``Fd.of(kernel, fd)`` closes with ``kernel.close``: afterwards the kernel says EBADF."""
    k = EmulatedKernel()
    raw = _embedded_map(k)
    fd = Fd.of(k, raw)
    assert fd.fd == raw and int(fd) == raw
    fd.close()
    assert fd.closed
    with pytest.raises(BadFd):
        k.close(raw)
    fd.close()  # idempotent
    with pytest.raises(ValueError):
        _ = fd.fd


def test_kernel_fd_is_closed_by_the_garbage_collector() -> None:
    """Dropping an ``Fd.of`` closes the kernel fd (no leaked map)."""
    k = EmulatedKernel()
    raw = _embedded_map(k)
    fd = Fd.of(k, raw)
    del fd
    gc.collect()
    with pytest.raises(BadFd):
        k.close(raw)


def test_quiet_close_ignores_errors_loud_close_raises() -> None:
    """The API's fds (quiet) ignore a failing close; a plain ``Fd`` lets close(2) errors out."""
    k = EmulatedKernel()
    raw = _embedded_map(k)
    k.close(raw)
    Fd.of(k, raw).close()  # already closed behind its back: no error
    r, w = os.pipe()
    os.close(w)
    loud = Fd(w)
    with pytest.raises(OSError) as exc:
        loud.close()
    assert exc.value.errno == errno.EBADF and loud.closed
    os.close(r)


def test_parse_fdinfo() -> None:
    """``key:\\tvalue`` lines become a dict; K7 link text."""
    text = "pos:\t0\nflags:\t02000000\nmnt_id:\t16\nlink_type:\tstruct_ops\nlink_id:\t7\nmap_id:\t12\n"
    info = parse_fdinfo(text)
    assert info["link_type"] == "struct_ops" and info["map_id"] == "12" and info["flags"] == "02000000"


def test_read_fdinfo_real_and_closed() -> None:
    """fdinfo of an open fd is readable; of a closed fd it is BadFd."""
    r, w = os.pipe()
    try:
        info = read_fdinfo(r)
        assert info["pos"] == "0" and "flags" in info
    finally:
        os.close(r)
        os.close(w)
    with pytest.raises(BadFd) as exc:
        read_fdinfo(r)
    assert exc.value.errno == errno.EBADF
