"""Generation: feed the prompt once, then one token per step with the state carried.

That is O(1) work per new token; the book re-feeds the last 100 tokens at
every step. `sample_next` is a pure function of the probabilities and a generator.
"""
import math
from dataclasses import dataclass

import torch

from ..errors import UserError, count
from ..model import unseen
from ..model.cache import Window
from ..model.ensemble import members
from ..model.lstm import WordLSTM
from ..text.tokenizer import SENTENCE_ENDS, Detokenizer, detokenize
from ..text.vocab import Encoded, Vocab
from .defaults import NEW_TOKENS, TEMPERATURE, TOP_K, TOP_P

MAX_NEW_TOKENS = 2000


def check_settings(max_new_tokens: int, temperature: float, top_k: int, top_p: float):
    if not 0 <= max_new_tokens <= MAX_NEW_TOKENS:
        raise UserError(f"max_new_tokens must be between 0 and {MAX_NEW_TOKENS} (got {max_new_tokens})")
    if not (math.isfinite(temperature) and temperature >= 0):
        raise UserError(f"temperature must be 0 (greedy) or more (got {temperature})")
    if top_k < 0:
        raise UserError(f"top_k must be 0 (off) or more (got {top_k})")
    if not 0 < top_p <= 1:
        raise UserError(f"top_p must be in (0, 1], 1 meaning off (got {top_p})")


def sample_next(probs: torch.Tensor, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0,
                generator: torch.Generator | None = None) -> int:
    """Pick the next token id from probabilities (V,), not necessarily summing to 1 (the cache's
    mixture does not). Temperature T draws in proportion to p ** (1 / T); 0 = argmax."""
    if temperature == 0:
        return int(probs.argmax())
    ids = None
    if 0 < top_k < probs.numel():
        # Only the k best can be drawn: the rest of the work is on them alone, not on the whole
        # vocabulary (on 12,778 words and k 40, the app's defaults: 30 µs instead of 90).
        probs, ids = torch.topk(probs, top_k)
    if temperature != 1:
        # softmax(log p / T), without the log and the exp: divided by the largest first, so that
        # a low temperature cannot round every entry down to zero.
        probs = (probs / probs.max()).pow_(1 / temperature)
    if top_p < 1:
        # Keep the smallest set of most likely tokens whose mass reaches top_p.
        sorted_p, order = probs.sort(descending=True)
        outside = sorted_p.cumsum(0) - sorted_p >= top_p * sorted_p.sum()  # the mass before it already suffices
        probs = probs.scatter(0, order[outside], 0.0)
    # Inverse-CDF sampling: one uniform draw and a binary search, about 20x
    # cheaper than torch.multinomial for a single sample on the CPU. A token of
    # zero probability can never be picked: the CDF does not rise at it.
    cdf = probs.cumsum(0)
    u = torch.rand(1, generator=generator, dtype=cdf.dtype) * cdf[-1]
    index = int(torch.searchsorted(cdf, u, right=True))
    index = index if index < len(cdf) else int(probs.nonzero().max())  # u rounded up to the total
    return index if ids is None else int(ids[index])


def stream(model: WordLSTM, vocab: Vocab, prompt: Encoded, max_new_tokens: int = NEW_TOKENS,
           temperature: float = TEMPERATURE, top_k: int = TOP_K, top_p: float = TOP_P,
           seed: int | None = None, ending: "Ending | None" = None) -> "Generation":
    """Yield the prompt's text, then one piece of text per generated token, up to max_new_tokens or
    where `ending` says (Ending.of); the returned Generation's `why` then says which.

    Settings are checked here, before the first piece, not lazily."""
    check_settings(max_new_tokens, temperature, top_k, top_p)
    if model.config.vocab_size != len(vocab):
        raise UserError(f"the model has {model.config.vocab_size} tokens but the vocabulary {len(vocab)}")
    return Generation(model, vocab, prompt, max_new_tokens, temperature, top_k, top_p, seed, ending or Ending())


@dataclass(frozen=True)
class Ending:
    """Where a text ends before max_new_tokens: after `sentences` sentence ends (0: off), with the
    quotation mark that closes the last one if the model writes it next; or at the first `stop`, a
    word or punctuation as the tokenizer reads it (empty: off); whichever comes first."""
    sentences: int = 0
    stop: tuple[str, ...] = ()

    @classmethod
    def of(cls, vocab: Vocab, sentences: int = 0, stop: str | None = None) -> "Ending":
        """The ending a user asked for, checked against the model's vocabulary; UserError if it cannot be met."""
        if sentences < 0:
            raise UserError(f"sentences must be 0 (off) or more (got {sentences})")
        tokens = tuple(vocab.tokenize(stop or ""))
        unknown = [t for t in tokens if t not in vocab.stoi]
        if unknown:
            raise UserError(f"the model never writes {unknown[0]!r}: it is not in its vocabulary; stop at a word "
                            f"or punctuation it knows, such as '.'")
        return cls(sentences, tokens)


class Generation:
    """A text being generated: an iterator of its pieces (stream() returns one); `why` says why it ended,
    once it has ("after 2 sentences", "at 'farewell'", "at the 100-token bound")."""

    def __init__(self, model, vocab, prompt, max_new_tokens, temperature, top_k, top_p, seed, ending: Ending):
        self.why = ""
        self._pieces = self._generate(model, vocab, prompt, max_new_tokens, temperature, top_k, top_p, seed, ending)

    def __iter__(self):
        return self

    def __next__(self) -> str:
        return next(self._pieces)

    @torch.inference_mode()
    def _generate(self, model, vocab, prompt, max_new_tokens, temperature, top_k, top_p, seed, ending):
        generator = torch.Generator()
        generator.manual_seed(seed if seed is not None else int(torch.seed()))
        detok = Detokenizer(vocab.forms, vocab.surface)  # the training text's written forms and surface, if recorded
        yield "".join(detok.add(t) for t in prompt.tokens)
        self.why = f"at the {max_new_tokens}-token bound"
        if max_new_tokens == 0:
            return
        reader, written, ends = read(model, prompt.ids), [], 0

        def sample() -> int:
            probs = reader.probs
            if vocab.unk_id is not None:  # never write "<unk>" into a user's text
                probs[vocab.unk_id] = 0.0
            return sample_next(probs, temperature, top_k, top_p, generator)

        for i in range(max_new_tokens):
            next_id = sample()
            token = vocab.itos[next_id]
            written.append(token)
            yield detok.add(token)
            ends += token in SENTENCE_ENDS
            if ending.stop and tuple(written[-len(ending.stop):]) == ending.stop:
                self.why = f"at {' '.join(ending.stop)!r}"
                if end := detok.finish():
                    yield end
                return  # where the writer asked, even inside a quotation
            if ending.sentences and ends == ending.sentences:
                self.why = f"after {count(ends, 'sentence')}"
                break
            if i + 1 < max_new_tokens:  # the last word needs no step after it
                reader.read(next_id)
        end = (detok.add('"') if detok.closes('"') else "") + detok.finish()  # a quotation left open is closed
        if end:
            yield end


class Reader:
    """The model reading a text one word at a time, its state carried: `probs` is the next word's
    distribution, and read(id) takes one more word for one LSTM step (the stepper), not the whole text.

    probs (V,), on the CPU, is next_log_probs' distribution (the model's, the cache's part, the unseen
    words' share) up to a constant factor: the cache's part and the share are added in place to the
    model's probabilities, so it sums to 1 / (1 - λ). Sampling does not mind, and it needs no log and
    no renormalizing. A test pins it to model.next_log_probs."""

    @torch.inference_mode()
    def __init__(self, model: WordLSTM, ids: list[int]):
        """ids: the text so far (at least one word), read in one pass."""
        # No model.eval(): eval_features and the stepper never apply dropout, so the caller's model keeps its mode.
        config, device = model.config, model.device
        out, self.state = model.eval_features(torch.tensor([ids], device=device))
        self.step = model.stepper()
        # The cache reads the text's outputs and the word that followed each.
        self.window = Window(config, out[0, :-1], ids[1:]) if config.cache_lambda else None
        # The unseen words' share, on the cache's scale (its probabilities are divided by 1 - λ).
        self.share = unseen.odds(config, device, 1 / (1 - config.cache_lambda)) if unseen.active(config) else None
        self.token = torch.zeros(1, dtype=torch.long, device=device)
        self.probs = self._mixed(self.step.probs(out[:, -1]))

    def _mixed(self, probs: torch.Tensor) -> torch.Tensor:
        probs, self.query = probs[0], self.state[0][-1][0]  # the top layer's last output (H,): what probs came from
        if self.window is not None:
            self.window.add_to(probs, self.query)
        if self.share is not None:
            probs.add_(self.share)
        return probs.cpu()

    def read(self, token_id: int):
        if not torch.is_inference_mode_enabled():  # once per generation (stream), not per word: it costs
            with torch.inference_mode():
                return self.read(token_id)
        if self.window is not None:
            self.window.push(self.query, token_id)
        self.token.fill_(token_id)
        probs, self.state = self.step(self.token, self.state)  # (1, V): one token in, not the whole text
        self.probs = self._mixed(probs)


class Mean:
    """An ensemble reading a text: each member reads it (a Reader each, with its own cache), and `probs` is
    the mean of theirs, which are all on the same scale (the cache's), so the mean is the ensemble's
    distribution on that scale too."""

    def __init__(self, readers: list[Reader]):
        self.readers = readers
        self.probs = self._mean()

    def _mean(self) -> torch.Tensor:
        return torch.stack([r.probs for r in self.readers]).mean(0)

    def read(self, token_id: int):
        for r in self.readers:
            r.read(token_id)
        self.probs = self._mean()


def read(model, ids: list[int]) -> Reader | Mean:
    """A reader of `model` (a WordLSTM or an Ensemble) that has read `ids`."""
    parts = members(model)
    return Reader(model, ids) if len(parts) == 1 else Mean([Reader(m, ids) for m in parts])


def generate(model: WordLSTM, vocab: Vocab, prompt: str, **settings) -> str:
    """The whole text, prompt included. Raises UserError on a prompt with no known word."""
    return "".join(stream(model, vocab, vocab.encode_prompt(prompt), **settings))


@torch.inference_mode()
def openings(model, vocab: Vocab, n: int = 4, words: int = 3) -> list[str]:
    """Sentence openings in a model's own words, for a model whose text is not at hand (a zip, a Hub
    model): the `n` words it most expects after a full stop, each with its most likely words after it."""
    if "." not in vocab.stoi:
        return [default_prompt(vocab)]
    after = read(model, [vocab.stoi["."]]).probs.reshape(-1)
    firsts = [i for i in after.argsort(descending=True).tolist() if vocab.itos[i].isalpha()][:n]
    found = []
    for first in firsts:
        ids, reader = [first], read(model, [vocab.stoi["."], first])
        while len(ids) < words:  # the likeliest word not written yet (a cache favours the words just read)
            best = next(i for i in reader.probs.reshape(-1).topk(len(ids) + 1).indices.tolist() if i not in ids)
            if best == vocab.unk_id or vocab.itos[best] in SENTENCE_ENDS:
                break
            ids.append(best)
            reader.read(best)
        found.append(detokenize([vocab.itos[i] for i in ids], vocab.forms, vocab.surface))
    return found or [default_prompt(vocab)]


def default_prompt(vocab: Vocab) -> str:
    """A one-word prompt every model of this vocabulary knows: "the", else its most frequent word."""
    return next((w for w in ("the", *vocab.itos[:50]) if w in vocab.stoi and w.isalpha()), vocab.itos[0])


@dataclass
class LiveSampler:
    """model -> a short text from a fixed prompt and seed, with the model's current
    weights: train() emits one with each validation, so a user watches the text go
    from word salad to sentences. Picklable, to cross into a ZeroGPU worker."""
    vocab: Vocab
    words: int = 30
    prompt: str | None = None  # None: default_prompt(vocab)
    seed: int = 0  # its own generator: training's random state is untouched

    def __call__(self, model: WordLSTM) -> str:
        return generate(model, self.vocab, self.prompt or default_prompt(self.vocab), max_new_tokens=self.words,
                        seed=self.seed)
