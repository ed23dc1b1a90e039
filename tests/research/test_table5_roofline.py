"""The research scripts outside the package still run: Table 5 and the roofline estimates."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import roofline  # noqa: E402  (tools/research, on the path by conftest)
import table5  # noqa: E402


@pytest.mark.slow
def test_table5_measures_both_learners_beside_the_paper():
    t5 = table5.run_table5(64, torch.device("cpu"), iters=1)
    cp, dense = t5["rows"]
    assert cp["kernel"] == "center-pivot" and dense["kernel"] == "dense"
    assert dense["params"] > cp["params"] and dense["gmacs"] > cp["gmacs"] and dense["gmacs_400"] > cp["gmacs_400"]
    assert t5["paper"]["dense"]["gflops"] == 702.35  # printed beside ours, labelled as the paper's
    assert "PAPER" in table5.table5_section(t5)


def test_roofline_estimates_every_target_and_path():
    from hsnet_deploy.benchmarks.path_costs import count_path_costs

    roof = roofline.roofline_estimates(count_path_costs("resnet50", 96, (1,)))
    assert "ESTIMATE" in roof["label"]
    targets = {t["name"] for t in roof["targets"]}
    assert any("Orin Nano" in t for t in targets) and any("H100" in t for t in targets)
    for est in roof["estimates"]:
        assert est["target"] in targets and est["precision"] in ("fp16", "int8") and est["total_ms"] > 0
    assert "Jetson" in roofline.roofline_section(roof)
