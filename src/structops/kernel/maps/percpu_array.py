"""``BPF_MAP_TYPE_PERCPU_ARRAY``: one copy of every element per possible CPU.

A program's ``bpf_map_lookup_elem`` returns the copy of the CPU it runs on (the
VM's current CPU, which the sched_ext machine sets to the CPU of the running op); the syscall side reads and
writes all copies at once, each rounded up to 8 bytes, CPU 0 first, as Linux does.
The number of possible CPUs is the simulated machine's when one is bound, else 1.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Any

from structops.errors import bpf_error
from structops.kernel.maps.array import ArrayMap
from structops.kernel.maps.base import DATA_MAP_FLAGS
from structops.kernel.maps.memusage import array_mem_usage
from structops.uapi import MapType

if TYPE_CHECKING:
    from structops.kernel.attrs import MapCreateAttr
    from structops.kernel.services import KernelServices
    from structops.vm import HelperSpec

__all__ = ["PercpuArrayMap", "current_cpu", "percpu_helpers", "possible_cpus"]


def possible_cpus(kernel: object) -> int:
    """``num_possible_cpus()`` of the embedded kernel."""
    st = getattr(kernel, "sched_ext", None)
    m = getattr(st, "machine", None)
    return int(getattr(m, "nr_cpus", 1))


def current_cpu(kernel: object) -> int:
    """``smp_processor_id()`` for a running program (the VM's current CPU)."""
    vm = getattr(getattr(kernel, "executor", None), "vm", None)
    return int(getattr(vm, "cpu", 0) or 0)


class PercpuArrayMap(ArrayMap):
    """A per-CPU array map."""

    TYPE = MapType.BPF_MAP_TYPE_PERCPU_ARRAY
    ALLOWED_FLAGS = DATA_MAP_FLAGS

    def __init__(self, kernel: KernelServices, attr: MapCreateAttr) -> None:
        self.nr_cpus = possible_cpus(kernel)
        super().__init__(kernel, attr)
        self.kernel.kmem.free(self.mem)
        self.mem = kernel.kmem.alloc(self.elem_size * self.max_entries * self.nr_cpus, f"map:{attr.map_name!s}")

    def value_addr(self, index: int, cpu: int = 0) -> int:
        """Kernel address of element ``index`` of ``cpu``."""
        return self.mem.addr + (cpu * self.max_entries + index) * self.elem_size

    def _off(self, idx: int, cpu: int) -> int:
        return (cpu * self.max_entries + idx) * self.elem_size

    def lookup(self, key: bytes) -> bytes:
        idx = self._index(key)
        if idx is None:
            raise bpf_error(errno.ENOENT, "index out of range")
        return b"".join(
            bytes(self.mem.buf[self._off(idx, c) : self._off(idx, c) + self.elem_size]) for c in range(self.nr_cpus)
        )

    def percpu_values(self, index: int) -> list[bytes]:
        """The ``value_size`` bytes of element ``index`` on every CPU."""
        return [
            bytes(self.mem.buf[self._off(index, c) : self._off(index, c) + self.value_size])
            for c in range(self.nr_cpus)
        ]

    def update(self, key: bytes, value: bytes, flags: int) -> None:
        idx = self.update_index(key, flags)
        if len(value) == self.value_size:  # one value for every CPU (our API's short form)
            value = value.ljust(self.elem_size, b"\0") * self.nr_cpus
        for c in range(self.nr_cpus):
            src = value[c * self.elem_size : c * self.elem_size + self.value_size]
            off = self._off(idx, c)
            self.mem.buf[off : off + len(src)] = src

    def prog_lookup(self, key: bytes) -> int:
        """``bpf_map_lookup_elem`` from a program: this CPU's copy."""
        idx = self._index(key)
        if idx is None:
            return 0
        return self.value_addr(idx, min(current_cpu(self.kernel), self.nr_cpus - 1))

    def prog_update(self, key: bytes, value: bytes, flags: int) -> int:
        idx = self._index(key)
        if idx is None:
            return -errno.E2BIG
        off = self._off(idx, min(current_cpu(self.kernel), self.nr_cpus - 1))
        self.mem.buf[off : off + self.value_size] = value[: self.value_size]
        return 0

    def mem_usage(self) -> int:
        """``array_map_mem_usage`` of a per-CPU array: a pointer and ``nr_cpus`` values per entry."""
        return array_mem_usage(self.value_size, self.max_entries, percpu=True, mmapable=False, ncpus=self.nr_cpus)


def percpu_helpers(kernel: Any) -> list[HelperSpec]:
    """VM helper ``bpf_map_lookup_percpu_elem`` (195): element ``key`` of CPU ``cpu``, or NULL
    when the key is out of range or ``cpu`` is not a possible CPU."""
    from structops.vm import ArgType, HelperSpec, RetType

    def lookup_percpu(run: Any, r1: int, r2: int, r3: int, *_: int) -> int:
        backend = kernel.executor.vm.map_at(r1) if kernel.executor is not None else None
        m = getattr(backend, "m", None)
        if not isinstance(m, PercpuArrayMap):
            return 0
        idx = m._index(kernel.kmem.space.read(r2, 4))
        cpu = r3 & 0xFFFF_FFFF
        return 0 if idx is None or cpu >= m.nr_cpus else m.value_addr(idx, cpu)

    args = (ArgType.CONST_MAP_PTR, ArgType.ANYTHING, ArgType.ANYTHING)
    return [HelperSpec(195, "map_lookup_percpu_elem", lookup_percpu, args, RetType.PTR_TO_MAP_VALUE_OR_NULL)]
