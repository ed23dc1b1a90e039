"""The PyTorch backend: the model reached through ``runtime.model_source``, run on numpy in and out."""
