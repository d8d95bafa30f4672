"""Score a text with a model: its perplexity, and how surprising each word was.

The text is tokenized exactly as a corpus is. The model reads it in one
pass, its state carried from the first word to the last, so a word is
predicted from all the words before it, as in generation. A word's surprise is -log2 of the
probability the model gave it there, in bits: the same distribution that
`generate` samples from at temperature 1.
"""
import math
from dataclasses import dataclass

import torch

from ..errors import UserError
from ..model.lstm import WordLSTM
from ..text.vocab import Vocab

TOP = 5  # guesses kept per word


@dataclass
class WordScore:
    word: str
    bits: float | None  # -log2 p(word | the words before it); None: the first word, or an unknown one left out
    guesses: list[tuple[str, float]]  # the model's likeliest words at this place, with their probabilities
    unknown: bool  # not in the vocabulary (scored as <unk> where the vocabulary has one)

    @property
    def label(self) -> str | None:
        """"unknown word", "surprising" (8 bits or more: less than 1 chance in 256), "very surprising"
        (14 bits or more), or None."""
        if self.unknown:
            return "unknown word"
        if self.bits is None or self.bits < 8:
            return None
        return "very surprising" if self.bits >= 14 else "surprising"


@dataclass
class Score:
    perplexity: float  # over the scored words
    words: list[WordScore]  # every token of the text, in order
    scored: int  # the words in the perplexity
    unknown: int  # tokens not in the vocabulary

    def most_surprising(self, n: int = 10) -> list[WordScore]:
        return sorted((w for w in self.words if w.bits is not None), key=lambda w: -w.bits)[:n]

    def to_dict(self, n: int = 10) -> dict:
        """The CLI's JSON: perplexity, counts, and the n most surprising words with the model's guesses."""
        return {"perplexity": round(self.perplexity, 3), "tokens": len(self.words), "scored": self.scored,
                "unknown": self.unknown,
                "most_surprising": [[w.word, round(w.bits, 3), [g for g, _ in w.guesses]]
                                    for w in self.most_surprising(n)]}


@torch.inference_mode()
def score(model: WordLSTM, vocab: Vocab, text: str, rows: int = 1024) -> Score:
    """Perplexity and per-word surprise of `text`. Unknown words take <unk>'s
    probability where the vocabulary has <unk>; otherwise the model never reads
    them, and they are left out of the perplexity and counted apart."""
    if model.config.vocab_size != len(vocab):
        raise UserError(f"the model has {model.config.vocab_size} tokens but the vocabulary {len(vocab)}")
    tokens = vocab.tokenize(text)
    ids = [vocab.stoi.get(w, vocab.unk_id) for w in tokens]
    read = [i for i, t in enumerate(ids) if t is not None]  # the positions the model reads
    if len(read) < 2:
        raise UserError("the text needs at least two words the model knows to be scored; give a longer text")
    device = model.device
    x = torch.tensor([ids[i] for i in read], device=device)
    out, _ = model.eval_features(x[None, :-1])  # the whole text in one pass: the state runs through it
    out, targets, pos = out[0], x[1:], torch.arange(len(x) - 1, device=device)
    # A block's distribution is (rows, V), a few times over: 8 MB each, which was also the fastest
    # (memory-bound); so a large vocabulary cannot take a server's memory either.
    rows = max(1, min(rows, 2**21 // model.config.vocab_size))
    nll, top_p, top_i = [], [], []
    for start in range(0, len(targets), rows):
        stop, back = start + rows, max(0, start - model.config.cache_size)  # the cache reads the words before
        logp = model.next_log_probs(out[start:stop], pos[start:stop], out[back:stop], pos[back:stop],
                                    targets[back:stop])
        nll.append(-logp.gather(1, targets[start:stop, None]).squeeze(1))
        logp, guess = logp.topk(min(TOP, len(vocab)), dim=-1)
        top_p.append(logp.exp())
        top_i.append(guess)
    nll, top_p, top_i = torch.cat(nll).cpu(), torch.cat(top_p).cpu().tolist(), torch.cat(top_i).cpu().tolist()

    words = [WordScore(w, None, [], w not in vocab.stoi) for w in tokens]
    for k, pos in enumerate(read[1:]):  # read[k + 1] is predicted from read[: k + 1]
        words[pos].bits = nll[k].item() / math.log(2)
        words[pos].guesses = [(vocab.itos[i], p) for i, p in zip(top_i[k], top_p[k])]
    return Score(perplexity=math.exp(nll.mean().item()), words=words, scored=len(nll),
                 unknown=sum(w.unknown for w in words))
