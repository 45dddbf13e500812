"""The eBPF instruction set: instruction model, opcode tables, codec, disassembler, assembler.

Mirrors RFC 9669 ("BPF Instruction Set Architecture") plus the Linux additions it does not
cover (load-acquire / store-release, ``may_goto``, pseudo sources of ``ld_imm64`` and
``call``).  See ``docs/vm.md``.
"""

from __future__ import annotations

from structops.abi import consts as _abi
from structops.isa.asm import assemble
from structops.isa.codec import INSN_SIZE, decode, encode, encode_insn, slot_index, total_slots
from structops.isa.disasm import disassemble, format_insn
from structops.isa.insn import MAX_REG, Insn, IsaError, check_insn, jump_target
from structops.isa.opcodes import OPCODES, AtomicOp, Kind, OpSpec, opcode_spec

#: ``call`` with ``src_reg == 0``: a helper by id (RFC 9669 4.3.1).
BPF_HELPER_CALL = 0
#: The pseudo sources (``src_reg``) of ``call`` and ``ld_imm64`` (include/uapi/linux/bpf.h).
BPF_PSEUDO_CALL, BPF_PSEUDO_KFUNC_CALL, BPF_PSEUDO_FUNC, BPF_PSEUDO_BTF_ID = (
    _abi.BPF_PSEUDO_CALL,
    _abi.BPF_PSEUDO_KFUNC_CALL,
    _abi.BPF_PSEUDO_FUNC,
    _abi.BPF_PSEUDO_BTF_ID,
)
BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE, BPF_PSEUDO_MAP_IDX, BPF_PSEUDO_MAP_IDX_VALUE = (
    _abi.BPF_PSEUDO_MAP_FD,
    _abi.BPF_PSEUDO_MAP_VALUE,
    _abi.BPF_PSEUDO_MAP_IDX,
    _abi.BPF_PSEUDO_MAP_IDX_VALUE,
)

__all__ = [
    # the instruction model (insn, opcodes)
    "MAX_REG", "OPCODES", "AtomicOp", "Insn", "IsaError", "Kind", "OpSpec", "check_insn", "jump_target", "opcode_spec",
    # bytes <-> instructions (codec), text (asm, disasm)
    "INSN_SIZE", "decode", "encode", "encode_insn", "slot_index", "total_slots",
    "assemble", "disassemble", "format_insn",
    # src_reg values of call and ld_imm64
    "BPF_HELPER_CALL", "BPF_PSEUDO_CALL", "BPF_PSEUDO_KFUNC_CALL", "BPF_PSEUDO_FUNC", "BPF_PSEUDO_BTF_ID",
    "BPF_PSEUDO_MAP_FD", "BPF_PSEUDO_MAP_VALUE", "BPF_PSEUDO_MAP_IDX", "BPF_PSEUDO_MAP_IDX_VALUE",
]  # fmt: skip
