"""Names of the exported graphs and of their inputs / outputs (contract: MODEL_API.md).

    episode          query_img (B,3,H,W), support_imgs (B,K,3,H,W), support_masks (B,K,H,W)
                     -> logits (B,K,2,H,W) float32, mask (B,H,W) uint8
    support_encoder  support_imgs, support_masks -> support_c3, support_c2, support_c1
                     (each (B,K,L_p,C_p,h_p,w_p) float32, deepest level first)
    query            query_img, support_c3, support_c2, support_c1 -> logits, mask

The one definition lives in the torch-free runtime (which reads these graphs); the
exporter writes against the same tables, so the two cannot drift apart.
"""

from ..runtime.graph_metadata import (  # noqa: F401
    EPISODE,
    GRAPH_INPUTS,
    GRAPH_KINDS,
    GRAPH_OUTPUTS,
    QUERY,
    SUPPORT_ENCODER,
    SUPPORT_FEATURES,
)
