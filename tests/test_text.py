"""Text: The Time Machine, tokenizers and the vocabulary agree with d2l.torch (1.0.3);
the two partitioning schemes and the train/validation split have the promised properties.

d2l is only an oracle here: its methods run on the text read through d2lutils, so it never
downloads anything.
"""

import re

import pytest
import torch
from d2l import torch as d2l

from d2lutils.data import (
    SeqLoader,
    Vocab,
    load_corpus_time_machine,
    read_time_machine,
    read_time_machine_text,
    seq_data_iter_random,
    seq_data_iter_sequential,
    time_machine,
    tokenize,
)


@pytest.fixture(scope="module")
def raw():
    return read_time_machine_text()


@pytest.fixture(scope="module")
def d2l_tm():
    """A d2l.TimeMachine without its __init__ (which would download): only its methods."""
    return d2l.TimeMachine.__new__(d2l.TimeMachine)


def test_read_time_machine_as_d2l_classic(raw):
    lines = read_time_machine()
    # d2l 0.17's read_time_machine, applied to the same file
    expected = [re.sub("[^A-Za-z]+", " ", line).strip().lower()
                for line in raw.splitlines(keepends=True)]
    assert lines == expected
    assert len(lines) == 3221
    assert lines[0] == "the time machine by h g wells"


def test_tokenize_word_and_char():
    lines = ["the time machine", "", "by h g  wells"]
    assert tokenize(lines) == [["the", "time", "machine"], [], ["by", "h", "g", "wells"]]
    assert tokenize(lines, "char")[0] == list("the time machine")
    assert tokenize("a bc", "char") == ["a", " ", "b", "c"]
    assert tokenize("a bc") == ["a", "bc"]
    for token in ("word", "char"):
        assert tokenize(lines, token) == d2l.tokenize(lines, token)
    with pytest.raises(ValueError, match="word' or 'char"):
        tokenize(lines, "byte")


@pytest.mark.parametrize("min_freq, reserved", [(0, ()), (3, ("<pad>", "<bos>", "<eos>"))])
def test_word_vocab_agrees_with_d2l(min_freq, reserved):
    tokens = tokenize(read_time_machine(), "word")
    ours = Vocab(tokens, min_freq=min_freq, reserved_tokens=list(reserved))
    ref = d2l.Vocab(tokens, min_freq=min_freq, reserved_tokens=list(reserved))
    assert ours.idx_to_token == ref.idx_to_token
    assert ours.token_freqs == ref.token_freqs
    assert ours.token_to_idx == ref.token_to_idx
    assert len(ours) == len(ref) and ours.unk == ref.unk
    assert ours.idx_to_token[ours.unk] == "<unk>"
    if not reserved:
        assert ours.unk == 0  # '<unk>' sorts before every word
    assert ours.token_freqs[0] == ("the", 2261)
    words = ["the", "time", "traveller", "zzzunknown"]
    assert ours[words] == ref[words] and ours["zzzunknown"] == ours.unk
    assert ours.to_tokens(ours[words[:3]]) == words[:3]
    assert ours.to_tokens(ours["time"]) == "time"


def test_char_corpus_and_vocab_agree_with_d2l(raw, d2l_tm):
    tokens = d2l_tm._tokenize(d2l_tm._preprocess(raw))
    ref_corpus, ref_vocab = d2l_tm.build(raw)
    corpus, vocab = load_corpus_time_machine()
    assert vocab.idx_to_token == ref_vocab.idx_to_token
    assert vocab.token_freqs == ref_vocab.token_freqs
    assert corpus == ref_corpus
    assert len(vocab) == 28 and len(corpus) == len(tokens) == 173428
    assert vocab.to_tokens(corpus[:16]) == tokens[:16]
    assert "".join(vocab.to_tokens(torch.tensor(corpus[:16]))) == "the time machine"
    short, _ = load_corpus_time_machine(max_tokens=1000)
    assert short == corpus[:1000]


def test_vocab_to_tokens_of_scalars_and_tensors():
    vocab = Vocab(list("abc"))
    assert vocab.to_tokens(2) == "b" and vocab.to_tokens(torch.tensor([1, 3])) == ["a", "c"]
    # a 0-d tensor, e.g. logits.argmax(), is one index
    assert vocab.to_tokens(torch.tensor(3)) == "c"
    assert vocab.to_tokens(torch.tensor([3])) == ["c"]


def test_vocab_from_flat_list_and_empty():
    vocab = Vocab(list("abracadabra"))
    assert vocab.idx_to_token == ["<unk>", "a", "b", "c", "d", "r"]
    assert vocab.token_freqs[0] == ("a", 5)
    assert len(Vocab()) == 1 and Vocab()["x"] == 0


CORPUS = list(range(35))
EVEN = [2 * i for i in range(35)]  # token i is 2i: "the next token" and "token + 1" differ


def test_seq_data_iter_random_properties():
    for seed in range(8):
        torch.manual_seed(seed)
        batches = list(seq_data_iter_random(CORPUS, batch_size=2, num_steps=5))
        assert len(batches) == 3
        rows = []
        for X, Y in batches:
            assert X.shape == Y.shape == (2, 5) and X.dtype == Y.dtype == torch.int64
            assert torch.equal(Y, X + 1)  # Y is X shifted by one token
            assert torch.equal(X[:, 1:], X[:, :-1] + 1)  # each row is a contiguous piece
            rows += X.tolist()
        for X, Y in seq_data_iter_random(EVEN, batch_size=2, num_steps=5):
            assert torch.equal(Y, X + 2) and torch.equal(X[:, 1:], X[:, :-1] + 2)
        starts = sorted(r[0] for r in rows)
        offset = starts[0]
        # six disjoint subsequences that tile the corpus from a random offset < num_steps
        assert 0 <= offset < 5 and starts == [offset + 5 * i for i in range(6)]
    torch.manual_seed(0)
    a = [X[:, 0].tolist() for X, _ in seq_data_iter_random(CORPUS, 2, 5)]
    torch.manual_seed(1)
    b = [X[:, 0].tolist() for X, _ in seq_data_iter_random(CORPUS, 2, 5)]
    assert a != b


def test_seq_data_iter_sequential_properties():
    for seed in range(8):
        torch.manual_seed(seed)
        batches = list(seq_data_iter_sequential(CORPUS, batch_size=2, num_steps=5))
        assert len(batches) == 2  # what the largest offset, 5, leaves room for
        for X, Y in batches:
            assert X.shape == Y.shape == (2, 5) and torch.equal(Y, X + 1)
        for X, Y in seq_data_iter_sequential(EVEN, batch_size=2, num_steps=5):
            assert torch.equal(Y, X + 2) and torch.equal(X[:, 1:], X[:, :-1] + 2)
        for (X0, _), (X1, _) in zip(batches, batches[1:], strict=False):
            assert torch.equal(X1[:, 0], X0[:, -1] + 1)  # rows continue batch to batch
        offset = batches[0][0][0, 0].item()
        assert 0 <= offset <= 5
    batches = list(seq_data_iter_sequential(CORPUS, 2, 5, random_offset=False))
    assert batches[0][0].tolist() == [[0, 1, 2, 3, 4], [17, 18, 19, 20, 21]]
    assert batches[2][0].tolist() == [[10, 11, 12, 13, 14], [27, 28, 29, 30, 31]]
    assert len(batches) == 3


def test_time_machine_split_and_loaders():
    corpus, vocab0 = load_corpus_time_machine(max_tokens=10000)
    train, val, vocab = time_machine(32, 35, max_tokens=10000, val_fraction=0.1, device="cpu")
    assert vocab.idx_to_token == vocab0.idx_to_token
    assert isinstance(train, SeqLoader) and isinstance(val, SeqLoader)
    assert len(train.corpus) == 9000 and len(val.corpus) == 1000
    # disjoint, contiguous: train is the head, validation the tail
    assert train.corpus.tolist() == corpus[:9000] and val.corpus.tolist() == corpus[9000:]
    X, Y = next(iter(val))  # read in order from the start of the tail
    assert X[0].tolist() == corpus[9000:9035] and torch.equal(Y[:, :-1], X[:, 1:])
    for loader in (train, val):
        first = [X for X, _ in loader]
        second = [X for X, _ in loader]  # re-iterable
        assert len(first) == len(second) == len(loader) > 0
        assert all(X.shape[1] == 35 and X.dtype == torch.int64 for X in first)
    rtrain, _, _ = time_machine(4, 10, max_tokens=2000, use_random_iter=True, device="cpu")
    assert rtrain.random_iter and len(list(rtrain)) == len(rtrain)
    with pytest.raises(ValueError, match="val_fraction"):
        time_machine(4, 10, max_tokens=2000, val_fraction=0.0, device="cpu")
    with pytest.raises(ValueError, match="gives no batch"):
        SeqLoader(list(range(20)), 4, 10, device="cpu")


def test_time_machine_words():
    train, _, vocab = time_machine(8, 10, token="word", device="cpu")
    ref = Vocab(tokenize(re.sub("[^A-Za-z]+", " ", read_time_machine_text()).lower()))
    assert vocab.idx_to_token == ref.idx_to_token
    X, _ = next(iter(train))
    assert X.shape == (8, 10) and int(X.max()) < len(vocab)


@pytest.mark.parametrize("random_iter", [False, True])
def test_seq_loader_len_is_exact_in_every_epoch(random_iter):
    # 1,001 tokens, batches of 2 x 10: d2l's offset range 0..10 (0..9 for random partitioning)
    loader = SeqLoader(list(range(1001)), 2, 10, random_iter=random_iter, device="cpu")
    counts, firsts = [], set()
    for seed in range(40):
        torch.manual_seed(seed)
        batches = list(loader)
        counts.append(len(batches))
        firsts.add(min(int(X.min()) for X, _ in batches))
    assert set(counts) == {len(loader)}, f"len() says {len(loader)}, epochs gave {set(counts)}"
    assert len(firsts) > 5  # the offset is still random from epoch to epoch


@pytest.mark.parametrize("n_tokens", [35, 41, 1001, 1019])
@pytest.mark.parametrize("batch_size, num_steps", [(1, 1), (2, 5), (3, 4), (2, 10)])
def test_seq_len_is_exact_for_every_size(n_tokens, batch_size, num_steps):
    corpus = list(range(n_tokens))
    for random_iter, random_offset in [(False, True), (False, False), (True, True)]:
        if (n_tokens - 1 - num_steps) // (batch_size * num_steps) < 1:
            continue  # no batch for some offsets: SeqLoader refuses such a corpus
        loader = SeqLoader(corpus, batch_size, num_steps, random_iter=random_iter,
                           random_offset=random_offset, device="cpu")
        for seed in range(12):
            torch.manual_seed(seed)
            assert sum(1 for _ in loader) == len(loader), (random_iter, random_offset, seed)
        if not random_iter:  # the functions agree with the loader they serve
            torch.manual_seed(0)
            n = len(list(seq_data_iter_sequential(corpus, batch_size, num_steps,
                                                  random_offset)))
        else:
            n = len(list(seq_data_iter_random(corpus, batch_size, num_steps)))
        assert n == len(loader)
