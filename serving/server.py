"""``Server``: the runtime behind a real Triton Inference Server (PyTriton, the ``serve`` extra).

    with Server(files, RuntimeOptions(threads=2), ServeConfig(http_port=8000)) as server:
        server.wait(lambda: stopping)          # until SIGTERM's handler sets ``stopping``

PyTriton starts the ``tritonserver`` binary it bundles, whose Python-backend stubs forward
each execution to the callables bound here, in this process: the support cache is one
Python object shared by every instance. Triton does the HTTP/gRPC endpoints, health,
Prometheus metrics and dynamic batching; ``handlers`` does the model.

Stopping: Triton is sent SIGINT, stops accepting requests, lets the accepted ones finish
and waits for clients to close their connections (up to ``drain_timeout_s``), and only
then are the bound callables torn down. Triton's own log goes to ``log_file`` (or is
discarded): PyTriton would otherwise keep every line of it in memory for the server's life.

Safety defaults: every endpoint listens on ``host`` (loopback unless told otherwise);
Triton's admin endpoints (model repository control, shared memory, statistics, trace,
logging) need the ``triton-access-token`` header; inputs are raw uint8 tensors and
strings, never unpickled or evaluated; ``limits`` bounds each request and the cache is
bounded in bytes.
"""

from __future__ import annotations

import ctypes.util
import logging
import os
import socket
import sysconfig
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from ..errors import UserError
from ..file_digest import sha256_of_file
from ..runtime.backends import RuntimeOptions
from ..runtime.graph_contract import QUERY, SUPPORT_ENCODER
from ..runtime.model_files import ModelFiles
from . import protocol as p
from .handlers import Handlers, Refused
from .limits import ServeLimits
from .support_cache import SupportCache

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class ServeConfig:
    host: str = LOOPBACK
    http_port: int = 8000
    grpc_port: int = 8001
    metrics_port: int = 8002
    instances: int = 1
    max_batch_size: int = 8  # queries per graph call at most
    dynamic_batching: bool = True  # False: each request is one execution
    max_queue_delay_us: int = 2000
    support_cache_mb: float = 512.0
    access_token: str = ""
    drain_timeout_s: int = 30  # Triton's exit timeout: accepted requests and open connections
    log_file: Optional[str] = None  # Triton's own log; None: discarded (PyTriton would keep it all in memory)
    limits: ServeLimits = field(default_factory=ServeLimits)

    def __post_init__(self) -> None:
        for name in ("http_port", "grpc_port", "metrics_port"):
            if not 1 <= getattr(self, name) <= 65535:
                raise UserError(f"--{name.replace('_', '-')} must be a port number (1-65535), got {getattr(self, name)}")
        if len({self.http_port, self.grpc_port, self.metrics_port}) != 3:
            raise UserError("--http-port, --grpc-port and --metrics-port must differ")
        if self.instances < 1:
            raise UserError(f"--instances must be at least 1, got {self.instances}")
        if self.max_batch_size < 1:
            raise UserError(f"--max-batch-size must be at least 1, got {self.max_batch_size}")
        if self.max_queue_delay_us < 0:
            raise UserError(f"--max-queue-delay-us must be 0 or more, got {self.max_queue_delay_us}")
        if not self.support_cache_mb > 0:
            raise UserError(f"--support-cache-mb must be positive, got {self.support_cache_mb}")
        if len(self.access_token) < 16:
            raise UserError("the access token must be at least 16 characters")
        if self.drain_timeout_s < 0:
            raise UserError(f"--drain-timeout-s must be 0 or more, got {self.drain_timeout_s}")
        if self.limits.max_shots < 1 or self.limits.max_side < 1:
            raise UserError("--max-shots and --max-image-side must be at least 1")

    def check_ports_free(self) -> None:
        """UserError naming the first port something already listens on (before any model loads)."""
        for name, port in (("http", self.http_port), ("grpc", self.grpc_port), ("metrics", self.metrics_port)):
            with socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Triton binds: TIME_WAIT is free
                try:
                    sock.bind((self.host, port))
                except OSError as err:
                    raise UserError(f"cannot listen on {self.host}:{port} (--{name}-port): {err.strerror}") from None


def import_pytriton():
    try:
        import pytriton.triton  # noqa: F401
    except ImportError:
        raise UserError("serve needs PyTriton, which is not installed: pip install 'hsnet-deploy[serve]'") from None
    return pytriton


def python_library_path() -> None:
    """Triton's Python-backend stub links this interpreter's libpython; when that library is not
    on the system's search path (pyenv, some venvs), put its folder on LD_LIBRARY_PATH, which
    the tritonserver process PyTriton starts inherits."""
    libdir = sysconfig.get_config_var("LIBDIR") or ""
    library = sysconfig.get_config_var("LDLIBRARY") or ""
    current = os.environ.get("LD_LIBRARY_PATH", "")
    if libdir and library.endswith(".so") and (Path(libdir) / library).is_file() and libdir not in current.split(":"):
        os.environ["LD_LIBRARY_PATH"] = f"{libdir}:{current}" if current else libdir


def model_key(files: ModelFiles) -> str:
    """What the support ids of this model hash: its two graph files' contents."""
    return "+".join(sha256_of_file(files.paths[kind]) for kind in (SUPPORT_ENCODER, QUERY))


def require_split(files: ModelFiles) -> ModelFiles:
    """``files`` when they are a split export (support encoder + query graph), else UserError."""
    if files.backend == "torch":
        raise UserError("serve needs an exported split set (.onnx or .engine), not a PyTorch checkpoint: "
                        "hsnet-deploy export --split first")
    if set(files.paths) != {SUPPORT_ENCODER, QUERY}:
        raise UserError("serve needs a split export (support encoder + query graph): export with --split")
    return files


class Server:
    def __init__(self, files: ModelFiles, options: RuntimeOptions, config: ServeConfig) -> None:
        require_split(files)
        self.files, self.options, self.config = files, options, config
        self.cache = SupportCache(int(config.support_cache_mb * 2**20))
        self.handlers: list[Handlers] = []
        self._triton = None

    # ---- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> "Server":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        from ..runtime.segmenter import Segmenter

        import_pytriton()
        self.config.check_ports_free()
        key = model_key(self.files)
        try:
            for _ in range(self.config.instances):
                segmenter = Segmenter.load(self.files, options=self.options)
                self.handlers.append(Handlers(segmenter, self.cache, self.config.limits, key))
            python_library_path()
            logging.getLogger("pytriton").setLevel(logging.ERROR)  # a refused request is not a server fault
            self._triton = self._bind()
            self._triton.run()
        except BaseException:
            self.stop()  # sessions loaded so far, and a half-started Triton
            raise

    def wait(self, stop: Callable[[], bool], poll_s: float = 0.2) -> None:
        """Serve until ``stop()`` is true or the server dies. (Polled: a signal handler that
        sets a threading.Event while this thread waits on it can deadlock.)"""
        while not stop():
            if not self._triton.is_alive():
                raise UserError("the Triton server stopped unexpectedly")
            time.sleep(poll_s)

    def stop(self) -> None:
        if self._triton is not None:
            self._triton.stop()  # SIGINT to tritonserver: drains accepted requests, then the proxies go
            self._triton = None
        for handler in self.handlers:
            handler.segmenter.close()
        self.handlers = []

    # ---- PyTriton --------------------------------------------------------------------------
    def _bind(self):
        import numpy as np
        from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor
        from pytriton.triton import Triton, TritonConfig, TritonSecurityConfig

        from .workspace import clean_stale, workspace

        c = self.config
        clean_stale()  # what SIGKILLed servers left: their workspaces and orphaned stubs
        triton = Triton(
            workspace=workspace(),
            config=TritonConfig(
                http_address=c.host, http_port=c.http_port, grpc_address=c.host, grpc_port=c.grpc_port,
                metrics_address=c.host, metrics_port=c.metrics_port, allow_metrics=True,
                allow_gpu_metrics=ctypes.util.find_library("nvidia-ml") is not None,  # else NVML's init error on stdout
                exit_timeout_secs=c.drain_timeout_s, log_file=Path(c.log_file or os.devnull),
            ),
            security_config=TritonSecurityConfig(access_token=c.access_token),  # PyTriton's admin-endpoint list
        )
        shots = range(1, c.limits.max_shots + 1)
        triton.bind(
            model_name=p.SUPPORT_MODEL,
            infer_func=[_refusing(h.register) for h in self.handlers],
            inputs=[Tensor(name=name, dtype=np.uint8, shape=shape, optional=i > 1)
                    for i in shots for name, shape in ((p.image_input(i), (-1, -1, 3)), (p.mask_input(i), (-1, -1)))],
            outputs=[Tensor(name=p.SUPPORT_ID, dtype=bytes, shape=(1,))],
            config=ModelConfig(batching=False),
            strict=True,
        )
        triton.bind(
            model_name=p.SEGMENT_MODEL,
            infer_func=[_refusing(h.segment) for h in self.handlers],
            inputs=[Tensor(name=p.QUERY, dtype=np.uint8, shape=(-1, -1, 3)),
                    Tensor(name=p.SUPPORT_ID, dtype=bytes, shape=(1,))],
            outputs=[Tensor(name=p.MASK, dtype=np.uint8, shape=(-1, -1)),
                     Tensor(name=p.LOGITS, dtype=np.float32, shape=(-1, 2, -1, -1))],
            config=ModelConfig(
                max_batch_size=c.max_batch_size,
                batcher=DynamicBatcher(max_queue_delay_microseconds=c.max_queue_delay_us) if c.dynamic_batching else None,
            ),
            strict=False,  # logits only when requested
        )
        return triton


def _refusing(handler):
    """A handler whose refusals reach the client as an error and are not logged as faults."""

    def infer(requests):
        try:
            return handler(requests)
        except Refused:
            raise
        except UserError as err:  # a runtime check deeper down: still the request's fault
            raise Refused(p.refusal(str(err))) from None

    infer.__name__ = handler.__name__
    return infer
