"""Learning-rate schedules: their values, PyTorch's SequentialLR semantics, and saving."""
import json
import math

import pytest

from chainrule import nn, optim
from chainrule.optim import lr_scheduler


def make_optimizer(lr=1.0):
    return optim.SGD([nn.Parameter([0.0])], lr=lr)


def rates(scheduler, steps):
    values = [scheduler.get_last_lr()[0]]
    for _ in range(steps):
        scheduler.optimizer.step()
        scheduler.step()
        values.append(scheduler.get_last_lr()[0])
    return values


def test_step_lr_divides_every_step_size_steps():
    assert rates(lr_scheduler.StepLR(make_optimizer(), step_size=2, gamma=0.5), 4) == \
        [1.0, 1.0, 0.5, 0.5, 0.25]


def test_linear_lr_ramps_then_stays():
    values = rates(lr_scheduler.LinearLR(make_optimizer(), start_factor=0.25, total_iters=3), 4)
    assert values == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0])


def test_cosine_annealing_follows_half_a_cosine_to_eta_min():
    values = rates(lr_scheduler.CosineAnnealingLR(make_optimizer(), T_max=4, eta_min=0.1), 4)
    expected = [0.1 + 0.9 * (1 + math.cos(math.pi * t / 4)) / 2 for t in range(5)]
    assert values == pytest.approx(expected, rel=1e-15)
    assert values[-1] == pytest.approx(0.1)


def test_lambda_lr_multiplies_the_base_rate_and_sets_the_optimizer():
    scheduler = lr_scheduler.LambdaLR(make_optimizer(2.0), lambda t: 1 / (t + 1))
    assert rates(scheduler, 3) == pytest.approx([2.0, 1.0, 2 / 3, 0.5])
    assert scheduler.optimizer.param_groups[0]["lr"] == pytest.approx(0.5)


def test_sequential_lr_restarts_each_schedule_at_its_milestone_as_pytorch_does():
    optimizer = make_optimizer()
    warmup = lr_scheduler.LinearLR(optimizer, start_factor=0.5, total_iters=2)
    cosine = lr_scheduler.CosineAnnealingLR(optimizer, T_max=2)
    scheduler = lr_scheduler.SequentialLR(optimizer, [warmup, cosine], milestones=[2])
    assert rates(scheduler, 4) == pytest.approx([0.5, 0.75, 1.0, 0.5, 0.0], abs=1e-15)


def test_warmup_cosine_matches_nanogpt_get_lr():
    learning_rate, min_lr, warmup_iters, lr_decay_iters = 1e-3, 1e-4, 10, 50

    def get_lr(it):  # nanoGPT's train.py
        if it < warmup_iters:
            return learning_rate * (it + 1) / (warmup_iters + 1)
        if it > lr_decay_iters:
            return min_lr
        decay_ratio = (it - warmup_iters) / (lr_decay_iters - warmup_iters)
        coeff = 0.5 * (1.0 + math.cos(math.pi * decay_ratio))
        return min_lr + coeff * (learning_rate - min_lr)

    scheduler = lr_scheduler.WarmupCosineLR(make_optimizer(learning_rate), warmup_iters,
                                            lr_decay_iters, min_lr=min_lr)
    assert rates(scheduler, 60) == pytest.approx([get_lr(it) for it in range(61)], rel=1e-14)


def test_scheduler_state_survives_json_and_resumes_the_same_rates():
    def build():
        optimizer = make_optimizer()
        return lr_scheduler.SequentialLR(optimizer, [
            lr_scheduler.LinearLR(optimizer, start_factor=0.1, total_iters=3),
            lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)], milestones=[3])

    straight = rates(build(), 8)
    first = build()
    rates(first, 4)
    saved = json.loads(json.dumps(first.state_dict()))
    second = build()
    second.optimizer.load_state_dict(json.loads(json.dumps(
        {"state": {}, "param_groups": first.optimizer.state_dict()["param_groups"]})))
    second.load_state_dict(saved)
    assert rates(second, 4) == straight[4:]
