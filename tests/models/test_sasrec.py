"""The SASRec transformer: seen-item exclusion, each switch changing the path, padding, the chunked softmax."""

import numpy as np
import pandas as pd
import pytest

from expbook.data.movielens import Interactions
from expbook.data.sequences import build_sequences
from expbook.models import sasrec
from expbook.models.sasrec import SeqConfig, train_sasrec


def _interactions(rows):
    events = pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])
    return Interactions(events, pd.DataFrame(), "hand-made")


HAND = [  # user 1: time order differs from file order; user 2 has five events
    (1, 10, 4.0, 1_000_000), (1, 30, 4.0, 1_003_600), (1, 20, 3.0, 1_000_600), (1, 40, 5.0, 1_090_000),
    (1, 50, 2.0, 1_200_000),
    (2, 20, 4.0, 2_000_000), (2, 30, 4.0, 2_000_100), (2, 60, 4.0, 2_000_200), (2, 10, 4.0, 2_000_300),
    (2, 40, 4.0, 2_000_400)]


def test_exclusion_of_seen_items_applies_only_when_asked(monkeypatch):
    data = build_sequences(_interactions(HAND), max_len=3)
    scores = np.zeros((2, data.n_items + 1))
    scores[:, 0] = -np.inf
    seen_item = data.test_input[0, -1]
    scores[0, seen_item] = 5.0  # a seen item outranks user 1's target
    scores[0, data.test_target[0]] = 1.0
    scores[1, data.test_target[1]] = 1.0
    monkeypatch.setattr(sasrec, "score_users", lambda model, items, times: scores.copy())
    kept = sasrec.evaluate(None, data, "test", exclude_seen=False)[1]
    excluded = sasrec.evaluate(None, data, "test", exclude_seen=True)[1]
    assert kept.tolist() == [1, 0] and excluded.tolist() == [0, 0]


def _tiny_data():
    rng = np.random.default_rng(0)
    rows = [(u, int(i), 4.0, 1_000_000 + 3600 * t) for u in range(30) for t, i in enumerate(rng.integers(0, 40, 12))]
    return build_sequences(_interactions(rows), max_len=8)


def test_training_switches_change_the_path_and_training_is_deterministic():
    data = _tiny_data()
    base = SeqConfig(epochs=4, dim=8, heads=1, layers=1, batch_size=8)
    first, again = train_sasrec(data, base), train_sasrec(data, base)  # the same seed twice in one process
    assert np.allclose(first.curves["train_loss"], again.curves["train_loss"], rtol=1e-6, atol=0)
    for switch in ({"time_features": True}, {"norm_first": True}, {"lr_schedule": "warmup_cosine"},
                   {"loss": "infonce_in_batch"}, {"loss": "full_softmax"}):
        other = train_sasrec(data, SeqConfig(**{**base.__dict__, **switch}))
        assert not np.allclose(other.curves["train_loss"], first.curves["train_loss"], rtol=1e-6, atol=0), switch
    lr = train_sasrec(data, SeqConfig(**{**base.__dict__, "lr_schedule": "warmup_cosine", "epochs": 6})).curves["lr"]
    assert lr.iloc[-1] < lr.max() and lr.iloc[0] <= lr.max()
    stopped = train_sasrec(data, SeqConfig(**{**base.__dict__, "early_stopping": True, "patience": 1, "epochs": 30}))
    assert len(stopped.curves) < 30 and stopped.best_epoch == int(stopped.curves["val_ndcg@10"].idxmax()) + 1


@pytest.mark.parametrize("switches", [{}, {"norm_first": True, "time_features": True}])
def test_more_left_padding_leaves_the_real_positions_unchanged(switches):
    import torch

    torch.manual_seed(0)
    model = sasrec.SASRec(20, 12, SeqConfig(dim=8, heads=2, layers=2, **switches)).eval()
    real = torch.tensor([[5, 3, 17, 9]])
    times = torch.rand(1, 4, 3) * torch.tensor([23.0, 6.0, 5.0])
    outputs = []
    for padding in (0, 3, 8):
        items = torch.cat([torch.zeros(1, padding, dtype=torch.long), real], dim=1)
        padded_times = torch.cat([torch.zeros(1, padding, 3), times], dim=1)
        with torch.no_grad():
            outputs.append(model(items, padded_times)[:, padding:])
    assert not torch.isnan(outputs[-1]).any()
    for other in outputs[1:]:
        torch.testing.assert_close(other, outputs[0], rtol=1e-5, atol=1e-5)


def test_chunked_full_softmax_matches_torch_cross_entropy():
    import torch
    from torch.nn import functional as F

    generator = torch.Generator().manual_seed(0)
    h = torch.randn(600, 8, generator=generator, requires_grad=True)  # more positions than one chunk
    items = torch.randn(50, 8, generator=generator, requires_grad=True)
    target = torch.randint(1, 50, (600,), generator=generator)
    logits = h @ items.T
    expected = F.cross_entropy(torch.cat([torch.full((600, 1), -torch.inf), logits[:, 1:]], dim=1), target)
    expected_grads = torch.autograd.grad(expected, (h, items))
    got = sasrec.FullSoftmaxCrossEntropy.apply(h, items, target)
    got_grads = torch.autograd.grad(got, (h, items))
    torch.testing.assert_close(got, expected)
    for mine, theirs in zip(got_grads, expected_grads):
        torch.testing.assert_close(mine, theirs)
    assert (got_grads[1][0] == 0).all()  # padding never gets a gradient
    low = sasrec.FullSoftmaxCrossEntropy.apply(h, items, target, torch.bfloat16)  # the products in bfloat16
    low_grads = torch.autograd.grad(low, (h, items))
    torch.testing.assert_close(low, expected, rtol=1e-2, atol=1e-2)
    for mine, theirs in zip(low_grads, expected_grads):
        assert F.cosine_similarity(mine.ravel(), theirs.ravel(), dim=0) > 0.999


def test_time_features_start_no_larger_than_the_item_embeddings():
    """A year-long gap must not drown the item at initialisation (unscaled, it once cost half the NDCG)."""
    import math

    import torch

    torch.manual_seed(0)
    model = sasrec.SASRec(50, 8, SeqConfig(dim=16, time_features=True))
    items = torch.randint(1, 51, (4, 8))
    times = torch.tensor([23.0, 6.0, math.log1p(365 * 86_400)]).expand(4, 8, 3)
    item_part = model.item(items) * math.sqrt(16)
    time_part = (model.hour(times[..., 0].long()) + model.weekday(times[..., 1].long())
                 + model.delta(times[..., 2:3] / sasrec.LOG_DELTA_SCALE))
    assert time_part.norm(dim=-1).mean() < item_part.norm(dim=-1).mean()
