"""The resumable state of a training run (``OUT/last_state.pt``), separate from the weights.

``best_model.pt`` is a plain official checkpoint (``module.``-prefixed state_dict) that any
HSNet tool loads. ``last_state.pt`` holds everything needed to continue exactly where the
run stopped:

    format        "hsnet_deploy.train_state/1"
    config        the run's settings (a resume must not change the ones that matter)
    learner       the learner's state_dict (``model.hpn_learner``)
    backbone_sha256  fingerprint of the frozen backbone, rebuilt from the config on resume
    optimizer     Adam's state_dict
    step, epoch   optimizer steps taken, epochs completed
    episodes      training episodes drawn so far (the synthetic stream's position)
    best_miou, best_step
    data_rng      the numpy RandomState that draws episodes / pairs (MT19937 state)
    torch_rng     torch's CPU generator state
    elapsed_s     training wall time so far
    log           the rows of log.csv

Only tensors, numbers, strings, lists and dicts: it loads with ``weights_only=True``.
"""

from __future__ import annotations

import os
from typing import Any, Dict

import numpy as np
import torch

from ...errors import UserError

FORMAT = "hsnet_deploy.train_state/1"


def rng_state_to_tensors(rng: np.random.RandomState) -> Dict[str, Any]:
    name, keys, pos, has_gauss, cached = rng.get_state(legacy=True)
    return {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
            "has_gauss": int(has_gauss), "cached_gaussian": float(cached)}


def rng_state_from_tensors(state: Dict[str, Any]) -> np.random.RandomState:
    rng = np.random.RandomState()
    rng.set_state((state["name"], state["keys"].numpy().astype(np.uint32), state["pos"],
                   state["has_gauss"], state["cached_gaussian"]))
    return rng


def save_state(path: str | os.PathLike, state: Dict[str, Any]) -> None:
    from ...atomic_file import atomic_path

    with atomic_path(path) as tmp:
        torch.save({"format": FORMAT, **state}, tmp)


def load_state(path: str | os.PathLike) -> Dict[str, Any]:
    if not os.path.isfile(path):
        raise UserError(f"nothing to resume: {path} not found (train without --resume first)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file is the user's to fix
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
        raise UserError(f"cannot read training state {path}: {reason}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise UserError(f"{path} is not an hsnet-deploy training state ({FORMAT})")
    return state
