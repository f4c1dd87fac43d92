"""The learning-rate schedule in time of the budget benchmark
(:class:`regconv.training.optim.TimeWarmupCosine`) and the curve it shares with the steps one."""

from __future__ import annotations

import math

import pytest
import torch

from regconv.training import optim
from regconv.training.optim import TimeWarmupCosine, WarmupCosine, warmup_cosine


class Clock:
    """A fake ``time.monotonic`` for the schedule (seconds set by hand)."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(optim.time, "monotonic", c)
    return c


def test_values_at_a_few_times(clock):
    s = TimeWarmupCosine(budget_s=100.0, warmup_fraction=0.1, min_ratio=0.2, start_ratio=0.01)
    assert s(0) == pytest.approx(0.01)  # not started: f = 0
    s.start()
    expected = {
        0.0: 0.01,  # start of the warm-up
        5.0: 0.01 + 0.99 * 0.5,  # half-way through the warm-up
        10.0: 1.0,  # end of the warm-up
        55.0: 0.2 + 0.8 * 0.5,  # half-way through the cosine
        100.0: 0.2,  # the budget is spent
        250.0: 0.2,  # constant after
    }
    for t, value in expected.items():
        clock.now = 1000.0 + t
        assert s.fraction() == pytest.approx(min(t / 100.0, 1.0))
        assert s(12345) == pytest.approx(value), t  # the step is ignored
    clock.now = 1000.0 + 77.0
    f = (0.77 - 0.1) / 0.9
    assert s(0) == pytest.approx(0.2 + 0.8 * 0.5 * (1 + math.cos(math.pi * f)))


def test_warm_up_and_end(clock):
    s = TimeWarmupCosine(budget_s=10.0, warmup_fraction=0.05)
    warm = [s.multiplier(f / 1000) for f in range(0, 51)]
    assert warm[0] == pytest.approx(0.01) and warm[-1] == pytest.approx(1.0)
    steps = [b - a for a, b in zip(warm, warm[1:], strict=False)]
    assert all(d == pytest.approx(steps[0]) for d in steps)  # linear
    decay = [s.multiplier(f / 100) for f in range(5, 101)]
    assert all(a >= b for a, b in zip(decay, decay[1:], strict=False))
    assert s.multiplier(1.0) == pytest.approx(0.0, abs=1e-12)
    # no warm-up: the cosine starts at once; a start ratio of 1: a flat warm-up
    assert TimeWarmupCosine(10.0, warmup_fraction=0.0).multiplier(0.0) == pytest.approx(1.0)
    flat = TimeWarmupCosine(10.0, warmup_fraction=0.5, start_ratio=1.0)
    assert flat.multiplier(0.0) == flat.multiplier(0.49) == 1.0
    assert flat.multiplier(0.75) == pytest.approx(0.5)


def test_the_clock_starts_with_start(clock):
    s = TimeWarmupCosine(budget_s=60.0)
    clock.now += 30.0
    assert s.fraction() == 0.0
    s.start()
    clock.now += 30.0
    assert s.fraction() == pytest.approx(0.5)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"budget_s": 0.0},
        {"budget_s": -1.0},
        {"budget_s": 1.0, "warmup_fraction": 1.0},
        {"budget_s": 1.0, "warmup_fraction": -0.1},
        {"budget_s": 1.0, "min_ratio": 1.5},
        {"budget_s": 1.0, "start_ratio": 0.0},
    ],
)
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        TimeWarmupCosine(**kwargs)


def test_one_curve_for_steps_and_time():
    steps = WarmupCosine(warmup_steps=4, total_steps=14, min_ratio=0.1)
    # the steps schedule is the curve with offset 1 (exactly: no round-off changes)
    for k in range(20):
        assert steps(k) == warmup_cosine(k, 4, 10, 0.1, offset=1.0)
    # the time schedule whose start ratio is the steps one's first value follows it in time
    time_s = TimeWarmupCosine(budget_s=1.0, warmup_fraction=4 / 14, min_ratio=0.1, start_ratio=0.2)
    for k in range(15):
        assert time_s.multiplier(k / 14) == pytest.approx(steps(k))


def test_lambda_lr_reads_the_clock(clock):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    s = TimeWarmupCosine(budget_s=100.0, warmup_fraction=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, s)
    s.start()
    clock.now += 50.0
    opt.step()
    sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(s.multiplier(0.5))
