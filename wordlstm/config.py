"""What the settings dataclasses (ModelConfig, TrainConfig) share: rebuilding one from recorded JSON.

Their defaults are read by name (`TrainConfig.seq_len`) by the CLI and the app,
so each default is written once, in its dataclass.
"""
from dataclasses import fields


class Config:
    @classmethod
    def from_dict(cls, recorded: dict, **overrides):
        """Rebuild from a dict (a checkpoint's config.json), by keyword. Fields this
        version does not know (a newer wordlstm wrote them) are left out."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in {**recorded, **overrides}.items() if k in known})
