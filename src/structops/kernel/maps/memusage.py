"""``map->ops->map_mem_usage()``: the fdinfo ``memlock`` of each map type, as Linux 6.18 counts it.

The kernel does not round to pages: it adds the size of the map's own ``struct`` (the
``bpf_map`` embedded in a type-specific header) to what the map allocated for its
elements, buckets and locks.  The formulas below follow the kernel's ``*_map_mem_usage``
functions (``arraymap.c``, ``hashtab.c``, ``queue_stack_maps.c``, ``bpf_local_storage.c``);
the struct sizes are those of the x86-64 Linux 6.18 build the project checks against
(``/sys/kernel/btf/vmlinux`` of that machine; the embedded vmlinux BTF does not carry these
private types).  Every value was checked against ``/proc/self/fdinfo`` on that kernel
(``tests/kernel/map_memlock_cases.py`` lists the measurements).

``ncpus`` is ``num_possible_cpus()`` of the kernel the map lives in.  The embedded kernel's
possible CPUs are those of its simulated machine (1 when none is bound); a map takes the
count when it is created, as its per-CPU layout does, so its memlock describes the memory
it actually laid out, like Linux, whose possible-CPU count is fixed at boot.
"""

from __future__ import annotations

from structops.abi.consts import PAGE_SIZE

__all__ = [
    "PAGE_SIZE",
    "SIZEOF_BPF_ARRAY",
    "SIZEOF_BPF_HTAB",
    "SIZEOF_BPF_LOCAL_STORAGE_MAP",
    "SIZEOF_BPF_QUEUE_STACK",
    "array_mem_usage",
    "htab_mem_usage",
    "local_storage_buckets",
    "local_storage_mem_usage",
    "queue_stack_mem_usage",
]

#: ``sizeof(struct bpf_array)`` (the header before the values).
SIZEOF_BPF_ARRAY = 312
#: ``sizeof(struct bpf_htab)``.
SIZEOF_BPF_HTAB = 832
#: ``sizeof(struct htab_elem)`` (the element header before the key).
SIZEOF_HTAB_ELEM = 48
#: ``sizeof(struct bucket)`` of a hash table (list head and lock).
SIZEOF_HTAB_BUCKET = 16
#: ``HASHTAB_MAP_LOCK_COUNT``: per-CPU ``int`` recursion guards a hash table allocates.
HASHTAB_MAP_LOCK_COUNT = 8
#: ``sizeof(struct llist_node)``, counted per element of a non-preallocated hash table.
SIZEOF_LLIST_NODE = 8
#: ``sizeof(struct bpf_queue_stack)``.
SIZEOF_BPF_QUEUE_STACK = 312
#: ``sizeof(struct bpf_local_storage_map)``.
SIZEOF_BPF_LOCAL_STORAGE_MAP = 480
#: ``sizeof(struct bpf_local_storage_map_bucket)``.
SIZEOF_LOCAL_STORAGE_BUCKET = 16
_PTR = 8


def _round8(n: int) -> int:
    return (n + 7) & ~7


def _page_align(n: int) -> int:
    return (n + PAGE_SIZE - 1) // PAGE_SIZE * PAGE_SIZE


def _pow2_at_least(n: int) -> int:
    """``roundup_pow_of_two`` (1 for 0 or 1)."""
    return 1 << max(n - 1, 0).bit_length()


def array_mem_usage(value_size: int, max_entries: int, *, percpu: bool, mmapable: bool, ncpus: int) -> int:
    """``array_map_mem_usage`` (ARRAY, PERCPU_ARRAY and the array of maps).

    The header plus ``max_entries`` values rounded up to 8 bytes; a per-CPU array adds a
    pointer per entry and a copy of every value per possible CPU; a ``BPF_F_MMAPABLE``
    array page-aligns both the header and the values (they are mapped to user space).
    """
    elem = _round8(value_size)
    if percpu:
        return SIZEOF_BPF_ARRAY + max_entries * _PTR + max_entries * elem * ncpus
    if mmapable:
        return _page_align(SIZEOF_BPF_ARRAY) + _page_align(max_entries * elem)
    return SIZEOF_BPF_ARRAY + max_entries * elem


def htab_mem_usage(
    key_size: int,
    value_size: int,
    max_entries: int,
    *,
    prealloc: bool,
    fd_values: bool,
    count: int,
    ncpus: int,
    percpu: bool = False,
    lru: bool = False,
) -> int:
    """``htab_map_mem_usage`` (HASH and HASH_OF_MAPS; ``percpu`` / ``lru`` for the hash types
    the embedded kernel does not implement yet, checked against Linux all the same).

    Header, ``roundup_pow_of_two(max_entries)`` buckets and the per-CPU lock counters,
    then the elements: a preallocated table counts all ``max_entries`` (a plain hash also
    keeps one spare element per possible CPU for updates, and a per-CPU pointer to it;
    a map-in-map, a per-CPU or an LRU hash keeps no spares), a ``BPF_F_NO_PREALLOC`` one
    counts the ``count`` elements it holds, each with its free-list node.  A per-CPU hash
    stores a pointer in the element and the value once per possible CPU.
    """
    vsize = _round8(value_size)
    elem = SIZEOF_HTAB_ELEM + _round8(key_size) + (_PTR if percpu else vsize)
    usage = SIZEOF_BPF_HTAB + SIZEOF_HTAB_BUCKET * _pow2_at_least(max_entries)
    usage += 4 * ncpus * HASHTAB_MAP_LOCK_COUNT
    if not prealloc:
        usage += (elem + SIZEOF_LLIST_NODE) * count
        if percpu:
            usage += (SIZEOF_LLIST_NODE + _PTR + vsize * ncpus) * count
        return usage
    spares = not (fd_values or percpu or lru)
    entries = max_entries + ncpus if spares else max_entries
    usage += elem * entries
    if percpu:
        return usage + vsize * ncpus * entries
    return usage if lru else usage + _PTR * ncpus


def queue_stack_mem_usage(value_size: int, max_entries: int) -> int:
    """``queue_stack_map_mem_usage``: header plus a ring of ``max_entries + 1`` unpadded values."""
    return SIZEOF_BPF_QUEUE_STACK + (max_entries + 1) * value_size


def local_storage_buckets(ncpus: int) -> int:
    """Buckets of a local storage map: ``roundup_pow_of_two(ncpus)``, at least 2."""
    return max(2, _pow2_at_least(ncpus))


def local_storage_mem_usage(nbuckets: int) -> int:
    """``bpf_local_storage_map_mem_usage`` (sk/task/cgrp storage): header and buckets only;
    the kernel does not count the storage elements (measured: unchanged after inserts)."""
    return SIZEOF_BPF_LOCAL_STORAGE_MAP + SIZEOF_LOCAL_STORAGE_BUCKET * nbuckets
