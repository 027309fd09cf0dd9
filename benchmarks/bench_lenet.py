"""Time LeNet on Fashion-MNIST: d2l's ``train_ch6`` against d2lutils' ``fit``, in one process.

Both sides train the classic LeNet of the d2l book (sigmoid activations, average pooling) with
Xavier-initialized weights, SGD, batch size 256 and learning rate 0.9 for the same number of
epochs on the same device, starting from the same weights, on the same Fashion-MNIST files:

* d2l: ``d2l.load_data_fashion_mnist(256)`` (torchvision dataset, PIL images, ``ToTensor``,
  a DataLoader with 4 worker processes) and ``d2l.train_ch6``, exactly as the book runs them;
* d2lutils: ``d2lutils.data.fashion_mnist(256)`` (the whole dataset in memory on the device)
  and ``d2lutils.train.fit``.

Each side's wall time covers building its data loaders, training and the per-epoch test
evaluation. The final test accuracy of both networks is then measured by one judge (the same
evaluation over the same test set), outside the timed region. The last line printed is the
ratio d2l time / d2lutils time. See benchmarks/README.md.

    .venv/bin/python benchmarks/bench_lenet.py [--epochs 10] [--device cpu] [--repeats 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
import types
import warnings
from pathlib import Path
from unittest import mock

os.environ.setdefault("MPLBACKEND", "Agg")  # d2l's Animator draws figures; no window here

import torch  # noqa: E402
from torch import nn  # noqa: E402

import d2lutils  # noqa: E402
from d2lutils import data as dd  # noqa: E402
from d2lutils import train  # noqa: E402

BATCH_SIZE, LR = 256, 0.9


def lenet() -> nn.Sequential:
    """The LeNet of d2l section 7.6 (sigmoid activations, average pooling)."""
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, 10),
    )


def fresh_lenet(seed: int) -> nn.Sequential:
    """A LeNet built under `seed`, with the generator then re-seeded to `seed` + 1.

    ``d2l.train_ch6`` Xavier-initializes the net as its first step, so it trains from the
    weights drawn right after this re-seeding; the d2lutils side draws them at the same point
    (`fit` draws a shuffle before it would initialize, so that side initializes first and
    passes ``init=None``). `main` checks that both start from identical weights.
    """
    d2lutils.set_seed(seed)
    net = lenet()
    torch.manual_seed(seed + 1)
    return net


def xavier_like_d2l(m: nn.Module) -> None:
    """The initializer inside ``d2l.train_ch6`` (Xavier-uniform Linear and Conv2d weights)."""
    if type(m) in (nn.Linear, nn.Conv2d):
        nn.init.xavier_uniform_(m.weight)


def cpu_seconds() -> float:
    """CPU time used so far by this process and its finished children (DataLoader workers)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    elif dev.type == "mps":
        torch.mps.synchronize()


@contextlib.contextmanager
def d2l_workdir():
    """A scratch working directory whose ../data/FashionMNIST/raw holds the verified idx files.

    d2l reads ``../data`` relative to the working directory and torchvision skips its download
    when the four decompressed files are there, so d2l reads exactly the files d2lutils reads.
    """
    raw = dd.fetch("fashion_mnist") / "raw"
    old = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="bench-d2l-") as tmp:
        target = Path(tmp, "data", "FashionMNIST", "raw")
        target.mkdir(parents=True)
        for f in raw.iterdir():
            (target / f.name).symlink_to(f.resolve())
        Path(tmp, "work").mkdir()
        os.chdir(Path(tmp, "work"))
        try:
            yield
        finally:
            os.chdir(old)


# d2l's Animator redraws its matplotlib figure (cla, plot, axes) six times an epoch and then
# calls IPython's display.display(fig) and display.clear_output(). Outside a notebook those two
# print "<Figure size 350x250 with 1 Axes>" and terminal escape codes on every call, and
# use_svg_display() creates an IPython shell. We replace only these three display calls with
# no-ops: the drawing itself, like all of train_ch6's other work, still runs and is timed.
# (In a notebook, d2l would additionally render an SVG per call; that cost is not counted.)
_NO_DISPLAY = types.SimpleNamespace(
    display=lambda *args, **kwargs: None, clear_output=lambda *args, **kwargs: None
)


def run_d2l(epochs: int, dev: torch.device, seed: int):
    """Train with d2l; return (wall s, CPU s, trained net, starting weights, d2l's printout)."""
    from d2l import torch as d2l

    net = fresh_lenet(seed)
    start = record_start(net)
    out = io.StringIO()
    with (
        d2l_workdir(),
        mock.patch.object(d2l, "display", _NO_DISPLAY),
        mock.patch.object(d2l, "use_svg_display", lambda: None),
        warnings.catch_warnings(),
        contextlib.redirect_stdout(out),
    ):
        # torch warns that 4 workers exceed the cores of a small machine; that is d2l's choice.
        warnings.filterwarnings("ignore", message="This DataLoader will create")
        warnings.filterwarnings("ignore", message="Attempting to set identical")  # 1 epoch
        sync(dev)
        cpu0, t0 = cpu_seconds(), time.perf_counter()
        train_iter, test_iter = d2l.load_data_fashion_mnist(BATCH_SIZE)
        d2l.train_ch6(net, train_iter, test_iter, epochs, LR, dev)
        sync(dev)
        wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    d2l.plt.close("all")
    return wall, cpu, net, start, " | ".join(out.getvalue().strip().splitlines())


def run_d2lutils(epochs: int, dev: torch.device, seed: int, **options):
    """Train with d2lutils; return (wall s, CPU s, trained net, starting weights, a summary)."""
    net = fresh_lenet(seed)
    sync(dev)
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    net.apply(xavier_like_d2l)  # what train_ch6 does first, from the same generator state
    start = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
    train_iter, test_iter = dd.fashion_mnist(BATCH_SIZE, device=dev)
    history = train.fit(
        net, train_iter, test_iter, epochs=epochs, lr=LR, device=dev,
        init=None, plot=False, progress=False, **options,
    )
    sync(dev)
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    final = history.final
    note = (
        f"loss {final['train_loss']:.3f}, train acc {final['train_acc']:.3f}, "
        f"test acc {final['test_acc']:.3f} | "
        f"{statistics.median(history.examples_per_sec):.1f} examples/sec (training steps)"
    )
    return wall, cpu, net, start, note


def record_start(net: nn.Module) -> dict[str, torch.Tensor]:
    """Fill a dict with `net`'s weights as they are when its first forward pass begins."""
    start: dict[str, torch.Tensor] = {}

    def hook(module, inputs):
        start.update({k: v.detach().cpu().clone() for k, v in module.state_dict().items()})
        handle.remove()

    handle = net.register_forward_pre_hook(hook)
    return start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=10, help="epochs per side (default 10)")
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: best)")
    parser.add_argument("--repeats", type=int, default=1, help="runs per side; medians shown")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--amp", action="store_true", help="d2lutils: mixed precision (CUDA)")
    parser.add_argument("--channels-last", choices=("on", "off"), default="on",
                        help="d2lutils: fit(channels_last=...), on as in notebook 07")
    parser.add_argument("--compile", action="store_true", help="d2lutils: torch.compile")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads for both sides (default: torch's choice)")
    parser.add_argument("--d2l-threads", type=int, default=None,
                        help="intra-op threads for the d2l side only (default: as --threads)")
    args = parser.parse_args(argv)
    # fit would tune glibc's allocator at its first call on the CPU; tune it before either
    # side runs, so that both train with it (D2L_TUNE_MALLOC=0: neither does)
    tuned = d2lutils.tune_cpu_allocator()
    dev = torch.device(args.device) if args.device else d2lutils.device()
    if args.threads:
        torch.set_num_threads(args.threads)
    ours = torch.get_num_threads()
    threads = {"d2lutils": ours, "d2l": args.d2l_threads or ours}
    layout = args.channels_last == "on"
    options = {"amp": args.amp, "channels_last": layout, "compile": args.compile}
    # The final accuracy of both nets is measured the same way, outside the timed region.
    _, judge_iter = dd.fashion_mnist(1000, device=dev)
    cpu_name = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_name = line.split(":", 1)[1].strip()
                break
    print(f"LeNet on Fashion-MNIST, batch {BATCH_SIZE}, lr {LR}, {args.epochs} epochs, {dev} "
          f"({torch.cuda.get_device_name(dev) if dev.type == 'cuda' else cpu_name}, "
          f"{os.cpu_count()} cores, torch threads {threads}), "
          f"torch {torch.__version__}; d2lutils options {options}; glibc allocator tuned "
          f"for both sides (d2lutils.tune_cpu_allocator): {tuned}")
    results: dict[str, list[tuple[float, float, float]]] = {"d2l": [], "d2lutils": []}
    starts: dict[str, dict[str, torch.Tensor]] = {}
    for r in range(args.repeats):
        # Alternate which side goes first so that warm-up and drift do not favour one side.
        order = ("d2l", "d2lutils") if r % 2 == 0 else ("d2lutils", "d2l")
        for side in order:
            load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
            torch.set_num_threads(threads[side])
            if side == "d2l":
                wall, cpu, net, starts[side], note = run_d2l(args.epochs, dev, args.seed)
            else:
                wall, cpu, net, starts[side], note = run_d2lutils(
                    args.epochs, dev, args.seed, **options
                )
            acc = train.evaluate_accuracy(net, judge_iter, dev)
            results[side].append((wall, cpu, acc))
            print(f"  run {r + 1} {side:8s}: {wall:7.1f} s wall, {cpu:7.1f} s CPU, "
                  f"test acc {acc:.4f} (load avg before {load:.1f}); it said: {note}",
                  flush=True)
    same = all(torch.equal(v, starts["d2lutils"][k]) for k, v in starts["d2l"].items())
    print(f"both sides started from identical weights: {same}")
    n_train = len(dd.fashion_mnist_tensors(train=True)[1])
    med = {}
    for side, rows in results.items():
        wall = statistics.median(w for w, _, _ in rows)
        cpu = statistics.median(c for _, c, _ in rows)
        acc = statistics.median(a for _, _, a in rows)
        med[side] = (wall, acc)
        print(f"{side:8s}: wall {wall:.1f} s (training + evaluation + data loading), "
              f"{args.epochs * n_train / wall:,.0f} train images/s, CPU {cpu:.1f} s, "
              f"final test accuracy {acc:.4f}" + (" (medians)" if args.repeats > 1 else ""))
    ok = same and med["d2lutils"][1] >= med["d2l"][1] - 0.01
    print(f"accuracy check (d2lutils >= d2l - 0.01): {'ok' if ok else 'FAILED'}")
    print(f"ratio d2l time / d2lutils time: {med['d2l'][0] / med['d2lutils'][0]:.2f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
