"""An ensemble: K models of one shape and vocabulary, trained apart (each its own first run and branches,
training/schedule.py), whose next-word probabilities are averaged.

Branches start from one run's weights and stay in its basin, so their mean is one model; more of them
gain little. Models trained from different starts land in different basins: their weights cannot be
averaged, their probabilities can, and two such models beat one trained twice as long (docs/recipe.md,
"Ensembles"). The cost is K models' generation and file.

An Ensemble reads like a WordLSTM wherever the next-word distribution is read: its features are its
members' side by side (B, T, K * H), so that slicing a text's positions works as for one model, and
text_nll and next_log_probs split them again, each member with its own cache and unseen share, and mix
the members' probabilities. Generation reads each member apart (sample.read, sample.Mean).
"""
import math
from dataclasses import replace

import torch
import torch.nn as nn

from .lstm import ModelConfig, State, WordLSTM


def build(config: ModelConfig) -> "WordLSTM | Ensemble":
    """The model a config describes: one WordLSTM, or an Ensemble of config.members of them."""
    return Ensemble(config) if config.members > 1 else WordLSTM(config)


def members(model) -> list[WordLSTM]:
    """The single models a model is made of: itself, or an ensemble's members."""
    return list(model.members) if isinstance(model, Ensemble) else [model]


class Ensemble(nn.Module):
    def __init__(self, config: ModelConfig, models: list[WordLSTM] | None = None):
        """config: the members' (all alike), with members = K. models: trained ones; None: new ones."""
        super().__init__()
        self.config = config
        one = replace(config, members=1)
        self.members = nn.ModuleList(models or [WordLSTM(one) for _ in range(config.members)])
        if len(self.members) != config.members:
            raise ValueError(f"{len(self.members)} models for an ensemble of {config.members}")

    @property
    def device(self) -> torch.device:
        return self.members[0].device

    def features(self, x: torch.Tensor, state: list[State] | None = None) -> tuple[torch.Tensor, list[State]]:
        """x: (B, T) -> the members' LSTM outputs side by side (B, T, K * H), and their states."""
        return self._joined(WordLSTM.features, x, state)

    def eval_features(self, x: torch.Tensor, state: list[State] | None = None) -> tuple[torch.Tensor, list[State]]:
        return self._joined(WordLSTM.eval_features, x, state)

    def _joined(self, features, x: torch.Tensor, state: list[State] | None) -> tuple[torch.Tensor, list[State]]:
        outs = [features(m, x, s) for m, s in zip(self.members, state or [None] * len(self.members))]
        return torch.cat([o for o, _ in outs], dim=-1), [s for _, s in outs]

    def _split(self, out: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return out.chunk(len(self.members), dim=-1)

    def _mean(self, log_probs: list[torch.Tensor]) -> torch.Tensor:
        """log of the members' mean probability, from their log-probabilities."""
        return torch.logsumexp(torch.stack(log_probs), dim=0) - math.log(len(log_probs))

    def text_nll(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """WordLSTM.text_nll's numbers for the ensemble: each target's negative log mean probability."""
        return -self._mean([-m.text_nll(o, target) for m, o in zip(self.members, self._split(out))])

    def next_log_probs(self, out: torch.Tensor, pos: torch.Tensor | None = None, keys: torch.Tensor | None = None,
                       key_pos: torch.Tensor | None = None, key_next: torch.Tensor | None = None) -> torch.Tensor:
        """WordLSTM.next_log_probs for the ensemble: the log of its members' mean distribution, each
        member's with its own cache over its own outputs."""
        keys = self._split(keys) if keys is not None else [None] * len(self.members)
        return self._mean([m.next_log_probs(o, pos, k, key_pos, key_next)
                           for m, o, k in zip(self.members, self._split(out), keys)])
