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

from . import unseen
from .cache import attend, mix_log_probs
from .errors import UserError
from .model import WordLSTM
from .tokenizer import tokenize
from .vocab import Vocab

TOP = 5  # guesses kept per word


@dataclass
class WordScore:
    word: str
    bits: float | None  # -log2 p(word | the words before it); None: the first word, or an unknown one left out
    guesses: list[tuple[str, float]]  # the model's likeliest words at this place, with their probabilities
    unknown: bool  # not in the vocabulary (scored as <unk> where the vocabulary has one)


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
    tokens = tokenize(text)
    ids = [vocab.stoi.get(w, vocab.unk_id) for w in tokens]
    read = [i for i, t in enumerate(ids) if t is not None]  # the positions the model reads
    if len(read) < 2:
        raise UserError("the text needs at least two words the model knows to be scored; give a longer text")
    device = model.device
    x = torch.tensor([ids[i] for i in read], device=device)
    out, _ = model.eval_features(x[None, :-1])  # the whole text in one pass: the state runs through it
    out, targets, pos = out[0], x[1:], torch.arange(len(x) - 1, device=device)
    nll, top_p, top_i = [], [], []
    config = model.config
    mixed = config.cache_lambda or unseen.active(config)
    if mixed:  # a block's mixed distribution is (rows, V), a few times over: 8 MB each,
        rows = max(1, min(rows, 2**21 // config.vocab_size))  # which was also the fastest (memory-bound)
    for start in range(0, len(targets), rows):  # the output layer a block of rows at a time: bounded memory
        o, target = out[start:start + rows], targets[start:start + rows]
        if mixed:  # the whole distribution, mixed with the cache of the words before and the unseen words' share
            logp = model.log_probs(o)
            if config.cache_lambda:
                back = max(0, start - config.cache_size)
                weights = attend(config, o, pos[start:start + rows], out[back:start + rows], pos[back:start + rows])
                logp = mix_log_probs(config, logp, weights, targets[back:start + rows])
            if unseen.active(config):
                logp = unseen.mix_log_probs(config, logp)
            nll.append(-logp.gather(1, target[:, None]).squeeze(1))
            logp, guess = logp.topk(min(TOP, len(vocab)), dim=-1)
        else:
            nll.append(model.loss(o, target, reduction="none"))
            logp, guess = model.top_log_probs(o, min(TOP, len(vocab)))
        top_p.append(logp.exp())
        top_i.append(guess)
    nll, top_p, top_i = torch.cat(nll).cpu(), torch.cat(top_p).cpu().tolist(), torch.cat(top_i).cpu().tolist()

    words = [WordScore(w, None, [], w not in vocab.stoi) for w in tokens]
    for k, pos in enumerate(read[1:]):  # read[k + 1] is predicted from read[: k + 1]
        words[pos].bits = nll[k].item() / math.log(2)
        words[pos].guesses = [(vocab.itos[i], p) for i, p in zip(top_i[k], top_p[k])]
    return Score(perplexity=math.exp(nll.mean().item()), words=words, scored=len(nll),
                 unknown=sum(w.unknown for w in words))
