#!/usr/bin/env bash
# The GPU evidence the speed issue asks for, as one prepared script for a lent GPU machine
# (the `device` tool: one call, <= 10 minutes). NOT RUN YET: no GPU has been lent to this
# project so far; the first run's numbers go to README's Speed section.
#
#   recipes/gpu_speed.sh [OUT]        (default OUT=${OUT:-runs/gpu})
#
# For ResNet50 and ResNet101 at 400x400, 1-shot, random weights: official eager FP32
# (the baseline), PyTorch batched-K and cached-support in FP32, FP16 autocast, CUDA graph
# FP32 and CUDA graph FP16 (bench's CUDA rows), each per episode and per cached-support
# query, with the per-stage table and the measured FP32 / FP16 GEMM peaks of the GPU.
# torch.compile is not one of bench's configurations yet, so it is not measured here.
# Each model gets a JSON and the two charts; the text reports go to OUT/*.txt.
set -euo pipefail
OUT=${1:-${OUT:-runs/gpu}}
mkdir -p "$OUT"
python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'recipes/gpu_speed.sh: no CUDA device visible to PyTorch')"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,power.draw --format=csv > "$OUT/gpu.csv" || true
for backbone in resnet50 resnet101; do
  hsnet-deploy bench torch --backbone "$backbone" --device cuda --img-size 400 --shots 1 \
      --iters 20 --warmup 3 --stage-iters 3 \
      --json "$OUT/$backbone.json" --plot "$OUT/$backbone.png" | tee "$OUT/$backbone.txt"
done
# the paper's Table 5 on the GPU (research, outside the installed package)
python "$(dirname "$0")/../tools/research/table5.py" --size 400 --iters 3 --device cuda | tee "$OUT/table5.txt"
