"""The support cache: bounded in bytes, least recently used out first, counted."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hsnet_deploy.errors import UserError
from hsnet_deploy.runtime.segmenter import SupportSet
from hsnet_deploy.serving.support_cache import SupportCache, size_of


def _set(nbytes: int) -> SupportSet:
    return SupportSet(np.zeros((1, 1, 0, 0, 0), np.float32), np.zeros((1, 1, 0, 0), np.float32),
                      {"support_c3": np.zeros(nbytes // 4, np.float32)})


def test_size_counts_every_array():
    assert size_of(_set(4000)) == 4000


def test_least_recently_used_goes_first_and_is_counted():
    cache = SupportCache(10_000)
    cache.put("a", _set(4000))
    cache.put("b", _set(4000))
    assert cache.get("a") is not None  # a is now more recent than b
    cache.put("c", _set(4000))  # 12000 > 10000: b goes
    assert cache.get("b") is None and cache.get("a") is not None and cache.get("c") is not None
    stats = cache.stats()
    assert (stats.entries, stats.bytes, stats.evictions) == (2, 8000, 1)
    assert (stats.hits, stats.misses) == (3, 1)


def test_the_bound_holds_under_a_flood():
    cache = SupportCache(50_000)
    for i in range(1000):
        cache.put(str(i), _set(4000 + 4 * (i % 7)))
        assert cache.stats().bytes <= 50_000
    assert cache.stats().evictions == 1000 - cache.stats().entries


def test_a_set_larger_than_the_whole_cache_is_refused():
    cache = SupportCache(1000)
    with pytest.raises(UserError, match="more than the server's whole support cache"):
        cache.put("big", _set(4000))
    assert cache.stats().entries == 0


def test_putting_an_existing_id_stores_nothing_twice():
    cache = SupportCache(10_000)
    cache.put("a", _set(4000))
    cache.put("a", _set(4000))
    assert cache.stats().bytes == 4000


def test_threads_keep_the_accounts_exact():
    cache = SupportCache(40_000)

    def work(offset):
        for i in range(300):
            cache.put(f"{offset}-{i}", _set(4000))
            cache.get(f"{offset}-{i - 1}")

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = cache.stats()
    assert stats.bytes == 4000 * stats.entries <= 40_000
    assert stats.evictions == 1200 - stats.entries
