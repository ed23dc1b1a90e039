#!/usr/bin/env bash
# The reference HSNet shipped in the package (hsnet/reference_weights/): trained on the
# synthetic dataset's training classes (0-19) on a CPU, in two stages, then stored as its
# float16 learner and scored 1-shot and 5-shot on the held-out classes (20-29) at its
# training size, next to the untrained learner (same seeded backbone) on the same episodes.
#
#   recipes/reference_model.sh [OUT]          (default OUT=runs/reference)
#
# Stage 1 trains at 96x96 (cheap: the learner's cost grows with the 4th power of the side);
# stage 2 continues the same learner at 200x200 (the learner is size-agnostic), the size
# the model is shipped and scored at. The backbone is a ResNet50 with RANDOM weights drawn
# from --seed 0 (no ImageNet weights are used or downloaded; hsnet/training/seeded_model.py
# says exactly how), frozen. --threads 1 everywhere: the runs are then bit-for-bit
# reproducible, and on a 2-core machine that anything else is using two OpenMP threads
# spin against each other.
set -euo pipefail
OUT=${1:-runs/reference}
SIZE=200
mkdir -p "$OUT"
start=$(date +%s)

hsnet-deploy train --out "$OUT/stage1" --benchmark synthetic --synthetic-size "$SIZE" --backbone resnet50 \
    --img-size 96 --batch-size 8 --cache-features --cache-episodes 1000 --iters 4000 --epoch-size 1600 \
    --val-episodes 200 --seed 0 --threads 1 --save-initial

hsnet-deploy train --out "$OUT/stage2" --benchmark synthetic --synthetic-size "$SIZE" --backbone resnet50 \
    --img-size "$SIZE" --batch-size 8 --lr 5e-4 --cache-features --cache-episodes 400 --iters 600 --epoch-size 800 \
    --val-episodes 100 --seed 0 --threads 1 --init-from "$OUT/stage1/best_model.pt"
echo "training: $(( $(date +%s) - start )) s"

# The shipped files: the float16 learner + its record (what `--checkpoint reference` loads),
# and the full model rebuilt from them, to score exactly what ships.
python "$(dirname "$0")/ship_reference.py" ship "$OUT/stage2/best_model.pt" "$OUT/hsnet_resnet50_synthetic.npz" \
    --img-size "$SIZE" --synthetic-size "$SIZE" --seed 0      # says whether it equals the shipped file
python "$(dirname "$0")/ship_reference.py" assemble "$OUT/hsnet_resnet50_synthetic.npz" "$OUT/shipped_model.pt"

# Held-out classes, official protocol (seed 0, episodes in order, network-size scoring),
# the shipped weights (as loaded by `--checkpoint reference`) and the untrained learner.
# (1-shot on one thread, 5-shot on two: the figures in README were taken so.)
for K in 1 5; do
    T=$([ "$K" = 1 ] && echo 1 || echo 2)
    hsnet-deploy eval "$OUT/shipped_model.pt" --benchmark synthetic --synthetic-size "$SIZE" --nshot "$K" \
        --img-size "$SIZE" --episodes 1000 --threads "$T" --device cpu --json "$OUT/eval_${K}shot.json" \
        --grid "$OUT/eval_${K}shot.png"
    hsnet-deploy eval "$OUT/stage1/initial_model.pt" --benchmark synthetic --synthetic-size "$SIZE" --nshot "$K" \
        --img-size "$SIZE" --episodes 1000 --threads "$T" --device cpu --json "$OUT/baseline_${K}shot.json"
done
echo "total: $(( $(date +%s) - start )) s"
