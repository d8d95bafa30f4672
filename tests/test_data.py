import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from wordlstm import UserError, Windows, split


def test_window_shapes_and_shift():
    ids = torch.arange(50, dtype=torch.int32)
    w = Windows(ids, seq_len=10, stride=1)
    assert len(w) == 40  # starts 0..39: the last window's target ends at token 49
    x, y = w.get(torch.tensor([0, 39]))
    assert x.shape == y.shape == (2, 10) and x.dtype == torch.long
    assert torch.equal(y[:, :-1], x[:, 1:])
    assert torch.equal(x[1], torch.arange(39, 49)) and y[1, -1] == 49


@given(n=st.integers(2, 300), seq_len=st.integers(1, 40), stride=st.integers(1, 50))
@settings(max_examples=200, deadline=None)
def test_windows_cover_positions_as_the_stride_says(n, seq_len, stride):
    w = Windows(torch.arange(n), seq_len, stride)
    starts = [int(x[0, 0]) for x, _ in (w.get(torch.tensor([i])) for i in range(len(w)))]
    assert starts == list(range(0, n - seq_len, stride))


def test_no_windows_no_batches():
    w = Windows(torch.arange(5), seq_len=10)
    assert len(w) == 0 and w.num_batches(4, True) == 0 and list(w.batches(4, contiguous=True)) == []


def test_non_overlapping_by_default():
    w = Windows(torch.arange(31), seq_len=10)
    assert w.stride == 10 and len(w) == 3


def test_split_is_a_contiguous_tail_and_no_window_crosses_it():
    ids = torch.arange(1000)
    train, val = split(ids, seq_len=20, val_fraction=0.1)
    assert len(train) == 900 and torch.equal(torch.cat([train, val]), ids)
    w = Windows(train, 20, 1)
    x, y = w.get(torch.arange(len(w)))
    assert int(y.max()) == 899  # the train windows reach the cut but never cross it


def test_contiguous_batches_continue_each_row():
    w = Windows(torch.arange(1000), seq_len=10)
    batches = list(w.batches(4, contiguous=True))
    assert len(batches) == w.num_batches(4, contiguous=True) == 24  # 99 windows -> 4 rows of 24
    for (x0, _), (x1, _) in zip(batches, batches[1:]):
        assert torch.equal(x1[:, 0], x0[:, -1] + 1)  # row b picks up where it left off


def test_shuffled_batches_cover_every_window_once():
    w = Windows(torch.arange(200), seq_len=10, stride=3)
    xs = torch.cat([x for x, _ in w.batches(7, contiguous=False, generator=torch.Generator().manual_seed(0))])
    assert sorted(xs[:, 0].tolist()) == list(range(0, 190, 3))


def test_too_short_corpus_is_a_clear_error():
    with pytest.raises(UserError, match="has 11 tokens, too few for one window of seq_len=10"):
        split(torch.arange(11), seq_len=10)
    train, val = split(torch.arange(12), seq_len=10)  # seq_len + 2 tokens: just enough
    assert train.tolist() == list(range(11)) and val.tolist() == [10, 11]
    assert len(Windows(train, 10)) == 1 and len(Windows(val, 1)) == 1


def test_openings_are_frequent_sentence_starts_in_the_texts_own_words():
    from wordlstm import corpus_from_text
    text = ("Zorp quix blen the vat. Zorp quix blen a kel. Mip dorn fa zu. Zorp quix blen yo. "
            "Mip dorn fa ra. Wub lop tik. ") * 5
    corpus = corpus_from_text(text)
    openings = corpus.openings(n=2, seed=0)
    assert set(openings) <= {"Zorp quix blen", "Mip dorn fa", "Wub lop tik"} and len(openings) == 2
    assert corpus.openings(n=3) == ["Zorp quix blen", "Mip dorn fa", "Wub lop tik"]  # all three, by frequency
    drawn = {corpus.openings(n=1, seed=s)[0] for s in range(10)}  # the seed draws among the 3 most frequent
    assert len(drawn) > 1 and corpus.openings(n=1, seed=4) == corpus.openings(n=1, seed=4)
    assert corpus_from_text("alpha beta , gamma alpha").openings() == ["alpha", "beta", "gamma"]  # no sentences
