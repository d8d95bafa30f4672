"""Property tests (hypothesis). The tokenizer round trip, encode on any Unicode and
window starts are in test_tokenizer.py and test_data.py."""
import os
import pickle

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wordlstm import UserError, Windows, load_checkpoint, sample_next


@given(n=st.integers(2, 200), seq_len=st.integers(1, 20), stride=st.integers(1, 25), batch=st.integers(1, 9),
       contiguous=st.booleans(), world=st.sampled_from([1, 2, 3]), seed=st.integers(0, 9))
@settings(max_examples=300, deadline=None)
def test_batches_visit_each_window_at_most_once_and_ranks_never_share(n, seq_len, stride, batch, contiguous,
                                                                      world, seed):
    w = Windows(torch.arange(n), seq_len, stride)
    if world > 1:
        batch *= world  # the global batch, as DDP requires
    seen = []
    for rank in range(world):
        for x, y in w.batches(batch, contiguous, torch.Generator().manual_seed(seed), rank=rank, world=world):
            assert torch.equal(y[:, :-1], x[:, 1:]) and x.shape[1] == seq_len
            seen += [int(s) // stride for s in x[:, 0]]
    assert len(seen) == len(set(seen))  # no window twice, across ranks too
    if world == 1 and not contiguous:
        assert sorted(seen) == list(range(len(w)))  # shuffled: every window
    batches = sum(1 for _ in w.batches(batch, contiguous, torch.Generator().manual_seed(seed), world=world))
    assert batches == w.num_batches(batch, contiguous, world)


@given(logits=st.lists(st.floats(-20, 20, width=32), min_size=2, max_size=30), k=st.integers(0, 35),
       p=st.floats(0.01, 1.0), t=st.floats(0.05, 3.0), seed=st.integers(0, 2**31))
@settings(max_examples=400, deadline=None)
def test_sampling_stays_inside_the_top_k_and_top_p_support(logits, k, p, t, seed):
    x = torch.softmax(torch.tensor(logits), 0)  # the probabilities sampled from
    i = sample_next(x, temperature=t, top_k=k, top_p=p, generator=torch.Generator().manual_seed(seed))
    assert x[i] > 0
    kth = x.sort(descending=True).values[k - 1] if 0 < k < len(logits) else 0.0
    assert x[i] >= kth  # among the k best (ties included)
    probs = torch.where(x >= kth, x.double() ** (1 / t), 0.0)  # after the temperature
    probs = probs / probs.sum()
    # The mass of strictly likelier tokens; the sampler applies the temperature in float32, where two
    # tokens within its rounding (1 - 6e-8 and 1 raised to 1/2) are a tie, and either may be first.
    before = probs[probs > probs[i] * (1 + 1e-6)].sum()
    assert before < p + 1e-5  # otherwise the nucleus was complete without token i


class Payload:
    def __reduce__(self):  # what a malicious pickle does on load: run code
        return (os.system, (f"touch {MARKER}",))


MARKER = os.path.join(os.environ.get("TMPDIR", "/tmp"), "wordlstm-pickle-ran")


@pytest.fixture(scope="module")
def good(tiny_checkpoint):
    return {n: (tiny_checkpoint / n).read_bytes() for n in os.listdir(tiny_checkpoint)}


@given(name=st.sampled_from(["model.safetensors", "config.json", "vocab.json"]), data=st.binary(max_size=300),
       pickled=st.booleans())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_loading_never_executes_code_and_fails_only_with_a_user_error(tmp_path, good, name, data, pickled):
    folder = tmp_path / "ck"
    folder.mkdir(exist_ok=True)
    for n, content in good.items():
        (folder / n).write_bytes(content)
    if pickled:
        data = pickle.dumps({"weights": Payload(), "junk": data})  # a pickle under a safetensors/JSON name
    (folder / name).write_bytes(data)
    try:
        load_checkpoint(folder)
    except UserError:
        pass
    assert not os.path.exists(MARKER)


@given(text=st.lists(st.sampled_from(list("Ab c-,.'\"\nİ!é") + ["don't", "Anna"]), max_size=40).map("".join),
       data=st.data())
@settings(max_examples=300, deadline=None)
def test_labelled_text_is_the_text_as_written_cut_at_token_edges(text, data):
    """What the score's and the copies' views show: the text itself, case, spacing and line breaks kept, cut
    into pieces only where tokenize's tokens begin or end, each token's label on the piece that holds it."""
    from wordlstm.text.tokenizer import labelled, token_spans, tokenize

    tokens, spans = tokenize(text), token_spans(text)
    assert len(spans) == len(tokens) and all(text[a:b].lower() == t for (a, b), t in zip(spans, tokens))
    labels = data.draw(st.lists(st.sampled_from(["copied", None]), min_size=len(tokens), max_size=len(tokens)))
    pieces = labelled(text, labels)
    assert "".join(p for p, _ in pieces) == text
    edges = {0, len(text)} | {i for span in spans for i in span}
    at, ends = 0, []
    for piece, label in pieces:
        at += len(piece)
        ends.append(at)
        if label is not None:
            assert piece == piece.strip() and piece  # a labelled piece is tokens and what lies between them
    assert set(ends) <= edges  # never inside a token: no "an|d"
