"""The book's word-level LSTM: Embedding -> LSTM -> output layer. No I/O, no device choice.

The output layer is the book's full softmax (Linear(H, V)) or an adaptive
softmax (Grave et al., 2017) over the frequency-sorted vocabulary. At the book's
sizes the full softmax is most of the compute; the adaptive one computes the
frequent words and one logit per rare-word cluster for every token, and a
cluster's words only where they are needed. Both give exact log-probabilities.

Tied weights (Press & Wolf, 2017) read a word's embedding from its output
vector. Under the adaptive softmax that is its shortlist row, or its cluster row
times the cluster's projection (the "adaptive input" of Baevski & Auli, 2019):
the model then has no embedding matrix of its own.
"""
import math
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import Config
from ..errors import UserError
from . import cache, unseen

State = tuple[torch.Tensor, torch.Tensor]  # (h, c), each (num_layers, B, hidden_size)


@dataclass
class ModelConfig(Config):
    vocab_size: int  # words in the vocabulary: the embedding's rows and the output's columns
    embed_dim: int = 128  # word embedding size, as in the book
    hidden_size: int = 128  # LSTM units per layer, as in the book
    num_layers: int = 3  # stacked LSTM layers, as in the book
    dropout: float = 0.2  # between LSTM layers, as in the book
    # AWD-LSTM's regularizers (Merity et al., 2017), for texts small enough to learn by heart; 0: off.
    output_dropout: float = 0.0  # locked dropout on the LSTM's output: one mask per sequence, for all its steps
    embed_dropout: float = 0.0  # drops whole words: a word's embedding row, for the whole batch
    input_dropout: float = 0.0  # locked dropout on the LSTM's input (the embeddings): one mask per sequence
    weight_drop: float = 0.0  # DropConnect on the hidden-to-hidden weights: one mask per batch, for all its steps
    # A word's embedding is its output vector (Press & Wolf, 2017): a rare word's input then learns from
    # every time it was predicted too, and the largest matrix of a small model is gone. Needs embed_dim ==
    # hidden_size.
    tie_weights: bool = False
    softmax: str = "auto"  # "full", "adaptive", or "auto": adaptive for a large vocabulary
    cutoffs: list[int] | None = None  # adaptive cluster boundaries; None: derived from vocab_size
    # A continuous cache over the text being read (cache.py; Grave et al., 2017). It has no weights: these
    # are set, not learned, and read by validation, scoring and generation alike. cache_lambda 0: off.
    cache_lambda: float = 0.05  # the cache's share of the next-word distribution
    cache_theta: float = 0.3  # how sharply it favours the positions whose LSTM output is most like this one's
    cache_size: int = 100  # how many positions back it reads
    # The share of probability kept for the words of the vocabulary that the training text never has
    # (unseen.py): Good-Turing's n1 / N, counted by train() with the words themselves. None: count it; 0: off.
    unseen_share: float | None = None
    unseen_ids: list[int] = field(default_factory=list)
    # How many models of this shape the weights hold: 1, or an ensemble's members (ensemble.py), which
    # a schedule of several models sets (training/schedule.py). A WordLSTM is always one of them.
    members: int = 1

    def __post_init__(self):
        for name in ("vocab_size", "embed_dim", "hidden_size", "num_layers", "members"):
            if int(getattr(self, name)) < 1:
                raise UserError(f"{name} must be at least 1 (got {getattr(self, name)})")
        for name in ("dropout", "output_dropout", "embed_dropout", "input_dropout", "weight_drop"):
            if not 0 <= getattr(self, name) < 1:
                raise UserError(f"{name} must be in [0, 1) (got {getattr(self, name)})")
        if not 0 <= self.cache_lambda < 1:
            raise UserError(f"cache_lambda must be in [0, 1), 0 meaning off (got {self.cache_lambda})")
        if not (math.isfinite(self.cache_theta) and self.cache_theta >= 0):
            raise UserError(f"cache_theta must be 0 or more (got {self.cache_theta})")
        if int(self.cache_size) < 1:
            raise UserError(f"cache_size must be at least 1 (got {self.cache_size})")
        if self.unseen_share is not None and not 0 <= self.unseen_share < 1:
            raise UserError(f"unseen_share must be in [0, 1), 0 meaning off (got {self.unseen_share})")
        ids = [int(i) for i in self.unseen_ids]
        if len(set(ids)) != len(ids) or any(not 0 <= i < self.vocab_size for i in ids):
            raise UserError(f"unseen_ids must be distinct word ids below vocab_size = {self.vocab_size}")
        self.unseen_ids = ids
        if self.tie_weights and self.embed_dim != self.hidden_size:
            raise UserError(f"tie_weights needs embed_dim == hidden_size "
                            f"(got {self.embed_dim} and {self.hidden_size}); make them equal, or untie them (--no-tie-weights)")
        if self.softmax not in ("auto", "full", "adaptive"):
            raise UserError(f"softmax must be auto, full or adaptive (got {self.softmax!r})")
        if self.softmax != "full" and self.cutoffs is None:
            self.cutoffs = default_cutoffs(self.vocab_size)
            if self.softmax == "adaptive" and not self.cutoffs:
                raise UserError(f"the adaptive output layer needs a vocabulary of 2,000 words or more (this one "
                                f"has {self.vocab_size:,}); use the full one, or auto")
        if self.softmax == "auto":  # resolved here, so a saved config says what was built
            self.softmax = "adaptive" if self.cutoffs else "full"
        if self.softmax == "full":
            self.cutoffs = None
        else:
            c = [int(x) for x in self.cutoffs]
            if not c or c != sorted(set(c)) or c[0] < 1 or c[-1] > self.vocab_size - 1:
                raise UserError(f"cutoffs must be increasing word counts between 1 and vocab_size - 1 = "
                                f"{self.vocab_size - 1} (got {self.cutoffs})")
            self.cutoffs = c


def default_cutoffs(vocab_size: int) -> list[int]:
    """Cluster boundaries for the adaptive softmax: the 1,000 most frequent words
    in the head, then clusters five times larger each. The head covers 87% of
    anna.txt's tokens and 78% of WikiText-2's. Empty (= use the full softmax) below
    2,000 words, where the full softmax is already cheap."""
    if vocab_size < 2000:
        return []
    cutoffs = [1000]
    while cutoffs[-1] * 5 < vocab_size - 1:
        cutoffs.append(cutoffs[-1] * 5)
    return cutoffs


class _NLL(torch.autograd.Function):
    """Each row's -log_softmax(logits)[target], as F.cross_entropy(reduction="none"),
    in float32, with a leaner backward.

    The softmax over (N, V) scores is memory-bound on a CPU: every step streams
    them several times. Here backward turns the saved log-probabilities into the
    gradient in place (softmax - onehot) instead of allocating a zero matrix and
    running log_softmax's backward: 20% more tokens/s with the book's full
    softmax on 2 cores. Tests compare values and gradients with F.cross_entropy.
    """

    @staticmethod
    def forward(ctx, logits, target):  # logits (N, V), target (N,) -> (N,)
        logp = torch.log_softmax(logits.float(), dim=-1)
        ctx.save_for_backward(logp, target)
        return -logp.gather(1, target[:, None]).squeeze(1)

    @staticmethod
    def backward(ctx, grad_out):
        logp, target = ctx.saved_tensors
        grad = logp.exp_()  # the saved buffer becomes the gradient: nothing reads it after us
        grad[torch.arange(len(target), device=grad.device), target] -= 1
        return grad.mul_(grad_out[:, None]), None  # autograd casts it to the logits' dtype


def token_nll(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """logits (N, V), target ids (N,) -> each target's negative log-probability (N,), float32."""
    return _NLL.apply(logits, target)


def adaptive_log_probs(x, head_weight, head_bias, tails, cutoffs) -> torch.Tensor:
    """AdaptiveLogSoftmaxWithLoss.log_prob as plain functional calls: the same
    numbers, without the module calls and the preallocated output, which cost
    more than the arithmetic for one generated token. x: (N, H) -> (N, V).
    cutoffs: the module's [shortlist size, ..., V]."""
    shortlist_size = cutoffs[0]
    head_logp = torch.log_softmax(F.linear(x, head_weight, head_bias), dim=-1)
    parts = [head_logp[:, :shortlist_size]]
    for i, (proj, cluster) in enumerate(tails):  # cluster i's words, given the cluster
        logp = torch.log_softmax(F.linear(F.linear(x, proj), cluster), dim=-1)
        parts.append(logp + head_logp[:, shortlist_size + i, None])
    return torch.cat(parts, dim=-1)


def adaptive_nll(x, target, head_weight, head_bias, tails, cutoffs) -> torch.Tensor:
    """AdaptiveLogSoftmaxWithLoss's forward: each target's exact negative
    log-probability (N,), computing a cluster only for the rows whose target
    is in it. Those rows change in number every step, and oneDNN compiles a
    bf16 kernel per new shape (20-60 ms each, a quarter of a step on the CPU),
    so the clusters run in fp32 (plain BLAS); the fixed-shape head keeps the
    caller's autocast."""
    cluster = torch.bucketize(target, torch.tensor(cutoffs[:-1], device=target.device), right=True)  # 0 = head
    in_head = torch.where(cluster == 0, target, cutoffs[0] + cluster - 1)  # a cluster's entry follows the shortlist
    nll = token_nll(F.linear(x, head_weight, head_bias), in_head)
    with torch.autocast(x.device.type, enabled=False):
        for i, (proj, words) in enumerate(tails, start=1):
            rows = (cluster == i).nonzero().squeeze(1)
            if rows.numel():
                logits = F.linear(F.linear(x[rows].float(), proj), words)
                nll = nll.index_add(0, rows, token_nll(logits, target[rows] - cutoffs[i - 1]))
    return nll


def adaptive_embedding(x, head_weight, tails, cutoffs) -> torch.Tensor:
    """Token ids (...) -> the adaptive softmax's output vectors (..., H), as tied embeddings:
    a shortlist word's head row; a cluster word's row times the cluster's projection,
    computed for the tokens that need it only."""
    flat = x.flatten()
    cluster = torch.bucketize(flat, torch.tensor(cutoffs[:-1], device=x.device), right=True)  # 0 = head
    rows = (cluster == 0).nonzero().squeeze(1)
    out = head_weight.new_zeros(len(flat), head_weight.shape[1]).index_put((rows,), head_weight[flat[rows]])
    for i, (proj, words) in enumerate(tails, start=1):
        rows = (cluster == i).nonzero().squeeze(1)
        if rows.numel():
            vectors = words[flat[rows] - cutoffs[i - 1]] @ proj  # (n, d_i) @ (d_i, H)
            out = out.index_put((rows,), vectors.to(out.dtype))  # autocast may have made them bf16
    return out.view(*x.shape, -1)


def dropout(x: torch.Tensor, p: float) -> torch.Tensor:
    """F.dropout(x, p) in training, with the mask drawn 15 bits per element:
    one 64-bit draw masks four elements, where bernoulli_ spends a draw on each.
    p is rounded to a multiple of 1/32768."""
    n = x.numel()
    bits = torch.empty((n + 3) // 4, dtype=torch.int64, device=x.device).random_()  # uniform in [0, 2**63)
    keep = (bits.view(torch.int16)[:n] & 0x7FFF) >= round(p * 32768)
    return x * keep.view_as(x).to(x.dtype).mul_(1 / (1 - p))


def _keep(like: torch.Tensor, shape: tuple, p: float) -> torch.Tensor:
    """A dropout mask of `shape` (broadcast over the rest): 0, or 1 / (1 - p) with probability 1 - p."""
    return like.new_empty(shape).bernoulli_(1 - p).div_(1 - p)


class WordLSTM(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.adaptive = config.softmax == "adaptive"
        # Tied under the adaptive softmax, the embeddings are read from the output layer (adaptive_embedding).
        self.embed = None if self.adaptive and config.tie_weights else nn.Embedding(config.vocab_size, config.embed_dim)
        self.lstm = nn.LSTM(config.embed_dim, config.hidden_size, config.num_layers,
                            dropout=config.dropout if config.num_layers > 1 else 0.0, batch_first=True)
        if self.adaptive:
            # div_value 4: each cluster's words get a 4x smaller projection than the last.
            self.head = nn.AdaptiveLogSoftmaxWithLoss(config.hidden_size, config.vocab_size, config.cutoffs,
                                                      div_value=4.0, head_bias=True)
        else:
            self.head = nn.Linear(config.hidden_size, config.vocab_size)
        if config.tie_weights and not self.adaptive:
            self.head.weight = self.embed.weight

    def features(self, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """x: (B, T) token ids -> LSTM outputs (B, T, H) and the state after the last token.
        In training, with the config's dropouts: whole words, between layers, locked on the output.
        A dropout of 0 draws nothing, so the random stream (and every number) is as without it."""
        if state is None:
            state = self.init_state(x.shape[0])
        out, state = self._lstm(self._locked(self._embedded(x), self.config.input_dropout), state)
        return self._locked(out, self.config.output_dropout), state

    def _locked(self, x: torch.Tensor, p: float) -> torch.Tensor:
        """Locked (variational) dropout on (B, T, D): one mask per sequence, the same at every step."""
        if not (self.training and p):
            return x
        return x * _keep(x, (x.shape[0], 1, x.shape[2]), p)

    @property
    def device(self) -> torch.device:
        """Where the weights are (every module has an LSTM; a tied adaptive one has no embedding)."""
        return self.lstm.weight_ih_l0.device

    def embedding(self, x: torch.Tensor) -> torch.Tensor:
        """Token ids (B, T) -> their embeddings (B, T, E), never with dropout."""
        if self.embed is not None:
            return self.embed(x)
        head_weight, _, tails, cutoffs = self._adaptive_weights()
        return adaptive_embedding(x, head_weight, tails, cutoffs)

    def embedding_table(self) -> torch.Tensor:
        """Every word's embedding, (V, E)."""
        if self.embed is not None:
            return self.embed.weight
        return self.embedding(torch.arange(self.config.vocab_size, device=self.device))

    def _embedded(self, x: torch.Tensor) -> torch.Tensor:
        emb, p = self.embedding(x), self.config.embed_dropout
        if not (self.training and p):
            return emb
        return emb * _keep(emb, (self.config.vocab_size, 1), p)[x]  # a dropped word is dropped at every position

    def _lstm(self, x: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        p, drop_w = self.lstm.dropout, self.config.weight_drop
        if not (self.training and (p and x.device.type == "cpu" or drop_w)):
            return self.lstm(x, state)
        # Training on the CPU: nn.LSTM's own dropout between layers draws one
        # 64-bit random number per element, an eighth of a step at the book's
        # sizes. Here the same kernels run layer by layer with dropout() between.
        # Weight-drop needs this path anywhere: nn.LSTM cannot mask its own weights.
        out, hs, cs = x, [], []
        for i, (weights, h, c) in enumerate(zip(self._layer_weights(), *state)):
            if i and p:
                out = dropout(out, p)
            if drop_w:  # AWD-LSTM's DropConnect: the recurrent connections are what a small text overfits
                w_ih, w_hh, b_ih, b_hh = weights
                weights = [w_ih, dropout(w_hh, drop_w), b_ih, b_hh]
            out, h, c = torch.lstm(out, (h[None], c[None]), weights,
                                   True, 1, 0.0, True, False, True)  # biases, 1 layer, no dropout, train, 1-way, batch-first
            hs.append(h)
            cs.append(c)
        return out, (torch.cat(hs), torch.cat(cs))

    def logits(self, out: torch.Tensor) -> torch.Tensor:
        """LSTM outputs (..., H) -> (..., V) scores whose softmax is the next-word
        distribution: logits for the full softmax, log-probabilities for the adaptive one."""
        if not self.adaptive:
            return self.head(out)
        return adaptive_log_probs(out.flatten(0, -2), *self._adaptive_weights()).unflatten(0, out.shape[:-1])

    def _layer_weights(self) -> list[list[torch.Tensor]]:
        """nn.LSTM's parameters as [w_ih, w_hh, b_ih, b_hh] per layer, for running its layers one by one."""
        flat = self.lstm._flat_weights
        return [flat[4 * i: 4 * i + 4] for i in range(self.config.num_layers)]

    def _adaptive_weights(self):
        head = self.head
        return head.head.weight, head.head.bias, [(p.weight, c.weight) for p, c in head.tail], head.cutoffs

    def loss(self, out: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
        """Exact next-word cross-entropy of LSTM outputs (..., H) against target ids (...):
        its mean, its sum, or (reduction "none") each token's, flattened (N,)."""
        out, target = out.flatten(0, -2), target.flatten().long()
        if self.adaptive:
            nll = adaptive_nll(out, target, *self._adaptive_weights())
        else:
            nll = token_nll(self.head(out), target)
        return {"mean": nll.mean, "sum": nll.sum, "none": lambda: nll}[reduction]()

    def text_nll(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Each next word's exact negative log-probability (B, T) under the model's whole distribution,
        its cache and the unseen words' share included: LSTM outputs (B, T, H) of consecutive words,
        target ids (B, T). Each row is a text of its own: the cache reads only that row's earlier positions.
        next_log_probs' numbers, each target's only: the output layer computes a cluster of the adaptive
        softmax only for the rows whose target is in it, never the (B, T, V) matrix."""
        nll = self.loss(out, target, reduction="none").view(target.shape)
        if self.config.cache_lambda:
            pos = torch.arange(target.shape[-1], device=target.device)
            nll = cache.mix_nll(self.config, nll, cache.attend(self.config, out, pos, out, pos), target, target)
        return unseen.mix_nll(self.config, nll, target) if unseen.active(self.config) else nll

    def log_probs(self, out: torch.Tensor) -> torch.Tensor:
        """LSTM outputs (N, H) -> the output layer's log-probabilities (N, V), float32, without the cache
        or the unseen words' share."""
        return torch.log_softmax(self.logits(out).float(), dim=-1)

    def next_log_probs(self, out: torch.Tensor, pos: torch.Tensor | None = None, keys: torch.Tensor | None = None,
                       key_pos: torch.Tensor | None = None, key_next: torch.Tensor | None = None) -> torch.Tensor:
        """The model's next-word distribution: what validation, `score` and the sampler all read.

        LSTM outputs out (N, H) at positions pos (N,) of a text -> the log-probabilities (N, V), float32,
        of the word after each: the output layer's, mixed with the cache over the earlier outputs `keys`
        (M, H) at key_pos (M,), each followed by the word key_next (M,) (none given: no cache), then with
        the unseen words' share. Validation (text_nll) and generation (sample.Reader) take faster paths
        to the same numbers, which tests pin to this one."""
        logp = self.log_probs(out)
        if self.config.cache_lambda and keys is not None:
            weights = cache.attend(self.config, out, pos, keys, key_pos)
            logp = cache.mix_log_probs(self.config, logp, weights, key_next)
        return unseen.mix_log_probs(self.config, logp) if unseen.active(self.config) else logp

    def forward(self, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """x: (B, T) token ids -> logits (B, T, V) and the state after the last token."""
        out, state = self.features(x, state)
        return self.logits(out), state

    def eval_features(self, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """features() as in eval mode, whatever the module's mode: never any dropout. For generating
        and scoring, which need not switch a training model (the live samples) to eval and back.
        x: (B, T) -> (B, T, H) and the state after the last token."""
        if state is None:
            state = self.init_state(x.shape[0])
        if not self.lstm.training:
            return self.lstm(self.embedding(x), state)
        self.lstm.training = False  # nn.LSTM reads it for its dropout only (the live samples, in training)
        try:
            return self.lstm(self.embedding(x), state)
        finally:
            self.lstm.training = True

    @torch.no_grad()
    def init_output_bias(self, counts: torch.Tensor):
        """Make the untrained model predict the unigram distribution: log p(word)
        from word counts (V,). The first minute of training then goes to context,
        not to learning word frequencies."""
        logp = (counts.double() + 0.1).log() - (counts.sum() + 0.1 * len(counts)).double().log()
        if not self.adaptive:
            self.head.bias.copy_(logp)
            return
        # Head: the shortlist's words, then one entry per cluster holding its total
        # probability; within a cluster the tail layers (no bias) start uniform.
        bounds = self.head.cutoffs  # [shortlist, c2, ..., V]
        cluster_logp = [logp[a:b].logsumexp(0) for a, b in zip(bounds[:-1], bounds[1:])]
        self.head.head.bias.copy_(torch.cat([logp[: bounds[0]], torch.stack(cluster_logp)]))

    def stepper(self) -> "Stepper":
        """Generation's fast path, in eval mode: see Stepper."""
        return Stepper(self)

    def init_state(self, batch_size: int) -> State:
        w = self.lstm.weight_ih_l0  # new_zeros keeps the model's device and dtype
        shape = (self.config.num_layers, batch_size, self.config.hidden_size)
        return w.new_zeros(shape), w.new_zeros(shape)


class Stepper:
    """step(token (B,), state) -> (probs (B, V), state): the next-word probabilities after one more token,
    float32, without the cache or the unseen words' share. step.probs(out) gives them for LSTM outputs (B, H).

    The same maths as forward() and a softmax, without dropout, through the fused lstm_cell kernel layer by
    layer, with the weights looked up once here: for one time step, nn.LSTM's sequence machinery, module
    calls and attribute lookups cost more than the arithmetic. `state` is a State or what step returned
    (per-layer lists); torch.stack(h) gives a State back.

    The output layer's matrices are laid out (in, out) here, once: for one row, x @ W.T read that way is
    faster on the CPU than F.linear on W (7778 x 8, a small model's last cluster: 6.6 µs instead of 19;
    1002 x 128, its head: 11 instead of 14). And the adaptive softmax gives probabilities, each cluster's
    softmax times its entry in the head's, so that no softmax over the whole vocabulary follows.
    """

    def __init__(self, model: WordLSTM):
        self.embed, self.layers = model.embedding_table(), model._layer_weights()
        if model.adaptive:
            head_weight, self.head_bias, tails, cutoffs = model._adaptive_weights()
            self.tails = [(proj.t().contiguous(), words.t().contiguous()) for proj, words in tails]
            self.shortlist = cutoffs[0]
        else:
            head_weight, self.head_bias, self.tails = model.head.weight, model.head.bias, None
        self.head = head_weight.t().contiguous()

    def probs(self, x: torch.Tensor) -> torch.Tensor:
        head = torch.softmax(torch.addmm(self.head_bias, x, self.head).float(), dim=-1)
        if self.tails is None:
            return head
        parts = [head[:, :self.shortlist]]
        for i, (proj, words) in enumerate(self.tails):  # p(word) = p(its cluster) p(word | cluster)
            parts.append(torch.softmax((x @ proj @ words).float(), dim=-1) * head[:, self.shortlist + i, None])
        return torch.cat(parts, dim=-1)

    def __call__(self, token: torch.Tensor, state) -> tuple[torch.Tensor, tuple[list, list]]:
        x, hs, cs = F.embedding(token, self.embed), [], []
        for (w_ih, w_hh, b_ih, b_hh), h, c in zip(self.layers, *state):
            x, c = torch.lstm_cell(x, (h, c), w_ih, w_hh, b_ih, b_hh)
            hs.append(x)
            cs.append(c)
        return self.probs(x), (hs, cs)
