"""The levers that rebalance the classes of a classifier's training, each switchable on its own.

* **sampler** — draws with replacement as ``torch.utils.data.WeightedRandomSampler`` does, with per-class weights
  ``(1/n_c)^power`` capped at ``max_ratio`` × the smallest, or weights that hit a target batch mix;
* **class weights** in the loss — inverse frequency ``(n/(K·n_c))^power`` capped at ``max_ratio`` × the smallest,
  normalised so that the prior-weighted mean is 1;
* **focal loss** ``-(1-p_t)^γ · log p_t`` (times the class weight).

Their product is the class prior the loss effectively optimises (``effective_class_tilt``): stacking a balancing
sampler with inverse-frequency weights corrects twice and tilts it past uniform, towards the rarest classes.
``config`` is any object with the lever fields of ``models.ecg_cnn.TrainConfig``.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F


class Levers(Protocol):
    """The lever fields a rebalancing rule reads (``models.ecg_cnn.TrainConfig`` has them): a protocol, so this
    module does not import the CNN that imports it."""

    sampler: str | None
    class_weights: bool
    sampler_power: float
    sampler_max_ratio: float | None
    weight_power: float
    weight_max_ratio: float | None
    target_mix: tuple[float, ...]


def _capped(weights: np.ndarray, max_ratio: float | None) -> np.ndarray:
    if max_ratio is None:
        return weights
    return np.minimum(weights, weights[weights > 0].min() * max_ratio)


def loss_class_weights(counts: np.ndarray, config: Levers) -> np.ndarray:
    """Full (post-warm-up) loss weights per class; ones when class weights are off. Prior-weighted mean = 1."""
    if not config.class_weights:
        return np.ones(counts.size)
    present = counts > 0
    weights = np.zeros(counts.size)
    weights[present] = (counts.sum() / (present.sum() * counts[present])) ** config.weight_power
    weights[present] = _capped(weights[present], config.weight_max_ratio)
    return weights / (counts / counts.sum() @ weights)


def sampler_class_weights(counts: np.ndarray, config: Levers) -> np.ndarray:
    """Per-*sample* weight of each class's samples (what the sampler draws with); ones when it is off."""
    present = counts > 0
    weights = np.zeros(counts.size)
    if config.sampler is None:
        weights[present] = 1.0
    elif config.sampler == "power":
        weights[present] = _capped((1.0 / counts[present]) ** config.sampler_power, config.sampler_max_ratio)
    else:
        mix = np.asarray(config.target_mix, dtype=float)
        weights[present] = mix[present] / counts[present]
    return weights


def expected_batch_mix(counts: np.ndarray, config: Levers) -> np.ndarray:
    """Expected class shares of a training batch under the sampler."""
    mass = counts * sampler_class_weights(counts, config)
    return mass / mass.sum()


def effective_class_tilt(counts: np.ndarray, config: Levers) -> np.ndarray:
    """Batch mix × loss weight, normalised: the class prior the loss actually optimises for (uniform = balanced)."""
    mass = expected_batch_mix(counts, config) * loss_class_weights(counts, config)
    return mass / mass.sum()


def focal_loss(logits: torch.Tensor, target: torch.Tensor, gamma: float, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean of ``w_y · (1 − p_y)^γ · (−log p_y)``; γ = 0 is (weighted) cross-entropy."""
    log_p = F.log_softmax(logits, dim=1).gather(1, target[:, None]).squeeze(1)
    loss = -((1 - log_p.exp()) ** gamma) * log_p
    if weight is not None:
        loss = loss * weight[target]
    return loss.mean()


def lever_table(configs: dict[str, Levers], counts: np.ndarray, classes: tuple[str, ...]) -> pd.DataFrame:
    """Per configuration: loss class weights, expected batch mix, and the class prior the loss effectively optimises."""
    rows = {}
    for name, config in configs.items():
        parts = {"weight": loss_class_weights(counts, config), "batch": expected_batch_mix(counts, config),
                 "effective": effective_class_tilt(counts, config)}
        rows[name] = {f"{part} {c}": v for part, values in parts.items() for c, v in zip(classes, values, strict=True)}
    return pd.DataFrame.from_dict(rows, orient="index")
