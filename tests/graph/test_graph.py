"""Tests of regconv.graph: radius_graph, full_graph, edge_pairs against brute force."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from regconv.graph import edge_pairs, full_graph, radius_graph
from regconv.graph.full import _expand_ranges, _pieces
from regconv.graph.radius import _radius_cell, _radius_dense

METHODS = ["auto", "dense", "cell"]


# ----------------------------------------------------------------------------- references


def brute_radius(pos, cutoff, batch=None, loop=False):
    """Dense N x N reference with the documented test and ordering."""
    n = pos.shape[0]
    if batch is None:
        batch = torch.zeros(n, dtype=torch.long)
    d = pos[None, :, :] - pos[:, None, :]  # [i, j] = pos[j] - pos[i]
    sq = d * d
    d2 = sq[..., 0] + sq[..., 1] + sq[..., 2]
    mask = (d2 <= torch.tensor(cutoff * cutoff, dtype=pos.dtype)) & (
        batch[:, None] == batch[None, :]
    )
    if not loop:
        mask &= ~torch.eye(n, dtype=torch.bool)
    dst, src = mask.nonzero(as_tuple=True)  # row-major: sorted by (dst, src)
    return torch.stack([src, dst], dim=0)


def brute_full(batch, loop=False):
    n = batch.shape[0]
    mask = batch[:, None] == batch[None, :]
    if not loop:
        mask &= ~torch.eye(n, dtype=torch.bool)
    dst, src = mask.nonzero(as_tuple=True)
    return torch.stack([src, dst], dim=0)


def brute_pairs(edge_index):
    src, dst = edge_index.tolist()
    out = [
        (a, b)
        for b in range(len(src))
        for a in range(len(src))
        if dst[a] == src[b] and src[a] != dst[b]
    ]
    return torch.tensor(out, dtype=torch.long).reshape(-1, 2).t()


def random_batch(n, num_graphs, gen):
    """Sorted graph ids with gaps (some ids have no node)."""
    ids = torch.randint(0, num_graphs, (n,), generator=gen) * 2
    return torch.sort(ids).values


def check_edge_index(ei):
    assert ei.dtype == torch.long and ei.dim() == 2 and ei.shape[0] == 2


def assert_sorted_unique(ei, n):
    key = ei[1] * max(n, 1) + ei[0]
    assert bool((key[1:] > key[:-1]).all())


# ----------------------------------------------------------------------------- radius_graph


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("n", [0, 1, 2, 7, 60, 400])
def test_radius_matches_brute_force(seed, n, dtype):
    gen = torch.Generator().manual_seed(seed)
    pos = (torch.rand(n, 3, generator=gen, dtype=torch.float64) * 6.0).to(dtype)
    batch = random_batch(n, 3, gen)
    for loop, b in itertools.product([False, True], [None, batch]):
        ref = brute_radius(pos, 1.7, b, loop)
        for method in METHODS:
            out = radius_graph(pos, 1.7, b, loop, method=method)
            check_edge_index(out)
            assert torch.equal(out, ref), (method, loop, b is None)
        assert_sorted_unique(ref, n)


@pytest.mark.parametrize("seed", [0, 1])
def test_cell_path_chunked_equals_dense(seed, dtype):
    """Tiny chunks, cell blocks and key limit exercise every branch of the cell list."""
    gen = torch.Generator().manual_seed(seed)
    # Clustered cloud: dense blobs and sparse outliers, several graphs.
    centres = torch.rand(5, 3, generator=gen, dtype=torch.float64) * 40.0
    pos = centres[torch.randint(0, 5, (300,), generator=gen)]
    pos = (pos + torch.randn(300, 3, generator=gen, dtype=torch.float64)).to(dtype)
    batch = random_batch(300, 4, gen)
    for loop in (False, True):
        ref = _radius_dense(pos, 2.0, batch, loop, chunk=5)
        assert torch.equal(ref, brute_radius(pos, 2.0, batch, loop))
        for chunk, block, limit in [(1, 1, 1), (7, 3, 2**62), (1 << 17, 1 << 14, 200)]:
            out = _radius_cell(
                pos, 2.0, batch, loop, chunk=chunk, cell_block=block, key_limit=limit
            )
            assert torch.equal(out, ref), (chunk, block, limit)


@pytest.mark.parametrize("cutoff", [1.0, math.sqrt(2.0), math.sqrt(3.0), 0.999, 2.0])
def test_points_exactly_at_cutoff_are_included(cutoff, dtype):
    """Integer lattice: distances are exactly representable; the cutoff is inclusive."""
    pts = list(itertools.product(range(4), range(4), range(3)))
    pos = torch.tensor(pts, dtype=dtype)
    # Documented rule: squared distance <= cutoff**2 computed in double, rounded to the dtype.
    # (sqrt(3)**2 = 2.9999999999999996 excludes distance sqrt(3) in float64 but rounds to 3.0
    # in float32; cutoffs 1 and 2 are exact and include the pairs at exactly the cutoff.)
    limit = float(torch.tensor(cutoff * cutoff, dtype=dtype))
    expected = sorted(
        (i, j)
        for i, a in enumerate(pts)
        for j, b in enumerate(pts)
        if i != j and sum((x - y) ** 2 for x, y in zip(a, b, strict=True)) <= limit
    )
    for method in METHODS:
        out = radius_graph(pos, cutoff, method=method)
        got = list(zip(out[1].tolist(), out[0].tolist(), strict=True))
        assert got == expected, method
    if cutoff == 1.0:
        assert len(expected) == 2 * (3 * 4 * 3 + 4 * 3 * 3 + 4 * 4 * 2)


def test_near_cutoff_rounding_paths_agree(dtype):
    """Many pairs within rounding of the cutoff, far from the origin: paths stay identical."""
    steps = torch.arange(12, dtype=torch.float64) * 0.1
    grid = torch.stack(torch.meshgrid(steps, steps, steps[:4], indexing="ij"), -1).reshape(-1, 3)
    for offset in (0.0, 1234.5):
        pos = (grid + offset).to(dtype)
        ref = brute_radius(pos, 0.1, None, False)
        assert ref.shape[1] > 0
        for method in METHODS:
            assert torch.equal(radius_graph(pos, 0.1, method=method), ref), (method, offset)


def test_isolated_and_duplicate_points():
    pos = torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [5.0, 5.0, 5.0], [-9.0, 0.0, 0.0]])
    for method in METHODS:
        out = radius_graph(pos, 1.0, method=method)
        assert out.tolist() == [[1, 0], [0, 1]]
        out = radius_graph(pos, 1.0, loop=True, method=method)
        assert out.tolist() == [[0, 1, 0, 1, 2, 3], [0, 0, 1, 1, 2, 3]]
    far = torch.tensor([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [0.0, 10.0, 0.0]])
    for method in METHODS:
        out = radius_graph(far, 1.0, method=method)
        check_edge_index(out)
        assert out.shape == (2, 0)


def test_duplicates_in_different_graphs_are_not_connected():
    pos = torch.zeros(4, 3)
    batch = torch.tensor([0, 0, 1, 1])
    for method in METHODS:
        out = radius_graph(pos, 1.0, batch, method=method)
        assert out.tolist() == [[1, 0, 3, 2], [0, 1, 2, 3]]


@pytest.mark.parametrize("method", METHODS)
def test_empty_inputs(method, dtype):
    pos = torch.zeros(0, 3, dtype=dtype)
    for batch in (None, torch.zeros(0, dtype=torch.long)):
        for loop in (False, True):
            out = radius_graph(pos, 2.0, batch, loop, method=method)
            check_edge_index(out)
            assert out.shape == (2, 0)


def test_no_neighbour_cap():
    gen = torch.Generator().manual_seed(0)
    pos = torch.randn(200, 3, generator=gen)
    pos = 0.1 * pos / pos.norm(dim=1, keepdim=True).clamp_min(1.0)  # inside a ball of radius 0.1
    for method in METHODS:
        out = radius_graph(pos, 1.0, method=method)
        assert out.shape[1] == 200 * 199
        assert torch.equal(torch.bincount(out[1], minlength=200), torch.full((200,), 199))
        assert torch.equal(out, full_graph(torch.zeros(200, dtype=torch.long)))


def test_large_cutoff_is_full_graph():
    gen = torch.Generator().manual_seed(3)
    batch = random_batch(50, 4, gen)
    pos = torch.randn(50, 3, generator=gen)
    for loop in (False, True):
        for method in METHODS:
            assert torch.equal(
                radius_graph(pos, 100.0, batch, loop, method=method), full_graph(batch, loop)
            )


def test_symmetric_and_permutation_equivariant():
    gen = torch.Generator().manual_seed(4)
    pos = torch.rand(500, 3, generator=gen) * 10.0
    for method in METHODS:
        ei = radius_graph(pos, 1.5, method=method)
        edges = set(zip(ei[0].tolist(), ei[1].tolist(), strict=True))
        assert edges == {(i, j) for j, i in edges}
        perm = torch.randperm(500, generator=gen)
        ei_p = radius_graph(pos[perm], 1.5, method=method)
        mapped = {(int(perm[j]), int(perm[i])) for j, i in zip(*ei_p.tolist(), strict=True)}
        assert mapped == edges
        assert torch.equal(radius_graph(pos, 1.5, method=method), ei)  # deterministic


def test_auto_uses_both_paths_consistently():
    gen = torch.Generator().manual_seed(5)
    # 96 small molecules (dense path) and one larger cloud (cell path).
    batch = torch.arange(96).repeat_interleave(18)
    pos = torch.randn(96 * 18, 3, generator=gen) * 1.5
    assert torch.equal(radius_graph(pos, 5.0, batch), _radius_cell(pos, 5.0, batch, False))
    cloud = torch.rand(1500, 3, generator=gen) * 25.0
    ref = _radius_dense(cloud, 3.0, torch.zeros(1500, dtype=torch.long), False)
    assert torch.equal(radius_graph(cloud, 3.0), ref)


def test_half_precision_paths_agree():
    gen = torch.Generator().manual_seed(6)
    pos = (torch.rand(300, 3, generator=gen) * 8.0).to(torch.float16)
    ref = brute_radius(pos, 1.0)
    assert torch.equal(radius_graph(pos, 1.0, method="dense"), ref)
    assert torch.equal(radius_graph(pos, 1.0, method="cell"), ref)


def test_cutoff_overflowing_dtype_is_rejected():
    with pytest.raises(ValueError, match="overflows"):
        radius_graph(torch.zeros(3, 3, dtype=torch.float16), 300.0)


def test_gradients_do_not_flow_through_graph():
    pos = torch.rand(10, 3, requires_grad=True)
    out = radius_graph(pos, 0.5)
    assert not out.requires_grad


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(pos=torch.zeros(4, 2)), "shape"),
        (dict(pos=torch.zeros(4)), "shape"),
        (dict(pos=torch.zeros(4, 3, dtype=torch.long)), "floating"),
        (dict(pos=[[0.0, 0.0, 0.0]]), "Tensor"),
        (dict(pos=torch.tensor([[0.0, 0.0, float("nan")]])), "NaN or Inf"),
        (dict(pos=torch.tensor([[0.0, float("inf"), 0.0]])), "NaN or Inf"),
        (dict(cutoff=0.0), "cutoff"),
        (dict(cutoff=-1.0), "cutoff"),
        (dict(cutoff=float("nan")), "cutoff"),
        (dict(cutoff=float("inf")), "cutoff"),
        (dict(cutoff=True), "cutoff"),
        (dict(cutoff="1.0x"), "cutoff"),
        (dict(batch=torch.zeros(3, dtype=torch.long)), "entries"),
        (dict(batch=torch.zeros(4, 1, dtype=torch.long)), "1-D"),
        (dict(batch=torch.zeros(4)), "integer"),
        (dict(batch=torch.zeros(4, dtype=torch.bool)), "integer"),
        (dict(batch=torch.tensor([0, 1, 0, 1])), "sorted"),
        (dict(batch=torch.tensor([-1, 0, 0, 0])), "negative"),
        (dict(loop=1), "loop"),
        (dict(method="kdtree"), "method"),
    ],
)
def test_radius_invalid_inputs(kwargs, match):
    args = dict(pos=torch.zeros(4, 3), cutoff=1.0, batch=None, loop=False, method="auto")
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        radius_graph(
            args["pos"], args["cutoff"], args["batch"], args["loop"], method=args["method"]
        )


# ----------------------------------------------------------------------------- full_graph


@pytest.mark.parametrize("sizes", [[], [1], [2], [3, 1, 4], [5, 0, 2, 6]])
def test_full_graph_counts_and_order(sizes):
    batch = torch.cat(
        [torch.full((s,), 3 * g, dtype=torch.long) for g, s in enumerate(sizes)]
        + [torch.zeros(0, dtype=torch.long)]
    )
    for loop in (False, True):
        out = full_graph(batch, loop)
        check_edge_index(out)
        expected = sum(s * s if loop else s * (s - 1) for s in sizes)
        assert out.shape[1] == expected
        assert torch.equal(out, brute_full(batch, loop))


def test_full_graph_int32_batch():
    batch = torch.tensor([0, 0, 1, 1, 1], dtype=torch.int32)
    assert torch.equal(full_graph(batch), brute_full(batch.long()))


@pytest.mark.parametrize(
    "batch, match",
    [
        (torch.tensor([1, 0]), "sorted"),
        (torch.tensor([0.0, 1.0]), "integer"),
        (torch.zeros(2, 2, dtype=torch.long), "1-D"),
        (torch.tensor([-2, 0]), "negative"),
        ([0, 0], "Tensor"),
    ],
)
def test_full_graph_invalid(batch, match):
    with pytest.raises(ValueError, match=match):
        full_graph(batch)


# ----------------------------------------------------------------------------- edge_pairs


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_edge_pairs_match_loop_on_radius_graphs(seed):
    gen = torch.Generator().manual_seed(seed)
    pos = torch.rand(25, 3, generator=gen) * 3.0
    batch = random_batch(25, 2, gen)
    ei = radius_graph(pos, 1.2, batch)
    out = edge_pairs(ei, 25)
    check_edge_index(out)
    assert torch.equal(out, brute_pairs(ei))
    # The middle atoms agree: dst(a) = src(b), and k != i.
    assert torch.equal(ei[1, out[0]], ei[0, out[1]])
    assert bool((ei[0, out[0]] != ei[1, out[1]]).all())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_edge_pairs_arbitrary_multigraph(seed):
    """Unsorted edges, self-loops and repeated edges are handled as ordinary edges."""
    gen = torch.Generator().manual_seed(seed)
    ei = torch.randint(0, 6, (2, 30), generator=gen)
    assert torch.equal(edge_pairs(ei, 8), brute_pairs(ei))


def test_edge_pairs_full_graph_count():
    for n in (1, 2, 3, 6):
        ei = full_graph(torch.zeros(n, dtype=torch.long))
        assert edge_pairs(ei, n).shape[1] == n * (n - 1) * (n - 2)


def test_edge_pairs_empty():
    for ei, n in [
        (torch.zeros(2, 0, dtype=torch.long), 0),
        (torch.zeros(2, 0, dtype=torch.long), 5),
    ]:
        out = edge_pairs(ei, n)
        check_edge_index(out)
        assert out.shape == (2, 0)
    # A single edge has no pair; a 2-cycle only pairs an edge with its reverse (k = i): none.
    assert edge_pairs(torch.tensor([[0], [1]]), 2).shape == (2, 0)
    assert edge_pairs(torch.tensor([[0, 1], [1, 0]]), 2).shape == (2, 0)
    # Path 0 -> 1 -> 2.
    assert edge_pairs(torch.tensor([[0, 1], [1, 2]]), 3).tolist() == [[0], [1]]


@pytest.mark.parametrize(
    "edge_index, num_nodes, match",
    [
        (torch.zeros(3, 4, dtype=torch.long), 5, "shape"),
        (torch.zeros(2, 4), 5, "integer"),
        (torch.tensor([[0, 5], [1, 2]]), 5, "num_nodes"),
        (torch.tensor([[0, -1], [1, 2]]), 5, "num_nodes"),
        (torch.zeros(2, 1, dtype=torch.long), -1, "non-negative"),
        (torch.zeros(2, 1, dtype=torch.long), 2.0, "int"),
        ([[0], [1]], 2, "Tensor"),
    ],
)
def test_edge_pairs_invalid(edge_index, num_nodes, match):
    with pytest.raises(ValueError, match=match):
        edge_pairs(edge_index, num_nodes)


# ----------------------------------------------------------------------------- helpers


def test_expand_ranges_and_pieces():
    starts = torch.tensor([5, 0, 9, 2])
    counts = torch.tensor([2, 0, 3, 1])
    rid, value = _expand_ranges(starts, counts)
    assert rid.tolist() == [0, 0, 2, 2, 2, 3]
    assert value.tolist() == [5, 6, 9, 10, 11, 2]
    counts = torch.tensor([3, 0, 10, 1, 1, 1, 4])
    pieces = _pieces(counts, 4)
    assert pieces[0][0] == 0 and pieces[-1][1] == 7
    assert all(a[1] == b[0] for a, b in itertools.pairwise(pieces))
    for lo, hi in pieces:
        assert int(counts[lo:hi].sum()) <= 4 + int(counts[lo:hi].max())
