"""hsnet_deploy.serving: the runtime behind a real Triton Inference Server.

- ``protocol``: model and tensor names, support ids (content hashes), refusals
- ``limits``: what one request may ask (image side, shots), checked on shapes
- ``support_cache``: encoded support sets, bounded in bytes, LRU
- ``handlers``: the two models as functions over requests (no server needed)
- ``server``: PyTriton glue (``hsnet-deploy serve``); ``client``: ``Client`` on tritonclient

Torch-free, on top of the runtime. PyTriton (``[serve]``) and tritonclient (``[triton]``)
are imported only by ``server`` and ``client``.
"""

from ..lazy_exports import lazy_exports

__getattr__, __all__ = lazy_exports(
    __name__, client="Client", server="Server ServeConfig", limits="ServeLimits", support_cache="SupportCache"
)
