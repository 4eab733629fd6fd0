"""attnlab.training.fit: the one seeded loop every chapter and the seed report train with."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from attnlab import AttnLabError
from attnlab.training import fit, sample


def regression_loss(model: nn.Module, g: torch.Generator) -> torch.Tensor:
    x = torch.randn(16, 3, generator=g)
    y = x @ torch.tensor([1.0, -2.0, 0.5]) + 0.25
    return nn.functional.mse_loss(model(x).squeeze(-1), y)


def fresh(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Linear(3, 1)


def test_fit_learns_and_returns_the_model_in_eval_mode():
    model, history = fresh(), []
    assert fit(model, regression_loss, 300, lr=5e-2, history=history) is model
    assert not model.training
    assert len(history) == 300 and history[-1] < 1e-3 < history[0]
    torch.testing.assert_close(model.weight.detach(), torch.tensor([[1.0, -2.0, 0.5]]), atol=1e-2, rtol=0)


def test_fit_is_deterministic_for_a_seed_and_the_seed_draws_the_batches():
    a = fit(fresh(), regression_loss, 20, seed=3)
    b = fit(fresh(), regression_loss, 20, seed=3)
    c = fit(fresh(), regression_loss, 20, seed=4)
    assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)
    assert not torch.equal(a.weight, c.weight)


def test_fit_leaves_frozen_parameters_alone():
    model = fresh()
    model.bias.requires_grad_(False)
    before = model.bias.detach().clone()
    fit(model, regression_loss, 10)
    assert torch.equal(model.bias, before)


def test_zero_steps_change_nothing():
    model = fresh()
    before = [p.detach().clone() for p in model.parameters()]
    fit(model, regression_loss, 0)
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), before, strict=True))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"steps": -1}, r"steps must be >= 0, got -1"), ({"steps": 1, "lr": 0.0}, r"lr must be > 0, got 0.0")],
)
def test_fit_rejects_bad_settings(kwargs, match):
    steps = kwargs.pop("steps")
    with pytest.raises(AttnLabError, match=match):
        fit(fresh(), regression_loss, steps, **kwargs)


def test_fit_rejects_a_loss_that_is_not_a_scalar():
    with pytest.raises(AttnLabError, match=r"loss must return a scalar, got shape \(16,\)"):
        fit(fresh(), lambda m, g: m(torch.randn(16, 3, generator=g)).squeeze(-1), 1)


def test_sample_draws_indices_with_the_generator():
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    idx = sample(10, 64, g1)
    assert idx.shape == (64,) and idx.min() >= 0 and idx.max() < 10
    assert torch.equal(idx, sample(10, 64, g2))
    with pytest.raises(AttnLabError, match=r"need n > 0 and batch > 0, got n=0, batch=4"):
        sample(0, 4, g1)


def test_no_progress_bar_outside_a_notebook(capsys, monkeypatch):
    monkeypatch.delenv("ATTNLAB_PROGRESS", raising=False)
    fit(fresh(), regression_loss, 5)
    assert capsys.readouterr().out == ""


def test_the_progress_bar_ends_at_the_last_step_with_the_loss(capsys):
    from attnlab.training import _ProgressBar

    bar = _ProgressBar(120, "demo")  # outside a notebook, display() prints the widget's text form
    assert "IntProgress(value=0, description='demo', max=120)" in capsys.readouterr().out
    for step in range(1, 121):
        bar.update(step, torch.tensor(0.5 / step))
    assert bar.bar.value == 120 and bar.text.value == "120 / 120 steps, loss 0.00417"
    bar = _ProgressBar(120, "demo")
    bar.update(3, torch.tensor(1.0))  # between updates (every 120 // 50 = 2 steps): left alone
    assert bar.bar.value == 0


def test_attnlab_progress_0_turns_the_bar_off(monkeypatch):
    from attnlab import training

    monkeypatch.setenv("ATTNLAB_PROGRESS", "0")
    assert training._in_notebook() is False


def test_zero_steps_show_no_bar(capsys):
    fit(fresh(), regression_loss, 0, progress=True)
    assert capsys.readouterr().out == ""


def test_classification_loss_draws_a_batch_with_the_generator():
    from attnlab.training import classification_loss

    torch.manual_seed(0)
    model, x, y = nn.Linear(3, 4), torch.randn(10, 3), torch.randint(4, (10,))
    idx = sample(10, 5, torch.Generator().manual_seed(7))
    want = nn.functional.cross_entropy(model(x[idx]), y[idx])
    torch.testing.assert_close(classification_loss(x, y, 5)(model, torch.Generator().manual_seed(7)), want)
    doubled = classification_loss(x, y, 5, logits=lambda m, inputs: 2 * m(inputs))
    assert not torch.allclose(doubled(model, torch.Generator().manual_seed(7)), want)
    with pytest.raises(AttnLabError, match=r"need inputs \(n, \.\.\.\) and labels \(n,\), got \(10, 3\) and \(9,\)"):
        classification_loss(x, y[:9])
