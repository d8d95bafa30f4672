"""A continuous cache (Grave, Joulin and Usunier, 2017): the words that followed contexts like this one,
a little earlier in the same text, are likely again.

    p(w) = (1 - λ) p_model(w) + λ Σ_{i : x_{i+1} = w} softmax_i(θ h_t · h_i)

over the last `cache_size` positions i before t, where h is the LSTM's output (what the softmax reads)
and x_{i+1} the word that followed position i. A position with no earlier one is the model alone.

A word-level model learns little about the names and rare words of the text it is reading: held out,
they are a tenth of the tokens and a fifth of the loss, and more training makes them worse (README,
"Why more time buys little"). The cache copies them once they have appeared. It has no weights: its two
numbers (ModelConfig's cache_lambda, cache_theta) work on any trained model, and every reader of the
model's distribution (validation, `score`, `generate`) mixes it the same way.
"""
import math

import torch


def attend(config, queries: torch.Tensor, q_pos: torch.Tensor, keys: torch.Tensor,
           k_pos: torch.Tensor) -> torch.Tensor:
    """How much each query position reads each earlier key position: queries (..., N, H) at positions
    q_pos (N,), keys (..., M, H) at k_pos (M,) -> weights (..., N, M), each row summing to 1 over the
    keys at most config.cache_size positions back, or all 0 where there are none."""
    gap = q_pos[:, None] - k_pos[None, :]
    near = (gap > 0) & (gap <= config.cache_size)
    scores = config.cache_theta * queries.float() @ keys.float().transpose(-1, -2)
    return torch.softmax(scores.masked_fill(~near, -math.inf), dim=-1).nan_to_num(0.0)  # no key: 0/0


def mix_nll(config, nll: torch.Tensor, weights: torch.Tensor, k_next: torch.Tensor,
            target: torch.Tensor) -> torch.Tensor:
    """The model's negative log-probabilities of the targets, nll (..., N), mixed with the cache's:
    weights (..., N, M) from attend(), k_next (..., M) the word that followed each key. -> (..., N)"""
    p_cache = (weights * (k_next[..., None, :] == target[..., :, None])).sum(-1)
    lam = config.cache_lambda * (weights.sum(-1) > 0)  # no cache yet: the model alone
    return -torch.logaddexp(torch.log1p(-lam) - nll.float(), lam.log() + p_cache.log())


def mix_log_probs(config, logp: torch.Tensor, weights: torch.Tensor, k_next: torch.Tensor) -> torch.Tensor:
    """The model's log-probabilities logp (N, V) mixed with the cache's: weights (N, M) from attend(),
    k_next (M,) the word that followed each key. -> (N, V)"""
    p_cache = torch.zeros_like(logp, dtype=torch.float).index_add_(1, k_next, weights)
    lam = config.cache_lambda * (weights.sum(-1, keepdim=True) > 0)
    return torch.log((1 - lam) * logp.float().exp() + lam * p_cache)


class Window:
    """The cache while generating: the last cache_size outputs and the word that followed each, in a
    ring (order does not matter to the cache). Generation calls add_to() and push() once per token: they
    are a handful of torch calls, since each call's overhead is most of their cost."""

    def __init__(self, config, outputs: torch.Tensor, next_ids: list[int]):
        """outputs (T, H): the LSTM's outputs at a prompt's positions but the last; next_ids: the T words after them."""
        self.theta, self.size = config.cache_theta, config.cache_size
        self.odds = config.cache_lambda / (1 - config.cache_lambda)  # the cache's weight against the model's
        self.keys = outputs.new_zeros(self.size, outputs.shape[1])
        self.ids = torch.zeros(self.size, dtype=torch.long, device=outputs.device)
        self.zero = outputs.new_zeros(self.size)  # addmv's (ignored) input
        self.count = 0
        for h, i in zip(outputs[-self.size:], next_ids[-self.size:]):
            self.push(h, i)

    def push(self, output: torch.Tensor, next_id: int):
        self.keys[self.count % self.size] = output
        self.ids[self.count % self.size] = next_id
        self.count += 1

    def add_to(self, probs: torch.Tensor, query: torch.Tensor):
        """The model's probabilities probs (V,) of the next word after output query (H,) become, in place,
        the mixture's divided by 1 - λ: p + λ/(1-λ) c = ((1-λ) p + λ c) / (1-λ)."""
        if not self.count:
            return
        n = min(self.count, self.size)
        keys, ids, zero = (self.keys, self.ids, self.zero) if n == self.size else \
            (self.keys[:n], self.ids[:n], self.zero[:n])
        weights = torch.softmax(torch.addmv(zero, keys, query, beta=0, alpha=self.theta), dim=0)  # (n,)
        probs.index_add_(0, ids, weights.float(), alpha=self.odds)
