"""``LinuxKernel``: the :class:`~structops.abi.protocol.Kernel` protocol on the real ``bpf(2)``.

Every call packs the attr into the 168-byte ``union bpf_attr`` of Linux 6.18
(kernel-6.18-observed §5), pins the buffers it points at (:mod:`._pin`), issues the
syscall through :func:`._syscall.sys_bpf`, copies output buffers and scalar outputs
back into the attr, and raises the :mod:`structops.errors` class for the kernel's errno
on failure (:func:`error_for`), carrying the verifier / BTF log when a log buffer was given.
"""

from __future__ import annotations

import ctypes
import errno
import os
from pathlib import Path

from structops.abi.attrs import Attr, BtfLoadAttr, MapElemAttr, ProgLoadAttr
from structops.abi.consts import ENOTSUPP, Cmd
from structops.abi.protocol import UserBuffer
from structops.errors import BpfError, VerifierError, bpf_error
from structops.linux._pin import Pinner
from structops.linux._syscall import sys_bpf
from structops.linux.mmap import MapMapping, map_mmap

__all__ = ["BTF_SYSFS", "CtypesUserBuffer", "LinuxKernel", "command_name", "error_for", "output_objects"]

#: Where the kernel exposes its own and its modules' BTF.
BTF_SYSFS = Path("/sys/kernel/btf")

#: Map commands whose ``value`` slot is written by the kernel (``next_key`` for GET_NEXT_KEY).
_VALUE_OUT_CMDS = frozenset({Cmd.BPF_MAP_LOOKUP_ELEM, Cmd.BPF_MAP_GET_NEXT_KEY, Cmd.BPF_MAP_LOOKUP_AND_DELETE_ELEM})


def command_name(cmd: int) -> str:
    """Lower-case context name of a bpf() command (``BPF_PROG_LOAD`` -> ``"prog load"``)."""
    try:
        name = Cmd(cmd).name
    except ValueError:
        return f"bpf cmd {int(cmd)}"
    return name.removeprefix("BPF_").lower().replace("_", " ")


def output_objects(cmd: int, attr: Attr) -> list[object]:
    """The buffers of ``attr`` the kernel writes for ``cmd`` (the ``out`` fields, plus
    the lookup / next-key ``value`` of :class:`MapElemAttr`)."""
    outs: list[object] = []
    for f in attr.LAYOUT:
        value = getattr(attr, f.name)
        if value is None or isinstance(value, int):
            continue
        if f.role == "out" or (isinstance(attr, MapElemAttr) and f.name == "value" and cmd in _VALUE_OUT_CMDS):
            outs.append(value)
    return outs


#: PROG_LOAD errnos that come from the load-time checks and the verifier (spec V4-V18), which
#: the embedded kernel reports as :class:`VerifierError` too.
_VERIFIER_ERRNOS = frozenset({errno.EINVAL, errno.EACCES, ENOTSUPP})


def error_for(cmd: int, code: int, log: str = "") -> BpfError:
    """The exception for a failed ``cmd``: VerifierError for a PROG_LOAD refused with
    EINVAL / EACCES / ENOTSUPP (errors.py tree), else :func:`bpf_error` by errno."""
    op = command_name(cmd)
    if cmd == Cmd.BPF_PROG_LOAD and code in _VERIFIER_ERRNOS:
        return VerifierError(code, op=op, log=log)
    return bpf_error(code, op=op, log=log)


def _log_text(attr: Attr) -> str:
    buf: bytes | bytearray | None = None
    if isinstance(attr, ProgLoadAttr):
        buf = attr.log_buf
    elif isinstance(attr, BtfLoadAttr):
        buf = attr.btf_log_buf
    if not buf:
        return ""
    return bytes(buf).split(b"\0", 1)[0].decode("utf-8", "replace")


class CtypesUserBuffer:
    """Zeroed process memory backed by a ctypes buffer; ``addr`` is valid while this lives.

    Implements :class:`structops.abi.protocol.UserBuffer` for the Linux backend; the
    kernel reads and writes it through raw user addresses (DM6 test_run state).
    """

    def __init__(self, size: int) -> None:
        if size < 0:
            raise ValueError(f"user buffer size must be >= 0, got {size}")
        self._size = size
        self._buf = ctypes.create_string_buffer(max(size, 1))

    @property
    def addr(self) -> int:
        """User-space address of the first byte."""
        return ctypes.addressof(self._buf)

    @property
    def size(self) -> int:
        """Size in bytes."""
        return self._size

    def _check(self, offset: int, length: int) -> None:
        if offset < 0 or length < 0 or offset + length > self._size:
            raise ValueError(f"user buffer access [{offset}, {offset + length}) outside [0, {self._size})")

    def read(self, offset: int = 0, length: int | None = None) -> bytes:
        """Copy ``length`` bytes (default: to the end) out from ``offset``."""
        if length is None:
            length = self._size - offset
        self._check(offset, length)
        return ctypes.string_at(self.addr + offset, length)

    def write(self, data: bytes, offset: int = 0) -> None:
        """Copy ``data`` in at ``offset``."""
        self._check(offset, len(data))
        ctypes.memmove(self.addr + offset, bytes(data), len(data))

    def __repr__(self) -> str:
        return f"CtypesUserBuffer(addr={self.addr:#x}, size={self._size})"


class LinuxKernel:
    """The real kernel of this process, reached through ``bpf(2)``.

    ``bpf(cmd, attr)`` returns the syscall's result (an fd or 0) and raises a
    :class:`~structops.errors.BpfError` with the kernel's errno otherwise.  Fds are plain
    ints of this process; wrap them in :class:`structops.abi.fd.Fd` (also ``structops.linux.Fd``) to own them.
    """

    name = "linux"

    def __init__(self, btf_dir: Path = BTF_SYSFS) -> None:
        self._btf_dir = Path(btf_dir)

    def bpf(self, cmd: Cmd, attr: Attr) -> int:
        """Run one bpf() command; outputs of ``attr`` are filled in place, also on failure."""
        pinner = Pinner(output_objects(cmd, attr))
        try:
            packed = attr.pack(pinner)
            raw = ctypes.create_string_buffer(packed, len(packed))
            ret, err = sys_bpf(int(cmd), raw, len(packed))
            pinner.copy_back()
            attr.unpack_outputs(raw.raw)
        finally:
            pinner.release()
        if ret < 0:
            raise error_for(cmd, err or errno.EIO, _log_text(attr))
        return ret

    def close(self, fd: int) -> None:
        """Close ``fd`` (close(2)); a fd that is not open raises BpfError(EBADF)."""
        try:
            os.close(fd)
        except OSError as exc:
            raise bpf_error(exc.errno or errno.EBADF, op="close") from None

    def vmlinux_btf(self) -> bytes:
        """Raw bytes of ``/sys/kernel/btf/vmlinux``; NotFound (ENOENT) when absent."""
        path = self._btf_dir / "vmlinux"
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise bpf_error(errno.ENOENT, f"no kernel BTF at {path}", op="vmlinux btf") from None

    def module_btfs(self) -> dict[str, bytes]:
        """Split BTF of each loaded module (every file of ``/sys/kernel/btf`` but vmlinux)."""
        if not self._btf_dir.is_dir():
            return {}
        return {p.name: p.read_bytes() for p in sorted(self._btf_dir.iterdir()) if p.name != "vmlinux" and p.is_file()}

    def map_mmap(self, fd: int, size: int, addr: int = 0) -> MapMapping:
        """mmap(2) ``size`` bytes of map ``fd`` (an arena; at ``addr`` exactly when non-zero)."""
        return map_mmap(fd, size, addr)

    def alloc_user(self, size: int) -> UserBuffer:
        """Zeroed memory of this process; its address stays valid while the object lives."""
        return CtypesUserBuffer(size)

    def __repr__(self) -> str:
        return "LinuxKernel()"
