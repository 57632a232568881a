"""Learning-rate schedules: their values, PyTorch's SequentialLR semantics, and saving."""
import json
import math

import numpy
import pytest

import chainrule
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


def test_multi_step_lr_multiplies_by_gamma_at_each_milestone():
    # milestones unsorted and one repeated: γ² there, as PyTorch's Counter of milestones
    scheduler = lr_scheduler.MultiStepLR(make_optimizer(2.0), milestones=[6, 2, 6], gamma=0.5)
    want = [2.0 * 0.5 ** sum(m <= t for m in (2, 6, 6)) for t in range(9)]
    assert rates(scheduler, 8) == pytest.approx(want, rel=1e-15)
    assert scheduler.lr_at(7) == pytest.approx([2.0 * 0.125], rel=1e-15)
    json.dumps(scheduler.state_dict())  # the milestones are a list, not a Counter


def test_exponential_lr_multiplies_by_gamma_every_step():
    scheduler = lr_scheduler.ExponentialLR(make_optimizer(0.3), gamma=0.9)
    assert rates(scheduler, 12) == pytest.approx([0.3 * 0.9 ** t for t in range(13)], rel=1e-14)


def test_two_schedulers_stepped_together_multiply_as_in_pytorch():
    # PyTorch's StepLR and LinearLR step from the group's current rate, so a warm-up and a
    # step decay on one optimizer compose: lr(t) = base · linear(t) · γ^⌊t/10⌋.
    optimizer = make_optimizer(0.3)
    warmup = lr_scheduler.LinearLR(optimizer, start_factor=0.1, total_iters=5)
    decay = lr_scheduler.StepLR(optimizer, step_size=10, gamma=0.5)
    got = [optimizer.param_groups[0]["lr"]]
    for _ in range(25):
        optimizer.step()
        warmup.step()
        decay.step()
        got.append(optimizer.param_groups[0]["lr"])
    want = [0.3 * (0.1 + 0.9 * min(t, 5) / 5) * 0.5 ** (t // 10) for t in range(26)]
    assert got == pytest.approx(want, rel=1e-14)
    assert decay.get_last_lr() == [got[-1]]


@pytest.mark.parametrize("make, closed_form", [
    (lambda o: lr_scheduler.StepLR(o, step_size=3, gamma=0.5), lambda t: 0.5 ** (t // 3)),
    (lambda o: lr_scheduler.LinearLR(o, start_factor=0.2, total_iters=12),
     lambda t: 0.2 + 0.8 * min(t, 12) / 12),
])
def test_a_rate_changed_by_hand_carries_on_as_in_pytorch(make, closed_form):
    optimizer = make_optimizer(1.0)
    scheduler = make(optimizer)
    got = []
    for t in range(1, 16):
        optimizer.step()
        scheduler.step()
        if t == 4:
            optimizer.param_groups[0]["lr"] *= 0.5  # e.g. after a loss spike
        got.append(optimizer.param_groups[0]["lr"])
    want = [closed_form(t) * (0.5 if t >= 4 else 1.0) for t in range(1, 16)]
    assert got == pytest.approx(want, rel=1e-14)


def test_cosine_annealing_from_a_rate_changed_by_hand_keeps_its_distance_ratio_to_eta_min():
    # PyTorch's recursion: lr(t) − η = (lr(t−1) − η) · c(t) / c(t−1), c(t) = 1 + cos(π t / T).
    optimizer = make_optimizer(1.0)
    scheduler = lr_scheduler.CosineAnnealingLR(optimizer, T_max=10, eta_min=0.1)
    for _ in range(3):
        optimizer.step()
        scheduler.step()
    optimizer.param_groups[0]["lr"] = 2.0
    cosine = lambda t: 1 + math.cos(math.pi * t / 10)  # noqa: E731
    for t in range(4, 10):
        optimizer.step()
        scheduler.step()
        assert optimizer.param_groups[0]["lr"] == pytest.approx(
            0.1 + (2.0 - 0.1) * cosine(t) / cosine(3), rel=1e-14)


def test_sequential_lr_with_a_milestone_at_zero_starts_with_the_second_schedule():
    optimizer = make_optimizer(1.0)
    skipped = lr_scheduler.LinearLR(optimizer, start_factor=0.5, total_iters=2)
    step = lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.1)
    scheduler = lr_scheduler.SequentialLR(optimizer, [skipped, step], milestones=[0])
    assert rates(scheduler, 4) == pytest.approx([1.0, 1.0, 0.1, 0.1, 0.01], rel=1e-15)


def test_sequential_lr_refuses_reduce_on_plateau():
    optimizer = make_optimizer()
    plateau = lr_scheduler.ReduceLROnPlateau(optimizer)
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        lr_scheduler.SequentialLR(optimizer, [lr_scheduler.StepLR(optimizer, 2), plateau],
                                  milestones=[3])


# ---------------------------------------------------------------- ReduceLROnPlateau
def plateau_rates(metrics, lr=1.0, **settings):
    scheduler = lr_scheduler.ReduceLROnPlateau(make_optimizer(lr), **settings)
    values = []
    for metric in metrics:
        scheduler.step(metric)
        values.append(scheduler.get_last_lr()[0])
    return values


def test_plateau_reduces_after_more_than_patience_bad_epochs():
    metrics = [1.0, 0.9, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95]
    assert plateau_rates(metrics, factor=0.5, patience=2) == [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.25]


def test_plateau_defaults_are_pytorchs():
    scheduler = lr_scheduler.ReduceLROnPlateau(make_optimizer())
    assert (scheduler.mode, scheduler.factor, scheduler.patience, scheduler.threshold,
            scheduler.threshold_mode, scheduler.cooldown, scheduler.min_lrs, scheduler.eps) == \
        ("min", 0.1, 10, 1e-4, "rel", 0, [0.0], 1e-8)
    assert plateau_rates([1.0] * 12) == [1.0] * 11 + [0.1]


def test_plateau_improvements_smaller_than_the_threshold_do_not_count():
    # rel: better means below best · 0.9; abs: below best − 0.1
    assert plateau_rates([1.0, 0.95, 0.91], patience=1, threshold=0.1) == [1, 1, 0.1]
    assert plateau_rates([1.0, 0.89, 0.80], patience=1, threshold=0.1) == [1, 1, 1]
    assert plateau_rates([1.0, 0.95, 0.91], patience=1, threshold=0.1,
                         threshold_mode="abs") == [1, 1, 0.1]
    assert plateau_rates([1.0, 0.85, 0.7], patience=1, threshold=0.1,
                         threshold_mode="abs") == [1, 1, 1]


def test_plateau_in_max_mode_watches_a_rising_metric():
    assert plateau_rates([0.5, 0.6, 0.6, 0.7], mode="max", patience=0) == [1, 1, 0.1, 0.1]
    # abs: better means above best + 0.1, so 0.55 after 0.5 is not, and 0.7 is
    assert plateau_rates([0.5, 0.55, 0.55, 0.7], mode="max", patience=0, threshold=0.1,
                         threshold_mode="abs") == pytest.approx([1, 0.1, 0.01, 0.01], rel=1e-15)


def test_plateau_cooldown_ignores_bad_epochs_after_a_reduction():
    values = plateau_rates([1.0] * 8, factor=0.5, patience=0, cooldown=2)
    assert values == [1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.125]


def test_plateau_never_goes_below_min_lr_per_group_and_skips_tiny_reductions():
    optimizer = optim.SGD([{"params": [nn.Parameter([0.0])], "lr": 1.0},
                           {"params": [nn.Parameter([0.0])], "lr": 1e-9}], lr=1.0)
    scheduler = lr_scheduler.ReduceLROnPlateau(optimizer, patience=0, min_lr=[0.05, 0.0])
    for _ in range(4):
        scheduler.step(1.0)
    # 1 → 0.1 → 0.05 (the floor); 1e-9 stays: a reduction smaller than eps is not made
    assert scheduler.get_last_lr() == [0.05, 1e-9]
    assert [group["lr"] for group in optimizer.param_groups] == [0.05, 1e-9]


def pytorch_plateau_reference(metrics, mode, factor, patience, threshold, threshold_mode,
                              cooldown, min_lr, eps, lr=1.0):
    """torch.optim.lr_scheduler.ReduceLROnPlateau's step, transcribed from its source."""
    best = math.inf if mode == "min" else -math.inf
    bad = cooldown_counter = 0
    values = []
    for current in metrics:
        if mode == "min" and threshold_mode == "rel":
            better = current < best * (1.0 - threshold)
        elif mode == "min":
            better = current < best - threshold
        elif threshold_mode == "rel":
            better = current > best * (threshold + 1.0)
        else:
            better = current > best + threshold
        if better:
            best, bad = current, 0
        else:
            bad += 1
        if cooldown_counter > 0:
            cooldown_counter -= 1
            bad = 0
        if bad > patience:
            new_lr = max(lr * factor, min_lr)
            if lr - new_lr > eps:
                lr = new_lr
            cooldown_counter, bad = cooldown, 0
        values.append(lr)
    return values


@pytest.mark.parametrize("seed", range(6))
def test_plateau_matches_pytorchs_algorithm_on_noisy_metrics(seed):
    rng = numpy.random.default_rng(seed)
    settings = dict(mode=["min", "max"][seed % 2], factor=[0.1, 0.5, 0.3][seed % 3],
                    patience=int(rng.integers(0, 4)), threshold=float(rng.choice([1e-4, 0.05])),
                    threshold_mode=["rel", "abs"][seed // 3], cooldown=int(rng.integers(0, 3)),
                    min_lr=0.01, eps=1e-8)
    metrics = (numpy.exp(-numpy.arange(60) / 20) + rng.normal(0, 0.05, 60)).tolist()
    assert plateau_rates(metrics, **settings) == pytorch_plateau_reference(metrics, **settings)


def test_plateau_state_survives_save_and_load_and_continues_the_same(tmp_path):
    metrics = [1.0, 0.9, 0.95, 0.97, 0.99, 0.98, 0.97, 0.96]
    straight = plateau_rates(metrics, factor=0.5, patience=1, cooldown=1)
    optimizer = make_optimizer()
    first = lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=1, cooldown=1)
    for metric in metrics[:4]:
        first.step(chainrule.tensor(metric))  # a 0-d tensor is accepted as the metric
    chainrule.save({"optimizer": optimizer.state_dict(), "scheduler": first.state_dict()},
                   tmp_path / "state.pt")
    saved = chainrule.load(tmp_path / "state.pt")
    resumed_optimizer = make_optimizer()
    resumed_optimizer.load_state_dict(saved["optimizer"])
    resumed = lr_scheduler.ReduceLROnPlateau(resumed_optimizer)
    resumed.load_state_dict(saved["scheduler"])
    values = []
    for metric in metrics[4:]:
        resumed.step(metric)
        values.append(resumed.get_last_lr()[0])
    assert values == straight[4:]


def test_plateau_refuses_bad_settings_and_a_step_without_the_metric():
    with pytest.raises(ValueError, match="factor must be < 1"):
        lr_scheduler.ReduceLROnPlateau(make_optimizer(), factor=1.0)
    with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
        lr_scheduler.ReduceLROnPlateau(make_optimizer(), mode="lowest")
    with pytest.raises(ValueError, match="threshold_mode"):
        lr_scheduler.ReduceLROnPlateau(make_optimizer(), threshold_mode="relative")
    with pytest.raises(ValueError, match="2 min_lr values for 1"):
        lr_scheduler.ReduceLROnPlateau(make_optimizer(), min_lr=[0.1, 0.2])
    with pytest.raises(TypeError, match=r"scheduler.step\(val_loss\)"):
        lr_scheduler.ReduceLROnPlateau(make_optimizer()).step()
