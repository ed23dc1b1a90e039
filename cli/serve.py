"""``hsnet-deploy serve MODEL``: a Triton Inference Server hosting the runtime (PyTriton).

    hsnet-deploy serve hsnet.onnx --token-file admin.token      # split export, any precision
    # hsnet_support  (shots -> support_id)   hsnet_segment (query + support_id -> mask)
    # HTTP 127.0.0.1:8000, gRPC :8001, Prometheus :8002/metrics; SIGTERM: drain, then stop

Checked before anything loads: the model is a split export (ONNX of any precision, or
engines), the ports are free, the options are in range and the token file readable (or,
when missing, creatable: a new random token is written there, mode 0600, once the server
is up, so a server that fails to start leaves nothing). Without
``--token-file`` the admin endpoints get a random token nobody is told: closed.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import sys
from pathlib import Path

from ..errors import UserError
from ..serving.limits import DEFAULT_MAX_SHOTS, DEFAULT_MAX_SIDE
from .backend_options import add_onnx_backend_arguments, onnx_backend_options

HELP = "serve a split export over HTTP/gRPC with a real Triton Inference Server (pip install 'hsnet-deploy[serve]')"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="a split export: X.onnx with X.support_encoder.onnx + X.query.onnx "
                        "beside it (any precision), or X.query.engine with its support encoder engine")
    parser.add_argument("--host", default="127.0.0.1", help="address every endpoint listens on (default: loopback only)")
    parser.add_argument("--http-port", type=int, default=8000, metavar="N", help="HTTP port (default 8000)")
    parser.add_argument("--grpc-port", type=int, default=8001, metavar="N", help="gRPC port (default 8001)")
    parser.add_argument("--metrics-port", type=int, default=8002, metavar="N", help="Prometheus metrics port (default 8002)")
    parser.add_argument("--instances", type=int, default=1, metavar="N", help="model instances, each with its own sessions (default 1)")
    parser.add_argument("--max-batch-size", type=int, default=8, metavar="N", help="queries per graph call at most (default 8)")
    parser.add_argument("--dynamic-batching", choices=("on", "off"), default="on",
                        help="let Triton group queries that arrive together (default on)")
    parser.add_argument("--max-queue-delay-us", type=int, default=2000, metavar="US",
                        help="how long Triton may hold a query to grow its batch (default 2000)")
    parser.add_argument("--support-cache-mb", type=float, default=512.0, metavar="MB",
                        help="memory for encoded support sets; least recently used out first (default 512)")
    parser.add_argument("--max-shots", type=int, default=DEFAULT_MAX_SHOTS, metavar="K",
                        help=f"support images per registration at most (default {DEFAULT_MAX_SHOTS})")
    parser.add_argument("--max-image-side", type=int, default=DEFAULT_MAX_SIDE, metavar="PX",
                        help=f"largest image side accepted (default {DEFAULT_MAX_SIDE})")
    parser.add_argument("--token-file", metavar="FILE",
                        help="access token for Triton's admin endpoints (statistics, model control, shared memory, "
                        "trace, logging): read from FILE, or written there (mode 0600) when FILE does not exist")
    parser.add_argument("--drain-timeout-s", type=int, default=30, metavar="S",
                        help="on SIGTERM, how long accepted requests and open connections may take to finish (default 30)")
    parser.add_argument("--log-file", metavar="FILE", help="Triton's own log (default: discarded; refusals reach clients anyway)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="where to run (default: auto)")
    parser.add_argument("--threads", type=int, default=None, metavar="N", help="CPU threads per instance (default: the backend's)")
    add_onnx_backend_arguments(parser)


def access_token(path: str | None) -> tuple[str, str, Path | None]:
    """(token, where it is, a file still to write): read from ``path``, or new and to be written
    there once the server is up (checked writable now), or random and untold."""
    if path is None:
        return secrets.token_urlsafe(32), "a random token nobody holds (give --token-file to use them)", None
    file = Path(path)
    if file.exists():
        if not file.is_file():
            raise UserError(f"--token-file {file} is not a file")
        try:
            token = file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as err:
            raise UserError(f"cannot read --token-file {file}: {err}") from None
        if len(token) < 16 or any(c.isspace() for c in token):
            raise UserError(f"--token-file {file} must hold one token of at least 16 characters without spaces")
        return token, f"the token in {file}", None
    from ..output_paths import check_output_file

    check_output_file(file, "--token-file")
    return secrets.token_urlsafe(32), f"a new token, written to {file} (mode 0600)", file


def write_token(file: Path, token: str) -> None:
    """A new token file, readable by its owner only (never replacing one that appeared meanwhile)."""
    try:
        descriptor = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write(token + "\n")
    except OSError as err:
        raise UserError(f"cannot write --token-file {file}: {err.strerror}") from None


def run(args: argparse.Namespace) -> int:
    from ..runtime.backends import RuntimeOptions
    from ..runtime.model_files import resolve_model_files
    from ..serving.limits import ServeLimits
    from ..serving.server import ServeConfig, Server, import_pytriton, require_split

    # ---- 1. every check before anything loads ----------------------------------------------
    files = require_split(resolve_model_files(args.model))
    options = RuntimeOptions(device=args.device, threads=args.threads, **onnx_backend_options(args))
    limits = ServeLimits(max_side=args.max_image_side, max_shots=args.max_shots)
    token, where, token_file = access_token(args.token_file)  # read, or made: written once the server is up
    config = ServeConfig(
        access_token=token, host=args.host, http_port=args.http_port, grpc_port=args.grpc_port, metrics_port=args.metrics_port,
        instances=args.instances, max_batch_size=args.max_batch_size, dynamic_batching=args.dynamic_batching == "on",
        max_queue_delay_us=args.max_queue_delay_us, support_cache_mb=args.support_cache_mb, limits=limits,
        drain_timeout_s=args.drain_timeout_s, log_file=args.log_file,
    )
    if args.log_file:
        from ..output_paths import check_output_file

        check_output_file(args.log_file, "--log-file", inputs=[args.model])
    import_pytriton()  # then Server.start checks the ports before any model loads

    # ---- 2. serve until SIGTERM / SIGINT ------------------------------------------------------
    signals: list[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda number, _frame: signals.append(number))  # no lock taken in a handler
    with Server(files, options, config) as server:
        if token_file is not None:
            write_token(token_file, token)
        host = f"[{args.host}]" if ":" in args.host else args.host
        print(f"serving {server.handlers[0].segmenter!r}", flush=True)
        print(f"  HTTP http://{host}:{args.http_port}  gRPC {host}:{args.grpc_port}  metrics "
              f"http://{host}:{args.metrics_port}/metrics  ({args.instances} instance(s), dynamic batching "
              f"{args.dynamic_batching}, max batch {args.max_batch_size})", flush=True)
        print(f"  admin endpoints need header 'triton-access-token': {where}", flush=True)
        print("ready", flush=True)
        server.wait(lambda: bool(signals))
        print("stopping: finishing accepted requests", flush=True)
        stats = server.cache.stats()
    print(f"stopped; support cache: {stats.entries} set(s), {stats.bytes / 2**20:.1f} MiB, {stats.hits} hit(s), "
          f"{stats.misses} miss(es), {stats.evictions} eviction(s)", file=sys.stderr)
    return 0
