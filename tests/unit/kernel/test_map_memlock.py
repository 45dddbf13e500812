"""The embedded kernel's map fdinfo ``memlock`` equals Linux 6.18's ``map_mem_usage()``.

The table (``tests/kernel/map_memlock_cases.py``) holds what ``/proc/self/fdinfo`` showed on
Linux 6.18.44 x86-64 with 2 possible CPUs for the same creation attributes and contents;
the embedded kernel runs them with a simulated machine of that many CPUs bound, since
per-CPU arrays, hash locks and local storage buckets scale with the possible CPUs.
"""

from __future__ import annotations

from collections.abc import Iterator

import map_memlock_cases as M
import pytest
from map_memlock_cases import embedded_run, kernel_with_cpus

from structops.kernel.emulated import EmulatedKernel
from structops.kernel.maps.memusage import array_mem_usage, htab_mem_usage, local_storage_mem_usage


@pytest.fixture(scope="module")
def k2() -> Iterator[EmulatedKernel]:
    yield kernel_with_cpus(M.MEASURED_NCPUS)


@pytest.mark.parametrize("case", M.CASES, ids=lambda c: c.name)
def test_memlock_as_measured_on_linux(k2: EmulatedKernel, case: M.Case) -> None:
    """fdinfo memlock at creation and after each insert/overwrite/delete, as Linux 6.18 showed."""
    run = embedded_run(k2)
    try:
        assert run.run(case) == case.linux
    finally:
        run.close()


def test_memlock_follows_possible_cpus() -> None:
    """A 1-CPU and a 4-CPU kernel: the per-CPU terms scale (the kernel's formulas with ncpus)."""
    for ncpus in (1, 4):
        k = EmulatedKernel() if ncpus == 1 else kernel_with_cpus(ncpus)
        run = embedded_run(k)
        try:
            by_name = {c.name: c for c in M.CASES}
            got = {n: run.run(by_name[n])[0] for n in ("percpu_array_9x3", "hash_4_8x100", "sk_storage", "array_8x100")}
        finally:
            run.close()
        assert got["percpu_array_9x3"] == 312 + 3 * 8 + 3 * 16 * ncpus
        assert got["hash_4_8x100"] == 832 + 16 * 128 + 4 * 8 * ncpus + 64 * (100 + ncpus) + 8 * ncpus
        assert got["sk_storage"] == 480 + 16 * max(2, ncpus)
        assert got["array_8x100"] == 1112  # no per-CPU term


def test_formulas_have_no_page_rounding() -> None:
    """Only BPF_F_MMAPABLE arrays are page-aligned; sizes are the kernel's byte counts."""
    assert array_mem_usage(4, 1, percpu=False, mmapable=False, ncpus=2) == 320
    assert array_mem_usage(4, 1, percpu=False, mmapable=True, ncpus=2) == 8192
    assert htab_mem_usage(4, 8, 100, prealloc=False, fd_values=False, count=0, ncpus=2) == 2944
    assert local_storage_mem_usage(2) == 512


@pytest.mark.parametrize(
    ("percpu", "lru", "prealloc", "count", "linux"),
    [
        (False, True, True, 3, 9344),  # LRU_HASH 4B/8B x100, 3 elements
        (True, False, True, 3, 10944),  # PERCPU_HASH
        (True, True, True, 3, 10944),  # LRU_PERCPU_HASH
        (True, False, False, 0, 2944),  # PERCPU_HASH BPF_F_NO_PREALLOC, empty
        (True, False, False, 3, 3256),  # ... with 3 elements (104 bytes each)
    ],
)
def test_htab_formula_for_percpu_and_lru_hashes(
    percpu: bool, lru: bool, prealloc: bool, count: int, linux: int
) -> None:
    """The hash formula for the types the embedded kernel lacks, as Linux 6.18 showed them
    here (4-byte key, 8-byte value, 100 entries, 2 possible CPUs), for their implementers."""
    got = htab_mem_usage(4, 8, 100, prealloc=prealloc, fd_values=False, count=count, ncpus=2, percpu=percpu, lru=lru)
    assert got == linux


def test_map_show_prints_embedded_memlock(k2: EmulatedKernel) -> None:
    """``structops map show`` on the embedded kernel reads its fdinfo, as bpftool does on Linux."""
    import io
    import json

    from structops.cli import main

    run = embedded_run(k2)
    try:
        fd = run.create(next(c for c in M.CASES if c.name == "array_of_maps_x2"))
        out = io.StringIO()
        from structops.introspect import Introspector

        map_id = Introspector(k2).map_info(fd).id
        assert main(["map", "show", "id", str(map_id), "-j"], out, kernel=k2) == 0
        row = json.loads(out.getvalue())
        assert row["type"] == "array_of_maps" and row["bytes_memlock"] == 328 and row["frozen"] == 0
    finally:
        run.close()
