"""The two served models as functions (no server): the Segmenter's numbers, and every bad
request refused with its reason."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.fake_graphs import make_episode_graph, make_split_export, make_split_graphs
from hsnet_deploy.errors import UserError
from hsnet_deploy.runtime.segmenter import Segmenter
from hsnet_deploy.serving import protocol as p
from hsnet_deploy.serving.handlers import Handlers, Refused
from hsnet_deploy.serving.limits import ServeLimits
from hsnet_deploy.serving.support_cache import SupportCache

RNG = np.random.default_rng(0)
IMAGE = RNG.integers(0, 255, (30, 41, 3), dtype=np.uint8)
MASK = np.zeros((30, 41), np.uint8)
MASK[4:20, 6:30] = 1
IMAGE2 = RNG.integers(0, 255, (22, 17, 3), dtype=np.uint8)
MASK2 = np.zeros((22, 17), np.uint8)
MASK2[2:9, 3:12] = 255
QUERIES = [RNG.integers(0, 255, (25, 33, 3), dtype=np.uint8) for _ in range(3)]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return make_split_export(tmp_path_factory.mktemp("served"))


@pytest.fixture
def handlers(model):
    with Segmenter.load(model) as segmenter:
        yield Handlers(segmenter, SupportCache(2**20), ServeLimits(max_side=64, max_shots=3), "key")


def _support(*shots):
    request = {}
    for i, (image, mask) in enumerate(shots, 1):
        request[p.image_input(i)], request[p.mask_input(i)] = image, mask
    return request


def _query(images, support_id):
    return {p.QUERY: np.stack(images), p.SUPPORT_ID: np.array([[support_id.encode()]] * len(images), dtype=object)}


def _register(handlers, *shots) -> str:
    return handlers.register([_support(*shots)])[0][p.SUPPORT_ID][0].decode()


def test_served_masks_and_logits_equal_the_segmenter_s(handlers, model):
    support_id = _register(handlers, (IMAGE, MASK), (IMAGE2, MASK2))
    with Segmenter.load(model) as reference:
        reference.set_support([IMAGE, IMAGE2], [MASK, MASK2])

        class Request(dict):  # as PyTriton hands one over
            def __init__(self, data, parameters=None, named=None):
                super().__init__(data)
                self.data, self.parameters, self.requested_output_names = data, parameters, named

        out = handlers.segment([Request(_query(QUERIES[:2], support_id), {"logits": True}, [p.MASK, p.LOGITS]),
                                Request(_query(QUERIES[2:], support_id), None, [p.MASK, p.LOGITS])])
        assert out[0][p.MASK].shape == (2, 25, 33) and out[0][p.MASK].dtype == np.uint8
        for got, query in zip([*out[0][p.MASK], *out[1][p.MASK]], QUERIES):
            np.testing.assert_array_equal(got, reference.segment(query))
        np.testing.assert_allclose(out[0][p.LOGITS][1], reference.segment_logits(QUERIES[1]), atol=1e-6)
        assert p.LOGITS not in out[1]  # named among all outputs, but not asked for: not computed
        asked_but_left_out = Request(_query(QUERIES[2:], support_id), {"logits": True}, [p.MASK])
        assert p.LOGITS not in handlers.segment([asked_but_left_out])[0]


def test_queries_sharing_a_support_set_are_one_graph_call(handlers):
    first = _register(handlers, (IMAGE, MASK))
    second = _register(handlers, (IMAGE2, MASK2))
    calls = []
    infer = handlers.segmenter.runners["query"].infer
    handlers.segmenter.runners["query"].infer = lambda feed: calls.append(len(feed["query_img"])) or infer(feed)
    handlers.segment([_query([QUERIES[0]], first), _query([QUERIES[1]], second), _query([QUERIES[2]], first)])
    assert sorted(calls) == [1, 2]  # two sets: two calls, the first one batched


def test_registering_again_gives_the_same_id_without_encoding_again(handlers):
    first = _register(handlers, (IMAGE, MASK))
    handlers.segmenter.runners["support_encoder"].infer = lambda feed: pytest.fail("encoded twice")
    assert _register(handlers, (IMAGE, MASK * 255)) == first


def test_a_cached_set_does_not_let_a_bad_mask_through(handlers):
    _register(handlers, (IMAGE, MASK))
    with pytest.raises(Refused, match="mask mask_1 is not binary"):  # hashes like MASK: same foreground
        handlers.register([_support((IMAGE, MASK * 7))])


@pytest.mark.parametrize("request_, reason", [
    (_support((IMAGE, MASK * 0)), "mask mask_1 is empty"),
    (_support((IMAGE, MASK * 3)), "mask mask_1 is not binary"),
    (_support((IMAGE, MASK[:10])), "mask mask_1 is 41x10 but its image image_1 is 41x30"),
    (_support((np.zeros((65, 10, 3), np.uint8), np.ones((65, 10), np.uint8))), "image_1 is 10x65, larger than this server's limit of 64"),
    (_support((IMAGE, MASK), (IMAGE, MASK), (IMAGE, MASK), (IMAGE, MASK)), "at most 3 shots"),
    ({p.image_input(1): IMAGE, p.mask_input(1): MASK, p.image_input(3): IMAGE, p.mask_input(3): MASK}, "shots must be numbered from 1 without gaps"),
    ({p.image_input(1): IMAGE, p.mask_input(1): MASK, p.image_input(2): IMAGE}, "shot 2 has no mask"),
    (_support((IMAGE.astype(np.float32), MASK)), "image_1 must be (h, w, 3) uint8"),
])
def test_a_bad_support_set_is_refused_with_its_reason(handlers, request_, reason):
    with pytest.raises(Refused) as refused:
        handlers.register([request_])
    assert p.refusal_of(str(refused.value)).startswith(reason)
    assert handlers.cache.stats().entries == 0


def test_a_k_the_graph_was_not_exported_for_is_refused(tmp_path):
    episode = make_episode_graph(tmp_path / "k1.onnx", shots=1)
    make_split_graphs(episode, shots=1)
    with Segmenter.load(episode) as segmenter:
        handlers = Handlers(segmenter, SupportCache(2**20), ServeLimits(), "key")
        with pytest.raises(Refused, match="exported for 1-shot episodes but 2 support image"):
            handlers.register([_support((IMAGE, MASK), (IMAGE2, MASK2))])


def test_an_unknown_id_fails_its_batch_and_names_the_batch_mates(handlers):
    known = _register(handlers, (IMAGE, MASK))
    with pytest.raises(Refused) as alone:
        handlers.segment([_query([QUERIES[0]], "f" * 64)])
    assert p.refusal_of(str(alone.value)).startswith(f"{p.UNKNOWN_SUPPORT} 'ffffffffffffffff': register the support set again")
    assert p.BATCH_MATE not in str(alone.value)
    with pytest.raises(Refused) as batched:
        handlers.segment([_query([QUERIES[0]], known), _query([QUERIES[1]], "f" * 64)])
    assert "request 2 of the 2 in this dynamic batch" in str(batched.value) and p.BATCH_MATE in str(batched.value)


def test_an_oversized_query_is_refused_before_it_is_resized(handlers):
    known = _register(handlers, (IMAGE, MASK))
    handlers.segmenter.prepare_queries = lambda *a: pytest.fail("resized")
    with pytest.raises(Refused, match="query is 70x20, larger than this server's limit of 64"):
        handlers.segment([_query([np.zeros((20, 70, 3), np.uint8)], known)])


def test_an_evicted_set_is_unknown_never_another_set(model):
    with Segmenter.load(model) as segmenter:
        handlers = Handlers(segmenter, SupportCache(1), ServeLimits(), "key")  # holds nothing
        with pytest.raises(Refused, match="more than the server's whole support cache"):
            handlers.register([_support((IMAGE, MASK))])


def test_serving_needs_a_split_export(tmp_path):
    with Segmenter.load(make_episode_graph(tmp_path / "e.onnx")) as segmenter:
        with pytest.raises(UserError, match="split export"):
            Handlers(segmenter, SupportCache(100), ServeLimits(), "key")


def test_the_client_refuses_an_empty_or_uneven_support_set_before_sending():
    pytest.importorskip("tritonclient.http")
    from hsnet_deploy.serving.client import Client

    client = Client("http://127.0.0.1:9")  # nothing listens there: nothing may be sent
    with pytest.raises(UserError, match="no support image given"):
        client.set_support([], [])
    with pytest.raises(UserError, match="1 support image\\(s\\) but 2 mask\\(s\\)"):
        client.set_support([IMAGE], [MASK, MASK])
    with pytest.raises(UserError, match="no support set: call set_support"):
        client.segment(QUERIES[0])
    client.close()
