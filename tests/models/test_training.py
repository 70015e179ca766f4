"""The shared torch helpers: seeding, the optimiser and early stopping."""

import math

import torch
from torch import nn

from expbook.models.training import EarlyStopping, adam, seed_torch


def test_seed_torch_fixes_the_global_draws_the_generator_and_the_threads():
    generator = seed_torch(3, 1)
    first = (torch.rand(3), torch.randperm(10, generator=generator))
    generator = seed_torch(3, 1)
    again = (torch.rand(3), torch.randperm(10, generator=generator))
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1]) and torch.get_num_threads() == 1


def test_adam_takes_the_same_steps_as_the_per_tensor_loop():
    torch.manual_seed(0)
    mine = [torch.randn(40, 30, requires_grad=True), torch.randn(30, requires_grad=True)]
    loop = [p.detach().clone().requires_grad_() for p in mine]
    fast, reference = adam(mine, 5e-3, 1e-4), torch.optim.Adam(loop, lr=5e-3, weight_decay=1e-4, foreach=False)
    for _ in range(50):
        for p, q in zip(mine, loop, strict=True):
            p.grad = torch.randn_like(p)
            q.grad = p.grad.clone()
        fast.step()
        reference.step()
    assert all(torch.equal(p, q) for p, q in zip(mine, loop, strict=True))


def test_early_stopping_keeps_the_best_state_and_stops_after_patience():
    model = nn.Linear(1, 1, bias=False)
    stopper = EarlyStopping(patience=2)
    for epoch, (score, weight) in enumerate([(0.5, 1.0), (0.7, 2.0), (0.6, 3.0), (0.7, 4.0)], start=1):
        model.weight.data.fill_(weight)
        stopped = stopper.update(score, model, epoch)
        assert stopped == (epoch == 4)  # two epochs without a strict gain
    assert stopper.update(0.99, model, 5)  # nothing counts after the stop
    assert (stopper.best, stopper.epoch) == (0.7, 2)
    assert stopper.restore(model).weight.item() == 2.0


def test_a_nan_score_keeps_the_first_model_and_yields_to_the_first_real_score():
    model = nn.Linear(1, 1, bias=False)
    stopper = EarlyStopping(patience=3)
    model.weight.data.fill_(1.0)
    stopper.update(math.nan, model, 1)
    assert stopper.state is not None
    model.weight.data.fill_(2.0)
    stopper.update(0.1, model, 2)
    model.weight.data.fill_(3.0)
    stopper.update(math.nan, model, 3)
    assert stopper.epoch == 2 and stopper.restore(model).weight.item() == 2.0
