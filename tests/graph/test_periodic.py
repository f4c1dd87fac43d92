"""regconv.graph.periodic_radius_graph against ASE's neighbor_list on random cells (triclinic and
skewed, smaller than the cutoff, mixed periodicity, atoms outside the cell), its symmetry, the
molecule as its non-periodic case, batches, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase.neighborlist import neighbor_list

import ase
from regconv.graph import edge_vectors, periodic_radius_graph, radius_graph


def _random_cell(rng, skew: float, size: float) -> np.ndarray:
    cell = np.diag(rng.uniform(0.8, 1.2, 3) * size)
    cell[1, 0], cell[2, 0], cell[2, 1] = rng.uniform(-skew, skew, 3) * size
    return cell


def _triples(edge_index, shift) -> list[tuple[int, int, tuple[int, ...]]]:
    """``(i, j, S)`` in ASE's order of roles: ``i`` the centre (our destination)."""
    return sorted(zip(edge_index[1].tolist(), edge_index[0].tolist(),
                      map(tuple, shift.tolist()), strict=True))  # fmt: skip


def _ase_triples(pos, cell, pbc, cutoff):
    atoms = ase.Atoms(numbers=[1] * len(pos), positions=pos, cell=cell, pbc=pbc)
    i, j, s = neighbor_list("ijS", atoms, cutoff)
    return sorted(zip(i.tolist(), j.tolist(), map(tuple, s.tolist()), strict=True))


CASES = [  # (pbc, skew, cell size, atoms, cutoff, spread of atoms outside the cell)
    ((True, True, True), 0.0, 7.0, 40, 3.1, 0.0),
    ((True, True, True), 0.5, 6.0, 30, 3.7, 0.0),  # triclinic
    ((True, True, True), 0.9, 5.0, 25, 3.3, 0.0),  # strongly skewed
    ((True, True, True), 0.3, 2.7, 4, 4.9, 0.0),  # cell smaller than the cutoff: many images
    ((True, True, True), 0.4, 6.0, 30, 3.3, 1.5),  # atoms outside the cell
    ((True, True, False), 0.4, 6.0, 30, 3.3, 1.5),  # slab
    ((False, True, False), 0.2, 4.0, 20, 4.6, 1.0),  # wire, narrower than the cutoff
    ((False, False, False), 0.4, 6.0, 30, 3.3, 1.0),  # a molecule
]


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize(("pbc", "skew", "size", "n", "cutoff", "spread"), CASES)
def test_edges_are_those_of_ase(pbc, skew, size, n, cutoff, spread, seed):
    rng = np.random.default_rng(seed)
    cell = _random_cell(rng, skew, size)
    pos = (rng.random((n, 3)) + spread * rng.normal(size=(n, 3))) @ cell
    edge_index, shift = periodic_radius_graph(
        torch.tensor(pos), cutoff, torch.tensor(cell), torch.tensor(pbc)
    )
    assert _triples(edge_index, shift) == _ase_triples(pos, cell, pbc, cutoff)
    assert all(shift[:, k].eq(0).all() for k in range(3) if not pbc[k])
    r = edge_vectors(torch.tensor(pos), edge_index, shift, torch.tensor(cell))
    assert float(r.norm(dim=1).max()) <= cutoff
    # sorted by (dst, src, S) and exactly symmetric: (j, i, S) iff (i, j, -S)
    key = [(i, j, s) for i, j, s in zip(edge_index[1].tolist(), edge_index[0].tolist(),
                                         map(tuple, shift.tolist()), strict=True)]  # fmt: skip
    assert key == sorted(key)
    mirror = sorted((j, i, tuple(-x for x in s)) for i, j, s in key)
    assert mirror == sorted(key)


def test_the_cutoff_is_inclusive_and_own_images_are_neighbours():
    # -a + 2b = (0, 5, 0): every atom's own image at exactly the cutoff (ASE's test is strict)
    cell = torch.tensor([[3.0, 0, 0], [1.5, 2.5, 0], [0.5, 0.7, 2.8]], dtype=torch.float64)
    pos = torch.rand(3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) @ cell
    ei, shift = periodic_radius_graph(pos, 5.0, cell, torch.tensor([True] * 3))
    own = ei[0] == ei[1]
    assert [tuple(s) for s in shift[own & (ei[0] == 0)].tolist()].count((1, -2, 0)) == 1
    assert not ((shift == 0).all(dim=1) & own).any()  # (i, i, 0) only with loop=True
    ei_loop, shift_loop = periodic_radius_graph(pos, 5.0, cell, torch.tensor([True] * 3), loop=True)
    assert ei_loop.shape[1] == ei.shape[1] + 3


def test_a_molecule_is_the_non_periodic_case_of_the_same_code():
    g = torch.Generator().manual_seed(3)
    pos = 4.0 * torch.rand(25, 3, dtype=torch.float64, generator=g)
    ei, shift = periodic_radius_graph(pos, 2.0, torch.zeros(3, 3, dtype=torch.float64),
                                      torch.zeros(3, dtype=torch.bool))  # fmt: skip
    assert torch.equal(ei, radius_graph(pos, 2.0)) and not shift.any()


def test_a_batch_is_its_graphs_one_after_another():
    rng = np.random.default_rng(4)
    cells = np.stack([_random_cell(rng, 0.3, 5.0), _random_cell(rng, 0.6, 4.0), np.eye(3)])
    pbc = torch.tensor([[True, True, True], [True, True, False], [False, False, False]])
    sizes = [12, 9, 7]
    pos = [rng.random((n, 3)) @ c for n, c in zip(sizes, cells, strict=True)]
    batch = torch.repeat_interleave(torch.arange(3), torch.tensor(sizes))
    ei, shift = periodic_radius_graph(
        torch.tensor(np.concatenate(pos)), 3.4, torch.tensor(cells), pbc, batch
    )
    start = 0
    for g, n in enumerate(sizes):
        one_ei, one_shift = periodic_radius_graph(
            torch.tensor(pos[g]), 3.4, torch.tensor(cells[g]), pbc[g]
        )
        mine = (ei[1] >= start) & (ei[1] < start + n)
        assert torch.equal(ei[:, mine] - start, one_ei) and torch.equal(shift[mine], one_shift)
        start += n
    vectors = edge_vectors(torch.tensor(np.concatenate(pos)), ei, shift, torch.tensor(cells), batch)
    assert float(vectors.norm(dim=1).max()) <= 3.4


def test_moving_an_atom_by_a_lattice_vector_changes_its_shifts_not_its_edge_vectors():
    rng = np.random.default_rng(5)
    cell = torch.tensor(_random_cell(rng, 0.5, 5.0))
    pos = torch.tensor(rng.random((10, 3))) @ cell
    pbc = torch.tensor([True] * 3)
    ei, shift = periodic_radius_graph(pos, 3.0, cell, pbc)
    moved = pos.clone()
    moved[3] += 2 * cell[0] - cell[2]
    ei2, shift2 = periodic_radius_graph(moved, 3.0, cell, pbc)
    assert torch.equal(ei, ei2)
    torch.testing.assert_close(
        edge_vectors(moved, ei2, shift2, cell), edge_vectors(pos, ei, shift, cell),
        rtol=0, atol=1e-12,
    )  # fmt: skip
    assert not torch.equal(shift, shift2)


def test_edge_vectors_are_differentiable_in_positions_and_cell():
    g = torch.Generator().manual_seed(6)
    cell = torch.eye(3, dtype=torch.float64) * 4.0 + 0.3 * torch.rand(3, 3, generator=g)
    pos = torch.rand(6, 3, dtype=torch.float64, generator=g) @ cell
    ei, shift = periodic_radius_graph(pos, 3.5, cell, torch.tensor([True] * 3))

    def energy(p, c):
        return (edge_vectors(p, ei, shift, c).norm(dim=1) ** 3).sum()

    assert torch.autograd.gradcheck(energy, (pos.requires_grad_(), cell.requires_grad_()))


@pytest.mark.parametrize(
    ("cell", "pbc", "match"),
    [
        ([[4.0, 0, 0], [8.0, 0, 0], [0, 0, 4.0]], [True, True, True], "singular"),
        ([[4.0, 0, 0], [0, 4.0, 0], [0, 0, float("nan")]], [True, True, True], "NaN"),
        ([[4.0, 0, 0], [0, 4.0, 0]], [True, True, True], r"\[B, 3, 3\]"),
        ([[4.0, 0, 0], [0, 4.0, 0], [0, 0, 4.0]], [1, 1, 1], "bool"),
    ],
)
def test_bad_cells_are_refused(cell, pbc, match):
    pos = torch.rand(4, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match=match):
        periodic_radius_graph(pos, 2.0, torch.tensor(cell, dtype=torch.float64), torch.tensor(pbc))


def test_a_slab_with_a_zero_open_axis_is_fine():
    rng = np.random.default_rng(7)
    cell = np.array([[4.0, 0, 0], [1.0, 4.5, 0], [0.0, 0.0, 0.0]])  # ASE's slab without vacuum
    pos = rng.random((12, 3)) * [4.0, 4.5, 6.0]
    ei, shift = periodic_radius_graph(torch.tensor(pos), 3.0, torch.tensor(cell),
                                      torch.tensor([True, True, False]))  # fmt: skip
    assert _triples(ei, shift) == _ase_triples(pos, cell, [True, True, False], 3.0)


def test_empty_graphs_keep_their_cells_and_edge_vectors_check_their_input():
    pos = torch.tensor([[0.0, 0, 0], [1.0, 0, 0]], dtype=torch.float64)
    cells = torch.eye(3, dtype=torch.float64).expand(2, 3, 3) * 3.0
    pbc = torch.tensor([[True] * 3, [True] * 3])
    ei, shift = periodic_radius_graph(pos, 1.5, cells, pbc, torch.tensor([0, 0]))  # graph 1 empty
    assert ei.shape[1] == shift.shape[0] > 0 and bool((ei < 2).all())
    with pytest.raises(ValueError, match="batch vector"):
        edge_vectors(pos, ei, shift, cells)
    with pytest.raises(ValueError, match="no cell"):
        edge_vectors(pos, ei, shift, cells[:1], torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="floating-point"):
        periodic_radius_graph(pos, 1.5, [[3.0, 0, 0], [0, 3.0, 0], [0, 0, 3.0]], pbc[0])
