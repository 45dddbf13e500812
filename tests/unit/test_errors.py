"""The error model: errno on every kernel failure, one class per errno family."""

from __future__ import annotations

import errno
import pickle

import pytest

from structops import errors
from structops.uapi import ENOTSUPP, errno_name


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (errno.EPERM, errors.PermissionDenied),
        (errno.EACCES, errors.PermissionDenied),
        (errno.ENOENT, errors.NotFound),
        (errno.EBUSY, errors.Busy),
        (errno.EEXIST, errors.AlreadyExists),
        (errno.E2BIG, errors.TooBig),
        (errno.EOPNOTSUPP, errors.NotSupported),
        (ENOTSUPP, errors.NotSupported),
        (errno.ENOLINK, errors.LinkDetached),
        (errno.EINPROGRESS, errors.InProgress),
        (errno.EINVAL, errors.InvalidArgument),
    ],
)
def test_bpf_error_maps_errno_to_class(code: int, cls: type) -> None:
    err = errors.bpf_error(-code, op="map update")
    assert isinstance(err, cls)
    assert isinstance(err, OSError)
    assert err.errno == code
    assert "map update" in str(err)
    assert errno_name(code) in str(err)


def test_enotsupp_has_kernel_name() -> None:
    err = errors.bpf_error(ENOTSUPP, "attach_btf_id 1 is not a supported struct")
    assert str(err).startswith("[ENOTSUPP]")


def test_unknown_errno_is_plain_bpf_error() -> None:
    err = errors.bpf_error(errno.EXDEV)
    assert type(err) is errors.BpfError
    assert err.errno == errno.EXDEV


def test_bpf_error_pickles_with_log() -> None:
    err = errors.bpf_error(errno.EACCES, "R0 !read_ok", op="prog load", log="0: exit\n")
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is errors.PermissionDenied
    assert back.errno == errno.EACCES
    assert back.log == "0: exit\n"


def test_parse_errors_are_value_errors_without_errno() -> None:
    assert issubclass(errors.BTFError, ValueError)
    assert issubclass(errors.ELFError, errors.FormatError)
    assert not issubclass(errors.BTFError, OSError)


def test_vm_fault_names_pc_and_address() -> None:
    fault = errors.VMFault("invalid read of 8 bytes", pc=3, addr=0x10)
    assert "insn 3" in str(fault)
    assert "0x10" in str(fault)
