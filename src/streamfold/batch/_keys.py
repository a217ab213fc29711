"""``KeySet``: the custom_ids a run has seen, in a fixed number of bytes per key.

A batch must remember every ``custom_id`` it has read (to report duplicates) and every one
already in the output (to resume), so this is the one part of its memory that grows with the
number of requests.  A ``set`` of ``str`` costs about 100 bytes a key (the string object and
its slot); ``KeySet`` keeps a 128-bit BLAKE2b digest of each key in one flat array with open
addressing (linear probing, at most 70 % full): 16 bytes a slot, 23 to 46 bytes a key.  Two
different keys are taken for the same one only if their 127-bit digests collide (about one
chance in 10^25 at ten million keys).
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Iterable

_FIRST_SLOTS = 1024  # a power of two
_MAX_LOAD = 0.7


def _digest(key: str) -> tuple[int, int]:
    """The key as two 64-bit words; the first is never 0 (0 marks an empty slot)."""
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).digest()
    return int.from_bytes(digest[:8], "little") | 1, int.from_bytes(digest[8:], "little")


class KeySet:
    """A set of strings that supports ``add``, ``in`` and ``len`` (not iteration: only digests are kept)."""

    __slots__ = ("_count", "_slots", "_table")

    def __init__(self, keys: Iterable[str] = ()) -> None:
        self._slots = _FIRST_SLOTS
        self._table = array("Q", bytes(16 * self._slots))  # slot i: words 2i (never 0 when used) and 2i + 1
        self._count = 0
        for key in keys:
            self.add(key)

    def _find(self, high: int, low: int) -> tuple[int, bool]:
        """The slot holding this digest (True), or the empty slot where it would go (False)."""
        table, mask = self._table, self._slots - 1
        slot = low & mask
        while True:
            found = table[2 * slot]
            if found == 0:
                return slot, False
            if found == high and table[2 * slot + 1] == low:
                return slot, True
            slot = (slot + 1) & mask

    def add(self, key: str) -> bool:
        """Add ``key``; False when it was already there."""
        high, low = _digest(key)
        slot, found = self._find(high, low)
        if found:
            return False
        self._table[2 * slot], self._table[2 * slot + 1] = high, low
        self._count += 1
        if self._count > _MAX_LOAD * self._slots:
            self._grow()
        return True

    def _grow(self) -> None:
        old = self._table
        self._slots *= 2
        self._table = array("Q", bytes(16 * self._slots))
        for index in range(0, len(old), 2):
            if old[index]:
                slot, _ = self._find(old[index], old[index + 1])
                self._table[2 * slot], self._table[2 * slot + 1] = old[index], old[index + 1]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._find(*_digest(key))[1]

    def __len__(self) -> int:
        return self._count
