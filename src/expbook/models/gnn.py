"""Turnover and post-preference models on the employee graph: an MLP baseline and a heterogeneous GNN (PyG).

The GNN (``HeteroConv`` of ``SAGEConv`` per edge type) embeds employees; a linear head predicts
turnover, and a preference score ``s(e, p) = ⟨W h_e, g(attr_p)⟩ / √d`` ranks posts. Its training
has three switchable components (GNN v6 = all on; v5 = all off):

* **two-stage** — stage 1 trains turnover alone with early stopping on validation AUPR; stage 2
  fine-tunes ``α·turnover + β·preference`` with early stopping on validation pairwise accuracy.
  Off: one joint stage of the same length, stopped on AUPR + pairwise accuracy.
* **hard negatives** — each training pair (employee, chosen post) gets a negative post: with
  probability ``hard_ratio`` one of the ``cache_size`` highest-scored posts the employee never chose
  (cache refreshed every ``refresh_every`` epochs), else a random other post. Off: always random.
* **adaptive margin** — hinge loss ``w·max(0, m − (s⁺ − s⁻))`` (hard negatives weigh ``hard_weight``);
  after each epoch ``m`` grows ×1.25 when validation accuracy exceeds ``margin_up_acc`` and shrinks
  ×0.8 below ``margin_down_acc``, within ``margin_bounds``. Off: ``m`` stays fixed.
* **ranking regularisation** — ``rank_reg · mean(softplus(−(s⁺ − s⁻)))``, a smooth pairwise (BPR) term
  added to the hinge. The original report gives only its weight (0.1); this form keeps a gradient on pairs
  already past the margin, where the hinge is flat. Off: weight 0.
* **observed negatives** — a share ``observed_share`` of the negatives is the post the employee actually
  rejected in that choice task; the rest are hard/random as above. Off: share 0.
* **LR on plateau** — ``ReduceLROnPlateau`` on each stage's validation score (×``lr_factor`` after
  ``lr_patience`` epochs without a gain), as the original report's training log shows. Off: constant rate.

The turnover loss is focal (the original report's) or weighted BCE. Seeds, threads and early stopping come from
``expbook.models.training``.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from expbook.metrics.binary import average_precision
from expbook.models.negatives import NegativeSampler
from expbook.models.training import EarlyStopping, adam, seed_torch
from expbook.progress import steps


@dataclass(frozen=True, kw_only=True)
class GNNConfig:
    hidden: int = 32
    layers: int = 2
    dropout: float = 0.2
    learning_rate: float = 5e-3
    weight_decay: float = 1e-4
    turnover_loss: Literal["weighted_bce", "focal"] = "focal"
    focal_gamma: float = 2.0
    focal_alpha: float = 0.75
    preference: bool = True
    two_stage: bool = True
    stage1_epochs: int = 150
    stage1_patience: int = 10
    stage2_epochs: int = 100
    stage2_patience: int = 10
    alpha: float = 0.2
    beta: float = 0.8
    hard_negatives: bool = True
    hard_ratio: float = 0.7
    cache_size: int = 5
    refresh_every: int = 5
    adaptive_margin: bool = True
    margin: float = 1.0
    margin_bounds: tuple[float, float] = (0.5, 3.0)
    margin_up_acc: float = 0.6
    margin_down_acc: float = 0.52
    hard_weight: float = 2.0
    rank_reg: float = 0.1
    observed_share: float = 0.3
    lr_plateau: bool = True
    lr_factor: float = 0.5
    lr_patience: int = 5
    seed: int = 0
    num_threads: int = 2


@dataclass(frozen=True)
class Task:
    """What a model trains on: node masks and label, and (optionally) preference pairs and post attributes."""

    label: torch.Tensor  # float 0/1 per employee
    train: np.ndarray  # employee indices
    val: np.ndarray
    posts: torch.Tensor | None = None  # (n_posts, attributes), standardised
    train_pairs: np.ndarray | None = None  # (m, 3): employee, chosen, rejected
    val_pairs: np.ndarray | None = None


def turnover_loss(logits: torch.Tensor, y: torch.Tensor, config: GNNConfig, pos_weight: float) -> torch.Tensor:
    """Weighted BCE (``pos_weight`` = negatives / positives) or focal loss for the imbalanced label."""
    if config.turnover_loss == "weighted_bce":
        return F.binary_cross_entropy_with_logits(logits, y, pos_weight=torch.tensor(pos_weight))
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, y, reduction="none")
    p_t = p * y + (1 - p) * (1 - y)
    alpha_t = config.focal_alpha * y + (1 - config.focal_alpha) * (1 - y)
    return (alpha_t * (1 - p_t) ** config.focal_gamma * ce).mean()


class MLP(nn.Module):
    def __init__(self, n_in: int, hidden: int = 32, dropout: float = 0.2):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, hidden),
                                 nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)


class EmployeeGNN(nn.Module):
    """Per-type input projections, ``layers`` × HeteroConv(SAGEConv), a turnover head and a preference scorer."""

    def __init__(self, data, hidden: int, layers: int, dropout: float, n_attributes: int | None):
        with warnings.catch_warnings():  # PyG imports tqdm.auto, which warns in a kernel without ipywidgets
            warnings.simplefilter("ignore")
            from torch_geometric.nn import HeteroConv, SAGEConv

        super().__init__()
        self.project = nn.ModuleDict({t: nn.Linear(data[t].x.shape[1], hidden) for t in data.node_types})
        self.convs = nn.ModuleList([HeteroConv({et: SAGEConv((hidden, hidden), hidden) for et in data.edge_types},
                                               aggr="sum") for _ in range(layers)])
        self.dropout = dropout
        self.turnover = nn.Linear(hidden, 1)
        self.hidden = hidden
        if n_attributes:
            self.employee_side = nn.Linear(hidden, hidden)
            self.post_side = nn.Sequential(nn.Linear(n_attributes, hidden), nn.ReLU(), nn.Linear(hidden, hidden))

    def embed(self, data) -> torch.Tensor:
        x = {t: F.relu(self.project[t](data[t].x)) for t in data.node_types}
        for conv in self.convs:
            out = conv(x, data.edge_index_dict)
            x = {t: F.dropout(F.relu(out[t]) + x[t], self.dropout, self.training) for t in x}  # residual
        return x["employee"]

    def turnover_logits(self, h: torch.Tensor) -> torch.Tensor:
        return self.turnover(h).squeeze(-1)

    def preference_scores(self, h: torch.Tensor, posts: torch.Tensor) -> torch.Tensor:
        """(employees, posts) scores."""
        return self.employee_side(h) @ self.post_side(posts).T / self.hidden**0.5


@dataclass
class TrainedModel:
    kind: str
    predict_proba: np.ndarray  # turnover probability of every employee
    preference: np.ndarray | None  # (employees, posts) scores, or None
    curves: pd.DataFrame
    seconds: float
    details: dict = field(default_factory=dict)


def pairwise_accuracy(scores: np.ndarray, pairs: np.ndarray) -> tuple[float, float]:
    """(share of pairs with s(chosen) > s(rejected), mean of s(chosen) − s(rejected))."""
    diff = scores[pairs[:, 0], pairs[:, 1]] - scores[pairs[:, 0], pairs[:, 2]]
    return float(np.mean(diff > 0)), float(np.mean(diff))


def _plateau(optimiser: torch.optim.Optimizer, config: GNNConfig):
    """``ReduceLROnPlateau`` on a validation score (higher is better), or None when the component is off."""
    if not config.lr_plateau:
        return None
    return torch.optim.lr_scheduler.ReduceLROnPlateau(optimiser, mode="max", factor=config.lr_factor,
                                                      patience=config.lr_patience)


def _step(scheduler, score: float) -> None:
    if scheduler is not None and not np.isnan(score):
        scheduler.step(score)


def train_mlp(x: torch.Tensor, task: Task, config: GNNConfig) -> TrainedModel:
    """MLP on the rows of ``x`` (no graph), the GNN's turnover loss and LR schedule, early stopping on validation AUPR."""
    seed_torch(config.seed, config.num_threads)
    model = MLP(x.shape[1], config.hidden, config.dropout)
    optimiser = adam(model.parameters(), config.learning_rate, config.weight_decay)
    scheduler = _plateau(optimiser, config)
    y = task.label
    pos_weight = float((1 - y[task.train]).sum() / y[task.train].sum().clamp(min=1))
    y_val = y[task.val].numpy()
    stopper, rows = EarlyStopping(config.stage1_patience), []
    start = time.perf_counter()
    for epoch in steps(range(1, config.stage1_epochs + 1), "stage-1 epoch"):
        model.train()
        loss = turnover_loss(model(x[task.train]), y[task.train], config, pos_weight)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        model.eval()
        with torch.no_grad():
            aupr = average_precision(y_val, torch.sigmoid(model(x[task.val])).numpy())
        rows.append({"stage": 1, "epoch": epoch, "loss": float(loss.detach()), "val_aupr": aupr,
                     "lr": optimiser.param_groups[0]["lr"]})
        _step(scheduler, aupr)
        if stopper.update(aupr, model, epoch):
            break
    stopper.restore(model).eval()
    with torch.no_grad():
        proba = torch.sigmoid(model(x)).numpy()
    return TrainedModel("MLP", proba, None, pd.DataFrame(rows), time.perf_counter() - start)


def train_gnn(data, task: Task, config: GNNConfig, *, sampler_factory=NegativeSampler) -> TrainedModel:
    """Train the GNN with ``config``'s components (see the module docstring)."""
    seed_torch(config.seed, config.num_threads)
    with_preference = config.preference and task.posts is not None and task.train_pairs is not None
    model = EmployeeGNN(data, config.hidden, config.layers, config.dropout,
                        task.posts.shape[1] if with_preference else None)
    y = task.label
    pos_weight = float((1 - y[task.train]).sum() / y[task.train].sum().clamp(min=1))
    y_val = y[task.val].numpy()
    sampler = sampler_factory(task.posts.shape[0], task.train_pairs[:, :2], cache_size=config.cache_size,
                              hard_ratio=config.hard_ratio, seed=config.seed) if with_preference else None
    margin = config.margin
    rows: list[dict] = []
    start = time.perf_counter()

    def evaluate() -> tuple[float, float, np.ndarray | None]:
        model.eval()
        with torch.no_grad():
            h = model.embed(data)
            aupr = average_precision(y_val, torch.sigmoid(model.turnover_logits(h[task.val])).numpy())
            scores = model.preference_scores(h, task.posts).numpy() if with_preference else None
        accuracy = pairwise_accuracy(scores, task.val_pairs)[0] if with_preference else float("nan")
        return aupr, accuracy, scores

    def preference_loss(h: torch.Tensor, epoch: int, scores: np.ndarray) -> torch.Tensor:
        if config.hard_negatives and (epoch - 1) % config.refresh_every == 0:
            sampler.refresh(scores)
        negatives, is_hard = sampler.mix(task.train_pairs, hard=config.hard_negatives,
                                         observed_share=config.observed_share)
        all_scores = model.preference_scores(h, task.posts)
        e = torch.from_numpy(task.train_pairs[:, 0])
        gap = all_scores[e, torch.from_numpy(task.train_pairs[:, 1])] - all_scores[e, torch.from_numpy(negatives)]
        weight = torch.where(torch.from_numpy(is_hard), config.hard_weight, 1.0)
        hinge = (weight * F.relu(margin - gap)).mean()
        return hinge + config.rank_reg * F.softplus(-gap).mean() if config.rank_reg else hinge

    def run_stage(stage: int, epochs: int, patience: int, weights: tuple[float, float], criterion) -> None:
        nonlocal margin
        optimiser = adam(model.parameters(), config.learning_rate, config.weight_decay)
        scheduler = _plateau(optimiser, config)
        stopper = EarlyStopping(patience)
        stopper.update(-np.inf, model, 0)  # the stage's starting point is a candidate too
        scores = evaluate()[2]
        for epoch in steps(range(1, epochs + 1), "stage-2 epoch"):
            model.train()
            h = model.embed(data)
            loss_turnover = turnover_loss(model.turnover_logits(h[task.train]), y[task.train], config, pos_weight)
            loss, loss_preference = weights[0] * loss_turnover, torch.tensor(0.0)
            if weights[1] > 0:
                loss_preference = preference_loss(h, epoch, scores)
                loss = loss + weights[1] * loss_preference
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            aupr, accuracy, scores = evaluate()
            rows.append({"stage": stage, "epoch": epoch, "loss": float(loss.detach()),
                         "turnover_loss": float(loss_turnover.detach()), "preference_loss": float(loss_preference.detach()),
                         "val_aupr": aupr, "val_pref_acc": accuracy, "margin": margin,
                         "lr": optimiser.param_groups[0]["lr"]})
            if config.adaptive_margin and weights[1] > 0:
                if accuracy > config.margin_up_acc:
                    margin = min(margin * 1.25, config.margin_bounds[1])
                elif accuracy < config.margin_down_acc:
                    margin = max(margin * 0.8, config.margin_bounds[0])
            score = criterion(aupr, accuracy)
            _step(scheduler, score)
            if stopper.update(score, model, epoch):
                break
        stopper.restore(model)

    if not with_preference:
        run_stage(1, config.stage1_epochs, config.stage1_patience, (1.0, 0.0), lambda a, _: a)
    elif config.two_stage:
        run_stage(1, config.stage1_epochs, config.stage1_patience, (1.0, 0.0), lambda a, _: a)
        run_stage(2, config.stage2_epochs, config.stage2_patience, (config.alpha, config.beta), lambda _, acc: acc)
    else:
        run_stage(1, config.stage1_epochs + config.stage2_epochs, config.stage1_patience + config.stage2_patience,
                  (config.alpha, config.beta), lambda a, acc: a + acc)
    model.eval()
    with torch.no_grad():
        h = model.embed(data)
        proba = torch.sigmoid(model.turnover_logits(h)).numpy()
        preference = model.preference_scores(h, task.posts).numpy() if with_preference else None
    return TrainedModel("GNN", proba, preference, pd.DataFrame(rows), time.perf_counter() - start,
                        {"final_margin": margin})
