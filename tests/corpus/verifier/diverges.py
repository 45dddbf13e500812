"""Corpus cases where the embedded verifier still differs from Linux 6.18: case -> (fields, why).

The replay (tests/unit/verifier/test_verifier_corpus.py) runs these as strict xfails, so a fix
turns its test red until the entry is removed.  The reason names what differs and where the fix
belongs."""

from __future__ import annotations

__all__ = ["DIVERGES"]

DIVERGES: dict[str, tuple[set[str], str]] = {}
