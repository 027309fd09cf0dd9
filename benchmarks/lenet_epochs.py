"""Time `fit`'s LeNet epochs in a fresh process, with the page faults and system time of each.

`bench_lenet.py` runs d2l and d2lutils in one process, so whichever side goes second inherits
the C allocator's state from the first. A notebook kernel starts fresh, as this script does,
and, as in a notebook, nothing tunes glibc's allocator until `fit` starts training on the CPU
(`d2lutils.tune_cpu_allocator`, at the first epoch's call). Compare memory layouts and
allocator settings with it:

    .venv/bin/python benchmarks/lenet_epochs.py --channels-last on
    D2L_TUNE_MALLOC=0 .venv/bin/python benchmarks/lenet_epochs.py --channels-last on
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import torch

import d2lutils
from d2lutils import data as dd
from d2lutils import train

sys.path.insert(0, str(Path(__file__).parent))
from bench_lenet import BATCH_SIZE, LR, lenet  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--channels-last", choices=("on", "off"), default="on")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    layout = args.channels_last == "on"
    print(f"channels_last={layout}, {torch.get_num_threads()} threads, {args.device}")
    d2lutils.set_seed(0)
    train_iter, test_iter = dd.fashion_mnist(BATCH_SIZE, device=args.device)
    net = lenet()
    for epoch in range(args.epochs):
        before, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        train.fit(net, train_iter, test_iter, epochs=1, lr=LR, device=args.device,
                  init="xavier" if epoch == 0 else None, plot=False, progress=False,
                  channels_last=layout)
        after = resource.getrusage(resource.RUSAGE_SELF)
        print(f"epoch {epoch + 1}: {time.perf_counter() - t0:.2f} s (training + test), "
              f"{after.ru_minflt - before.ru_minflt:,} page faults, "
              f"{after.ru_stime - before.ru_stime:.2f} s system time")
        if epoch == 0:  # cached: reports what fit's first call did, changes nothing now
            print(f"allocator tuned by fit: {d2lutils.tune_cpu_allocator()}")


if __name__ == "__main__":
    main()
