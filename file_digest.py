"""SHA-256 of a file, read in 1 MiB chunks (checkpoints, ONNX files, engines): torch-free,
so the engine builder and the runtime can record what they were made from."""

from __future__ import annotations

import hashlib
import os


def sha256_of_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
