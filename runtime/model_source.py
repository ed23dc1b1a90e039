"""How the torch-free runtime reaches the PyTorch model: by name, through a registry.

The runtime sits below the model (``hsnet/``) and never imports it. Running a ``.pt``
checkpoint (or ``reference``) needs the model, so the torch runner asks this registry
for the *model source*, a module named here as a string and imported only then:

    source = model_source()
    model = source.load_model(checkpoint, backbone)   # the HSNet, eval mode, CPU
    source.weights_digest(model)                      # the checkpoint_sha256 its graphs record

``register_model_source(name)`` points it elsewhere (a model of one's own with the same
two functions). This is the one way the runtime reaches up, and it is a lazy plugin
lookup, which the layering test does not count as an import.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ..errors import UserError

_SOURCE = ["hsnet_deploy.hsnet.model_source"]


def register_model_source(module_name: str) -> None:
    """Use ``module_name`` (load_model, weights_digest) for PyTorch checkpoints."""
    _SOURCE[0] = module_name


def model_source() -> ModuleType:
    try:
        return importlib.import_module(_SOURCE[0])
    except ImportError as err:
        raise UserError(f"running PyTorch checkpoints needs torch and the model ({_SOURCE[0]}): {err}") from None
