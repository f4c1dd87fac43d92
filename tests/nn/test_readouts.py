"""Readouts (graph scalars, fibre vectors, edge vectors) and the atom embedding."""

import pytest
import torch

from regconv.geometry import random_orthogonal, random_reflection, random_rotation
from regconv.kernels import KernelBasis
from regconv.kernels.pair_features import PairGeometry
from regconv.nn import AtomEmbedding, EdgeVectorReadout, FibreVectorReadout, GraphScalarReadout
from regconv.spaces import R3, R3S2, SE3


# -- GraphScalarReadout ---------------------------------------------------------------------------
@pytest.mark.parametrize("pooling", ["sum", "mean"])
def test_graph_scalar_readout_pools_fibre_means_per_graph(pooling):
    torch.manual_seed(0)
    n, o_, c, k = 7, 3, 4, 2
    readout = GraphScalarReadout(c, k, pooling=pooling).double()
    f = torch.randn(n, o_, c, dtype=torch.float64)
    batch = torch.tensor([0, 0, 0, 2, 2, 3, 3])  # graph 1 has no atoms
    out = readout(f, batch, 4)
    assert out.shape == (4, k)
    w, b = readout.linear.weight, readout.linear.bias
    for graph in range(4):
        atoms = [i for i in range(n) if int(batch[i]) == graph]
        total = torch.zeros(k, dtype=torch.float64)
        for i in atoms:
            total += sum(w @ f[i, o] + b for o in range(o_)) / o_
        expected = total / max(1, len(atoms)) if pooling == "mean" else total
        torch.testing.assert_close(out[graph], expected, rtol=1e-12, atol=1e-12)
    assert torch.equal(out[1], torch.zeros(k, dtype=torch.float64))  # empty graph: zero, no NaN


def test_mean_pooling_is_sum_pooling_over_the_atom_count():
    torch.manual_seed(1)
    s, m = GraphScalarReadout(3, 2, "sum").double(), GraphScalarReadout(3, 2, "mean").double()
    m.load_state_dict(s.state_dict())
    f = torch.randn(6, 2, 3, dtype=torch.float64)
    batch = torch.tensor([0, 1, 1, 1, 1, 1])
    counts = torch.tensor([[1.0], [5.0]], dtype=torch.float64)
    torch.testing.assert_close(m(f, batch, 2), s(f, batch, 2) / counts, rtol=1e-12, atol=1e-12)


def test_attention_pooling_starts_as_mean_pooling():
    torch.manual_seed(2)
    attn = GraphScalarReadout(3, 2, "attention", hidden=5).double()
    mean = GraphScalarReadout(3, 2, "mean", hidden=5).double()
    mean.load_state_dict({k: v for k, v in attn.state_dict().items() if not k.startswith("gate")})
    f = torch.randn(6, 4, 3, dtype=torch.float64)
    batch = torch.tensor([0, 1, 1, 1, 2, 2])
    torch.testing.assert_close(attn(f, batch, 3), mean(f, batch, 3), rtol=1e-12, atol=1e-12)


def test_attention_pooling_is_a_softmax_weighted_sum_over_atoms_and_orientations():
    torch.manual_seed(3)
    n, o_, c, k = 7, 3, 4, 2
    readout = GraphScalarReadout(c, k, "attention").double()
    with torch.no_grad():
        readout.gate.weight.normal_()
        readout.gate.bias.normal_()
    f = torch.randn(n, o_, c, dtype=torch.float64) * 3.0
    batch = torch.tensor([0, 0, 0, 2, 2, 3, 3])  # graph 1 has no atoms
    out = readout(f, batch, 4)
    for graph in range(4):
        rows = f[batch == graph].reshape(-1, c)  # [n_b O, C]
        if len(rows) == 0:
            assert torch.equal(out[graph], torch.zeros(k, dtype=torch.float64))  # no NaN
            continue
        a = rows @ readout.gate.weight.T + readout.gate.bias  # [n_b O, k]
        v = rows @ readout.linear.weight.T + readout.linear.bias
        expected = (torch.softmax(a, dim=0) * v).sum(0)
        torch.testing.assert_close(out[graph], expected, rtol=1e-12, atol=1e-12)
    # a graph's value does not depend on the other graphs of its batch
    alone = readout(f[batch == 2], torch.zeros(2, dtype=torch.long), 1)
    torch.testing.assert_close(alone[0], out[2], rtol=1e-12, atol=1e-12)
    # very large logits stay finite (the softmax is shifted by each graph's maximum)
    with torch.no_grad():
        readout.gate.weight.mul_(1e4)
    assert torch.isfinite(readout(f, batch, 4)).all()


def test_attention_pooling_has_no_per_atom_values():
    with pytest.raises(ValueError, match="attention"):
        GraphScalarReadout(3, 1, "attention").node_values(torch.randn(2, 1, 3))


@pytest.mark.parametrize("bad", ["max", "Sum", "", None])
def test_unknown_pooling_raises(bad):
    with pytest.raises(ValueError, match="pooling"):
        GraphScalarReadout(3, 1, pooling=bad)


# -- FibreVectorReadout ---------------------------------------------------------------------------
SPACES = {
    "r3s2-12": lambda: R3S2(12),
    "r3s2-16": lambda: R3S2(16),
    "se3": lambda: SE3("octahedral"),
}


def _identity_readout(space, v_count, bias=True):
    comp = space.vector_components
    readout = FibreVectorReadout(v_count * comp, v_count, comp).double()
    with torch.no_grad():
        readout.linear.weight.copy_(torch.eye(v_count * comp, dtype=torch.float64))
        if bias:
            readout.linear.bias.normal_()  # constant over the fibre: must not leak into vectors
        else:
            readout.linear.bias.zero_()
    return readout


@pytest.mark.parametrize("name", list(SPACES))
def test_identity_readout_of_lifted_vectors_recovers_them_whatever_its_bias(name):
    space = SPACES[name]().double()
    v = torch.randn(4, 2, 3, dtype=torch.float64)
    torch.testing.assert_close(
        space.project_vectors(space.lift_vectors(v)), v, rtol=1e-12, atol=1e-12
    )
    readout = _identity_readout(space, 2)
    out = readout(space.lift_vectors(v), space=space)
    assert out.shape == (4, 2, 3)
    torch.testing.assert_close(out, v, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", list(SPACES))
def test_readout_rotates_with_the_grid(name):
    # A rotated input seen from the rotated grid gives the same features as the original input
    # from the original grid; the readout of those features on the rotated grid is the original
    # readout rotated. Together: the readout commutes exactly with rotating grid and input.
    space = SPACES[name]().double()
    r = random_rotation(torch.Generator().manual_seed(4))
    moved = space.rotated(r)
    torch.manual_seed(5)
    readout = FibreVectorReadout(6, 2, space.vector_components).double()
    v = torch.randn(4, 2, 3, dtype=torch.float64)
    feats = space.lift_vectors(v)
    torch.testing.assert_close(moved.lift_vectors(v @ r.T), feats, rtol=1e-12, atol=1e-12)
    f = torch.randn(4, space.num_fibre, 6, dtype=torch.float64)  # any features, not only lifts
    torch.testing.assert_close(
        readout(f, space=moved), readout(f, space=space) @ r.T, rtol=1e-12, atol=1e-12
    )


def test_se3_readout_is_exactly_equivariant_to_its_group():
    # For h in the group, relabelling the fibre by h (frames[sigma[o]] = h frames[o]) is what a
    # rotation of the input by h does to the features; the readout then rotates by h.
    space = SE3("octahedral").double()
    torch.manual_seed(6)
    readout = FibreVectorReadout(6, 2, 3).double()
    f = torch.randn(3, space.num_fibre, 6, dtype=torch.float64)
    h = space.frames[7]
    moved = (h @ space.frames).reshape(-1, 1, 9)
    sigma = (moved - space.frames.reshape(1, -1, 9)).abs().amax(-1).argmin(1)
    inv = torch.empty_like(sigma)
    inv[sigma] = torch.arange(space.num_fibre)
    v = torch.randn(3, 2, 3, dtype=torch.float64)
    # lift of the rotated vector = lift of the vector read at the relabelled fibre point
    torch.testing.assert_close(
        space.lift_vectors(v @ h.T)[:, sigma], space.lift_vectors(v), rtol=1e-12, atol=1e-12
    )
    torch.testing.assert_close(
        readout(f[:, inv], space=space), readout(f, space=space) @ h.T, rtol=1e-12, atol=1e-12
    )


def test_fibre_vector_readout_needs_a_space():
    readout = FibreVectorReadout(3, 1, 1)
    with pytest.raises(ValueError, match="space"):
        readout(torch.zeros(2, 4, 3))
    with pytest.raises(ValueError, match="trivial fibre"):
        readout(torch.zeros(2, 1, 3), space=R3())


# -- EdgeVectorReadout ----------------------------------------------------------------------------
EDGE_INDEX = torch.tensor(
    [
        [1, 2, 0, 3, 0, 4, 2],
        [0, 0, 1, 1, 2, 2, 3],
    ]
)
N, HID, K = 5, 4, 3


def _edge_setup(vector_in=2, seed=0):
    torch.manual_seed(seed)
    readout = EdgeVectorReadout(HID, K, num_outputs=2, vector_in=vector_in).double()
    basis_fn = KernelBasis(1, K, degree=2).double()
    gen = torch.Generator().manual_seed(seed + 1)
    h = torch.randn(N, 1, HID, generator=gen, dtype=torch.float64)
    pos = torch.randn(N, 3, generator=gen, dtype=torch.float64)
    vec = torch.randn(N, vector_in, 3, generator=gen, dtype=torch.float64) if vector_in else None
    return readout, basis_fn, h, pos, vec


def _run(readout, basis_fn, h, pos, vec):
    x_ij = pos[EDGE_INDEX[0]] - pos[EDGE_INDEX[1]]  # x_j - x_i
    basis = basis_fn(R3().spatial_invariants(x_ij))  # [E, 1, K], a function of |x_ij|
    return readout(h, PairGeometry(EDGE_INDEX, x_ij, 1.0, vec), basis)


def test_edge_vector_readout_matches_a_loop_over_edges():
    readout, basis_fn, h, pos, vec = _edge_setup()
    out = _run(readout, basis_fn, h, pos, vec)
    expected = torch.zeros(N, 2, 3, dtype=torch.float64)
    for e in range(EDGE_INDEX.shape[1]):
        j, i = int(EDGE_INDEX[0, e]), int(EDGE_INDEX[1, e])
        x = pos[j] - pos[i]
        b = basis_fn(x.norm().view(1, 1))[0]
        w = readout.edge_weight(h[i, 0] * h[j, 0] * readout.edge_kernel(b))  # [2]
        expected[i] += w.unsqueeze(-1) * x
    u = readout.node_weight(h[:, 0]).view(N, 2, 2)
    expected += u @ vec
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_edge_vector_readout_is_e3_equivariant(seed):
    readout, basis_fn, h, pos, vec = _edge_setup()
    out = _run(readout, basis_fn, h, pos, vec)
    gen = torch.Generator().manual_seed(seed)
    for q in (random_orthogonal(gen), random_rotation(gen), random_reflection(gen)):
        moved = _run(readout, basis_fn, h, pos @ q.T, vec @ q.T)
        torch.testing.assert_close(moved, out @ q.T, rtol=1e-10, atol=1e-12)


def test_edge_vector_readout_does_not_see_translations():
    readout, basis_fn, h, pos, vec = _edge_setup()
    out = _run(readout, basis_fn, h, pos, vec)
    shifted = _run(
        readout, basis_fn, h, pos + torch.tensor([3.0, -7.0, 11.0], dtype=torch.float64), vec
    )
    torch.testing.assert_close(shifted, out, rtol=1e-10, atol=1e-12)


def test_edge_vector_readout_without_vector_inputs_ignores_vec():
    readout, basis_fn, h, pos, _ = _edge_setup(vector_in=0)
    assert readout.node_weight is None
    out = _run(readout, basis_fn, h, pos, None)
    assert torch.equal(out[4], torch.zeros(2, 3, dtype=torch.float64))  # node 4 receives nothing
    assert torch.equal(
        _run(readout, basis_fn, h, pos, torch.randn(N, 3, 3, dtype=torch.float64)), out
    )


# -- AtomEmbedding --------------------------------------------------------------------------------
def test_atom_embedding_looks_up_rows_of_its_table():
    emb = AtomEmbedding(4, max_z=9)
    z = torch.tensor([1, 6, 9, 6])
    assert torch.equal(emb(z), emb.table.weight[z])
    assert emb(torch.zeros(0, dtype=torch.long)).shape == (0, 4)


@pytest.mark.parametrize(
    "z,named", [([1, 92, 6], "[92]"), ([0, 1], "[0]"), ([10, 1, 10, 0], "[0, 10]")]
)
def test_atom_embedding_names_the_unknown_elements(z, named):
    with pytest.raises(ValueError, match="unknown element") as err:
        AtomEmbedding(4, max_z=9)(torch.tensor(z))
    assert named in str(err.value) and "1..9" in str(err.value)
