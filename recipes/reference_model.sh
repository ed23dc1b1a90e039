#!/usr/bin/env bash
# The reference HSNet: trained on the synthetic dataset's training classes (0-19) on a CPU,
# evaluated 1-shot and 5-shot on its held-out test classes (20-29), next to the untrained
# model (same seeded backbone, freshly initialised learner) on the very same episodes.
#
#   recipes/reference_model.sh [OUT]          (default OUT=runs/reference)
#
# The backbone is a ResNet50 with RANDOM weights drawn from --seed 0 (no ImageNet weights
# are used or downloaded): hsnet_deploy.hsnet.training.seeded_model describes exactly how.
# It is frozen, so best_model.pt holds this backbone as well. --threads 1: on a 2-core
# machine that anything else is using, two OpenMP threads spin against each other
# (measured here: ~25x slower per step); on an idle machine --threads 2 is a bit faster.
set -euo pipefail
OUT=${1:-runs/reference}
mkdir -p "$OUT"

# The one training command (the README's):
hsnet-deploy train --out "$OUT" --benchmark synthetic --backbone resnet50 --img-size 96 \
    --batch-size 8 --cache-features --cache-episodes 1000 --iters 3000 --epoch-size 1600 \
    --val-episodes 200 --seed 0 --threads 1 --save-initial

# Held-out classes, official protocol (seed 0, episodes in order, network-size scoring):
for K in 1 5; do
    hsnet-deploy eval "$OUT/best_model.pt" --benchmark synthetic --nshot "$K" --img-size 96 \
        --episodes 1000 --threads 1 --device cpu --json "$OUT/eval_${K}shot.json" \
        --grid "$OUT/eval_${K}shot.png"
    hsnet-deploy eval "$OUT/initial_model.pt" --benchmark synthetic --nshot "$K" --img-size 96 \
        --episodes 1000 --threads 1 --device cpu --json "$OUT/baseline_${K}shot.json"
done
