"""Repeated entries in a list input: where each repeat is, and where its first occurrence was.

A list that means a set (sites a doctor works at, vehicles already out, items of an approval) with
an entry twice is a slip the sender should see, not something to merge silently: schemas answer a
422 naming each repeat's index (``name[i]``) and the index of the entry it repeats.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable


def repeats(keys: Iterable[Hashable]) -> dict[int, int]:
    """{index of each repeat: index of the first entry with the same key}, in list order.

    >>> repeats(["a", "b", "a", "a"])
    {2: 0, 3: 0}
    """
    first: dict[Hashable, int] = {}
    out: dict[int, int] = {}
    for i, key in enumerate(keys):
        if key in first:
            out[i] = first[key]
        else:
            first[key] = i
    return out
