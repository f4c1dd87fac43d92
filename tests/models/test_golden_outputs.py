"""Every registered model and every shipped config's model gives the outputs (and position
gradients) recorded before the core redesign (``record_golden.py``), to round-off, in float64;
the configs changed or added after that recording give those recorded from release 0.5.2, before
the second redesign step (``record_golden.py configs``).

Old options and parameter names are mapped by :mod:`regconv.models.legacy`, the same code that
loads old checkpoints.
"""

from __future__ import annotations

import pytest
import torch

from regconv import models
from regconv.models.legacy import upgrade_options
from tests.models.record_golden import (
    CONFIGS_RECORDING,
    LATER_CONFIGS,
    RECORDING,
    evaluate,
    fill_parameters,
    molecules,
)

RECORDED = torch.load(RECORDING, weights_only=False)
RECORDED_CONFIGS = torch.load(CONFIGS_RECORDING, weights_only=False)

#: configs shipped after the recording was made (new tasks, nothing to compare with)
ADDED_AFTER_THE_RECORDING = {"md17_quick.yaml", "md17_r3s2.yaml"}

#: configs whose model was changed on purpose after the recording (their old form is gone):
#: qm9_quick.yaml, the main job, took mean pooling and a readout MLP in release 0.2; both it and
#: qm9_r3s2.yaml (r3s2 at its defaults) took the distance Gaussians of the kernel basis in 0.3;
#: the main job then went to 4 orientations
CHANGED_AFTER_THE_RECORDING = {"qm9_quick.yaml", "qm9_r3s2.yaml"}


@pytest.fixture(autouse=True)
def _float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def _build(case: dict) -> torch.nn.Module:
    name, options = upgrade_options(case["model"], case["options"])
    num_outputs, output, in_features, vector_in = case["contract"]
    return models.create(
        name, num_outputs=num_outputs, output=output, in_features=in_features,
        vector_in=vector_in, **options,
    ).double().eval()  # fmt: skip


def test_the_recording_covers_every_registered_constructor_and_config():
    recorded = {c["model"] for c in RECORDED.values()}
    constructors = {models.registry._entry(n)[0] for n in models.available()}
    covered = {models.registry._entry(n)[0] for n in recorded}
    assert constructors == covered
    from pathlib import Path

    configs = {p.name for p in (Path(__file__).parents[2] / "configs").glob("*.yaml")}
    recorded_configs = {k.split(":", 1)[1] for k in RECORDED if k.startswith("config:")}
    assert recorded_configs <= configs  # no recorded config was dropped
    assert configs - recorded_configs == ADDED_AFTER_THE_RECORDING
    later = {k.split(":", 1)[1] for k in RECORDED_CONFIGS}
    assert later == set(LATER_CONFIGS) == ADDED_AFTER_THE_RECORDING | CHANGED_AFTER_THE_RECORDING


@pytest.mark.parametrize("case_name", sorted(RECORDED))
def test_outputs_match_the_recording(case_name):
    import zlib

    case = RECORDED[case_name]
    model = _build(case)
    assert sorted(n for n, _ in model.named_parameters()) == case["parameters"]
    fill_parameters(model)
    _, _, in_features, vector_in = case["contract"]
    batch = molecules(zlib.crc32(case_name.encode()) % 1000, in_features, vector_in)
    out, grad = evaluate(model, batch)
    scale = case["out"].abs().max()
    assert (out - case["out"]).abs().max() <= 1e-10 * scale
    gscale = case["grad"].abs().max()
    assert (grad - case["grad"]).abs().max() <= 1e-9 * gscale


@pytest.mark.parametrize(
    "config",
    sorted(
        k.split(":", 1)[1]
        for k in RECORDED
        if k.startswith("config:") and k.split(":", 1)[1] not in CHANGED_AFTER_THE_RECORDING
    ),
)
def test_todays_config_builds_the_recorded_model(config):
    """The shipped config as it reads today (names and variants may have changed) builds the
    model recorded from its earlier form: same parameters, same outputs."""
    _check_config(RECORDED[f"config:{config}"], config, with_gradient=False)


@pytest.mark.parametrize("config", LATER_CONFIGS)
def test_todays_config_builds_the_model_of_release_0_5_2(config):
    """The configs of the main job, of r3s2 at its defaults and of energy + force training build
    the model they built in release 0.5.2: same parameters, outputs and position gradients."""
    _check_config(RECORDED_CONFIGS[f"config:{config}"], config, with_gradient=True)


def _check_config(recorded: dict, config: str, *, with_gradient: bool) -> None:
    import zlib
    from pathlib import Path

    import yaml

    cfg = yaml.safe_load((Path(__file__).parents[2] / "configs" / config).read_text())
    num_outputs, output, in_features, vector_in = recorded["contract"]
    model = models.create(
        cfg["model"]["model"], num_outputs=num_outputs, output=output, in_features=in_features,
        vector_in=vector_in, **(cfg["model"].get("model_options") or {}),
    ).double().eval()  # fmt: skip
    assert sorted(n for n, _ in model.named_parameters()) == recorded["parameters"]
    fill_parameters(model)
    batch = molecules(zlib.crc32(f"config:{config}".encode()) % 1000, in_features, vector_in)
    out, grad = evaluate(model, batch)
    assert (out - recorded["out"]).abs().max() <= 1e-10 * recorded["out"].abs().max()
    if with_gradient:
        assert (grad - recorded["grad"]).abs().max() <= 1e-9 * recorded["grad"].abs().max()
