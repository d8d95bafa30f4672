"""The book's word-level LSTM: Embedding -> LSTM -> Linear. No I/O, no device choice."""
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .tokenizer import UserError

State = tuple[torch.Tensor, torch.Tensor]  # (h, c), each (num_layers, B, hidden_size)


@dataclass
class ModelConfig:
    vocab_size: int
    embed_dim: int = 128  # the book's sizes throughout
    hidden_size: int = 128
    num_layers: int = 3
    dropout: float = 0.2  # between LSTM layers, as in the book
    tie_weights: bool = False  # share the embedding with the output layer (Press & Wolf, 2017)

    def __post_init__(self):
        for name in ("vocab_size", "embed_dim", "hidden_size", "num_layers"):
            if int(getattr(self, name)) < 1:
                raise UserError(f"{name} must be at least 1 (got {getattr(self, name)})")
        if not 0 <= self.dropout < 1:
            raise UserError(f"dropout must be in [0, 1) (got {self.dropout})")
        if self.tie_weights and self.embed_dim != self.hidden_size:
            raise UserError(f"tie_weights needs embed_dim == hidden_size "
                            f"(got {self.embed_dim} and {self.hidden_size}); make them equal or drop tie_weights")


class WordLSTM(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.embed_dim)
        self.lstm = nn.LSTM(config.embed_dim, config.hidden_size, config.num_layers,
                            dropout=config.dropout if config.num_layers > 1 else 0.0, batch_first=True)
        self.head = nn.Linear(config.hidden_size, config.vocab_size)
        if config.tie_weights:
            self.head.weight = self.embed.weight

    def forward(self, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """x: (B, T) token ids -> logits (B, T, V) and the state after the last token."""
        if state is None:
            state = self.init_state(x.shape[0])
        out, state = self.lstm(self.embed(x), state)  # (B, T, H)
        return self.head(out), state  # (B, T, V)

    def next_logits(self, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """Like forward, but logits for the last position only: (B, V). For sampling,
        where a long prompt would otherwise cost a (T, V) matrix nobody reads."""
        if state is None:
            state = self.init_state(x.shape[0])
        out, state = self.lstm(self.embed(x), state)
        return self.head(out[:, -1]), state

    def step(self, token: torch.Tensor, state) -> tuple[torch.Tensor, tuple[list, list]]:
        """One token per sequence, token: (B,) -> logits (B, V). For generation, in eval mode.

        The same maths as forward() without dropout, but through the fused
        lstm_cell kernel layer by layer, with functional calls and the state
        kept as per-layer lists: for a single time step, nn.LSTM's sequence
        machinery, module calls and stacking cost more than the arithmetic.
        `state` is a State or what step() returned; torch.stack(h) gives a State back.
        """
        h, c = state
        x = F.embedding(token, self.embed.weight)  # (B, E)
        hs, cs = [], []
        for layer, weights in enumerate(self.lstm.all_weights):  # [w_ih, w_hh, b_ih, b_hh] per layer
            x, c_new = torch.lstm_cell(x, (h[layer], c[layer]), *weights)
            hs.append(x)
            cs.append(c_new)
        return F.linear(x, self.head.weight, self.head.bias), (hs, cs)

    def init_state(self, batch_size: int) -> State:
        w = self.head.weight  # new_zeros keeps the model's device and dtype
        shape = (self.config.num_layers, batch_size, self.config.hidden_size)
        return w.new_zeros(shape), w.new_zeros(shape)
