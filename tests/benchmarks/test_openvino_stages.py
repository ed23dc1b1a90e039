"""OpenVINO's node names onto the ONNX graph's stages."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from hsnet_deploy.benchmarks.openvino_stages import per_stage_seconds, stage_lookup

STAGES = {"/conv1/Conv": "query backbone", "/hpn_learner/encoder_layer4/Conv": "squeezing blocks",
          "/hpn_learner/encoder_layer4/Conv_1": "mixing blocks", "": "correlation"}


def test_an_openvino_node_takes_the_stage_of_the_longest_onnx_name_in_it():
    stage = stage_lookup(STAGES)
    assert stage("/conv1/Conv") == "query backbone"  # exact
    assert stage("/conv1/Conv/WithoutBiases") == "query backbone"  # a suffix added by the plugin
    assert stage("query_img_abcd_acdb_/conv1/Conv/WithoutBiases") == "query backbone"  # a layout reorder
    assert stage("/hpn_learner/encoder_layer4/Conv_1/WithoutBiases") == "mixing blocks"  # longest, not first
    assert stage("Result_1234") == "unattributed"  # an empty ONNX name never matches everything


def test_seconds_are_summed_per_stage_and_unnamed_nodes_join_the_stage_they_run_in():
    info = [SimpleNamespace(node_name=n, real_time=timedelta(microseconds=us)) for n, us in
            [("Multiply_1", 7), ("/conv1/Conv/WithoutBiases", 300), ("query_img_abcd_/conv1/Conv", 100),
             ("Power_2", 50), ("/hpn_learner/encoder_layer4/Conv/WithoutBiases", 25), ("Multiply_3", 5)]]
    seconds = per_stage_seconds(info, stage_lookup(STAGES))
    assert seconds == pytest.approx({"unattributed": 7e-6, "query backbone": 450e-6, "squeezing blocks": 30e-6})
