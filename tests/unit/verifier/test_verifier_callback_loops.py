"""Issue 12 item 2 (callbacks): sync callbacks (bpf_loop) are verified as loops, as Linux 6.18.

The callback is re-entered with the caller state its previous iteration left, imprecise
scalars widened against the previous visit of the helper call, until a state at the call is
covered (or bpf_loop's iteration count is reached).  The processed-instruction counts below
were measured on this machine's Linux 6.18 (``prog info verified_insns`` of the corpus
objects); the verdicts are in the corpus (tests/corpus/verifier/linux-6.18.json).
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from structops.api import Collection
from structops.errors import VerifierError
from structops.kernel.attrs import InfoAttr
from structops.kernel.emulated import EmulatedKernel
from structops.uapi import Cmd

CORPUS = Path(__file__).resolve().parents[2] / "corpus" / "verifier"

#: object -> verified_insns on Linux 6.18 here (accepted programs).
ACCEPTED = {
    "sk_bpf_loop.bpf.o": 28,
    "sk_cb_count_ok.bpf.o": 77,
    "sk_cb_toggle_ok.bpf.o": 41,
    "sk_cb_each_ok.bpf.o": 41,  # bpf_for_each_map_elem: no iteration bound, converges
    # nested bpf_loop: a state with fewer iterations done (callback_depth) is not covered
    "sk_cb_nested_ok.bpf.o": 295,
    "tc_rbtree_locked.bpf.o": 31,  # bpf_rbtree_add's less(): a sync callback too (32 entered once)
}
#: object -> (failing instruction, failing line) on Linux 6.18 here.
REJECTED = {
    "sk_cb_count_oob.bpf.o": (19, "invalid read from stack R2 off=0 size=8"),
    "sk_cb_second_iter_oob.bpf.o": (16, "invalid read from stack R2 off=32 size=8"),
    "sk_cb_each_oob.bpf.o": (17, "invalid read from stack R2 off=0 size=8"),
    "sk_cb_nested_oob.bpf.o": (19, "invalid read from stack R2 off=0 size=8"),
}


@pytest.mark.parametrize("obj", sorted(ACCEPTED))
def test_callback_iterations_are_counted_as_linux(obj: str) -> None:
    k = EmulatedKernel()
    c = Collection.open(CORPUS / obj).load(k)
    (prog,) = c.programs.values()
    info = InfoAttr(prog.fd, bytearray(232))
    k.bpf(Cmd.BPF_OBJ_GET_INFO_BY_FD, info)
    assert struct.unpack_from("<I", bytes(info.info), 216)[0] == ACCEPTED[obj]
    c.close()


@pytest.mark.parametrize("obj", sorted(REJECTED))
def test_a_later_iteration_of_a_callback_is_checked(obj: str) -> None:
    """The first iteration is safe; a state only a later one reaches is out of bounds."""
    insn, line = REJECTED[obj]
    with pytest.raises(VerifierError) as exc:
        Collection.open(CORPUS / obj).load(EmulatedKernel(), log_level=1)
    lines = (exc.value.log or "").splitlines()
    assert lines[-1].startswith("processed ")  # the statistics follow the message, as on Linux
    assert lines[-2] == line
    assert lines[-3].startswith(f"{insn}: ")
