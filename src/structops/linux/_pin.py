"""Pinning of Python buffers for one bpf() call (the ``pin`` callback of ``Attr.pack``).

Each Python ``bytes`` / ``bytearray`` an attr points at is copied into a ctypes buffer
whose address goes into ``union bpf_attr``; the buffers stay alive until the call has
returned.  Buffers the kernel writes (lookup ``value``, ``log_buf``, ``info``,
``ctx_out``, ``data_out``) are copied back into the caller's ``bytearray`` in place
afterwards, on success and on failure alike (the verifier log of a refused load).
"""

from __future__ import annotations

import ctypes

__all__ = ["Pinner"]


class Pinner:
    """Turns buffers into stable user addresses for the duration of one syscall.

    ``outputs`` are the objects (compared by identity) the kernel may write; they must be
    ``bytearray`` so the result can be copied back in place.
    """

    def __init__(self, outputs: list[object]) -> None:
        self._output_ids = {id(obj) for obj in outputs}
        self._keep: list[ctypes.Array[ctypes.c_char]] = []
        self._copy_back: list[tuple[bytearray, ctypes.Array[ctypes.c_char]]] = []

    def __call__(self, value: bytes | bytearray | memoryview | int) -> int:
        """Return the address of a pinned copy of ``value`` (an int is a raw address)."""
        if isinstance(value, int):
            return value
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise TypeError(f"attr buffer must be bytes or bytearray, not {type(value).__name__}")
        data = bytes(value)
        buf = ctypes.create_string_buffer(data, max(len(data), 1))
        self._keep.append(buf)
        if id(value) in self._output_ids:
            if not isinstance(value, bytearray):
                raise TypeError("output buffer must be a bytearray (the kernel writes into it)")
            self._copy_back.append((value, buf))
        return ctypes.addressof(buf)

    def copy_back(self) -> None:
        """Copy what the kernel wrote into each output ``bytearray`` (same length, in place)."""
        for target, buf in self._copy_back:
            n = len(target)
            target[0:n] = ctypes.string_at(buf, n)

    def release(self) -> None:
        """Drop the pinned buffers."""
        self._keep.clear()
        self._copy_back.clear()
