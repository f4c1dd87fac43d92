r"""Radius graphs of periodic systems in plain torch: cell lists over the periodic images.

A graph ``b`` of the batch has a cell ``cell[b]`` (its rows are the lattice vectors
:math:`a_1, a_2, a_3`, ASE's convention) and a periodicity ``pbc[b]`` per axis. An edge is a
triple ``(j, i, S)``: the image of atom ``j`` shifted by the integer lattice vector ``S``
lies within the cutoff of atom ``i``,

.. math::
    r_{ij} = x_j - x_i + S\,\mathrm{cell}, \qquad \lVert r_{ij} \rVert \le c,

with ``S_k = 0`` on every non-periodic axis. ``(j, i, S)`` is an edge iff ``(i, j, -S)`` is one;
``(i, i, S)`` with ``S != 0`` (an atom's own images, in cells narrower than the cutoff) are
edges, ``(i, i, 0)`` only with ``loop=True``. A graph with ``pbc`` all false is a molecule:
for float64 positions the result is :func:`regconv.graph.radius_graph`'s, with zero shifts
(the test here is always in float64; ``radius_graph`` tests in the positions' dtype, so float32
pairs at the cutoff itself may differ).

Algorithm, per graph (cost linear in its atoms, for any cell):

1. Atoms are wrapped into the cell along the periodic axes (atoms outside the cell are allowed);
   their integer offsets are kept so that the shifts refer to the positions as given.
2. Periodic images ``x_j + T cell`` are generated for the integer ``T`` with
   ``|T_k| <= floor(c / d_k) + 1`` (``d_k`` the spacing of the lattice planes of axis ``k``),
   and only those whose fractional coordinate lies within ``c / d_k`` of the cell along every
   periodic axis are kept: an image farther out is farther than ``c`` from every wrapped atom.
   Cells smaller than twice the cutoff give several images of one neighbour.
3. A cell list over the images (cubes of side about ``c``) gives each atom its candidates in
   the 27 cubes around it.
4. Candidates are tested in float64 with ``d = (x_j - x_i) + T cell`` (components summed in the
   order x, y, z), a formula that is exactly antisymmetric in ``(i, j, T)``, so the graph is
   exactly symmetric.

Edges are sorted by ``(dst i, src j, S)``; ``edge_index[0]`` is the source ``j``, ``[1]`` the
destination ``i`` (messages flow ``j -> i``), the convention of the whole package.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from regconv.graph.full import _check_batch, _expand_ranges, _pieces
from regconv.graph.radius import _check_cutoff, _check_pos, _compress

__all__ = ["edge_vectors", "periodic_radius_graph"]

# Candidate pairs examined per chunk.
_CHUNK_CANDIDATES = 1 << 17


def _check_cell_pbc(cell: object, pbc: object, num_graphs: int, device) -> tuple[Tensor, Tensor]:
    if cell.dim() == 2:
        cell = cell.unsqueeze(0)
    if cell.shape == (1, 3, 3) and num_graphs > 1:
        cell = cell.expand(num_graphs, 3, 3)
    if cell.shape != (num_graphs, 3, 3):
        raise ValueError(
            f"cell must have shape [B, 3, 3] with B = {num_graphs} graphs, got {tuple(cell.shape)}"
        )
    if not bool(torch.isfinite(cell).all()):
        raise ValueError("cell contains NaN or Inf values")
    if not isinstance(pbc, Tensor):
        pbc = torch.as_tensor(pbc, device=device)
    if pbc.dtype != torch.bool:
        raise ValueError(f"pbc must be a bool tensor [B, 3], got dtype {pbc.dtype}")
    if pbc.dim() == 1:
        pbc = pbc.unsqueeze(0)
    if pbc.shape == (1, 3) and num_graphs > 1:
        pbc = pbc.expand(num_graphs, 3)
    if pbc.shape != (num_graphs, 3):
        raise ValueError(
            f"pbc must have shape [B, 3] with B = {num_graphs}, got {tuple(pbc.shape)}"
        )
    if cell.device != device or pbc.device != device:
        raise ValueError(f"cell and pbc must be on {device}, the device of pos")
    return cell, pbc


def _basis(cell: Tensor, pbc: Tensor, graph: int) -> Tensor:
    """The cell in float64 with every non-periodic row replaced by an orthonormal complement of
    the periodic rows (the non-periodic rows play no part: no wrapping, no images, zero shifts;
    this keeps slabs and wires whose cell is zero along an open axis well defined).

    Raises ``ValueError`` when the periodic rows are linearly dependent (a singular cell)."""
    basis = cell.detach().to(torch.float64).clone()  # [3, 3]
    periodic = [k for k in range(3) if bool(pbc[k])]
    rows = basis[periodic]  # [P, 3]
    if periodic:
        sv = torch.linalg.svdvals(rows)
        scale = float(rows.norm(dim=1).max())
        if scale == 0.0 or float(sv.min()) <= 1e-10 * scale:
            raise ValueError(
                f"graph {graph}: the cell's periodic lattice vectors are linearly dependent "
                f"(a singular cell): {cell.tolist()}"
            )
    # orthonormal complement of the periodic rows: the last right-singular vectors
    _, _, vh = torch.linalg.svd(
        rows if periodic else torch.zeros(1, 3, dtype=torch.float64, device=cell.device)
    )
    complement = (vh[len(periodic) :] if periodic
                  else torch.eye(3, dtype=torch.float64, device=cell.device))  # fmt: skip
    for slot, k in enumerate(k for k in range(3) if not bool(pbc[k])):
        basis[k] = complement[slot]
    return basis


def _candidates(src_pos: Tensor, dst_pos: Tensor, reach: float, chunk: int = _CHUNK_CANDIDATES):
    """Chunks ``(s, d)`` of the pairs of source and destination points in the same or adjacent
    cubes of a cell list of side ``reach`` (every pair within ``reach`` is among them), each
    chunk about ``chunk`` pairs, ``d`` non-decreasing over the chunks. Float64 inputs.

    Shapes: ``[Ns, 3]``, ``[Nd, 3]`` -> chunks of ``[T]``, ``[T]``."""
    device = src_pos.device
    ns, nd = src_pos.shape[0], dst_pos.shape[0]
    if ns == 0 or nd == 0:
        return
    both = torch.cat([src_pos, dst_pos])  # [Ns + Nd, 3]
    rel = both - both.min(dim=0).values
    side = reach * (1.0 + 1e-9) + 8.0 * torch.finfo(torch.float64).eps * float(rel.max())
    cells = torch.floor(rel / side).long()  # [Ns + Nd, 3]
    cx = _compress(cells[:, 0]) + 1
    cy = _compress(cells[:, 1]) + 1
    cz = _compress(cells[:, 2]) + 1
    ry, rz = int(cy.max()) + 2, int(cz.max()) + 2
    key = (cx * ry + cy) * rz + cz
    src_key, dst_key = key[:ns], key[ns:]
    order = torch.sort(src_key, stable=True).indices  # sorted slot -> source
    sorted_key = src_key[order]
    offsets = torch.tensor(
        [dx * ry * rz + dy * rz for dx in (-1, 0, 1) for dy in (-1, 0, 1)], device=device
    )
    column = dst_key[:, None] + offsets  # [Nd, 9]: each spans keys [k - 1, k + 1] (dz)
    first = torch.searchsorted(sorted_key, column - 1, right=False)
    size = torch.searchsorted(sorted_key, column + 1, right=True) - first  # [Nd, 9]
    per_dst = size.sum(dim=1)  # [Nd]
    for lo, hi in _pieces(per_dst, chunk):
        _, slot = _expand_ranges(first[lo:hi].reshape(-1), size[lo:hi].reshape(-1))
        dst = torch.repeat_interleave(
            torch.arange(lo, hi, device=device), per_dst[lo:hi], output_size=slot.shape[0]
        )
        yield order.index_select(0, slot), dst


def _one_graph(
    pos: Tensor, cell: Tensor, pbc: Tensor, cutoff: float, loop: bool, graph: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Edges ``(j, i)`` (local indices) and shifts ``S`` of one graph.

    Shapes:
        ``pos [n, 3]``, ``cell [3, 3]``, ``pbc [3]`` -> ``j [E]``, ``i [E]``, ``S [E, 3]``."""
    device = pos.device
    basis = _basis(cell, pbc, graph)  # [3, 3] float64
    inv = torch.linalg.inv(basis)
    p64 = pos.to(torch.float64)
    frac = p64 @ inv  # [n, 3]
    periodic = pbc.to(device)
    offset = torch.where(periodic, torch.floor(frac), torch.zeros_like(frac))  # [n, 3]
    frac_w = frac - offset
    pos_w = frac_w @ basis  # [n, 3] wrapped positions
    # lattice-plane spacings d_k = |det| / |a_l x a_m| and the reach of the images
    volume = float(torch.linalg.det(basis).abs())
    margin = torch.zeros(3, dtype=torch.float64, device=device)  # c / d_k, in fractions
    span = [0, 0, 0]
    for k in range(3):
        if bool(periodic[k]):
            a, b = basis[(k + 1) % 3], basis[(k + 2) % 3]
            d_k = volume / float(torch.linalg.cross(a, b).norm())
            margin[k] = cutoff / d_k
            span[k] = math.floor(cutoff / d_k + 1e-6) + 1  # T in [-span, span] suffices
    grids = [torch.arange(-s, s + 1, device=device) for s in span]
    shifts = torch.stack(torch.meshgrid(*grids, indexing="ij"), dim=-1).reshape(-1, 3)  # [K, 3]
    # images (j, T) with the fractional coordinate within reach of the cell on periodic axes
    f_img = frac_w[None, :, :] + shifts[:, None, :].to(torch.float64)  # [K, n, 3]
    tol = 1e-9
    inside = ((f_img >= -margin - tol) & (f_img <= 1.0 + margin + tol)) | ~periodic
    keep = inside.all(dim=2).nonzero()  # [M, 2]: (shift id, atom)
    img_shift, img_atom = keep[:, 0], keep[:, 1]
    t64 = shifts.to(torch.float64)  # T cell as an explicit sum, exactly odd in T (no BLAS)
    tvec = t64[:, 0:1] * basis[0] + t64[:, 1:2] * basis[1] + t64[:, 2:3] * basis[2]  # [K, 3]
    zero_id = shifts.shape[0] // 2  # T = 0: the middle of the symmetric product
    img_pos = pos_w.index_select(0, img_atom) + tvec.index_select(0, img_shift)
    found = []
    for src_img, dst in _candidates(img_pos, pos_w, cutoff):
        j = img_atom.index_select(0, src_img)
        t_id = img_shift.index_select(0, src_img)
        # the exactly antisymmetric test: d = (x_j - x_i) + T cell, in float64
        d = (pos_w.index_select(0, j) - pos_w.index_select(0, dst)) + tvec.index_select(0, t_id)
        sq = d * d
        within = (sq[:, 0] + sq[:, 1] + sq[:, 2]) <= cutoff * cutoff
        if not loop:
            within &= (j != dst) | (t_id != zero_id)
        hit = within.nonzero().squeeze(1)
        found.append((j.index_select(0, hit), dst.index_select(0, hit), t_id.index_select(0, hit)))
    empty = torch.empty(0, dtype=torch.long, device=device)
    j, i, t_id = (torch.cat(x) for x in zip(*found, strict=True)) if found else (empty,) * 3
    t = shifts.index_select(0, t_id)
    # S refers to the positions as given: x_j - x_i + S cell = x_j^w - x_i^w + T cell
    off = offset.long()
    s = t - off.index_select(0, j) + off.index_select(0, i)
    # sort by (i, j, S): stable sorts from the last key to the first
    order = torch.arange(i.shape[0], device=device)
    for key in (s[:, 2], s[:, 1], s[:, 0], j, i):
        order = order.index_select(0, torch.sort(key.index_select(0, order), stable=True).indices)
    return j[order], i[order], s[order]


def periodic_radius_graph(
    pos: Tensor,
    cutoff: float,
    cell: Tensor,
    pbc: Tensor,
    batch: Tensor | None = None,
    loop: bool = False,
) -> tuple[Tensor, Tensor]:
    r"""Periodic radius graph: every ``(j, i, S)`` with ``|x_j - x_i + S cell| <= cutoff``.

    See the module docstring for the definition and the algorithm. Triclinic cells, mixed
    periodicity (``pbc = (True, True, False)``: slabs), cells smaller than twice the cutoff
    (several images of a neighbour, an atom's own images) and atoms outside the cell are
    supported; a graph whose ``pbc`` is all false is an isolated system (its cell is ignored).
    Graphs are handled one at a time, each in time linear in its atoms.

    Args:
        pos: ``[N, 3]`` positions, finite.
        cutoff: the radius ``c`` (inclusive), finite and ``> 0``.
        cell: ``[B, 3, 3]`` (or ``[3, 3]`` for one graph): rows are the lattice vectors.
        pbc: ``[B, 3]`` (or ``[3]``) bool: periodic axes of each graph.
        batch: ``[N]`` sorted graph ids (``None``: one graph); graph ``b`` uses ``cell[b]``.
        loop: include ``(i, i, 0)``.

    Returns:
        ``edge_index`` ``[2, E]`` long (row 0 the source ``j``, row 1 the destination ``i``)
        and ``shift`` ``[E, 3]`` long, the integer lattice shift ``S`` of each edge; the edge
        vector is :func:`edge_vectors`.

    Raises:
        ValueError: bad ``pos``, ``cutoff``, ``batch``, ``cell`` or ``pbc`` (shapes, dtypes,
            NaN), or a cell whose periodic lattice vectors are linearly dependent.

    Shapes:
        - ``pos``: ``[N, 3]``; ``cell``: ``[B, 3, 3]``; ``pbc``: ``[B, 3]``; ``batch``: ``[N]``
        - output: ``[2, E]``, ``[E, 3]``
    """
    pos = _check_pos(pos)
    cutoff = _check_cutoff(cutoff)
    if not isinstance(loop, bool):
        raise ValueError(f"loop must be a bool, got {type(loop).__name__}")
    n = pos.shape[0]
    device = pos.device
    if batch is None:
        batch = torch.zeros(n, dtype=torch.long, device=device)
    else:
        batch = _check_batch(batch, n, device)
    if not isinstance(cell, Tensor) or not cell.is_floating_point():
        raise ValueError("cell must be a floating-point tensor [B, 3, 3] (rows: lattice vectors)")
    used = int(batch.max()) + 1 if n else 1
    num_graphs = max(cell.shape[0], used) if cell.dim() == 3 else used  # empty graphs allowed
    cell, pbc = _check_cell_pbc(cell, pbc, num_graphs, device)
    counts = torch.bincount(batch, minlength=num_graphs).tolist()
    srcs, dsts, shifts = [], [], []
    start = 0
    for g, count in enumerate(counts):
        if count:
            j, i, s = _one_graph(pos[start : start + count], cell[g], pbc[g], cutoff, loop, g)
            srcs.append(j + start)
            dsts.append(i + start)
            shifts.append(s)
        start += count
    if not srcs:
        return (torch.empty(2, 0, dtype=torch.long, device=device),
                torch.empty(0, 3, dtype=torch.long, device=device))  # fmt: skip
    return torch.stack([torch.cat(srcs), torch.cat(dsts)]), torch.cat(shifts)


def edge_vectors(
    pos: Tensor, edge_index: Tensor, shift: Tensor, cell: Tensor, batch: Tensor | None = None
) -> Tensor:
    r"""Edge vectors ``r_ij = x_j - x_i + S cell[batch_i]``, differentiable in ``pos`` and
    ``cell`` (the strain derivative of an energy goes through ``cell``).

    Shapes:
        - ``pos``: ``[N, 3]``; ``edge_index``: ``[2, E]``; ``shift``: ``[E, 3]``;
          ``cell``: ``[B, 3, 3]`` (or ``[3, 3]``); ``batch``: ``[N]`` (``None``: one graph)
        - output: ``[E, 3]``
    """
    src, dst = edge_index
    if cell.dim() == 2:
        cell = cell.unsqueeze(0)
    if cell.dim() != 3 or cell.shape[1:] != (3, 3):
        raise ValueError(f"cell must have shape [B, 3, 3] or [3, 3], got {tuple(cell.shape)}")
    if shift.shape != (src.shape[0], 3):
        raise ValueError(f"shift must have shape [E, 3] = [{src.shape[0]}, 3]")
    if batch is None and cell.shape[0] != 1:
        raise ValueError(f"{cell.shape[0]} cells need the batch vector that assigns them")
    graph = batch.index_select(0, dst) if batch is not None else torch.zeros_like(dst)
    if graph.numel() and int(graph.max()) >= cell.shape[0]:
        raise ValueError(f"graph id {int(graph.max())} has no cell (cell has {cell.shape[0]})")
    lattice = torch.einsum("ek,ekd->ed", shift.to(pos.dtype), cell.to(pos.dtype)[graph])
    return pos.index_select(0, src) - pos.index_select(0, dst) + lattice  # [E, 3]
