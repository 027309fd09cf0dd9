"""Plots, headless (Agg): LivePlot keeps one figure and updates it in place."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from d2lutils import plot as dplot  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


class FakeHandle:
    def __init__(self, log):
        self.log = log

    def update(self, obj):
        self.log.append(("update", obj))


@pytest.fixture
def ipy_display(monkeypatch):
    """Replace IPython.display.display; returns the log of display/update calls."""
    import IPython.display

    log = []

    def display(obj, display_id=None):
        log.append(("display", obj, display_id))
        return FakeHandle(log)

    monkeypatch.setattr(IPython.display, "display", display)
    return log


def test_liveplot_records_without_display(ipy_display):
    live = dplot.LivePlot(legend=["loss", "acc"], display=False, min_interval=0)
    for epoch in range(1, 4):
        live.add(epoch, [1.0 / epoch, None if epoch == 2 else 0.5 + 0.1 * epoch])
    live.close()
    assert live.data["loss"] == [(1, 1.0), (2, 0.5), (3, 1 / 3)]
    assert live.data["acc"] == [(1, 0.6), (3, pytest.approx(0.8))]
    assert ipy_display == []


def test_liveplot_outside_a_kernel_does_not_display(ipy_display):
    assert not dplot.in_notebook()
    live = dplot.LivePlot(legend=["loss"])
    assert live.display is False
    live.add(1, 0.5)
    live.close()
    assert ipy_display == []


def test_liveplot_one_display_then_updates_of_the_same_figure(ipy_display):
    figures_before = plt.get_fignums()
    live = dplot.LivePlot(legend=["train loss", "test acc"], display=True, min_interval=0)
    for epoch in range(1, 6):
        live.add(epoch, [1.0 / epoch, 0.1 * epoch])
    live.close()
    assert [entry[0] for entry in ipy_display] == ["display"] + ["update"] * 4
    assert ipy_display[0][1] is live.fig and ipy_display[0][2] is True
    assert all(entry[1] is live.fig for entry in ipy_display[1:])
    assert plt.get_fignums() == figures_before  # not registered with pyplot: no second copy
    lines = live.axes.get_lines()
    assert [line.get_label() for line in lines] == ["train loss", "test acc"]
    assert np.allclose(lines[0].get_ydata(), [1, 1 / 2, 1 / 3, 1 / 4, 1 / 5])


def test_liveplot_throttles_and_draws_the_last_point(ipy_display):
    live = dplot.LivePlot(legend=["loss"], xlim=[1, 4], display=True, min_interval=1e9)
    live.add(1, 3.0)  # first point: shown
    live.add(2, 2.0)  # within min_interval: recorded only
    live.add(3, 1.0)
    assert [entry[0] for entry in ipy_display] == ["display"]
    live.add(4, 0.5)  # x reaches xlim[1]: drawn at once
    assert [entry[0] for entry in ipy_display] == ["display", "update"]
    live.close()  # nothing new
    assert len(ipy_display) == 2
    live2 = dplot.LivePlot(legend=["loss"], display=True, min_interval=1e9)
    live2.add(1, 3.0)
    live2.add(2, 2.0)
    live2.close()  # the pending point gets its final draw
    assert [entry[0] for entry in ipy_display[2:]] == ["display", "update"]
    assert np.allclose(live2.axes.get_lines()[0].get_ydata(), [3.0, 2.0])


def test_liveplot_unnamed_curves_and_savefig(tmp_path):
    live = dplot.LivePlot(display=False)
    live.add([1, 1], [torch.tensor(0.3), 0.7])
    live.add([2, 2], [0.2, 0.8])
    assert set(live.data) == {"y0", "y1"}
    path = tmp_path / "curves.png"
    live.savefig(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 1000
    assert len(live.axes.get_lines()) == 2


def test_plot_returns_axes_with_the_curves():
    x = torch.arange(0, 3, 0.1)
    ax = dplot.plot(x, [torch.sin(x), torch.cos(x)], "x", "f(x)", legend=["sin", "cos"])
    assert isinstance(ax, matplotlib.axes.Axes)
    lines = ax.get_lines()
    assert len(lines) == 2
    assert np.allclose(lines[0].get_xdata(), x.numpy()) and np.allclose(
        lines[1].get_ydata(), torch.cos(x).numpy())
    assert ax.get_xlabel() == "x" and ax.get_ylabel() == "f(x)"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["sin", "cos"]
    ax2 = dplot.plot([3.0, 1.0, 2.0], yscale="log")  # one curve over its index
    assert np.allclose(ax2.get_lines()[0].get_xdata(), [0, 1, 2])
    assert ax2.get_yscale() == "log"


def test_show_images_returns_one_axes_per_image():
    imgs = torch.rand(6, 1, 28, 28)
    axes = dplot.show_images(imgs, 2, 3, titles=[f"#{i}" for i in range(6)])
    assert len(axes) == 6
    assert [ax.get_title() for ax in axes] == [f"#{i}" for i in range(6)]
    assert np.allclose(axes[4].get_images()[0].get_array(), imgs[4, 0].numpy())
    rgb = dplot.show_images([torch.rand(3, 8, 8), np.zeros((8, 8, 3))], 1, 2)
    assert rgb[0].get_images()[0].get_array().shape == (8, 8, 3)


def test_liveplot_with_one_epoch_draws_without_a_warning():
    import warnings

    from d2lutils.plot import LivePlot

    live = LivePlot(xlim=[1, 1], legend=["loss"], display=False)
    live.add(1, [0.5])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        live.draw()
    assert live.axes.get_xlim() == (0.5, 1.5)


def test_show_images_draws_one_channel_in_grey():
    """Fashion-MNIST (1 x 28 x 28 or 28 x 28) in grey, not matplotlib's default viridis."""
    gray = [torch.rand(1, 8, 8), torch.rand(8, 8), np.random.rand(8, 8, 1)]
    axes = dplot.show_images(gray + [torch.rand(3, 8, 8)], 1, 4)
    assert [ax.get_images()[0].get_cmap().name for ax in axes[:3]] == ["gray"] * 3
    assert axes[3].get_images()[0].get_array().shape == (8, 8, 3)  # colour stays colour
    hot = dplot.show_images(gray[:1], 1, 1, cmap="hot")
    assert hot[0].get_images()[0].get_cmap().name == "hot"


_SCRIPT = """
import sys
import matplotlib
matplotlib.use("Agg")
from d2lutils import plot
plot.plot([1.0, 2.0, 3.0])
plot.set_figsize((4, 3))
print("IPython" in sys.modules, matplotlib.rcParams["figure.figsize"])
"""


def test_plotting_in_a_script_starts_no_ipython_shell():
    """Outside a kernel there is no notebook figure format to set: plot() must not import
    IPython (a second or more) and start an InteractiveShell just to ask for SVG."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True,
                         check=True).stdout.split(maxsplit=1)
    assert out == ["False", "[4.0, 3.0]\n"]


def test_plot_exports_its_helpers_only():
    """`from d2lutils.plot import *` (and the docs) see the plotting API, not numpy or plt."""
    assert sorted(dplot.__all__) == ["LivePlot", "plot", "set_axes", "set_figsize",
                                     "show_images", "use_svg_display"]
    namespace: dict = {}
    exec("from d2lutils.plot import *", namespace)
    assert "np" not in namespace and "plt" not in namespace
