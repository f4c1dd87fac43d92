"""Cutoff envelopes: values, smoothness at the cutoff (float64 autograd), the component's specs
and its errors; and every model with a cutoff: the curvature of the energy as an atom crosses
it (jumps with the cosine envelope, continuous with the tapered one)."""

import math

import pytest
import torch
from torch_geometric.data import Batch, Data

from regconv import models
from regconv.kernels import (
    ENVELOPES,
    CosineCutoff,
    TaperedCosineCutoff,
    build_envelope,
)


def derivatives(envelope, d, order):
    """``u, u', ..., u^(order)`` at the points ``d`` (float64 autograd)."""
    d = torch.as_tensor(d, dtype=torch.float64).clone().requires_grad_(True)
    out = [envelope(d)]
    for _ in range(order):
        (g,) = torch.autograd.grad(out[-1].sum(), d, create_graph=True)
        out.append(g)
    return [o.detach() for o in out]


def test_cosine_values_and_its_curvature_jump_at_the_cutoff():
    rc = 4.0
    env = CosineCutoff(rc)
    d = torch.linspace(0.0, 6.0, 61, dtype=torch.float64)
    expected = torch.where(d < rc, 0.5 * (torch.cos(math.pi * d / rc) + 1), torch.zeros_like(d))
    torch.testing.assert_close(env(d), expected, rtol=0, atol=1e-15)
    u, du, ddu = derivatives(env, [rc - 1e-9], 2)
    assert abs(u.item()) < 1e-15 and abs(du.item()) < 1e-8
    assert ddu.item() == pytest.approx(0.5 * (math.pi / rc) ** 2, rel=1e-6)  # jumps to 0 at rc


@pytest.mark.parametrize("tail", [0.5, 1.0])
def test_tapered_is_the_cosine_inside_and_c2_everywhere(tail):
    rc = 4.0
    cos, tap = CosineCutoff(rc), TaperedCosineCutoff(rc, tail=tail)
    inner = torch.linspace(0.0, rc - tail, 40, dtype=torch.float64)
    torch.testing.assert_close(tap(inner), cos(inner), rtol=0, atol=1e-15)
    outer = torch.linspace(rc - tail + 1e-3, rc - 1e-3, 40, dtype=torch.float64)
    assert bool((tap(outer) < cos(outer)).all()) and bool((tap(outer) > 0).all())
    assert float(tap(torch.tensor([rc, rc + 1.0], dtype=torch.float64)).abs().max()) == 0.0
    # value and first four derivatives vanish at the cutoff
    at_rc = derivatives(tap, [rc - 1e-6], 4)
    for k, v in enumerate(at_rc):
        assert abs(v.item()) < 1e-3 * tail ** (-k), (k, v.item())
    # at the join r_c - t: u, u', u'' continuous; u''' jumps by -60 u / t^3
    eps = 1e-7
    left, right = derivatives(tap, [rc - tail - eps], 3), derivatives(tap, [rc - tail + eps], 3)
    for k in range(3):
        assert right[k].item() == pytest.approx(left[k].item(), abs=1e-5 * tail ** (-k))
    jump = right[3].item() - left[3].item()
    assert jump == pytest.approx(-60.0 * left[0].item() / tail**3, rel=1e-4)


def test_build_envelope_specs_and_errors():
    assert build_envelope(None, None) is None
    assert type(build_envelope(None, 3.0)) is CosineCutoff
    assert type(build_envelope({}, 3.0)) is CosineCutoff
    env = build_envelope({"kind": "tapered", "tail": 0.25}, 3.0)
    assert type(env) is TaperedCosineCutoff and env.tail == 0.25 and float(env.cutoff) == 3.0
    assert "tail=0.25" in repr(env)
    same = TaperedCosineCutoff(3.0)
    assert build_envelope(same, 3.0) is same
    assert set(ENVELOPES) == {"cosine", "tapered"}
    bad = [
        ({"kind": "tapered"}, None, "needs a cutoff"),
        ({"kind": "tapered", "cutoff": 3.0}, 3.0, "no 'cutoff'"),
        (TaperedCosineCutoff(2.0), 3.0, "differs from the model's cutoff"),
        ({"kind": "polynomial"}, 3.0, "unknown kind"),
        ({"kind": "tapered", "width": 1.0}, 3.0, "width"),
        ({"kind": "tapered", "tail": 0.0}, 3.0, "envelope.tail"),
        ({"kind": "tapered", "tail": 4.0}, 3.0, "at most the cutoff"),
        ("tapered", 3.0, "mapping"),
    ]
    for spec, cutoff, message in bad:
        with pytest.raises(ValueError, match=message):
            build_envelope(spec, cutoff)


def test_the_tapered_envelope_is_saved_and_restored_with_the_model():
    model = models.create("r3", hidden=8, layers=1, basis={"dim": 8}, envelope={"kind": "tapered"})
    assert type(model.envelope) is TaperedCosineCutoff
    again = models.create("r3", hidden=8, layers=1, basis={"dim": 8}, envelope={"kind": "tapered"})
    again.load_state_dict(model.state_dict())
    assert float(again.envelope.cutoff) == 5.0


SMALL = {"hidden": 8, "layers": 2}
FIBRE = {**SMALL, "basis": {"dim": 8}}
#: every model with a cutoff envelope, small
WITH_CUTOFF = {
    "schnet": {**SMALL, "num_rbf": 8},
    "egnn": SMALL,
    "dimenet": {**SMALL, "num_radial": 4, "num_spherical": 3},
    "spherenet": {**SMALL, "num_radial": 4, "num_spherical": 3, "num_torsion": 2},
    "r3": FIBRE,
    "r3s2": {**FIBRE, "space": {"num_orientations": 4}, "table": None},
    "r3s2-attention": {**FIBRE, "space": {"num_orientations": 4}, "block": {"heads": 2}},
    "r3s2-edge": {"hidden": 8, "layers": 2, "basis_dim": 8},
}


def curvature_across_the_cutoff(name, envelope, cutoff=2.0, eps=1e-6):
    """``d^2 E / ds^2`` just inside and just outside the cutoff as atom 3 moves along a line
    through it (``s`` its distance to atom 0)."""
    torch.manual_seed(0)
    model = models.create(name, **WITH_CUTOFF[name], cutoff=cutoff, envelope=envelope)
    model = model.to(torch.float64).eval()
    with torch.no_grad():  # make the ConvNeXt residual branches count (layer scale starts ~0)
        for p_name, p in model.named_parameters():
            if p_name.endswith("gamma"):
                p.fill_(1.0)
    base = torch.tensor([[0.0, 0.0, 0.0], [1.2, 0.0, 0.0], [1.9, 1.0, 0.3]], dtype=torch.float64)
    direction = torch.tensor([0.0, 0.6, 0.8], dtype=torch.float64)
    offset = torch.tensor([-0.3, 0.0, 0.0], dtype=torch.float64)
    t_cut = (cutoff**2 - 0.09) ** 0.5  # |offset + t direction| = cutoff
    out = []
    for t in (t_cut - eps, t_cut + eps):
        t = torch.tensor(t, dtype=torch.float64, requires_grad=True)
        pos = torch.cat([base, (offset + t * direction).unsqueeze(0)])
        batch = Batch.from_data_list([Data(pos=pos, z=torch.tensor([6, 6, 8, 1]))])
        energy = model(batch).sum()
        (g,) = torch.autograd.grad(energy, t, create_graph=True)
        (h,) = torch.autograd.grad(g, t)
        out.append((g.item(), h.item()))
    return out


@pytest.mark.parametrize("name", sorted(WITH_CUTOFF))
def test_energy_curvature_is_continuous_across_the_cutoff_only_when_tapered(name):
    (g_in, h_in), (g_out, h_out) = curvature_across_the_cutoff(name, None)
    assert g_in == pytest.approx(g_out, abs=1e-4)  # cosine: forces continuous...
    cosine_jump = abs(h_in - h_out)
    assert cosine_jump > 1e-4  # ...their derivative is not
    (g_in, h_in), (g_out, h_out) = curvature_across_the_cutoff(name, {"kind": "tapered"})
    assert g_in == pytest.approx(g_out, abs=1e-8)
    assert abs(h_in - h_out) < 1e-4 * cosine_jump  # tapered: continuous curvature
