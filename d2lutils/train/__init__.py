"""Training loops and helpers: `fit` for classifiers, `train_lm` for language models.

Every public name lives at ``d2lutils.train.<name>``; the submodules are implementation
detail: `loop` (fit), `lm` (train_lm, perplexity, predict_lm), `metrics` (accuracy,
evaluation, History, Timer, clipping, folds), `checkpoint` (save/load), `checks` (the
loops' first-batch explanations) and `plumbing`, what the loops share (devices, accumulator
dtype, progress bar and live plot, eval mode, matching targets to outputs).
"""

from d2lutils.train.checkpoint import load_model, load_state, save_model
from d2lutils.train.lm import perplexity, predict_lm, train_lm
from d2lutils.train.loop import fit, init_weights
from d2lutils.train.metrics import (
    History,
    Timer,
    accuracy,
    evaluate_accuracy,
    evaluate_loss,
    grad_clipping,
    k_fold_indices,
)

__all__ = [
    "History",
    "Timer",
    "accuracy",
    "evaluate_accuracy",
    "evaluate_loss",
    "fit",
    "grad_clipping",
    "init_weights",
    "k_fold_indices",
    "load_model",
    "load_state",
    "perplexity",
    "predict_lm",
    "save_model",
    "train_lm",
]
