"""Names of the exported graphs and of their inputs / outputs (contract: MODEL_API.md).

    episode          query_img (B,3,H,W), support_imgs (B,K,3,H,W), support_masks (B,K,H,W)
                     -> logits (B,K,2,H,W) float32, mask (B,H,W) uint8
    support_encoder  support_imgs, support_masks -> support_c3, support_c2, support_c1
                     (each (B,K,L_p,C_p,h_p,w_p) float32, deepest level first)
    query            query_img, support_c3, support_c2, support_c1 -> logits, mask

Torch-free, so ``hsnet-deploy check`` runs where only onnx is installed.
"""

EPISODE, SUPPORT_ENCODER, QUERY = "episode", "support_encoder", "query"
GRAPH_KINDS = (EPISODE, SUPPORT_ENCODER, QUERY)
SUPPORT_FEATURES = ("support_c3", "support_c2", "support_c1")  # deepest first
GRAPH_INPUTS = {
    EPISODE: ("query_img", "support_imgs", "support_masks"),
    SUPPORT_ENCODER: ("support_imgs", "support_masks"),
    QUERY: ("query_img",) + SUPPORT_FEATURES,
}
GRAPH_OUTPUTS = {
    EPISODE: ("logits", "mask"),
    SUPPORT_ENCODER: SUPPORT_FEATURES,
    QUERY: ("logits", "mask"),
}
