"""Load, soak, abuse and fault runs against a real ``hsnet-deploy serve`` (not tests: they
measure). Each run starts its own server(s) on loopback, as a user would.

    python tools/research/serve_load.py perf  r200.onnx r200.int8.onnx ... --perf-analyzer .perf_analyzer/perf_analyzer
    python tools/research/serve_load.py soak  r200.onnx --minutes 10 --streams 4
    python tools/research/serve_load.py abuse r200.onnx
    python tools/research/serve_load.py faults r200.onnx

perf: Triton's perf_analyzer against ``hsnet_segment`` with real inputs (a registered
support set, held-out synthetic query images at the model's size), concurrency 1/2/4/8,
dynamic batching on and off, beside the in-process Segmenter's sequential throughput on
the same queries and threads. Everything prints a Markdown table; ``--json`` keeps it.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

HSNET = [sys.executable, "-m", "hsnet_deploy"]


# ---- servers ---------------------------------------------------------------------------------
def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


class Serve:
    def __init__(self, model: str, args=(), ports=None, threads: int = 2):
        self.ports = ports or free_ports(3)
        self.folder = Path(tempfile.mkdtemp(prefix="serve-load-"))
        self.log = self.folder / "serve.log"
        command = [*HSNET, "serve", model, "--http-port", str(self.ports[0]), "--grpc-port", str(self.ports[1]),
                   "--metrics-port", str(self.ports[2]), "--token-file", str(self.folder / "token"),
                   "--threads", str(threads), "--drain-timeout-s", "10", *args]
        self.process = subprocess.Popen(command, stdout=open(self.log, "w"), stderr=subprocess.STDOUT,
                                        env={**os.environ, "PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + 300
        while "ready" not in self.output().splitlines():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"serve did not start:\n{self.output()}")
            time.sleep(0.2)
        self.token = (self.folder / "token").read_text().strip()

    http = property(lambda self: f"http://127.0.0.1:{self.ports[0]}")
    address = property(lambda self: f"127.0.0.1:{self.ports[0]}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def rss_mb(self) -> float:
        """Resident memory of the serve process and all its descendants (tritonserver, stubs)."""
        total, todo = 0, [self.process.pid]
        while todo:
            pid = todo.pop()
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                total += int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS")))
                for task in Path(f"/proc/{pid}/task").iterdir():
                    todo += [int(c) for c in (task / "children").read_text().split()]
            except (OSError, StopIteration):
                continue
        return total / 1024

    def stop(self, sig=signal.SIGTERM, timeout=120) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout)


def stream_of(img_size: int, queries: int = 8):
    from hsnet_deploy.hsnet.data.held_out_stream import draw_stream

    return draw_stream(0, img_size, 1, queries)


def img_size_of(model: str) -> int:
    from hsnet_deploy.runtime.model_files import graph_info, resolve_model_files

    files = resolve_model_files(model)
    return graph_info(files.paths["query"], files.backend).img_size


# ---- perf ------------------------------------------------------------------------------------
def in_process_qps(model: str, stream, threads: int, seconds: float) -> float:
    from hsnet_deploy.runtime import RuntimeOptions, Segmenter

    with Segmenter.load(model, options=RuntimeOptions(device="cpu", threads=threads)) as seg:
        seg.set_support(stream.support_images, stream.support_masks)
        seg.segment(stream.queries[0].query_image)  # warm
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            seg.segment(stream.queries[done % len(stream.queries)].query_image)
            done += 1
        return done / (time.perf_counter() - start)


def perf(args) -> list[dict]:
    from hsnet_deploy.serving.client import Client

    rows = []
    for model in args.models:
        size = img_size_of(model)
        stream = stream_of(size)
        qps = in_process_qps(model, stream, args.threads, args.in_process_s)
        print(f"{model}: in-process Segmenter {qps:.2f} queries/s", flush=True)
        for batching in ("on", "off"):
            server = Serve(model, ["--dynamic-batching", batching, "--max-batch-size", "8"], threads=args.threads)
            try:
                with Client(server.http) as client:
                    client.set_support(stream.support_images, stream.support_masks)
                    support_id = client.support_id
                data = {"data": [{"query": {"content": q.query_image.ravel().tolist(), "shape": list(q.query_image.shape)},
                                  "support_id": [support_id]} for q in stream.queries]}
                (server.folder / "input.json").write_text(json.dumps(data))
                for concurrency in args.concurrency:
                    out = server.folder / f"c{concurrency}.csv"
                    done = subprocess.run(
                        [args.perf_analyzer, "-m", "hsnet_segment", "-u", server.address, "-i", "http",
                         "--input-data", str(server.folder / "input.json"), "--shape", f"query:{size},{size},3",
                         "--shape", "support_id:1", "--concurrency-range", f"{concurrency}:{concurrency}",
                         "--measurement-interval", str(args.window_ms), "-H", f"triton-access-token:{server.token}",
                         "-f", str(out)], capture_output=True, text=True)
                    if done.returncode != 0:  # e.g. no 3 windows within 10 % of each other: say so, go on
                        reason = (done.stdout.strip().splitlines() or ["?"])[-1]
                        rows.append({"model": Path(model).name, "size": size, "batching": batching,
                                     "concurrency": concurrency, "failed": reason, "in_process_qps": qps})
                        print(f"  batching {batching} c={concurrency}: perf_analyzer failed: {reason}", flush=True)
                        continue
                    line = next(csv.DictReader(out.open()))
                    row = {"model": Path(model).name, "size": size, "batching": batching, "concurrency": concurrency,
                           "qps": float(line["Inferences/Second"]), "p50_ms": int(line["p50 latency"]) / 1000,
                           "p90_ms": int(line["p90 latency"]) / 1000, "p99_ms": int(line["p99 latency"]) / 1000,
                           "queue_ms": int(line["Server Queue"]) / 1000, "in_process_qps": qps}
                    rows.append(row)
                    print(f"  batching {batching} c={concurrency}: {row['qps']:.2f} q/s p50 {row['p50_ms']:.0f} "
                          f"p90 {row['p90_ms']:.0f} p99 {row['p99_ms']:.0f} ms", flush=True)
                    if args.json:  # kept as it grows: a later failure loses nothing
                        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
            finally:
                server.stop()
    print("\n| model | size | batching | concurrency | queries/s | p50 ms | p90 ms | p99 ms | in-process queries/s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        if "failed" in r:
            print(f"| {r['model']} | {r['size']} | {r['batching']} | {r['concurrency']} | unstable | | | | {r['in_process_qps']:.2f} |")
            continue
        print(f"| {r['model']} | {r['size']} | {r['batching']} | {r['concurrency']} | {r['qps']:.2f} | {r['p50_ms']:.0f} | "
              f"{r['p90_ms']:.0f} | {r['p99_ms']:.0f} | {r['in_process_qps']:.2f} |")
    return rows


# ---- soak ------------------------------------------------------------------------------------
def expected_masks(model: str, stream, threads: int, support=None) -> list[np.ndarray]:
    """The in-process Segmenter's masks of the stream's queries (against ``support``, an
    (images, masks) pair, or the stream's own support set)."""
    from hsnet_deploy.runtime import RuntimeOptions, Segmenter

    images, masks = support or (stream.support_images, stream.support_masks)
    with Segmenter.load(model, options=RuntimeOptions(device="cpu", threads=threads)) as seg:
        seg.set_support(images, masks)
        return [seg.segment(q.query_image) for q in stream.queries]


def soak(args) -> dict:
    from hsnet_deploy.serving.client import Client

    size = img_size_of(args.models[0])
    stream = stream_of(size, 16)
    expected = expected_masks(args.models[0], stream, args.threads)
    server = Serve(args.models[0], threads=args.threads)
    counts = [{"sent": 0, "received": 0, "wrong": 0, "errors": 0} for _ in range(args.streams)]
    stop_at = time.monotonic() + args.minutes * 60
    rss = {"start": server.rss_mb()}

    def one(i):
        with Client(server.http) as client:
            client.set_support(stream.support_images, stream.support_masks)
            n = i
            while time.monotonic() < stop_at:
                counts[i]["sent"] += 1
                try:
                    mask = client.segment(stream.queries[n % len(stream.queries)].query_image)
                    counts[i]["received"] += 1
                    counts[i]["wrong"] += int(not np.array_equal(mask, expected[n % len(expected)]))
                except Exception as err:  # noqa: BLE001 - counted
                    counts[i]["errors"] += 1
                    print(f"stream {i}: {err}", flush=True)
                n += 1

    threads = [threading.Thread(target=one, args=(i,)) for i in range(args.streams)]
    for t in threads:
        t.start()
    time.sleep(args.minutes * 30)
    rss["middle"] = server.rss_mb()
    for t in threads:
        t.join()
    rss["end"] = server.rss_mb()
    server.stop()
    total = {k: sum(c[k] for c in counts) for k in counts[0]}
    result = {"model": Path(args.models[0]).name, "minutes": args.minutes, "streams": args.streams, **total,
              "rss_mb": rss, "per_stream": counts}
    print(json.dumps(result, indent=1))
    return result


# ---- abuse -----------------------------------------------------------------------------------
def abuse(args) -> dict:
    import urllib.error
    import urllib.request

    from hsnet_deploy.errors import UserError
    from hsnet_deploy.serving.client import Client

    size = img_size_of(args.models[0])
    stream = stream_of(size)
    server = Serve(args.models[0], ["--support-cache-mb", str(args.cache_mb)], threads=args.threads)
    result = {"cache_mb": args.cache_mb, "rss_mb": {"start": server.rss_mb()}}
    rng = np.random.default_rng(0)
    with Client(server.http) as client:
        for i in range(args.flood):  # distinct support sets: each a new image
            image = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
            client.register([image], [stream.support_masks[0]])
            if (i + 1) % (args.flood // 4) == 0:
                result["rss_mb"][f"after {i + 1} sets"] = server.rss_mb()
        client.set_support(stream.support_images, stream.support_masks)
        huge = np.zeros((4097, 4097, 3), np.uint8)  # 48 MiB, one pixel over the default side limit
        start = time.perf_counter()
        try:
            client.segment(huge)
            result["oversized"] = "served (wrong)"
        except UserError as err:
            result["oversized"] = f"refused in {time.perf_counter() - start:.2f} s: {err}"
        result["after_oversized_ok"] = bool(client.segment(stream.queries[0].query_image).shape == (size, size))
    for path, data in (("/v2/models/hsnet_segment/stats", None), ("/v2/repository/index", b"{}"),
                       ("/v2/logging", None), ("/v2/trace/setting", None)):
        request = urllib.request.Request(server.http + path, data=data, method="POST" if data else "GET")
        try:
            status = urllib.request.urlopen(request, timeout=10).status
        except urllib.error.HTTPError as err:
            status = err.code
        result[f"no token {path}"] = status
    result["rss_mb"]["end"] = server.rss_mb()
    server.stop()
    result["stop line"] = server.output().strip().splitlines()[-1]
    print(json.dumps(result, indent=1))
    return result


# ---- faults ----------------------------------------------------------------------------------
def faults(args) -> dict:
    from hsnet_deploy.serving.client import Client

    size = img_size_of(args.models[0])
    stream = stream_of(size)
    expected = expected_masks(args.models[0], stream, args.threads)
    result = {}

    # 1. a client that disconnects mid-request: the server keeps serving
    server = Serve(args.models[0], threads=args.threads)
    with Client(server.http) as client:
        client.set_support(stream.support_images, stream.support_masks)
        support_id = client.support_id
    body = _raw_body(stream.queries[0].query_image, support_id)
    for _ in range(5):
        with socket.create_connection(("127.0.0.1", server.ports[0])) as sock:  # half a request, then gone
            sock.sendall(_http_head(len(body)) + body[: len(body) // 2])
        with socket.create_connection(("127.0.0.1", server.ports[0])) as sock:  # a whole one, unread
            sock.sendall(_http_head(len(body)) + body)
    with Client(server.http) as client:
        client.set_support(stream.support_images, stream.support_masks)
        result["after disconnects: masks equal"] = all(
            np.array_equal(client.segment(q.query_image), e) for q, e in zip(stream.queries, expected))

    # 2. SIGKILL under load, restart on the same ports: clients re-register and go on
    outcome = _under_load(server, stream, expected, args, lambda: server.stop(signal.SIGKILL))
    _wait_free(server.ports)
    restarted = Serve(args.models[0], ports=server.ports, threads=args.threads)
    with Client(restarted.http) as client:
        client.support_id, client._shots = support_id, (stream.support_images, stream.support_masks)
        mask = client.segment(stream.queries[0].query_image)
        outcome["after restart: re-registrations"] = client.registrations
        outcome["after restart: mask equal"] = bool(np.array_equal(mask, expected[0]))
    result["SIGKILL under load"] = outcome

    # 3. SIGTERM under load: every request the server accepted is answered
    result["SIGTERM under load"] = _under_load(restarted, stream, expected, args, lambda: restarted.stop())

    # 4. the support cache under pressure: room for one set, two clients alternating sets
    server = Serve(args.models[0], ["--support-cache-mb", str(args.one_set_mb)], threads=args.threads)
    try:
        result["cache pressure"] = _cache_pressure(server, stream, expected, args)
    finally:
        server.stop()
    result["cache pressure"]["stop line"] = server.output().strip().splitlines()[-1]
    print(json.dumps(result, indent=1))
    return result


def _cache_pressure(server, stream, expected, args) -> dict:
    from hsnet_deploy.serving.client import Client

    other = [q.query_image for q in stream.queries[1:3]], [np.asarray(q.query_mask) for q in stream.queries[1:3]]
    pressure = {"wrong": 0, "answers": 0}
    with Client(server.http) as a, Client(server.http) as b:
        a.set_support(stream.support_images, stream.support_masks)
        b.set_support(other[0][:1], other[1][:1])
        expected_b = expected_masks(args.models[0], stream, args.threads, (other[0][:1], other[1][:1]))
        for i in range(20):
            for client, wanted in ((a, expected), (b, expected_b)):
                mask = client.segment(stream.queries[i % len(stream.queries)].query_image)
                pressure["answers"] += 1
                pressure["wrong"] += int(not np.array_equal(mask, wanted[i % len(wanted)]))
        pressure["registrations"] = a.registrations + b.registrations
    return pressure


def _under_load(server, stream, expected, args, fault) -> dict:
    from hsnet_deploy.errors import UserError
    from hsnet_deploy.serving.client import Client

    log = []  # (started, finished or None, ok)
    lock = threading.Lock()
    stop = threading.Event()

    def one(i):
        with Client(server.http, timeout_s=60) as client:
            client.set_support(stream.support_images, stream.support_masks)
            n = i
            while not stop.is_set():
                started = time.monotonic()
                try:
                    mask = client.segment(stream.queries[n % len(stream.queries)].query_image)
                    with lock:
                        log.append((started, time.monotonic(), bool(np.array_equal(mask, expected[n % len(expected)]))))
                except UserError as err:
                    with lock:
                        log.append((started, None, str(err)[:120]))
                    if "cannot reach" in str(err):
                        time.sleep(0.2)
                n += 1

    threads = [threading.Thread(target=one, args=(i,)) for i in range(args.streams)]
    for t in threads:
        t.start()
    time.sleep(args.load_s)
    fault_at = time.monotonic()
    fault()
    stop.set()
    for t in threads:
        t.join()
    before = [entry for entry in log if entry[0] < fault_at]
    return {
        "requests sent before the signal": len(before),
        "answered correctly": sum(1 for e in before if e[2] is True),
        "answered wrong": sum(1 for e in before if e[2] is False),
        "failed": sorted({e[2] for e in before if isinstance(e[2], str)}),
        "failed count": sum(1 for e in before if isinstance(e[2], str)),
    }


def _raw_body(image: np.ndarray, support_id: str) -> bytes:
    request = {"inputs": [
        {"name": "query", "shape": [1, *image.shape], "datatype": "UINT8", "data": image.ravel().tolist()},
        {"name": "support_id", "shape": [1, 1], "datatype": "BYTES", "data": [support_id]}]}
    return json.dumps(request).encode()


def _http_head(length: int) -> bytes:
    return (f"POST /v2/models/hsnet_segment/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()


def _wait_free(ports, timeout=60):
    deadline = time.monotonic() + timeout
    for port in ports:
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind(("127.0.0.1", port))
                    break
                except OSError:
                    time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", choices=("perf", "soak", "abuse", "faults"))
    parser.add_argument("models", nargs="+")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--perf-analyzer", default=".perf_analyzer/perf_analyzer")
    parser.add_argument("--concurrency", type=lambda s: [int(c) for c in s.split(",")], default=[1, 2, 4, 8])
    parser.add_argument("--window-ms", type=int, default=5000)
    parser.add_argument("--in-process-s", type=float, default=15)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--streams", type=int, default=4)
    parser.add_argument("--cache-mb", type=float, default=64)
    parser.add_argument("--flood", type=int, default=400)
    parser.add_argument("--one-set-mb", type=float, default=15, help="room for one support set, not two (200x200: 10 MiB a set)")
    parser.add_argument("--load-s", type=float, default=5)
    parser.add_argument("--json")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    result = {"perf": perf, "soak": soak, "abuse": abuse, "faults": faults}[args.run](args)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
