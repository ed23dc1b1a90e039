"""FLOPs and elements moved per stage of the three network paths, for each K.

    official  K x 1-shot forward passes (the baseline)
    episode   query once, K supports as one batch
    query     the cached-support query path (support features encoded beforehand)

Counted by :mod:`cost_counter` on the meta device (shapes only: no memory, no compute),
so they describe the network, whichever backend runs it. The official path is counted in
the official computation (``HSNet.official_computation``, as the baseline runs it), the
others as the toolkit runs them (the layouts of ``hsnet.grid_layout``; the exported
graphs are traced from the same code).
"""

from __future__ import annotations

from .configurations import COST_EPISODE, COST_OFFICIAL, COST_QUERY


def count_path_costs(backbone: str, img_size: int, shots) -> dict[tuple[str, int], dict]:
    """(path, K) -> {"stages": stage -> Cost, "used_parameters": parameters the path reads}."""
    import torch

    from ..hsnet import HSNet
    from .cost_counter import count_costs
    from .staged_forward import staged_episode, staged_official, staged_query

    with torch.device("meta"):
        meta = HSNet(backbone).eval()
    size = img_size
    costs: dict[tuple[str, int], dict] = {}
    for k in shots:
        with torch.device("meta"):
            q = torch.zeros(1, 3, size, size)
            sup = torch.zeros(1, k, 3, size, size)
            msk = torch.zeros(1, k, size, size)
        with torch.no_grad():
            feats = meta.encode_support(sup, msk)
        runs = {
            COST_OFFICIAL: lambda obs: staged_official(meta, q, sup, msk, obs),
            COST_EPISODE: lambda obs: staged_episode(meta, q, sup, msk, obs),
            COST_QUERY: lambda obs: staged_query(meta, q, feats, obs),
        }
        for path, run in runs.items():
            if path == COST_OFFICIAL:
                with meta.official_computation():
                    counter = count_costs(meta, run)
            else:
                counter = count_costs(meta, run)
            costs[(path, k)] = {"stages": dict(counter.per_stage), "used_parameters": counter.used_parameter_count}
    return costs
