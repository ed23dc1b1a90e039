"""A real Triton Inference Server (``hsnet-deploy serve`` in a child process, PyTriton's
bundled tritonserver) answering real clients over HTTP and gRPC."""

from __future__ import annotations

import json
import signal
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
from helpers.fake_graphs import make_split_export
from helpers.serve_process import free_ports, start_serve, wait_ports_free

pytest.importorskip("pytriton")
http = pytest.importorskip("tritonclient.http")

from hsnet_deploy.errors import UserError  # noqa: E402
from hsnet_deploy.runtime.segmenter import Segmenter  # noqa: E402
from hsnet_deploy.serving import protocol as p  # noqa: E402
from hsnet_deploy.serving.client import Client  # noqa: E402
from hsnet_deploy.serving.workspace import ROOT, processes_under  # noqa: E402

pytestmark = pytest.mark.slow

RNG = np.random.default_rng(1)
IMAGE = RNG.integers(0, 255, (30, 41, 3), dtype=np.uint8)
MASK = np.zeros((30, 41), np.uint8)
MASK[4:20, 6:30] = 1
QUERIES = [RNG.integers(0, 255, (25 + i, 33, 3), dtype=np.uint8) for i in range(6)]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return make_split_export(tmp_path_factory.mktemp("served"))


@pytest.fixture(scope="module")
def expected(model):
    with Segmenter.load(model) as segmenter:
        segmenter.set_support([IMAGE], [MASK])
        return [segmenter.segment(q) for q in QUERIES]


@pytest.fixture(scope="module")
def server(model, tmp_path_factory):
    # a long queue delay, so that concurrent queries meet in one dynamic batch
    served = start_serve(model, tmp_path_factory.mktemp("serve"), ["--max-queue-delay-us", "300000",
                                                                   "--max-image-side", "512", "--max-shots", "2"])
    yield served
    assert served.stop() == 0, served.output()


def _get(url: str, token: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={p.ACCESS_HEADER: token} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_masks_over_http_and_grpc_equal_the_segmenter_s(server, expected, model, protocol):
    with Client(getattr(server, protocol)) as client:
        client.set_support([IMAGE], [MASK])
        for query, mask in zip(QUERIES, expected):
            np.testing.assert_array_equal(client.segment(query), mask)
        with Segmenter.load(model) as segmenter:
            np.testing.assert_allclose(client.segment_logits(QUERIES[0]),
                                       segmenter.segment_logits(QUERIES[0], [IMAGE], [MASK]), atol=1e-6)


def test_concurrent_queries_run_as_dynamic_batches(server, expected):
    def stats():
        status, body = _get(f"{server.http}/v2/models/{p.SEGMENT_MODEL}/stats", server.token)
        assert status == 200, body
        found = json.loads(body)["model_stats"][0]
        return found["inference_count"], found["execution_count"]

    before = stats()
    same_size = [QUERIES[0]] * 6
    results, errors = {}, []

    def one(i):
        try:
            with Client(server.http) as client:
                client.set_support([IMAGE], [MASK])
                results[i] = client.segment(same_size[i])
        except Exception as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    after = stats()
    inferences, executions = after[0] - before[0], after[1] - before[1]
    assert inferences == 6 and executions < 6  # Triton grouped them
    for mask in results.values():
        np.testing.assert_array_equal(mask, expected[0])


def _raw_segment(server, query, support_id, dtype="UINT8"):
    client = http.InferenceServerClient(server.http.removeprefix("http://"))
    inputs = [http.InferInput(p.QUERY, list(query.shape), dtype), http.InferInput(p.SUPPORT_ID, [len(query), 1], "BYTES")]
    inputs[0].set_data_from_numpy(query)
    inputs[1].set_data_from_numpy(np.array([[support_id.encode()]] * len(query), dtype=object))
    return client.infer(p.SEGMENT_MODEL, inputs, outputs=[http.InferRequestedOutput(p.MASK)])


def _raw_register(server, shots: dict):
    client = http.InferenceServerClient(server.http.removeprefix("http://"))
    inputs = []
    for name, array in shots.items():
        inputs.append(http.InferInput(name, list(array.shape), "UINT8" if array.dtype == np.uint8 else "UINT16"))
        inputs[-1].set_data_from_numpy(array)
    return client.infer(p.SUPPORT_MODEL, inputs)


def test_every_bad_request_is_answered_and_the_next_good_one_served(server, expected):
    good = _raw_register(server, {"image_1": IMAGE, "mask_1": MASK}).as_numpy(p.SUPPORT_ID)[0].decode()
    bad = {
        "wrong dtype": (lambda: _raw_segment(server, QUERIES[0][None].astype(np.uint16), good, "UINT16"), "data-type is 'UINT16', but model 'hsnet_segment' expects 'UINT8'"),
        "wrong rank": (lambda: _raw_segment(server, np.zeros((1, 20, 20), np.uint8), good), "Expected [-1,-1,-1,3], got [1,20,20]"),
        "wrong channels": (lambda: _raw_segment(server, np.zeros((1, 20, 20, 4), np.uint8), good), "Expected [-1,-1,-1,3], got [1,20,20,4]"),
        "unknown id": (lambda: _raw_segment(server, QUERIES[0][None], "0" * 64), "unknown support_id"),
        "oversized": (lambda: _raw_segment(server, np.zeros((1, 600, 20, 3), np.uint8), good), "larger than this server's limit of 512"),
        "empty mask": (lambda: _raw_register(server, {"image_1": IMAGE, "mask_1": MASK * 0}), "mask mask_1 is empty"),
        "non-binary": (lambda: _raw_register(server, {"image_1": IMAGE, "mask_1": MASK * 7}), "mask mask_1 is not binary"),
        "mask dtype": (lambda: _raw_register(server, {"image_1": IMAGE, "mask_1": MASK.astype(np.uint16)}), "input 'mask_1' data-type is 'UINT16'"),
        "too many shots": (lambda: _raw_register(server, {f"{k}_{i}": a for i in (1, 2, 3) for k, a in (("image", IMAGE), ("mask", MASK))}),
                           "expected number of inputs between 2 and 4 but got 6"),
    }
    for name, (send, reason) in bad.items():
        with pytest.raises(Exception) as refused:
            send()
        assert reason in str(refused.value), (name, str(refused.value)[:300])
        assert _raw_segment(server, QUERIES[0][None], good).as_numpy(p.MASK)[0].tolist() == expected[0].tolist(), name


def test_the_client_reads_the_reason_in_one_line(server):
    with Client(server.grpc) as client:
        with pytest.raises(UserError) as refused:
            client.set_support([IMAGE], [MASK[:, :9]])
        assert str(refused.value) == "mask mask_1 is 9x30 but its image image_1 is 41x30"  # the server's reason alone
        with pytest.raises(UserError) as refused:
            client.set_support([IMAGE, IMAGE, IMAGE], [MASK] * 3)  # Triton's own check: its message's first line
        assert "\n" not in str(refused.value) and "expected number of inputs between 2 and 4" in str(refused.value)


def test_admin_endpoints_need_the_token_and_health_and_metrics_are_open(server):
    assert _get(f"{server.http}/v2/health/ready")[0] == 200
    assert _get(f"{server.http}/v2/models/{p.SEGMENT_MODEL}/stats")[0] == 403
    assert _get(f"{server.http}/v2/models/{p.SEGMENT_MODEL}/stats", "wrong-token-0123456789")[0] == 403
    assert _get(f"{server.http}/v2/logging")[0] == 403
    request = urllib.request.Request(f"{server.http}/v2/repository/index", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 403
    status, metrics = _get(server.metrics)
    assert status == 200 and f'nv_inference_count{{model="{p.SEGMENT_MODEL}"' in metrics


def test_a_restarted_server_gets_the_support_set_again(model, expected, tmp_path):
    first = start_serve(model, tmp_path, ["--drain-timeout-s", "2"])
    try:
        with Client(first.http) as client:
            client.set_support([IMAGE], [MASK])
            np.testing.assert_array_equal(client.segment(QUERIES[1]), expected[1])
            left = ROOT / f"pid-{first.process.pid}"
            assert left.is_dir()
            first.stop(signal.SIGKILL)
            wait_ports_free(first.ports)
            second = start_serve(model, tmp_path, ports=first.ports)
            try:
                np.testing.assert_array_equal(client.segment(QUERIES[2]), expected[2])
                assert client.registrations == 2
                assert not left.exists() and processes_under(left) == []  # cleaned by the second start
            finally:
                assert second.stop() == 0
    finally:
        first.stop(signal.SIGKILL)


def test_two_replicas_behind_a_round_robin_client(model, expected, tmp_path):
    replicas = [start_serve(model, tmp_path), start_serve(model, tmp_path)]
    try:
        with Client([r.http for r in replicas]) as client:
            client.set_support([IMAGE], [MASK])
            for query, mask in zip(QUERIES, expected):
                np.testing.assert_array_equal(client.segment(query), mask)
            assert client.registrations == 2  # once each: the second replica learned it from its first miss
    finally:
        for replica in replicas:
            assert replica.stop() == 0


def test_sigterm_finishes_accepted_requests_and_refuses_new_ones(model, expected, tmp_path):
    served = start_serve(model, tmp_path, ["--max-queue-delay-us", "1500000", "--max-batch-size", "64"])
    results, errors = [], []

    def one():
        try:
            with Client(served.http) as client:
                client.set_support([IMAGE], [MASK])
                results.append(client.segment(QUERIES[0]))
        except Exception as err:  # noqa: BLE001
            errors.append(err)

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.0)  # registered, and queued in the batcher for 1.5 s
    served.process.send_signal(signal.SIGTERM)
    for t in threads:
        t.join()
    time.sleep(0.5)
    with pytest.raises(UserError):
        with Client(served.http, timeout_s=5) as late:
            late.set_support([IMAGE], [MASK])
    assert served.stop() == 0
    assert not errors and len(results) == 4
    for mask in results:
        np.testing.assert_array_equal(mask, expected[0])
    assert "stopping: finishing accepted requests" in served.output()


def test_a_port_in_use_is_one_line_before_anything_loads(model, tmp_path):
    import socket
    import subprocess
    import sys

    ports = free_ports(3)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", ports[1]))
        busy.listen()
        done = subprocess.run([sys.executable, "-m", "hsnet_deploy", "serve", str(model), "--http-port", str(ports[0]),
                               "--grpc-port", str(ports[1]), "--metrics-port", str(ports[2])], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip() == (f"hsnet-deploy serve: error: cannot listen on 127.0.0.1:{ports[1]} (--grpc-port): "
                                   "Address already in use")


def test_run_through_the_server_writes_what_run_writes_locally(server, model, tmp_path, capsys):
    from hsnet_deploy.cli import main
    from PIL import Image

    Image.fromarray(IMAGE).save(tmp_path / "s.png")
    Image.fromarray(MASK * 255).save(tmp_path / "m.png")
    (tmp_path / "q").mkdir()
    for i, query in enumerate(QUERIES[:3]):
        Image.fromarray(query).save(tmp_path / "q" / f"{i}.png")
    common = ["--query", str(tmp_path / "q"), "--support", str(tmp_path / "s.png"), "--mask", str(tmp_path / "m.png")]
    assert main(["run", str(model), *common, "-o", str(tmp_path / "local")]) == 0
    assert main(["run", "--server", server.grpc, *common, "-o", str(tmp_path / "served")]) == 0
    for i in range(3):
        local, served = (np.asarray(Image.open(tmp_path / d / f"{i}.png")) for d in ("local", "served"))
        np.testing.assert_array_equal(local, served)
    capsys.readouterr()
    assert main(["run", "--server", server.http, "--threads", "2", *common, "-o", str(tmp_path / "x")]) == 2
    assert main(["run", *common, "-o", str(tmp_path / "y")]) == 2
    assert main(["run", "--server", "ftp://host:1", *common, "-o", str(tmp_path / "z")]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert errors == [
        "hsnet-deploy run: error: --threads applies only to a local MODEL (with --server, the server's own options decide)",
        "hsnet-deploy run: error: give a MODEL file, or --server URL to segment through a running 'hsnet-deploy serve' (not both)",
        "hsnet-deploy run: error: --server must be http://HOST:PORT or grpc://HOST:PORT, got 'ftp://host:1'",
    ]
    assert not any((tmp_path / d).exists() for d in "xyz")


def test_openvino_serves_the_same_masks(model, expected, tmp_path):
    pytest.importorskip("openvino")
    served = start_serve(model, tmp_path, ["--onnx-backend", "openvino", "--openvino-precision", "f32"])
    try:
        assert "Segmenter(openvino" in served.output()
        with Client(served.http) as client:
            client.set_support([IMAGE], [MASK])
            for query, mask in zip(QUERIES, expected):
                np.testing.assert_array_equal(client.segment(query), mask)
    finally:
        assert served.stop() == 0


@pytest.mark.parametrize("which", ["episode graph only", "checkpoint"])
def test_serve_refuses_what_is_not_a_split_export_and_writes_nothing(tmp_path, capsys, which):
    from helpers.fake_graphs import make_episode_graph

    from hsnet_deploy.cli import main

    model = str(make_episode_graph(tmp_path / "e.onnx")) if which == "episode graph only" else "reference"
    token = tmp_path / "admin.token"
    assert main(["serve", model, "--token-file", str(token)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    expected = "split export (support encoder + query graph)" if which == "episode graph only" else "not a PyTorch checkpoint"
    assert expected in line and not token.exists()
