"""COCO-20i's official episode plan written out naively, to compare the reader against."""

import numpy as np


def naive_coco_plan(classwise, class_ids, shot, seed, n):
    rng = np.random.RandomState(seed)
    plan = []
    for _ in range(n):
        c = int(rng.choice(class_ids, 1, replace=False)[0])
        query = str(rng.choice(classwise[c], 1, replace=False)[0])
        supports = []
        while len(supports) < shot:
            s = str(rng.choice(classwise[c], 1, replace=False)[0])
            if s != query:
                supports.append(s)
        plan.append((query, tuple(supports), c))
    return plan
