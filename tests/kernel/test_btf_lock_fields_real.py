"""BTF_LOAD / MAP_CREATE with ``bpf_spin_lock`` fields: the embedded kernel against Linux 6.18.

``btf_parse_struct_metas`` looks at every struct with a direct ``struct bpf_spin_lock``
member when the BTF is loaded: two such members are E2BIG, one at an offset that is not a
multiple of 4 is EFAULT; a lock inside a nested struct or an array is not looked at then
(measured on this machine).  Each shape is loaded on both kernels (the real one skipped
without root, CAP_BPF and kernel BTF) and must give the same errno at the same step.
"""

from __future__ import annotations

import errno

import pytest
from realkernel import real_kernel_skip_reason

from structops import btf as bt
from structops.abi.attrs import BtfLoadAttr
from structops.btf.build import Builder
from structops.errors import BpfError
from structops.kernel.attrs import MapCreateAttr
from structops.uapi import Cmd, MapType

_U16, _U32 = bt.Int("short unsigned int", 2), bt.Int("unsigned int", 4)
_LOCK = bt.Struct("bpf_spin_lock", 4, (bt.Member("val", _U32, 0),))
_INNER = bt.Struct("inner", 4, (bt.Member("l", _LOCK, 0),))
_TWO = bt.Struct("two", 8, (bt.Member("a", _LOCK, 0), bt.Member("b", _LOCK, 32)))
#: shape -> (value struct, where Linux 6.18 stops, errno)
SHAPES: dict[str, tuple[bt.Struct, str, int]] = {
    "two_locks": (_TWO, "btf", errno.E2BIG),
    "lock_at_2": (bt.Struct("off2", 8, (bt.Member("x", _U16, 0), bt.Member("l", _LOCK, 16))), "btf", errno.EFAULT),
    "lock_at_4": (bt.Struct("off4", 8, (bt.Member("x", _U32, 0), bt.Member("l", _LOCK, 32))), "", 0),
    "two_locks_nested": (
        bt.Struct("nest", 12, (bt.Member("x", _U32, 0), bt.Member("t", _TWO, 32))),
        "btf",
        errno.E2BIG,
    ),
    "lock_array": (bt.Struct("arr", 8, (bt.Member("l", bt.Array(_LOCK, _U32, 2), 0),)), "", 0),
    "lock_and_nested_lock": (bt.Struct("n2", 8, (bt.Member("l", _LOCK, 0), bt.Member("i", _INNER, 32))), "", 0),
    "two_nested_locks": (bt.Struct("n3", 8, (bt.Member("i", _INNER, 0), bt.Member("j", _INNER, 32))), "", 0),
}


def load(k: object, value: bt.Struct) -> tuple[str, int]:
    """Load a BTF holding ``value`` and create an array map with it: (failed step, errno)."""
    b = Builder()
    key, vid = b.add(_U32), b.add(value)
    try:
        fd = k.bpf(Cmd.BPF_BTF_LOAD, BtfLoadAttr(bytearray(b.build())))  # type: ignore[attr-defined]
    except BpfError as exc:
        return "btf", exc.errno or -1
    try:
        attr = MapCreateAttr(
            MapType.BPF_MAP_TYPE_ARRAY, 4, value.size, 1, btf_fd=fd, btf_key_type_id=key, btf_value_type_id=vid
        )
        k.close(k.bpf(Cmd.BPF_MAP_CREATE, attr))  # type: ignore[attr-defined]
    except BpfError as exc:
        return "map", exc.errno or -1
    finally:
        k.close(fd)  # type: ignore[attr-defined]
    return "", 0


@pytest.mark.parametrize("shape", list(SHAPES))
def test_embedded_lock_fields_as_measured(shape: str) -> None:
    from structops.kernel.emulated import EmulatedKernel

    value, step, code = SHAPES[shape]
    assert load(EmulatedKernel(), value) == (step, code)


_REASON = real_kernel_skip_reason()


@pytest.mark.skipif(_REASON is not None, reason=_REASON or "")
@pytest.mark.parametrize("shape", list(SHAPES))
def test_linux_lock_fields(shape: str) -> None:
    from structops.linux import LinuxKernel

    value, step, code = SHAPES[shape]
    assert load(LinuxKernel(), value) == (step, code)
