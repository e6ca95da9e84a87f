"""Train/val/test split by drawing, never by file.

Items that share any key (the same line art under several file names, a skin-tone variant) are
one drawing: keys are joined with union-find, and each drawing's split is decided by a hash of
its smallest key. A hash, not a shuffle, so the split of a drawing does not change when other
drawings are added or dropped, and a second run gives the same split.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

#: Default shares of (train, val, test), in percent.
DEFAULT_SPLIT = (80, 10, 10)
SPLITS = ("train", "val", "test")


def group_drawings(keys: Sequence[Sequence[str]]) -> list[str]:
    """Per item, the id of its drawing: the smallest key of the connected group of keys."""
    parent: dict[str, str] = {}

    def find(k: str) -> str:
        parent.setdefault(k, k)
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for item_keys in keys:
        if not item_keys:
            raise ValueError("every item needs at least one drawing key")
        first = find(item_keys[0])
        for k in item_keys[1:]:
            other = find(k)
            if other != first:
                # Keep the smaller key as the root, so the id is independent of the order.
                lo, hi = sorted((first, other))
                parent[hi] = lo
                first = lo
    return [find(item_keys[0]) for item_keys in keys]


def split_of(drawing: str, shares: Sequence[int] = DEFAULT_SPLIT) -> str:
    """The split a drawing belongs to, from a stable hash of its id."""
    if len(shares) != 3 or any(s < 0 for s in shares) or sum(shares) != 100:
        raise ValueError(f"split shares must be three non-negative percentages adding to 100, got {shares}")
    bucket = zlib.crc32(drawing.encode()) % 100
    if bucket < shares[0]:
        return "train"
    return "val" if bucket < shares[0] + shares[1] else "test"
