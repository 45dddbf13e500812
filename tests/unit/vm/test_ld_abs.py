"""Legacy packet loads on the VM (issue 12 item 1): ``BPF_LD | BPF_ABS/BPF_IND`` as Linux 6.18's
``bpf_skb_load_helper`` behaves (measured with BPF_PROG_TEST_RUN, see the test_run corpus).

The run's frame starts at the link-layer header; ``packet_data`` is where ``skb->data`` is in
it (0 for tc, 14 for a socket filter).  A load is big-endian; its offset is 32-bit signed
(``src + imm`` wraps); non-negative offsets count from ``data``, ``SKF_NET_OFF + k`` from the
network header (14 bytes in), ``SKF_LL_OFF + k`` from the link-layer header; anything else,
or a load past the frame's end, ends the program with r0 = 0 (later insns do not run).
"""

from __future__ import annotations

import pytest

from structops.isa import Insn
from structops.vm import VM, Program
from structops.vm.interp import SKF_LL_OFF, SKF_NET_OFF

ENGINES = ["interp", "fast"]
FRAME = bytes(range(0x10, 0x10 + 64))  # byte i of the frame is 0x10 + i
_CODE = {("abs", 1): 0x30, ("abs", 2): 0x28, ("abs", 4): 0x20, ("ind", 1): 0x50, ("ind", 2): 0x48, ("ind", 4): 0x40}


def _prog(mode: str, size: int, imm: int, src_value: int = 0) -> Program:
    """``r7 = src_value; r0 = load; r0 |= 1 << 40`` (the marker shows the program went on)."""
    insns = [
        Insn.ld_imm64(7, src_value),
        Insn(_CODE[(mode, size)], dst=0, src=7 if mode == "ind" else 0, imm=imm),
        Insn.ld_imm64(1, 1 << 40),
        Insn(0x4F, dst=0, src=1),  # r0 |= r1
        Insn(0x95),
    ]
    return Program.load(insns, vm=VM())


def _ld(engine: str, mode: str, size: int, imm: int, src_value: int = 0, data: int = 0) -> int:
    return _prog(mode, size, imm, src_value).run(0, engine=engine, packet=FRAME, packet_data=data)  # type: ignore[arg-type]


def _be(at: int, size: int) -> int:
    return int.from_bytes(FRAME[at : at + size], "big") | 1 << 40


@pytest.mark.parametrize("engine", ENGINES)
def test_absolute_loads_are_big_endian_from_data(engine: str) -> None:
    assert _ld(engine, "abs", 1, 3) == _be(3, 1)
    assert _ld(engine, "abs", 2, 12) == _be(12, 2)
    assert _ld(engine, "abs", 4, 60) == _be(60, 4)  # the last word
    assert _ld(engine, "abs", 4, 10, data=14) == _be(24, 4)  # a socket filter: data is 14 bytes in


@pytest.mark.parametrize("engine", ENGINES)
def test_out_of_bounds_ends_the_program_with_zero(engine: str) -> None:
    assert _ld(engine, "abs", 4, 61) == 0
    assert _ld(engine, "abs", 1, 50, data=14) == 0  # 14 + 50 is past the 64-byte frame
    assert _ld(engine, "abs", 1, -1) == 0
    assert _ld(engine, "ind", 4, 4, src_value=-20) == 0
    assert _ld(engine, "ind", 4, 4, src_value=0x7FFFFFFF) == 0  # the 32-bit sum is negative
    assert _ld(engine, "abs", 1, SKF_LL_OFF - 1) == 0


@pytest.mark.parametrize("engine", ENGINES)
def test_indirect_offsets_wrap_at_32_bits(engine: str) -> None:
    assert _ld(engine, "ind", 4, 4, src_value=10) == _be(14, 4)
    assert _ld(engine, "ind", 1, 4, src_value=0x1_0000_0002) == _be(6, 1)


@pytest.mark.parametrize("engine", ENGINES)
def test_network_and_link_layer_offsets(engine: str) -> None:
    for data in (0, 14):  # the same headers whatever data is
        assert _ld(engine, "abs", 1, SKF_NET_OFF, data=data) == _be(14, 1)
        assert _ld(engine, "abs", 4, SKF_NET_OFF + 2, data=data) == _be(16, 4)
        assert _ld(engine, "abs", 2, SKF_LL_OFF + 12, data=data) == _be(12, 2)
    assert _ld(engine, "abs", 1, SKF_NET_OFF + 50) == 0  # 14 + 50: past the end
    assert _ld(engine, "abs", 1, SKF_NET_OFF - 1) == 0  # SKF_LL_OFF + 0xfffff: past the end


@pytest.mark.parametrize("engine", ENGINES)
def test_without_a_packet_every_load_ends_the_program(engine: str) -> None:
    assert _prog("abs", 1, 0).run(0, engine=engine) == 0  # type: ignore[arg-type]
