"""Plotting helpers in the spirit of d2l, plus `LivePlot` for training curves.

`LivePlot` keeps ONE figure per training run and updates it in place inside a notebook
(JupyterLab, VS Code, Colab) through ``IPython.display.display(fig, display_id=True)`` and
``handle.update(fig)``; without an IPython kernel (scripts, pytest) it only records points.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

__all__ = ["LivePlot", "plot", "set_axes", "set_figsize", "show_images", "use_svg_display"]

FMTS = ("-", "m--", "g-.", "r:")


def in_notebook() -> bool:
    """Return True when running inside an IPython kernel (Jupyter, VS Code, Colab)."""
    ipython = sys.modules.get("IPython")  # never import IPython just to ask
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def use_svg_display() -> None:
    """Show notebook figures as SVG (sharp at any zoom)."""
    # matplotlib_inline imports IPython: only when a notebook figure format is asked for
    from matplotlib_inline import backend_inline

    backend_inline.set_matplotlib_formats("svg")


def set_figsize(figsize: tuple[float, float] = (3.5, 2.5)) -> None:
    """Set the default matplotlib figure size (and use SVG in notebooks), like d2l."""
    if in_notebook():  # a script has no notebook figures; asking would start an IPython shell
        use_svg_display()
    plt.rcParams["figure.figsize"] = figsize


def _as_array(values: Any) -> np.ndarray:
    """A curve as a NumPy array (accepts tensors on any device, lists, arrays)."""
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    return np.asarray(values, dtype=float)


def _has_one_axis(X: Any) -> bool:
    """True if X is a single curve (1-D tensor/array or a flat list), as in d2l."""
    return (hasattr(X, "ndim") and X.ndim == 1) or (
        isinstance(X, (list, tuple)) and len(X) > 0 and not hasattr(X[0], "__len__")
    )


def set_axes(
    axes: Axes,
    xlabel: str | None,
    ylabel: str | None,
    xlim: Sequence[float] | None,
    ylim: Sequence[float] | None,
    xscale: str,
    yscale: str,
    legend: Sequence[str] | None,
) -> None:
    """Configure labels, limits, scales, legend and grid of one matplotlib Axes."""
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_xscale(xscale)
    axes.set_yscale(yscale)
    axes.set_xlim(xlim)
    axes.set_ylim(ylim)
    if legend:
        axes.legend(legend)
    axes.grid(True)


def plot(
    X: Any,
    Y: Any = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    legend: Sequence[str] | None = None,
    xlim: Sequence[float] | None = None,
    ylim: Sequence[float] | None = None,
    xscale: str = "linear",
    yscale: str = "linear",
    fmts: Sequence[str] = FMTS,
    figsize: tuple[float, float] = (3.5, 2.5),
    axes: Axes | None = None,
) -> Axes:
    """Plot one or several curves (d2l semantics); returns the Axes.

    ``plot(y)`` plots y against its index; ``plot(x, [y1, y2])`` plots several curves over
    one x; ``plot([x1, x2], [y1, y2])`` pairs them up. Tensors on any device are accepted.
    """
    if _has_one_axis(X):
        X = [X]
    if Y is None:
        X, Y = [[]] * len(X), X
    elif _has_one_axis(Y):
        Y = [Y]
    if len(X) != len(Y):
        X = list(X) * len(Y)
    set_figsize(figsize)
    if axes is None:
        axes = plt.gca()
    axes.cla()
    for x, y, fmt in zip(X, Y, fmts, strict=False):
        if len(x):
            axes.plot(_as_array(x), _as_array(y), fmt)
        else:
            axes.plot(_as_array(y), fmt)
    set_axes(axes, xlabel, ylabel, xlim, ylim, xscale, yscale, legend)
    return axes


def _image_array(img: Any) -> np.ndarray:
    """HW or HWC array from a tensor (CHW or HW), a PIL image or an array."""
    if hasattr(img, "detach"):
        img = img.detach().cpu()
        if img.ndim == 3 and img.shape[0] in (1, 3, 4) and img.shape[-1] not in (1, 3, 4):
            img = img.permute(1, 2, 0)
        img = img.numpy()
    img = np.asarray(img)
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    return img


def show_images(
    imgs: Sequence[Any],
    num_rows: int,
    num_cols: int,
    titles: Sequence[str] | None = None,
    scale: float = 1.5,
    cmap: str = "gray",
) -> np.ndarray:
    """Show images in a grid (tensors CHW/HW, PIL images or arrays); returns the axes.

    Single-channel images are drawn with `cmap` (grey by default, as the pixels are
    intensities; matplotlib's default would colour them); colour images as they are.
    """
    figsize = (num_cols * scale, num_rows * scale)
    _, axes = plt.subplots(num_rows, num_cols, figsize=figsize, squeeze=False)
    axes = axes.flatten()
    for i, (ax, img) in enumerate(zip(axes, imgs, strict=False)):
        array = _image_array(img)
        ax.imshow(array, cmap=cmap if array.ndim == 2 else None)
        ax.axes.get_xaxis().set_visible(False)
        ax.axes.get_yaxis().set_visible(False)
        if titles is not None and i < len(titles):
            ax.set_title(titles[i])
    return axes


class LivePlot:
    """Training curves drawn into one figure that updates in place in a notebook.

    ``add(x, ys)`` records one point per curve (``None`` skips a curve) and redraws at most
    every `min_interval` seconds; `close()` (or a point at ``xlim[1]``) forces a final draw.
    `display` None means "only inside an IPython kernel"; False records without drawing.
    The recorded points are in `data` (curve name -> list of (x, y)); `savefig` writes them.
    """

    def __init__(
        self,
        xlabel: str | None = "epoch",
        ylabel: str | None = None,
        legend: Sequence[str] | None = None,
        xlim: Sequence[float] | None = None,
        ylim: Sequence[float] | None = None,
        xscale: str = "linear",
        yscale: str = "linear",
        figsize: tuple[float, float] = (3.5, 2.5),
        display: bool | None = None,
        fmts: Sequence[str] = FMTS,
        min_interval: float = 0.2,
    ) -> None:
        self.legend = list(legend) if legend else []
        self.fmts = fmts
        self.min_interval = min_interval
        self.display = in_notebook() if display is None else bool(display)
        self._axes_config = (xlabel, ylabel, xlim, ylim, xscale, yscale)
        self.data: dict[str, list[tuple[float, float]]] = {name: [] for name in self.legend}
        self.fig, self.axes = plt.subplots(figsize=figsize)
        plt.close(self.fig)  # we display it ourselves; keeps the inline backend from a 2nd copy
        self._handle = None
        self._last_draw = -float("inf")
        self._dirty = False

    def _name(self, i: int) -> str:
        while len(self.legend) <= i:  # unnamed curves get y0, y1, ...
            name = f"y{len(self.legend)}"
            self.legend.append(name)
            self.data.setdefault(name, [])
        return self.legend[i]

    def add(self, x: Any, ys: Any) -> None:
        """Record a point for each curve (`ys` a number or a sequence; None skips one)."""
        if not isinstance(ys, (list, tuple)):
            ys = [ys]
        xs = x if isinstance(x, (list, tuple)) else [x] * len(ys)
        for i, (a, b) in enumerate(zip(xs, ys, strict=False)):
            name = self._name(i)
            if a is not None and b is not None:
                self.data[name].append((float(a), float(b)))
        self._dirty = True
        xlim = self._axes_config[2]
        last = xlim is not None and xs and xs[0] is not None and float(xs[0]) >= xlim[1]
        if self.display and (last or time.monotonic() - self._last_draw >= self.min_interval):
            self.show()

    def draw(self) -> None:
        """Redraw the curves on `axes` (no display)."""
        ax = self.axes
        ax.cla()
        names = list(self.data)
        for name, fmt in zip(names, self.fmts, strict=False):
            points = self.data[name]
            ax.plot([p[0] for p in points], [p[1] for p in points], fmt, label=name)
        xlabel, ylabel, xlim, ylim, xscale, yscale = self._axes_config
        if xlim is not None and xlim[0] == xlim[1]:  # one epoch: give the point some room
            xlim = (xlim[0] - 0.5, xlim[1] + 0.5)
        set_axes(ax, xlabel, ylabel, xlim, ylim, xscale, yscale, None)
        if names:
            ax.legend()

    def show(self) -> None:
        """Draw and show the figure: first call displays it, later calls update it in place."""
        self.draw()
        self._last_draw = time.monotonic()
        self._dirty = False
        if not self.display:
            return
        from IPython import display as ipd  # display is True: a kernel (or a test) has IPython

        if self._handle is None:
            self._handle = ipd.display(self.fig, display_id=True)
        else:
            self._handle.update(self.fig)

    def close(self) -> None:
        """Final draw of any points not shown yet."""
        if self.display and self._dirty:
            self.show()

    def savefig(self, path: str | os.PathLike, **kwargs: Any) -> None:
        """Draw the recorded curves and save the figure (PNG, SVG, ... by extension)."""
        self.draw()
        self.fig.savefig(path, **kwargs)
