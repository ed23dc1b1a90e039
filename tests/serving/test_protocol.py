"""Support ids are content hashes; a refusal's reason survives Triton's wrapping."""

from __future__ import annotations

import numpy as np
from hsnet_deploy.serving import protocol as p


def _shots(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 255, (7, 9, 3), dtype=np.uint8)], [(rng.random((7, 9)) > 0.5).astype(np.uint8)]


def test_the_same_content_gives_the_same_id_and_any_change_another():
    images, masks = _shots()
    first = p.support_id_of("model", images, masks)
    assert first == p.support_id_of("model", [i.copy() for i in images], [m * 255 for m in masks])  # 0/255 == 0/1
    assert first != p.support_id_of("other model", images, masks)
    changed = images[0].copy()
    changed[0, 0, 0] ^= 1
    assert first != p.support_id_of("model", [changed], masks)
    flipped = masks[0].copy()
    flipped[3, 3] ^= 1
    assert first != p.support_id_of("model", images, [flipped])
    assert first != p.support_id_of("model", [images[0].reshape(9, 7, 3)], [masks[0].reshape(9, 7)])  # shape counts


def test_the_reason_is_found_in_triton_s_wrapped_error_text():
    reason = "mask mask_1 is empty: a support mask needs at least one foreground pixel"
    wrapped = ("[500] Failed to process the request(s) for model 'hsnet_support_0_0', message: TritonModelException: "
               "Model execute error: Traceback (most recent call last):\n  File ...\nhsnet_deploy.serving.handlers."
               f"Refused: {p.refusal(reason)}\n\n\n\nAt:\n  model.py(501): execute\n")
    assert p.refusal_of(wrapped) == reason
    assert p.refusal_of(wrapped.replace("\n", "\\n")) == reason  # as the server's log escapes it
    assert p.refusal_of("[400] unexpected datatype UINT16 for input 'query'") is None
