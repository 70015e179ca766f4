"""The rebalancing levers: class weights, sampler batch mix, the effective prior of stacking them, focal loss."""

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from expbook.models.ecg_cnn import TrainConfig
from expbook.models.rebalancing import effective_class_tilt, expected_batch_mix, focal_loss, loss_class_weights

COUNTS = np.array([9000, 190, 740, 80])


def test_class_weights_are_inverse_frequency_capped_with_prior_weighted_mean_one():
    weights = loss_class_weights(COUNTS, TrainConfig(class_weights=True, weight_power=1.0, weight_max_ratio=None))
    assert weights @ (COUNTS / COUNTS.sum()) == pytest.approx(1.0)
    assert weights[1] / weights[0] == pytest.approx(9000 / 190)
    capped = loss_class_weights(COUNTS, TrainConfig(class_weights=True, weight_max_ratio=20.0))
    assert capped.max() / capped.min() == pytest.approx(20.0)
    assert np.all(loss_class_weights(COUNTS, TrainConfig(class_weights=True, weight_power=0.0)) == pytest.approx(1.0))
    assert np.all(loss_class_weights(COUNTS, TrainConfig()) == 1.0)


def test_batch_mix_of_each_sampler_mode():
    assert expected_batch_mix(COUNTS, TrainConfig()) == pytest.approx(COUNTS / COUNTS.sum())
    assert expected_batch_mix(COUNTS, TrainConfig(sampler="power", sampler_power=1.0)) == pytest.approx([0.25] * 4)
    mix = (0.4, 0.2, 0.3, 0.1)
    assert expected_batch_mix(COUNTS, TrainConfig(sampler="target_mix", target_mix=mix)) == pytest.approx(mix)
    capped = expected_batch_mix(COUNTS, TrainConfig(sampler="power", sampler_power=1.0, sampler_max_ratio=6.0))
    per_sample = capped / COUNTS
    assert per_sample.max() / per_sample.min() == pytest.approx(6.0)


def test_stacking_tilts_the_effective_prior_past_uniform_towards_rare_classes():
    stacked = effective_class_tilt(COUNTS, TrainConfig(sampler="power", class_weights=True, weight_max_ratio=None))
    balanced = effective_class_tilt(COUNTS, TrainConfig(sampler="power"))
    assert balanced == pytest.approx([0.25] * 4)
    assert stacked[0] < 0.01 and stacked[3] > 0.5  # N nearly ignored, the rarest class dominates


def test_focal_loss_with_gamma_zero_is_cross_entropy_and_gamma_down_weights_easy_examples():
    torch.manual_seed(0)
    logits, target = torch.randn(64, 4), torch.randint(0, 4, (64,))
    assert focal_loss(logits, target, 0.0) == pytest.approx(float(F.cross_entropy(logits, target)), rel=1e-6)
    weight = torch.tensor([0.5, 2.0, 1.0, 3.0])
    manual = (weight[target] * F.cross_entropy(logits, target, reduction="none")).mean()
    assert focal_loss(logits, target, 0.0, weight) == pytest.approx(float(manual), rel=1e-6)
    easy = torch.tensor([[8.0, 0, 0, 0]])
    assert focal_loss(easy, torch.tensor([0]), 2.0) < 1e-3 * focal_loss(easy, torch.tensor([0]), 0.0)
