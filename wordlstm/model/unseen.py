"""The share of probability kept for the words of the vocabulary that the training text never has.

The vocabulary comes from the whole text (the book's protocol), so it holds words that only the held-out
tail uses: names and rare words that first appear there. They are 1.8% of anna.txt's held-out tokens,
4.0% of tinyshakespeare's and 5.8% of wikitext-2's. The model never sees them as a target, so training
only ever pushes them down: 12 to 16 nats each (README, "Why more time buys little"). A word-level
model cannot learn them; it can know how often a new word comes. Good-Turing's estimate of that is the
share of the training tokens that are words seen once there, n1 / N. So

    p(w) = (1 - μ) p(w) + μ [w unseen] / |unseen|,   μ = n1 / N

where p is the model's distribution (its cache included) and "unseen" the words of the vocabulary the
training text never has. It has no weights: train() counts both from the training text, into the
ModelConfig (unseen_share, unseen_ids), and every reader of the distribution mixes it the same way.
"""
import math
from dataclasses import replace

import torch

MAX_SHARE = 0.5  # on a text of words seen once each, Good-Turing says "all new": the model keeps half


def active(config) -> bool:
    return bool(config.unseen_share and config.unseen_ids)


def resolve(config, counts: torch.Tensor):
    """The ModelConfig with the words that the training text (word counts `counts`, (V,)) never has,
    and, where unseen_share is None, Good-Turing's share for them. A share of 0 stays off."""
    if config.unseen_share == 0:
        return replace(config, unseen_ids=[])
    ids = (counts == 0).nonzero().flatten().tolist()
    share = config.unseen_share
    if share is None:
        share = min(MAX_SHARE, (counts == 1).sum().item() / max(1, counts.sum().item())) if ids else 0.0
    return replace(config, unseen_share=round(float(share), 6), unseen_ids=ids)


def _log_q(config, device) -> torch.Tensor:
    """log([w unseen] / |unseen|) for every word, (V,): -inf for the words the training text has."""
    log_q = torch.full((config.vocab_size,), -torch.inf, device=device)
    log_q[config.unseen_ids] = -math.log(len(config.unseen_ids))
    return log_q


def mix_nll(config, nll: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Negative log-probabilities of the targets (any shape) -> the same, with the unseen words' share."""
    mu = config.unseen_share
    return -torch.logaddexp(math.log1p(-mu) - nll.float(), math.log(mu) + _log_q(config, target.device)[target])


def mix_log_probs(config, logp: torch.Tensor) -> torch.Tensor:
    """Log-probabilities (N, V) -> the same, with the unseen words' share."""
    mu, ids = config.unseen_share, torch.tensor(config.unseen_ids, device=logp.device)
    mixed = logp.float() + math.log1p(-mu)
    # Only the unseen words' columns get more: a few hundred of the V, so only they pay for logaddexp.
    mixed[:, ids] = torch.logaddexp(mixed[:, ids], torch.tensor(math.log(mu / len(ids)), device=logp.device))
    return mixed


def odds(config, device, scale: float = 1.0) -> torch.Tensor:
    """What generation adds to `scale` x the model's probabilities (V,), so that their sum is the mixture's
    probabilities up to a constant: μ / (1 - μ) x scale x [w unseen] / |unseen|."""
    mu, odds = config.unseen_share, torch.zeros(config.vocab_size, device=device)
    odds[config.unseen_ids] = mu / (1 - mu) * scale / len(config.unseen_ids)
    return odds
