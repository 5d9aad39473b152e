"""The simplex ETF made visible: class means in a fixed view of their own span, with the ideal ETF drawn.

Where the numbers come from. A frame of the neural-collapse trajectory holds, per model, the cosine Gram
``mean_gram`` [C, C] of the centred class means M̃ (rows, centred on the unweighted mean of the means) and their
norms ``class_mean_norms`` [C] (:mod:`transvis.metrics.nc`). Their product G = diag(n)·mean_gram·diag(n) = M̃M̃ᵀ
has a symmetric PSD square root S = G^½ [C, C], and S = M̃U with U [D, C] the orthogonal Procrustes fit of the
means to the standard simplex — the very U that ``transvis.dynamics.collapse.nearest_simplex_etf`` uses. So
the rows of S are the class means written in the coordinates of their nearest simplex ETF, whose vertices are
s·(e_c − 1/C). Along the collapse trajectory the means move linearly towards those vertices, S stays PSD, and
the coordinates stay in that same frame: **the view is fixed across frames, computed from each frame alone**.

The views (all use one fixed projection of those coordinates, never refitted per frame):

* all C classes on the simplex's **Coxeter (Petrie) plane**, spanned by cos(2πc/C), sin(2πc/C) over the class
  index c: the regular simplex projects onto a regular C-gon (C = 10: a decagon), and the means at t = 1 with
  "move the means to the ETF" sit exactly on its vertices;
* 3 classes (2-D) or 4 classes (3-D) picked by the learner: their own ETF — an equilateral triangle or a
  regular tetrahedron — in the space of their ideal vertices, centred on the picked means' mean.

Coordinates are divided by the RMS norm of the centred means, so the picture is scale-free (the ETF's
vertices lie at the same radius for every model) and only the geometry is compared.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from ._style import NEUTRAL_COLORS, base_layout, class_colors


@dataclass(frozen=True)
class EtfView:
    """One frame's class means and their ideal simplex ETF in a fixed 2-D or 3-D view.

    means : [k, d] the shown classes' centred class means, RMS-normalised, projected (d = 2 or 3).
    vertices : [k, d] the ideal ETF vertex of each shown class under the same projection.
    classes : the k class indices shown (into the pool's class names).
    shown_fraction : share of the shown means' squared norm that the projection keeps (1 = nothing hidden;
        the Coxeter plane keeps about 2/(C − 1) of a random arrangement, all of an ETF's symmetric figure).
    plane : what the axes are ("Coxeter plane", "ETF plane of 3 classes", "ETF space of 4 classes").
    """

    means: np.ndarray
    vertices: np.ndarray
    classes: tuple[int, ...]
    shown_fraction: float
    plane: str


def rms_norm(class_mean_norms) -> float:
    """The RMS norm of the centred class means [C] (the scale the ETF views divide by)."""
    return float(np.sqrt(np.mean(np.asarray(class_mean_norms, dtype=float) ** 2)))


def etf_coordinates(mean_gram, class_mean_norms, scale: float | None = None) -> np.ndarray:
    """The centred class means [C, C] in the coordinates of their nearest simplex ETF, RMS-normalised.

    mean_gram : [C, C] cosines of the centred class means; class_mean_norms : [C] their norms.
    Returns S / scale with S = (diag(n)·mean_gram·diag(n))^½ (symmetric PSD square root) and ``scale`` the RMS
    norm of these means by default (pass frame 0's :func:`rms_norm` to keep one scale along a trajectory: the
    nearest ETF keeps the RMS norm, so the means still land on the vertices at t = 1). Row c is class c's mean; the nearest ETF's vertices are then the rows of
    ``simplex_vertices(C)`` (see the module docstring for why this frame is the Procrustes frame).
    """
    gram = np.asarray(mean_gram, dtype=float)
    norms = np.asarray(class_mean_norms, dtype=float)
    if gram.ndim != 2 or gram.shape[0] != gram.shape[1] or norms.shape != (gram.shape[0],):
        raise ValueError(f"mean_gram must be [C, C] and class_mean_norms [C]; got {gram.shape} and {norms.shape}.")
    full = norms[:, None] * gram * norms[None, :]
    full = 0.5 * (full + full.T)
    values, vectors = np.linalg.eigh(full)
    root = (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T
    rms = rms_norm(norms) if scale is None else float(scale)
    if not np.isfinite(rms) or rms <= 0:
        raise ValueError("the class means coincide (every centred mean has norm 0): there is no geometry to draw.")
    return root / rms


def simplex_vertices(n_classes: int) -> np.ndarray:
    """[C, C] the regular simplex (e_c − 1/C) scaled to RMS norm 1: the ETF that RMS-normalised means reach."""
    if n_classes < 2:
        raise ValueError(f"a simplex ETF needs at least 2 classes; got {n_classes}.")
    centred = np.eye(n_classes) - 1.0 / n_classes
    return centred / np.sqrt(1.0 - 1.0 / n_classes)


def dft_basis(k: int) -> np.ndarray:
    """[k, k − 1] an orthonormal basis of the vectors over k points that sum to 0: the real discrete Fourier
    basis cos(2πjm/k), sin(2πjm/k) for m = 1, 2, … (and (−1)^j for even k). Its first two columns span the
    Coxeter plane of the simplex on those k points (the regular k-gon)."""
    if k < 2:
        raise ValueError(f"need at least 2 points; got {k}.")
    j = np.arange(k)
    columns = []
    for m in range(1, k // 2 + 1):
        if 2 * m == k:
            columns.append(np.cos(np.pi * j))
        else:
            columns.append(np.cos(2 * np.pi * m * j / k))
            columns.append(np.sin(2 * np.pi * m * j / k))
    basis = np.stack(columns, axis=1)
    return basis / np.linalg.norm(basis, axis=0)


def coxeter_basis(n_classes: int) -> np.ndarray:
    """[C, 2] the orthonormal basis of the simplex's Coxeter (Petrie) plane, cos and sin of 2πc/C over c."""
    if n_classes < 3:
        raise ValueError(f"the Coxeter-plane view needs at least 3 classes; got {n_classes}.")
    return dft_basis(n_classes)[:, :2]


def etf_view(mean_gram, class_mean_norms, classes: Sequence[int] | None = None,
             scale: float | None = None) -> EtfView:
    """One frame's :class:`EtfView`: every class on the Coxeter plane (``classes=None``), or 3 or 4 chosen
    classes in the space of their own ideal ETF (a triangle in 2-D, a tetrahedron in 3-D), centred on the
    chosen means' mean. The projection depends on C and the chosen classes only, never on the frame;
    ``scale`` as in :func:`etf_coordinates`."""
    coords = etf_coordinates(mean_gram, class_mean_norms, scale)  # [C, C]
    n_classes = coords.shape[0]
    vertices = simplex_vertices(n_classes)
    if classes is None:
        chosen = tuple(range(n_classes))
        basis = coxeter_basis(n_classes)  # [C, 2], orthogonal to 1: the centring does not matter
        plane = f"Coxeter plane of the {n_classes}-class simplex"
        means = coords
    else:
        chosen = tuple(int(c) for c in classes)
        if len(chosen) not in (3, 4) or len(set(chosen)) != len(chosen):
            raise ValueError(f"pick 3 or 4 different classes for their own ETF view; got {list(classes)}.")
        if not all(0 <= c < n_classes for c in chosen):
            raise ValueError(f"class indices must lie in 0..{n_classes - 1}; got {list(chosen)}.")
        k = len(chosen)
        basis = np.zeros((n_classes, k - 1))
        basis[list(chosen)] = dft_basis(k)  # spans {e_c − mean over the chosen e}: their sub-simplex's space
        means = coords[list(chosen)] - coords[list(chosen)].mean(axis=0)
        vertices = vertices[list(chosen)] - vertices[list(chosen)].mean(axis=0)
        plane = f"ETF {'plane' if k == 3 else 'space'} of {k} classes"
    projected = means @ basis
    total = float((means**2).sum())
    shown = float((projected**2).sum()) / total if total > 0 else float("nan")
    return EtfView(means=projected, vertices=vertices @ basis, classes=chosen, shown_fraction=shown, plane=plane)


def etf_extent(views: Sequence[EtfView]) -> float:
    """Half-width of one axis range that holds every view (means and vertices) with a margin: pass the views
    of every frame so the axes, like the projection, stay fixed while t moves."""
    radius = max(float(np.abs(np.concatenate([v.means, v.vertices])).max()) for v in views)
    return 1.15 * radius


def nearest_class_angle(mean_gram) -> np.ndarray:
    """[C] each class mean's smallest angle to another class mean, in degrees (from the cosine Gram [C, C]);
    the ideal simplex ETF puts every class at arccos(−1/(C − 1)) from every other (96.4° for C = 10)."""
    gram = np.clip(np.asarray(mean_gram, dtype=float), -1.0, 1.0)
    off = gram.copy()
    np.fill_diagonal(off, -np.inf)
    return np.degrees(np.arccos(off.max(axis=1)))


def etf_angle(n_classes: int) -> float:
    """The angle between any two vertices of a C-class simplex ETF, in degrees: arccos(−1/(C − 1))."""
    return float(np.degrees(np.arccos(-1.0 / (n_classes - 1))))


def etf_figure(view: EtfView, class_names: Sequence[str], *, extent: float | None = None,
               title: str | None = None, height: int = 520) -> go.Figure:
    """The class means (filled diamonds, class colours) against the ideal ETF vertices (open circles joined
    as the regular polygon / tetrahedron, grey), a thin line from each mean to its own vertex.

    ``extent`` fixes both axes to [−extent, extent] (:func:`etf_extent` over all frames); equal aspect, so a
    regular figure looks regular. 3-D views (4 classes) are drawn with ``Scatter3d``.
    """
    names = [str(class_names[c]) for c in view.classes]
    palette = class_colors(len(class_names))
    colors = [palette[c % len(palette)] for c in view.classes]
    d = view.means.shape[1]
    extent = extent if extent is not None else etf_extent([view])
    fig = go.Figure()
    vertices, means = view.vertices, view.means
    if d == 2:
        order = np.argsort(np.arctan2(vertices[:, 1], vertices[:, 0]))
        ring = np.concatenate([order, order[:1]])
        fig.add_trace(go.Scatter(x=vertices[ring, 0], y=vertices[ring, 1], mode="lines", name="ideal simplex ETF",
                                 line=dict(color=NEUTRAL_COLORS[1], width=1.5, dash="dash"), hoverinfo="skip"))
        gap_x, gap_y = [], []
        for m, v in zip(means, vertices):
            gap_x += [m[0], v[0], None]
            gap_y += [m[1], v[1], None]
        fig.add_trace(go.Scatter(x=gap_x, y=gap_y, mode="lines", name="mean → its vertex",
                                 line=dict(color=NEUTRAL_COLORS[0], width=1), hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=vertices[:, 0], y=vertices[:, 1], mode="markers", name="ETF vertices",
                                 marker=dict(symbol="circle-open", size=16, color=NEUTRAL_COLORS[0],
                                             line=dict(width=2)),
                                 text=names, hovertemplate="ideal vertex of <b>%{text}</b><extra></extra>"))
        fig.add_trace(go.Scatter(x=means[:, 0], y=means[:, 1], mode="markers+text", name="class means",
                                 marker=dict(symbol="diamond", size=14, color=colors,
                                             line=dict(color="black", width=1)),
                                 text=names, textposition="top center",
                                 hovertemplate="mean of <b>%{text}</b><extra></extra>"))
        axis = dict(range=[-extent, extent], zeroline=False, showticklabels=False)
        fig.update_xaxes(title=f"{view.plane.split(' of ')[0]}, axis 1", **axis)
        fig.update_yaxes(title="axis 2", scaleanchor="x", scaleratio=1, **axis)
    else:
        edges_x, edges_y, edges_z = [], [], []
        for i in range(len(vertices)):
            for j in range(i + 1, len(vertices)):
                edges_x += [vertices[i, 0], vertices[j, 0], None]
                edges_y += [vertices[i, 1], vertices[j, 1], None]
                edges_z += [vertices[i, 2], vertices[j, 2], None]
        fig.add_trace(go.Scatter3d(x=edges_x, y=edges_y, z=edges_z, mode="lines", name="ideal simplex ETF",
                                   line=dict(color=NEUTRAL_COLORS[1], width=3), hoverinfo="skip"))
        fig.add_trace(go.Scatter3d(x=vertices[:, 0], y=vertices[:, 1], z=vertices[:, 2], mode="markers",
                                   name="ETF vertices", text=names,
                                   marker=dict(symbol="circle-open", size=9, color=NEUTRAL_COLORS[0]),
                                   hovertemplate="ideal vertex of <b>%{text}</b><extra></extra>"))
        fig.add_trace(go.Scatter3d(x=means[:, 0], y=means[:, 1], z=means[:, 2], mode="markers+text",
                                   name="class means", text=names,
                                   marker=dict(symbol="diamond", size=7, color=colors,
                                               line=dict(color="black", width=1)),
                                   hovertemplate="mean of <b>%{text}</b><extra></extra>"))
        axis = dict(range=[-extent, extent], showticklabels=False, title="")
        fig.update_layout(scene=dict(xaxis=axis, yaxis=axis, zaxis=axis, aspectmode="cube"))
    fig = base_layout(fig, title or f"Class means and the ideal simplex ETF — {view.plane}", height=height)
    fig.update_layout(legend=dict(orientation="h", x=0, y=1.0, yanchor="bottom", xanchor="left"),
                      margin=dict(l=40, r=20, t=90, b=40),
                      meta={"shown_fraction": view.shown_fraction, "classes": list(view.classes)})
    return fig


def vertex_edges(points) -> np.ndarray:
    """Lengths [k] of consecutive edges of a polygon's points [k, 2] taken in angular order (regular: all
    equal), or every pairwise distance [k(k−1)/2] of 3-D points (regular tetrahedron: all equal)."""
    pts = np.asarray(points, dtype=float)
    if pts.shape[1] == 2:
        order = np.argsort(np.arctan2(pts[:, 1], pts[:, 0]))
        ring = pts[order]
        return np.linalg.norm(ring - np.roll(ring, -1, axis=0), axis=1)
    i, j = np.triu_indices(len(pts), 1)
    return np.linalg.norm(pts[i] - pts[j], axis=1)
