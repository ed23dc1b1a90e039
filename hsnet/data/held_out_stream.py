"""The demo's data: one support set, then a stream of queries of the same held-out class.

The synthetic test split cycles its 10 held-out classes: episode n has class
``class_ids[n % 10]``. The support set is episode 0's supports (class c = class 20);
query i (i = 1..N) is the query image of episode ``i * 10``, also of class c, drawn from
its own generator, so every query differs from the supports and from the other queries,
and the same seed gives the same stream everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import List

import numpy as np

from .episode import Episode


@dataclass
class DemoStream:
    """One cached support set and the N queries run against it."""

    support_images: List[np.ndarray]  # K x (S, S, 3) uint8
    support_masks: List[np.ndarray]  # K x (S, S) uint8 {0, 1}
    queries: List[Episode]  # N episodes of class_id; only their query image and mask are used
    class_id: int
    class_name: str

    def as_episode(self, i: int) -> Episode:
        """Query i with the stream's support set (what the runtime actually saw)."""
        return replace(self.queries[i], support_images=list(self.support_images),
                       support_masks=list(self.support_masks))


def draw_stream(seed: int, img_size: int, shots: int, queries: int) -> DemoStream:
    """The support set of held-out episode 0 and ``queries`` more queries of its class."""
    from .synthetic import SPLIT_CLASSES, SyntheticFewShot, class_name

    classes = len(SPLIT_CLASSES["test"])
    dataset = SyntheticFewShot(seed=seed, split="test", img_size=img_size, shot=shots,
                               n_episodes=(queries + 1) * classes)
    first = dataset.episode(0)
    stream = []
    for i in range(1, queries + 1):
        episode = dataset.episode(i * classes)
        assert episode.class_id == first.class_id  # the split cycles its classes
        stream.append(episode)
    return DemoStream(list(first.support_images), list(first.support_masks), stream,
                      int(first.class_id), class_name(first.class_id))
