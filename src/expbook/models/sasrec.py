"""A small SASRec-style transformer (PyTorch, CPU) with the upgrade ladder's switches.

* ``time_features`` — hour-of-day and weekday embeddings and a projection of log time delta, added
  to the item + position embeddings of each input event;
* ``norm_first`` — pre-LayerNorm encoder layers (with a final LayerNorm) instead of post-LN;
* ``lr_schedule`` — constant, or linear warm-up over ``warmup_fraction`` of the steps then cosine decay to 0;
* ``early_stopping`` — keep the epoch with the best validation NDCG@10 and stop after ``patience``
  epochs without improvement (off: train ``epochs`` epochs and keep the last);
* ``loss`` — one random negative per position with binary cross-entropy; InfoNCE over in-batch
  negatives: the other positions' target items of the batch (duplicates of the positive masked),
  at ``temperature``, optionally with the logQ correction for their popularity-proportional sampling
  and ``uniform_negatives`` extra uniformly drawn items (so that items never in a batch are pushed down too);
  or cross-entropy over the full softmax of every item (``FullSoftmaxCrossEntropy``).

Every position of every training window is a target. Attention is causal and never looks at padding
(``attention_mask``); positions are counted from the right, so left padding changes nothing.
Scores are dot products with the shared item embeddings; evaluation ranks *all* items.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from expbook.data.sequences import SequenceData
from expbook.metrics.ranking import full_ranking_ranks, hit_ndcg_recall
from expbook.models.training import EarlyStopping, adam, seed_torch
from expbook.progress import steps

LOG_DELTA_SCALE = math.log1p(365 * 86_400)  # log1p(seconds since the previous event) / this: a year → 1


@dataclass(frozen=True, kw_only=True)
class SeqConfig:
    time_features: bool = False
    norm_first: bool = False
    lr_schedule: Literal["constant", "warmup_cosine"] = "constant"
    early_stopping: bool = False
    loss: Literal["bce_random_negatives", "infonce_in_batch", "full_softmax"] = "bce_random_negatives"
    temperature: float = 0.1
    logq_correction: bool = False
    uniform_negatives: int = 0
    epochs: int = 30
    patience: int = 5
    warmup_fraction: float = 0.1
    dim: int = 32
    heads: int = 2
    layers: int = 2
    dropout: float = 0.2
    learning_rate: float = 1e-3
    batch_size: int = 128
    infonce_positions: int = 1024
    softmax_bf16: bool = True  # full softmax: its three large products in bfloat16 (float32 softmax and gradients)
    exclude_seen: bool = True
    seed: int = 0
    num_threads: int = 2


class UniformDropout(nn.Dropout):
    """Dropout keeping a unit where its uniform draw is ≥ p: the same Bernoulli(1 − p) mask as ``nn.Dropout``, but
    ``bernoulli_`` on the CPU draws 2.5 ms per 6,400 × 64 batch against 1.2 ms for ``rand_like``, and the seven
    dropouts of a step took a quarter of a BCE epoch (torch profiler, one thread). With the mask made in place,
    forward and backward take 1.1 ms against 2.6 ms for ``F.dropout``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        return x * torch.rand_like(x).ge_(self.p).mul_(1.0 / (1.0 - self.p))  # in place: one float mask, no bool


class SASRec(nn.Module):
    def __init__(self, n_items: int, max_len: int, config: SeqConfig):
        super().__init__()
        d = config.dim
        self.heads = config.heads
        self.item = nn.Embedding(n_items + 1, d, padding_idx=0)
        self.position = nn.Embedding(max_len, d)  # row 0: the last input, row 1: the one before, …
        self.time_features = config.time_features
        if config.time_features:  # as small at the start as the position embeddings, so they cannot drown the items
            self.hour, self.weekday, self.delta = nn.Embedding(24, d), nn.Embedding(7, d), nn.Linear(1, d)
            for weight in (self.hour.weight, self.weekday.weight, self.delta.weight):
                nn.init.normal_(weight, std=0.02)
            nn.init.zeros_(self.delta.bias)
        layer = nn.TransformerEncoderLayer(d, config.heads, 2 * d, config.dropout, batch_first=True,
                                           norm_first=config.norm_first)
        # dropout on the inputs, the residual branches and the feed-forward layer, not on the attention weights:
        # drawing those (batch × heads × L × L) masks took a sixth of an epoch on the CPU
        layer.self_attn.dropout = 0.0
        layer.dropout, layer.dropout1, layer.dropout2 = (UniformDropout(config.dropout) for _ in range(3))
        self.encoder = nn.TransformerEncoder(layer, config.layers, enable_nested_tensor=False)
        self.final_norm = nn.LayerNorm(d) if config.norm_first else nn.Identity()
        self.dropout = UniformDropout(config.dropout)
        for embedding in (self.item, self.position):  # N(0, 1) (the default) makes every logit huge
            nn.init.normal_(embedding.weight, std=0.02)
        with torch.no_grad():
            self.item.weight[0].zero_()

    def forward(self, items: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        """(B, L, d) hidden state after each input position.

        Position t attends to the real (non-padding) inputs at or before t, and always to itself, so a padded
        position has one key and no NaN. Positions are counted from the right (inputs are left-padded), so
        more left padding changes nothing at the real positions.
        """
        length = items.shape[1]
        x = self.item(items) * math.sqrt(self.item.embedding_dim) + self.position.weight[:length].flip(0)[None]
        if self.time_features:
            x = (x + self.hour(times[..., 0].long()) + self.weekday(times[..., 1].long())
                 + self.delta(times[..., 2:3] / LOG_DELTA_SCALE))
        x = self.dropout(x) * (items > 0).unsqueeze(-1)  # padded inputs are zero vectors
        return self.final_norm(self.encoder(x, mask=attention_mask(items, self.heads)))

    def score_last(self, items: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        """(B, n_items + 1) scores of every item after the last input position (column 0, padding, is −inf)."""
        scores = self(items, times)[:, -1] @ self.item.weight.T
        scores[:, 0] = -torch.inf
        return scores


def attention_mask(items: torch.Tensor, heads: int) -> torch.Tensor:
    """(B·heads, L, L) additive mask: query t may see key s ≤ t when s is a real input, and always itself."""
    length = items.shape[1]
    future = torch.triu(torch.ones(length, length, dtype=torch.bool), diagonal=1)
    blocked = (future[None] | (items == 0)[:, None, :]) & ~torch.eye(length, dtype=torch.bool)[None]
    mask = torch.zeros(blocked.shape, dtype=torch.float32).masked_fill_(blocked, -torch.inf)
    return mask.repeat_interleave(heads, dim=0)


def score_users(model: SASRec, items: np.ndarray, times: np.ndarray, batch: int = 512) -> np.ndarray:
    model.eval()
    with torch.no_grad():
        return torch.cat([model.score_last(torch.from_numpy(items[i:i + batch]), torch.from_numpy(times[i:i + batch]))
                          for i in range(0, items.shape[0], batch)]).numpy()


def exclude(scores: np.ndarray, seen: tuple[np.ndarray, np.ndarray], targets: np.ndarray) -> np.ndarray:
    """Scores with each user's previously seen items set to −inf (never the user's own target)."""
    users, items = seen
    keep = items != targets[users]
    scores = scores.copy()
    scores[users[keep], items[keep]] = -np.inf
    return scores


def evaluate(model: SASRec, data: SequenceData, split: Literal["val", "test"], *, exclude_seen: bool,
             k: int = 10, recall_k: int = 50) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """(metrics, 0-based target ranks, scores) on full ranking over every item."""
    items, times = (data.val_input, data.val_time) if split == "val" else (data.test_input, data.test_time)
    return rank_scores(score_users(model, items, times), data, split, exclude_seen=exclude_seen, k=k, recall_k=recall_k)


def rank_scores(scores: np.ndarray, data: SequenceData, split: Literal["val", "test"], *, exclude_seen: bool,
                k: int = 10, recall_k: int = 50) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """(metrics, 0-based target ranks, scores) of any (users, n_items + 1) scores: the transformer's or a reference's."""
    targets = data.val_target if split == "val" else data.test_target
    if exclude_seen:
        scores = exclude(scores, data.seen_before_val if split == "val" else data.seen_before_test, targets)
    ranks = full_ranking_ranks(scores, targets)
    return hit_ndcg_recall(ranks, k=k, recall_k=recall_k), ranks, scores


def _loss(model: SASRec, hidden: torch.Tensor, targets: torch.Tensor, config: SeqConfig, n_items: int,
          generator: torch.Generator) -> torch.Tensor:
    valid = targets > 0
    h, positive = hidden[valid], targets[valid]
    if config.loss == "bce_random_negatives":
        negative = torch.randint(1, n_items + 1, positive.shape, generator=generator)
        pos_logit = (h * model.item(positive)).sum(-1)
        neg_logit = (h * model.item(negative)).sum(-1)
        return F.binary_cross_entropy_with_logits(torch.cat([pos_logit, neg_logit]),
                                                  torch.cat([torch.ones_like(pos_logit), torch.zeros_like(neg_logit)]))
    if config.loss == "full_softmax":
        return FullSoftmaxCrossEntropy.apply(h, model.item.weight, positive,
                                             torch.bfloat16 if config.softmax_bf16 else torch.float32)
    if positive.numel() > config.infonce_positions:
        keep = torch.randperm(positive.numel(), generator=generator)[: config.infonce_positions]
        h, positive = h[keep], positive[keep]
    logits = h @ model.item(positive).T / config.temperature  # row i: its own target on the diagonal
    if config.logq_correction:  # in-batch items are drawn ∝ popularity: subtract log of their batch frequency
        _, inverse, counts = torch.unique(positive, return_inverse=True, return_counts=True)
        logits = logits - torch.log(counts[inverse].float() / positive.numel())[None, :]
    duplicate = (positive[:, None] == positive[None, :]) & ~torch.eye(positive.numel(), dtype=torch.bool)
    logits = logits.masked_fill(duplicate, -torch.inf)
    if config.uniform_negatives:  # items never in a batch would otherwise never be pushed down
        extra = torch.randint(1, n_items + 1, (config.uniform_negatives,), generator=generator)
        extra_logits = h @ model.item(extra).T / config.temperature
        extra_logits = extra_logits.masked_fill(extra[None, :] == positive[:, None], -torch.inf)
        logits = torch.cat([logits, extra_logits], dim=1)
    return F.cross_entropy(logits, torch.arange(positive.numel()))


class FullSoftmaxCrossEntropy(torch.autograd.Function):
    """Mean cross-entropy of ``h @ items.T`` over every item (column 0, padding, excluded), in chunks of positions.

    ``F.cross_entropy(h @ items.T, target)`` writes the (positions × items) logits, their log-softmax and its
    gradient to memory, and on a CPU the passes over those ~200 MB cost more than the product itself. Here each
    chunk's logits stay in cache: the forward pass computes the loss and both gradients chunk by chunk (softmax
    minus one-hot, times the other factor), and backward only scales them. Before the softmax became one fused pass
    per chunk, a 5,400-position batch on one idle thread took 0.50 s, against 0.78 s with ``logsumexp`` then ``exp``,
    and the three products alone 0.48 s: what is left is the products (the idea of Liger Kernel's fused linear cross-entropy and of Cut
    Cross-Entropy, Wijmans et al. 2024). With the other core busy too, an epoch took 13.4 s against 13.8 s.

    ``product_dtype=torch.bfloat16`` runs the three products in bfloat16 (float32 accumulation), as mixed-precision
    training does on a GPU; the softmax and the loss stay float32, while the products' outputs (the logits and both
    gradients) carry bfloat16's rounding (about 0.4% relative), which Adam absorbs. On a CPU with AVX-512 BF16 the
    products are about 5× faster (a 256 × 64 by 64 × 9,067 product: 4.3 → 0.67 ms on one thread).
    """

    CHUNK = 256

    @staticmethod
    def forward(ctx, h: torch.Tensor, items: torch.Tensor, target: torch.Tensor,
                product_dtype: torch.dtype = torch.float32) -> torch.Tensor:
        n, chunk = h.shape[0], FullSoftmaxCrossEntropy.CHUNK
        total = h.new_zeros(())
        grad_h, grad_items = torch.empty_like(h), torch.zeros_like(items)
        h_low, items_low = h.to(product_dtype), items.to(product_dtype)
        for start in range(0, n, chunk):
            part, wanted = h_low[start:start + chunk], target[start:start + chunk]
            logits = (part @ items_low.T).float()
            logits[:, 0] = -torch.inf
            softmax = torch.softmax(logits, dim=1)  # one fused pass: 3× faster than max, subtract, exp, sum, divide
            # −log p(target); p underflows only 87 nats below the partition, a loss no training step meets
            total -= torch.log(softmax.gather(1, wanted[:, None]).clamp_min(torch.finfo(torch.float32).tiny)).sum()
            softmax[torch.arange(wanted.numel()), wanted] -= 1.0
            softmax = softmax.to(product_dtype)
            grad_h[start:start + chunk] = softmax @ items_low
            grad_items += (softmax.T @ part).float()
        ctx.save_for_backward(grad_h / n, grad_items / n)
        return total / n

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        grad_h, grad_items = ctx.saved_tensors
        return grad_h * grad_output, grad_items * grad_output, None, None


@dataclass
class TrainedSeqModel:
    model: SASRec
    curves: pd.DataFrame
    best_epoch: int
    seconds_per_epoch: float
    val_ranks: np.ndarray | None = None  # (epochs, users) 0-based validation target ranks after each epoch
    stopper: EarlyStopping | None = None  # the best validation state, and where patience ran out (``early_stopped``)


def train_sasrec(data: SequenceData, config: SeqConfig) -> TrainedSeqModel:
    """Train on the windows; validation NDCG@10 (full ranking) after every epoch."""
    generator = seed_torch(config.seed, config.num_threads)
    model = SASRec(data.n_items, data.windows.shape[1], config)
    optimiser = adam(model.parameters(), config.learning_rate)
    steps_per_epoch = -(-data.windows.shape[0] // config.batch_size)
    total = steps_per_epoch * config.epochs
    warmup = max(1, round(config.warmup_fraction * total))

    def factor(step: int) -> float:
        if config.lr_schedule == "constant":
            return 1.0
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, factor)
    windows, targets = torch.from_numpy(data.windows), torch.from_numpy(data.window_targets)
    times = torch.from_numpy(data.window_time)
    rows, val_ranks, stopper = [], [], EarlyStopping(config.patience)
    start = time.perf_counter()
    for epoch in steps(range(1, config.epochs + 1), "epoch"):
        model.train()
        order = torch.randperm(windows.shape[0], generator=generator)
        losses, norms = [], []
        for i in range(0, order.numel(), config.batch_size):
            batch = order[i:i + config.batch_size]
            loss = _loss(model, model(windows[batch], times[batch]), targets[batch], config, data.n_items, generator)
            optimiser.zero_grad()
            loss.backward()
            norms.append(float(nn.utils.clip_grad_norm_(model.parameters(), float("inf"))))
            optimiser.step()
            scheduler.step()
            losses.append(float(loss.detach()))
        metrics, ranks, _ = evaluate(model, data, "val", exclude_seen=config.exclude_seen)
        val_ranks.append(ranks.astype(np.int32))
        rows.append({"epoch": epoch, "train_loss": float(np.mean(losses)), "loss_std": float(np.std(losses)),
                     "grad_norm": float(np.mean(norms)), "lr": optimiser.param_groups[0]["lr"],
                     "val_ndcg@10": metrics["ndcg@10"]})
        if stopper.update(metrics["ndcg@10"], model, epoch) and config.early_stopping:
            break
    seconds = (time.perf_counter() - start) / len(rows)
    curves = pd.DataFrame(rows)
    if config.early_stopping:
        stopper.restore(model)
        best_epoch = stopper.epoch
    else:
        best_epoch = len(rows)
    return TrainedSeqModel(model, curves, best_epoch, seconds, np.stack(val_ranks), stopper)


def early_stopped(trained: TrainedSeqModel, data: SequenceData, config: SeqConfig) -> TrainedSeqModel:
    """What early stopping would have kept of a training run to its last epoch without it: the state of the best
    validation NDCG@10 before patience ran out, with the curves cut where it would have stopped. The same optimiser
    steps and schedule, so training ``config`` once gives both the fixed-epoch rung and its early-stopped twin."""
    stopper = trained.stopper
    model = SASRec(data.n_items, data.windows.shape[1], config)
    stopper.restore(model)
    ran = stopper.stopped_at or len(trained.curves)
    return TrainedSeqModel(model, trained.curves.iloc[:ran].copy(), stopper.epoch, trained.seconds_per_epoch,
                           trained.val_ranks[:ran], stopper)
