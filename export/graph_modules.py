"""The three exported graphs as thin nn.Modules over one HSNet (names: the runtime's ``graph_contract``).

    EpisodeGraph         (query_img, support_imgs, support_masks) -> (logits, mask)
    SupportEncoderGraph  (support_imgs, support_masks) -> (support_c3, support_c2, support_c1)
    QueryGraph           (query_img, support_c3, support_c2, support_c1) -> (logits, mask)

They only route to the model's own methods (``forward``, ``encode_support``,
``forward_with_support``), so the export traces exactly the PyTorch code the tests
compare against; the mask is the official vote computed in the graph (``runtime.kshot_vote.kshot_vote_graph``).
The query graph holds only the query backbone, the correlation and the learner.
"""

from __future__ import annotations

from torch import nn

from ..runtime.graph_contract import EPISODE, QUERY, SUPPORT_ENCODER
from ..runtime.kshot_vote import kshot_vote_graph as vote_mask


class EpisodeGraph(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, query_img, support_imgs, support_masks):
        logits = self.model(query_img, support_imgs, support_masks)  # (B, K, 2, H, W)
        return logits, vote_mask(logits)


class SupportEncoderGraph(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, support_imgs, support_masks):
        return self.model.encode_support(support_imgs, support_masks)  # 3 x (B, K, L_p, C_p, h_p, w_p)


class QueryGraph(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, query_img, support_c3, support_c2, support_c1):
        logits = self.model.forward_with_support(query_img, support_c3, support_c2, support_c1)
        return logits, vote_mask(logits)


GRAPH_MODULES = {EPISODE: EpisodeGraph, SUPPORT_ENCODER: SupportEncoderGraph, QUERY: QueryGraph}
