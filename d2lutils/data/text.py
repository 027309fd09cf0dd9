"""Text for language models: The Time Machine, tokenizers, a vocabulary, sequence batches.

The preprocessing, `Vocab` and the two partitioning schemes follow the d2l book (1.0.3),
so indices agree with ``d2l.torch``; the iterators work on tensors instead of Python lists.
"""

from __future__ import annotations

import collections
import re
from collections.abc import Iterable, Iterator, Sequence

import torch

from d2lutils.data.sources import fetch
from d2lutils.device import device as default_device


def read_time_machine_text() -> str:
    """The raw text of The Time Machine (verified)."""
    return (fetch("time_machine") / "timemachine.txt").read_text(encoding="utf-8")


def preprocess(text: str) -> str:
    """Keep letters only (runs of anything else become one space), lower case, as d2l."""
    return re.sub("[^A-Za-z]+", " ", text).lower()


def read_time_machine() -> list[str]:
    """The Time Machine as preprocessed lines (d2l classic), empty lines kept."""
    return [preprocess(line).strip() for line in read_time_machine_text().splitlines()]


def tokenize(lines: list[str] | str, token: str = "word") -> list[list[str]] | list[str]:
    """Split lines into word or character tokens (one list per line); a str gives one list."""
    if token not in ("word", "char"):
        raise ValueError(f"token must be 'word' or 'char', not {token!r}")
    split = str.split if token == "word" else list
    if isinstance(lines, str):
        return split(lines)
    return [split(line) for line in lines]


class Vocab:
    """Maps tokens to indices and back (d2l 1.0.3 semantics).

    Tokens seen at least `min_freq` times, the `reserved_tokens` and ``'<unk>'`` are sorted
    into ``idx_to_token``; unknown tokens map to ``unk``. ``token_freqs`` lists (token,
    count) pairs, most frequent first. `tokens` may be a flat list or a list of lines.
    """

    def __init__(self, tokens: Iterable[str] | Iterable[list[str]] = (), min_freq: int = 0,
                 reserved_tokens: Iterable[str] = ()) -> None:
        tokens = list(tokens)
        if tokens and isinstance(tokens[0], list):
            tokens = [t for line in tokens for t in line]
        counter = collections.Counter(tokens)
        self.token_freqs = sorted(counter.items(), key=lambda x: x[1], reverse=True)
        kept = [t for t, freq in self.token_freqs if freq >= min_freq]
        self.idx_to_token = sorted(set(["<unk>", *reserved_tokens, *kept]))
        self.token_to_idx = {t: i for i, t in enumerate(self.idx_to_token)}

    def __len__(self) -> int:
        return len(self.idx_to_token)

    def __getitem__(self, tokens: str | list | tuple) -> int | list:
        """Index of a token, or a list of indices for a list/tuple of tokens."""
        if not isinstance(tokens, (list, tuple)):
            return self.token_to_idx.get(tokens, self.unk)
        return [self[t] for t in tokens]

    def to_tokens(self, indices: int | Sequence[int] | torch.Tensor) -> str | list[str]:
        """Token of an index, or a list of tokens for a list/tensor of indices."""
        if hasattr(indices, "__len__") and getattr(indices, "ndim", 1) > 0:
            return [self.idx_to_token[int(i)] for i in indices]
        return self.idx_to_token[int(indices)]  # an int, or a 0-d tensor/array (argmax)

    @property
    def unk(self) -> int:
        """Index of the unknown token ``'<unk>'``."""
        return self.token_to_idx["<unk>"]


def load_corpus_time_machine(max_tokens: int = -1,
                             token: str = "char") -> tuple[list[int], Vocab]:
    """(corpus indices, vocab) of The Time Machine, preprocessed as one text (d2l 1.0.3)."""
    tokens = tokenize(preprocess(read_time_machine_text()), token)
    vocab = Vocab(tokens)
    corpus = vocab[tokens]
    return (corpus[:max_tokens] if max_tokens > 0 else corpus), vocab


Corpus = Sequence[int] | torch.Tensor  # a list of token indices, or a tensor of them


def _as_tensor(corpus: Corpus) -> torch.Tensor:
    return corpus if isinstance(corpus, torch.Tensor) else torch.tensor(corpus, dtype=torch.long)


def _max_offset(num_steps: int, random_iter: bool, random_offset: bool) -> int:
    """The largest offset a partitioning draws (d2l's ranges): num_steps - 1 for random
    partitioning, num_steps for sequential, 0 when the sequential offset is fixed."""
    if random_iter:
        return num_steps - 1
    return num_steps if random_offset else 0


def _num_batches(n_tokens: int, batch_size: int, num_steps: int, max_offset: int) -> int:
    """Batches of `batch_size` x `num_steps` that every offset 0..`max_offset` can fill.

    From offset o, both partitionings fill ``(n_tokens - 1 - o) // (batch_size * num_steps)``
    batches (the last token is only ever a target). Taking the largest offset makes the
    count the same in every epoch, so ``len()`` is exact; at most one batch is left out,
    and only when fewer than `max_offset` tokens are spare.
    """
    return max(0, (n_tokens - 1 - max_offset) // (batch_size * num_steps))


def seq_data_iter_random(
    corpus: Corpus, batch_size: int, num_steps: int
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Random partitioning: subsequences from a random offset, batched in random order.

    Neighbouring batches are not adjacent in the text, so each batch starts a fresh state.
    The offset is drawn from 0..num_steps-1 as in d2l; every epoch yields the same number
    of batches (see `SeqLoader`).
    """
    corpus = _as_tensor(corpus)
    max_offset = _max_offset(num_steps, random_iter=True, random_offset=True)
    n_batches = _num_batches(len(corpus), batch_size, num_steps, max_offset)
    corpus = corpus[int(torch.randint(0, max_offset + 1, ())):]
    num_subseqs = (len(corpus) - 1) // num_steps
    starts = torch.randperm(num_subseqs) * num_steps
    offsets = torch.arange(num_steps)
    for i in range(0, n_batches * batch_size, batch_size):
        idx = starts[i:i + batch_size, None] + offsets
        yield corpus[idx], corpus[idx + 1]


def seq_data_iter_sequential(
    corpus: Corpus, batch_size: int, num_steps: int, random_offset: bool = True
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Sequential partitioning: row i of each batch continues row i of the previous batch.

    The state can then be carried from batch to batch (detached). The offset is drawn from
    0..num_steps as in d2l (or is 0); each batch is d2l's batch for that offset, and every
    epoch yields the same number of batches (see `SeqLoader`).
    """
    corpus = _as_tensor(corpus)
    max_offset = _max_offset(num_steps, random_iter=False, random_offset=random_offset)
    n_batches = _num_batches(len(corpus), batch_size, num_steps, max_offset)
    offset = int(torch.randint(0, max_offset + 1, ())) if random_offset else 0
    num_tokens = ((len(corpus) - offset - 1) // batch_size) * batch_size
    Xs = corpus[offset:offset + num_tokens].reshape(batch_size, -1)
    Ys = corpus[offset + 1:offset + 1 + num_tokens].reshape(batch_size, -1)
    for i in range(0, n_batches * num_steps, num_steps):
        yield Xs[:, i:i + num_steps], Ys[:, i:i + num_steps]


class SeqLoader:
    """A re-iterable loader of (X, Y) token batches over a corpus held as a tensor on `device`.

    Each epoch draws a new random offset (unless ``random_offset=False``; random
    partitioning always does), and ``len()`` is the exact number of batches of every epoch:
    the number that the largest offset still fills. (Counting batches for the offset
    actually drawn would make ``len()`` change from epoch to epoch, and wrong whenever it
    is asked before the offset is drawn; shrinking the offset range to fit would take the
    randomness away from corpora with few spare tokens.)
    """

    def __init__(self, corpus: Corpus, batch_size: int, num_steps: int, *,
                 random_iter: bool = False, random_offset: bool = True,
                 device: torch.device | str | None = None) -> None:
        if batch_size < 1 or num_steps < 1:
            raise ValueError(f"batch_size and num_steps must be at least 1, got {batch_size} "
                             f"and {num_steps}")
        if device is None:
            device = default_device()
        self.corpus = _as_tensor(corpus).to(device)
        self.batch_size, self.num_steps = batch_size, num_steps
        self.random_iter, self.random_offset = random_iter, random_offset
        if len(self) == 0:
            raise ValueError(f"a corpus of {len(self.corpus)} tokens gives no batch of "
                             f"{batch_size} x {num_steps}; use smaller batches or steps")

    def __len__(self) -> int:
        max_offset = _max_offset(self.num_steps, self.random_iter, self.random_offset)
        return _num_batches(len(self.corpus), self.batch_size, self.num_steps, max_offset)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if self.random_iter:
            return seq_data_iter_random(self.corpus, self.batch_size, self.num_steps)
        return seq_data_iter_sequential(self.corpus, self.batch_size, self.num_steps,
                                        self.random_offset)


def time_machine(
    batch_size: int,
    num_steps: int,
    *,
    use_random_iter: bool = False,
    max_tokens: int = -1,
    val_fraction: float = 0.1,
    token: str = "char",
    device: torch.device | str | None = None,
) -> tuple[SeqLoader, SeqLoader, Vocab]:
    """``(train_iter, val_iter, vocab)`` for a language model on The Time Machine.

    The last `val_fraction` of the (optionally truncated) corpus is held out for validation
    and read in order; training batches use random or sequential partitioning.
    """
    corpus, vocab = load_corpus_time_machine(max_tokens, token)
    corpus = torch.tensor(corpus, dtype=torch.long)
    n_val = int(len(corpus) * val_fraction)
    if not 0 < n_val < len(corpus):
        raise ValueError(f"val_fraction={val_fraction} leaves no train or no validation text "
                         f"in {len(corpus)} tokens. Hint: pass a fraction between 0 and 1 "
                         "(0.1 holds out the last tenth), or more tokens (max_tokens).")
    train = SeqLoader(corpus[:-n_val], batch_size, num_steps, random_iter=use_random_iter,
                      device=device)
    val = SeqLoader(corpus[-n_val:], min(batch_size, max(1, (n_val - 1) // num_steps)),
                    num_steps, random_offset=False, device=device)
    return train, val, vocab
