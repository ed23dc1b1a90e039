"""Episodic training of HSNet's learner on a frozen backbone (``hsnet-deploy train``).

- :mod:`.episodes`: episodes -> network tensors (the official pipeline, shared with eval);
- :mod:`.episode_sources`: training streams and fixed validation episodes per benchmark;
- :mod:`.seeded_model`: the model to train (seeded random or given backbone);
- :mod:`.feature_cache`: frozen-backbone features of a fixed image pool (``--cache-features``);
- :mod:`.trainer`: the loop (Adam, pixel cross-entropy, validation, checkpoints, resume);
- :mod:`.train_state`: the resumable state file (``last_state.pt``);
- :mod:`.command`: the command line.

Importing this package is torch-free; the modules that need torch import it themselves.
"""
