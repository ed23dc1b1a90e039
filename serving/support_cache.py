"""The server's support sets: encoded once, kept in memory bounded in bytes, least
recently used out first.

    cache.put(support_id, support_set)   # evicts LRU entries until the total fits
    cache.get(support_id)                # SupportSet, or None (never registered / evicted)

An entry's size is the bytes of its arrays (the encoder's features, plus the prepared
images and masks the runtime keeps beside them). A set larger than the whole bound is
refused rather than stored. Thread-safe: Triton instances share one cache. A reader holds
its own reference to an entry, so evicting it mid-request never changes that request.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Optional

from ..errors import UserError
from ..runtime.segmenter import SupportSet


def size_of(support: SupportSet) -> int:
    return int(support.images.nbytes + support.masks.nbytes + sum(f.nbytes for f in support.features.values()))


@dataclass
class CacheStats:
    entries: int = 0
    bytes: int = 0
    hits: int = 0
    misses: int = 0
    evictions: int = 0


class SupportCache:
    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 1:
            raise ValueError("max_bytes must be positive")
        self.max_bytes = int(max_bytes)
        self._entries: OrderedDict[str, tuple[SupportSet, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._stats = CacheStats()

    def get(self, support_id: str) -> Optional[SupportSet]:
        with self._lock:
            entry = self._entries.get(support_id)
            if entry is None:
                self._stats.misses += 1
                return None
            self._entries.move_to_end(support_id)
            self._stats.hits += 1
            return entry[0]

    def __contains__(self, support_id: str) -> bool:
        with self._lock:
            return support_id in self._entries

    def put(self, support_id: str, support: SupportSet) -> None:
        size = size_of(support)
        if size > self.max_bytes:
            raise UserError(
                f"the support set's features take {size / 2**20:.1f} MiB, more than the server's whole support "
                f"cache ({self.max_bytes / 2**20:.1f} MiB, --support-cache-mb)"
            )
        with self._lock:
            if support_id in self._entries:
                self._entries.move_to_end(support_id)
                return
            while self._stats.bytes + size > self.max_bytes:
                _, (_, evicted) = self._entries.popitem(last=False)
                self._stats.bytes -= evicted
                self._stats.evictions += 1
            self._entries[support_id] = (support, size)
            self._stats.bytes += size

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(len(self._entries), self._stats.bytes, self._stats.hits, self._stats.misses,
                              self._stats.evictions)
