"""The address space: regions, bounds/permission checks, NULL, unmapping (DESIGN "Emulated memory")."""

from __future__ import annotations

import pytest

from structops.errors import VMFault
from structops.vm import PAGE_SIZE, AddressSpace, MemoryFault, Perm


def test_map_gives_distinct_page_aligned_zeroed_regions() -> None:
    space = AddressSpace()
    a = space.map(100, name="a")
    b = space.map(5000, name="b")
    assert a.base % PAGE_SIZE == 0 and b.base % PAGE_SIZE == 0
    assert b.base >= a.base + PAGE_SIZE * 2  # a guard page separates them
    assert space.read(a.base, 100) == bytes(100)
    assert space.region_at(b.base + 4999) is b
    assert space.region_at(b.base + 5000) is None


def test_typed_access_is_little_endian_and_truncates() -> None:
    space = AddressSpace()
    r = space.map(16, name="r")
    space.write_u64(r.base, 0x1122334455667788)
    assert space.read(r.base, 8) == bytes.fromhex("8877665544332211")
    assert space.read_u32(r.base + 4) == 0x11223344
    assert space.read_u16(r.base) == 0x7788
    assert space.read_u8(r.base + 7) == 0x11
    space.write_u16(r.base + 8, 0x12345)
    assert space.read_u16(r.base + 8) == 0x2345
    space.write(r.base + 10, b"\x01\x02")
    assert bytes(r.buf[10:12]) == b"\x01\x02"


def test_data_initialises_and_python_views_share_bytes() -> None:
    space = AddressSpace()
    r = space.map(8, name="v", data=b"abc")
    view = space.view(r.base, 8, writable=True)
    view[3] = ord("d")
    assert space.read(r.base, 4) == b"abcd"
    assert space.read_cstr(r.base) == b"abcd"


@pytest.mark.parametrize("addr", [0, 8, PAGE_SIZE - 1])
def test_null_page_always_faults(addr: int) -> None:
    space = AddressSpace()
    with pytest.raises(MemoryFault, match="NULL") as info:
        space.read_u64(addr)
    assert info.value.addr == addr
    assert isinstance(info.value, VMFault)


def test_access_crossing_region_end_faults() -> None:
    space = AddressSpace()
    r = space.map(12, name="small")
    assert space.read_u32(r.base + 8) == 0
    with pytest.raises(MemoryFault, match="crosses the end of region 'small'"):
        space.read_u64(r.base + 8)
    with pytest.raises(MemoryFault, match="crosses"):
        space.write(r.base + 10, b"abc")


def test_unmapped_address_and_negative_address_fault() -> None:
    space = AddressSpace()
    with pytest.raises(MemoryFault, match="not mapped"):
        space.read_u8(0xFFFF_8880_0000_0000)
    with pytest.raises(MemoryFault):
        space.ld[8](-8)
    with pytest.raises(MemoryFault):
        space.st[8](1 << 70, 1)


def test_permissions_are_enforced() -> None:
    space = AddressSpace()
    ro = space.map(8, name="ro", perm=Perm.R)
    none = space.map(8, name="none", perm=Perm.NONE)
    assert space.read_u64(ro.base) == 0
    with pytest.raises(MemoryFault, match="'ro' is not writable"):
        space.write_u8(ro.base, 1)
    with pytest.raises(MemoryFault, match="'none' is not readable"):
        space.read_u8(none.base)
    space.protect(ro, Perm.RW)
    space.write_u8(ro.base, 7)
    assert space.read_u8(ro.base) == 7


def test_unmapped_region_faults_afterwards() -> None:
    space = AddressSpace()
    r = space.map(64, name="gone")
    space.write_u64(r.base, 5)
    space.unmap(r)
    assert not r.alive
    with pytest.raises(MemoryFault, match="not mapped"):
        space.read_u64(r.base)
    with pytest.raises(ValueError):
        space.unmap(r.base)


def test_explicit_base_and_overlap_rejected() -> None:
    space = AddressSpace()
    r = space.map(10, name="fixed", base=0x10_0000)
    assert r.base == 0x10_0000
    with pytest.raises(ValueError, match="overlaps"):
        space.map(10, name="again", base=0x10_0000)
    with pytest.raises(ValueError, match="page aligned"):
        space.map(10, name="odd", base=0x10_0010)
    with pytest.raises(ValueError):
        space.map(0, name="empty")


def test_stack_frames_are_pooled_and_zeroed() -> None:
    space = AddressSpace()
    f = space.acquire_frame()
    assert f.size == 512
    f.buf[0] = 9
    space.release_frame(f)
    g = space.acquire_frame()
    assert g is f and g.buf[0] == 0
    h = space.acquire_frame()
    assert h is not g and h.kind == "stack"
