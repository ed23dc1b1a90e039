"""Episodic 1-shot training of HSNet's learner, as in the paper.

Per step, B 1-shot episodes (query q, support s with mask m, query label y):

    z = HSNet(q, s, m)                       (B, 2, S, S) logits; backbone frozen, eval mode
    loss = mean over pixels p and episodes of  -log softmax(z)[y_p, p]
    Adam(learner parameters, lr 1e-3) step

y is the query label at the network size (legacy nearest), the ignore label 255 counted
as background as in the official training. With several ``train_sizes`` each step draws
its network side S from them (uniformly, from the run's own generator, so a resumed run
draws the same sides): the learner is size-agnostic, but what it learns is not, and a
learner trained at one side alone predicts nothing a few sizes away. With
``cache_features`` the backbone never runs during training: z comes from the cached
features of a fixed image pool (:mod:`.feature_cache`), query/support pairs redrawn each
step.

An epoch is ``ceil(epoch_size / B)`` steps. After every epoch (and after the last step),
the model is validated on fixed held-out episodes: mIoU / FB-IoU with the official
accumulator at the network size (argmax, i.e. the 1-shot vote). The best validation mIoU
so far is saved as ``best_model.pt`` (official layout, loadable by ``load_hsnet``);
``last_state.pt`` (optimizer, RNG, counters, log) makes ``--resume`` continue the very
same run; ``log.csv`` has one row per validation.
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from torch.nn import functional as F

from ...errors import UserError
from ...runtime.pytorch.loader import choose_torch_device
from ..evaluation.metrics import MIoUAccumulator
from .episode_sources import DataConfig, TrainingData
from .episodes import collate_episodes, training_target
from .feature_cache import (
    PairSampler,
    build_feature_store,
    bytes_per_image,
    pool_images,
    store_logits,
)
from .seeded_model import backbone_fingerprint
from .train_state import (
    load_state,
    rng_state_from_tensors,
    rng_state_to_tensors,
    save_state,
)

BEST = "best_model.pt"
LAST = "last_state.pt"
LOG = "log.csv"
INITIAL = "initial_model.pt"
SUMMARY = "train_summary.json"
LOG_FIELDS = ("epoch", "step", "episodes", "train_loss", "train_miou", "val_loss", "val_miou",
              "val_fbiou", "best_miou", "lr", "elapsed_s")
# Settings a resumed run must share with the run it continues.
RESUME_KEYS = ("backbone", "backbone_weights", "img_size", "train_sizes", "val_sizes", "batch_size", "lr",
               "epoch_size", "cache_features", "cache_episodes", "cache_dtype", "seed", "data", "init_from")


@dataclass
class TrainConfig:
    out_dir: str
    data: DataConfig = field(default_factory=DataConfig)
    backbone: str = "resnet50"
    backbone_weights: Optional[str] = None
    img_size: int = 400
    train_sizes: Optional[Tuple[int, ...]] = None  # sides drawn per step (default: img_size alone)
    val_sizes: Optional[Tuple[int, ...]] = None  # sides validated at, mIoU averaged (default: img_size)
    batch_size: int = 8
    lr: float = 1e-3
    epochs: Optional[int] = None  # default 10 when iters is None
    iters: Optional[int] = None  # total optimizer steps (across resumes)
    epoch_size: Optional[int] = None  # episodes per epoch; default 1000 (synthetic) / trn split size
    cache_features: bool = False
    cache_episodes: int = 1000
    cache_dtype: str = "float16"
    seed: int = 0
    device: str = "auto"
    init_from: Optional[str] = None  # start the learner from this checkpoint's (same backbone)
    resume: bool = False
    save_initial: bool = False
    tensorboard: bool = False
    progress: bool = True

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def sizes(self) -> Tuple[int, ...]:
        return tuple(self.train_sizes) if self.train_sizes else (self.img_size,)

    @property
    def validation_sizes(self) -> Tuple[int, ...]:
        return tuple(self.val_sizes) if self.val_sizes else (self.img_size,)


def pixel_cross_entropy(logits: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    """logits (B, 2, S, S), label (B, S, S) {0, 1, 255} -> mean pixel cross-entropy."""
    return F.cross_entropy(logits, training_target(label).to(logits.device))


class Trainer:
    """Builds everything from a :class:`TrainConfig`; :meth:`fit` runs (or resumes) it."""

    def __init__(self, config: TrainConfig, model=None) -> None:
        from ...runtime.image_size import check_image_size
        from .seeded_model import build_model

        self.config = c = config
        if c.batch_size < 1:
            raise UserError(f"--batch-size must be at least 1, got {c.batch_size}")
        if c.lr <= 0:
            raise UserError(f"--lr must be positive, got {c.lr}")
        if c.epochs is not None and c.epochs < 1 or c.iters is not None and c.iters < 1:
            raise UserError("--epochs and --iters must be at least 1")
        if c.cache_features and c.cache_episodes < 1:
            raise UserError("--cache-episodes must be at least 1")
        for side in {c.img_size, *c.sizes, *c.validation_sizes}:
            check_image_size(side, side, c.backbone)
        if c.cache_features and {*c.sizes, *c.validation_sizes} != {c.img_size}:
            raise UserError("--train-sizes / --val-sizes need the backbone at every step: they do not apply with "
                            "--cache-features, which caches one size (--img-size)")
        from ...output_paths import check_output_folder

        self.out = check_output_folder(Path(c.out_dir), "--out", make_parents=True)  # a folder that takes files, or can be made
        if not c.resume and (self.out / LAST).exists():
            raise UserError(f"{self.out} already holds a training run ({LAST}); pass --resume to continue it "
                            "or choose another --out")
        self._saved = self._read_resume_state() if c.resume else None
        self.device = choose_torch_device(c.device)
        self.data = TrainingData(c.data)
        self.model = (model if model is not None else build_model(c.backbone, c.seed, c.backbone_weights))
        self.model.to(self.device).train()
        self.optimizer = torch.optim.Adam([p for p in self.model.hpn_learner.parameters()], lr=c.lr)
        size = c.epoch_size if c.epoch_size is not None else (1000 if self.data.is_synthetic else len(self.data.train))
        if size < 1:
            raise UserError(f"--epoch-size must be at least 1, got {size}")
        self.iters_per_epoch = math.ceil(size / c.batch_size)
        self.total_steps = c.iters if c.iters is not None else (c.epochs or 10) * self.iters_per_epoch

        # Counters and RNG (replaced from last_state.pt on --resume).
        self.step = 0
        self.episodes = 0
        self.best_miou = -1.0
        self.best_step = 0
        self.elapsed = 0.0
        self.log: List[Dict[str, float]] = []
        self.rng = np.random.RandomState(c.seed)
        self.train_store = self.val_store = self.sampler = None
        self._tb = None

    # ------------------------------------------------------------------ set-up
    @property
    def backbone_sha256(self) -> str:
        """Fingerprint of the frozen backbone (computed once)."""
        if getattr(self, "_backbone_sha256", None) is None:
            self._backbone_sha256 = backbone_fingerprint(self.model)
        return self._backbone_sha256

    def _read_resume_state(self) -> dict:
        state = load_state(self.out / LAST)
        saved = state["config"]
        now = self.config.to_dict()
        changed = [k for k in RESUME_KEYS if saved.get(k) != now.get(k)]
        if changed:
            raise UserError(f"--resume with different settings than the saved run: {', '.join(changed)} "
                            f"(saved: {', '.join(f'{k}={saved.get(k)!r}' for k in changed)})")
        return state

    def _resume(self) -> None:
        state, self._saved = self._saved, None
        if state["backbone_sha256"] != self.backbone_sha256:
            raise UserError(f"--resume: the backbone built now differs from the one {self.out / LAST} was trained "
                            "with (other --backbone-weights file, or another PyTorch version's initialisation)")
        self.model.hpn_learner.load_state_dict(state["learner"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step, self.episodes = int(state["step"]), int(state["episodes"])
        self.best_miou, self.best_step = float(state["best_miou"]), int(state["best_step"])
        self.elapsed = float(state["elapsed_s"])
        self.log = list(state["log"])
        self.rng = rng_state_from_tensors(state["data_rng"])
        torch.set_rng_state(state["torch_rng"])

    def _init_learner(self, checkpoint: str) -> None:
        """Start from a trained learner (e.g. one trained at a smaller size: the learner
        is size-agnostic); its checkpoint must hold this very backbone."""
        from ..checkpoint import load_hsnet

        if not Path(checkpoint).is_file():
            raise UserError(f"--init-from: checkpoint not found: {checkpoint}")
        start = load_hsnet(backbone=self.config.backbone, checkpoint=checkpoint)
        if backbone_fingerprint(start) != self.backbone_sha256:
            raise UserError(f"--init-from {checkpoint}: its backbone differs from the one built from --seed "
                            f"{self.config.seed} / --backbone-weights; the learner would not fit it")
        self.model.hpn_learner.load_state_dict(start.hpn_learner.state_dict())

    def _build_caches(self) -> None:
        c = self.config
        per_image = bytes_per_image(c.backbone, c.img_size, c.cache_dtype)
        train_images = pool_images(self.data.pool_episodes(c.cache_episodes))
        val_images = pool_images(self.data.val_episodes(), dedupe=False)  # (query, support) per episode
        gb = per_image * (len(train_images) + len(val_images)) / 1e9
        self._say(f"feature cache: {len(train_images)} training + {len(val_images)} validation images, "
                  f"{per_image / 1e6:.2f} MB each ({c.cache_dtype}) = {gb:.2f} GB")
        self.train_store = build_feature_store(self.model, train_images, c.img_size, c.cache_dtype,
                                               device=self.device, progress=c.progress, desc="caching training pool")
        self.val_store = build_feature_store(self.model, val_images, c.img_size, c.cache_dtype,
                                             device=self.device, progress=c.progress, desc="caching validation")
        self.sampler = PairSampler(self.train_store.classes)

    def _say(self, text: str) -> None:
        if self.config.progress:
            from tqdm import tqdm

            tqdm.write(text)

    # ------------------------------------------------------------------ one step
    def forward_train_batch(self):
        """Draw one batch -> (logits (B, 2, S, S), labels (B, S, S), classes (B,))."""
        c = self.config
        if self.sampler is not None:
            q_idx, s_idx = self.sampler.sample(c.batch_size, self.rng)
            logits = store_logits(self.model, self.train_store, q_idx, self.train_store, s_idx, self.device)
            labels, classes = self.train_store.labels[q_idx], self.train_store.classes[q_idx]
        else:
            sizes = c.sizes
            size = sizes[self.rng.randint(len(sizes))] if len(sizes) > 1 else sizes[0]  # one side alone draws nothing
            episodes = [self.data.train_episode(self.episodes + i, self.rng) for i in range(c.batch_size)]
            batch = collate_episodes(episodes, size).to(self.device)
            logits = self.model(batch.query_img, batch.support_imgs, batch.support_masks)
            labels, classes = batch.query_label, batch.class_ids
        self.episodes += c.batch_size
        return logits[:, 0], labels, classes

    def train_step(self) -> tuple:
        self.model.train()
        logits, labels, classes = self.forward_train_batch()
        loss = pixel_cross_entropy(logits, labels)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.step += 1
        return float(loss.detach()), logits.detach(), labels, classes

    # ------------------------------------------------------------------ validation
    @torch.no_grad()
    def validate(self, batch_size: int = 16) -> Dict[str, float]:
        """Loss, mIoU, FB-IoU on the fixed validation episodes (1-shot), averaged over the
        validation sizes; ``val_miou@S`` per size when there are several."""
        sizes = self.config.validation_sizes
        per_size = {size: self._validate_at(size, batch_size) for size in sizes}
        out = {key: float(np.mean([r[key] for r in per_size.values()])) for key in ("val_loss", "val_miou", "val_fbiou")}
        if len(sizes) > 1:
            out.update({f"val_miou@{size}": r["val_miou"] for size, r in per_size.items()})
        return out

    def _validate_at(self, size: int, batch_size: int) -> Dict[str, float]:
        self.model.eval()
        acc = MIoUAccumulator(self.data.val_class_ids)
        losses, count = 0.0, 0
        n = len(self.data.val)
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            if self.val_store is not None:
                q = torch.arange(2 * start, 2 * stop, 2)
                logits = store_logits(self.model, self.val_store, q, self.val_store, q + 1, self.device)[:, 0]
                labels, classes = self.val_store.labels[q], self.val_store.classes[q]
            else:
                batch = collate_episodes([self.data.val.episode(i) for i in range(start, stop)], size).to(self.device)
                logits = self.model(batch.query_img, batch.support_imgs, batch.support_masks)[:, 0]
                labels, classes = batch.query_label, batch.class_ids
            losses += float(pixel_cross_entropy(logits, labels)) * (stop - start)
            count += stop - start
            _accumulate(acc, logits, labels, classes)
        self.model.train()
        return {"val_loss": losses / count, "val_miou": acc.miou(), "val_fbiou": acc.fbiou()}

    # ------------------------------------------------------------------ the loop
    def fit(self) -> Dict[str, object]:
        from tqdm import tqdm

        from ..checkpoint import save_official_checkpoint

        c = self.config
        self.out.mkdir(parents=True, exist_ok=True)
        if c.resume:
            self._resume()
        else:
            if c.init_from:
                self._init_learner(c.init_from)
            if c.save_initial:
                save_official_checkpoint(self.model, self.out / INITIAL)
        if self.step >= self.total_steps:
            self._say(f"nothing to do: step {self.step} already reached --iters/--epochs ({self.total_steps} steps)")
            return self.summary()
        self._open_tensorboard()
        sides = "/".join(map(str, c.sizes))
        self._say(f"{self.data.describe()}; {c.backbone} at {sides}px on {self.device}; "
                  f"{self.iters_per_epoch} steps/epoch, steps {self.step} -> {self.total_steps}")
        if c.cache_features:
            t0 = time.perf_counter()
            self._build_caches()
            self.elapsed += time.perf_counter() - t0

        epoch_loss, epoch_steps = 0.0, 0
        train_acc = MIoUAccumulator(self.data.train_class_ids)
        bar = tqdm(total=self.total_steps, initial=self.step, desc="train", unit="step", disable=not c.progress)
        t_last = time.perf_counter()
        while self.step < self.total_steps:
            loss, logits, labels, classes = self.train_step()
            epoch_loss += loss
            epoch_steps += 1
            _accumulate(train_acc, logits, labels, classes)
            bar.update(1)
            bar.set_postfix(epoch=self.step // self.iters_per_epoch, loss=f"{loss:.3f}",
                            best=f"{max(self.best_miou, 0):.1f}", refresh=False)
            if self.step % self.iters_per_epoch == 0 or self.step == self.total_steps:
                now = time.perf_counter()
                self.elapsed += now - t_last
                row = {"epoch": math.ceil(self.step / self.iters_per_epoch), "step": self.step,
                       "episodes": self.episodes, "train_loss": epoch_loss / epoch_steps,
                       "train_miou": train_acc.miou(), **self.validate(),
                       "lr": self.optimizer.param_groups[0]["lr"]}
                if row["val_miou"] > self.best_miou:
                    self.best_miou, self.best_step = row["val_miou"], self.step
                    save_official_checkpoint(self.model, self.out / BEST)
                self.elapsed += time.perf_counter() - now
                t_last = time.perf_counter()
                row.update(best_miou=self.best_miou, elapsed_s=self.elapsed)
                self.log.append(row)
                self._save_state()
                self._write_log(row)
                if c.progress:
                    bar.write(f"epoch {row['epoch']} step {self.step}: train loss {row['train_loss']:.4f} "
                              f"mIoU {row['train_miou']:.1f} | val loss {row['val_loss']:.4f} "
                              f"mIoU {row['val_miou']:.2f}{_per_size(row)} FB-IoU {row['val_fbiou']:.2f} | "
                              f"best {self.best_miou:.2f} (step {self.best_step}) | {self.elapsed:.0f} s")
                epoch_loss, epoch_steps = 0.0, 0
                train_acc = MIoUAccumulator(self.data.train_class_ids)
        bar.close()
        summary = self.summary()
        from ...atomic_file import write_text_atomic

        write_text_atomic(self.out / SUMMARY, json.dumps(summary, indent=2) + "\n")
        if self._tb is not None:
            self._tb.close()
        return summary

    def summary(self) -> Dict[str, object]:
        return {"best_miou": self.best_miou, "best_step": self.best_step, "steps": self.step,
                "episodes": self.episodes, "elapsed_s": self.elapsed,
                "best_model": str(self.out / BEST), "last_state": str(self.out / LAST),
                "log": str(self.out / LOG), "config": self.config.to_dict(),
                "torch": torch.__version__, "threads": torch.get_num_threads(),
                "last": self.log[-1] if self.log else None}

    def _save_state(self) -> None:
        save_state(self.out / LAST, {
            "config": self.config.to_dict(), "learner": self.model.hpn_learner.state_dict(),
            "backbone_sha256": self.backbone_sha256,
            "optimizer": self.optimizer.state_dict(), "step": self.step,
            "epoch": self.step // self.iters_per_epoch, "episodes": self.episodes,
            "best_miou": self.best_miou, "best_step": self.best_step,
            "data_rng": rng_state_to_tensors(self.rng), "torch_rng": torch.get_rng_state(),
            "elapsed_s": self.elapsed, "log": self.log,
        })

    def _write_log(self, row: Dict[str, float]) -> None:
        from ...atomic_file import write_text_atomic

        text = io.StringIO()
        per_size = tuple(dict.fromkeys(k for r in self.log for k in r if k.startswith("val_miou@")))
        writer = csv.DictWriter(text, fieldnames=LOG_FIELDS + per_size, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for r in self.log:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
        write_text_atomic(self.out / LOG, text.getvalue())
        if self._tb is not None:
            for key in ("train_loss", "train_miou", "val_loss", "val_miou", "val_fbiou"):
                self._tb.add_scalar(key, row[key], row["step"])
            self._tb.flush()

    def _open_tensorboard(self) -> None:
        if not self.config.tensorboard:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise UserError("--tensorboard needs the tensorboard package (pip install tensorboard)") from None
        self._tb = SummaryWriter(str(self.out / "tensorboard"), purge_step=self.step or None)


def _per_size(row: Dict[str, float]) -> str:
    """" (200: 61.2, 400: 58.0)" when the row has per-size mIoU, else ""."""
    parts = [f"{key.split('@')[1]}: {value:.1f}" for key, value in row.items() if key.startswith("val_miou@")]
    return f" ({', '.join(parts)})" if parts else ""


def _accumulate(acc: MIoUAccumulator, logits: torch.Tensor, labels: torch.Tensor, classes: torch.Tensor) -> None:
    """Add 1-shot predictions (argmax; a tie is background) of a batch to ``acc``."""
    pred = (logits[:, 1] > logits[:, 0]).to("cpu", torch.uint8).numpy()  # (B, S, S)
    labels = labels.cpu().numpy()
    for p, y, cls in zip(pred, labels, classes.tolist()):
        acc.add(p, y, cls)


__all__ = ["TrainConfig", "Trainer", "pixel_cross_entropy", "BEST", "LAST", "LOG", "INITIAL"]
