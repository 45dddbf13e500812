"""The emulated kernel's own BTF blobs: the "vmlinux" BTF and the bpf_testmod module BTF.

The blobs are built from ``kernel/data/vmlinux.c`` and ``kernel/data/bpf_testmod.c``
by ``make -C testdata kernel-btf`` (gcc DWARF encoded by ``pahole -J``, as a real
kernel build does) and committed; ``kernel/data/README.md`` lists what they hold.
``vmlinux.btf`` is base BTF (type ids 1..N); ``bpf_testmod.btf`` is split BTF whose
ids continue after the base's last id, exactly like ``/sys/kernel/btf/<module>``
on top of ``/sys/kernel/btf/vmlinux``.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

__all__ = ["TESTMOD_NAME", "testmod_btf_bytes", "vmlinux_btf_bytes"]

#: Name the module BTF is registered under (the kernel names module BTF objects by module).
TESTMOD_NAME = "bpf_testmod"


@cache
def _read(name: str) -> bytes:
    return resources.files("structops.kernel").joinpath("data", name).read_bytes()


def vmlinux_btf_bytes() -> bytes:
    """Return the raw base BTF of the emulated kernel (the analogue of /sys/kernel/btf/vmlinux)."""
    return _read("vmlinux.btf")


def testmod_btf_bytes() -> bytes:
    """Return the raw split BTF of the bpf_testmod module, to be parsed on top of `vmlinux_btf_bytes`."""
    return _read("bpf_testmod.btf")
