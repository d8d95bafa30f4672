"""What the settings dataclasses share (ModelConfig, TrainConfig): rebuilding one from recorded JSON."""
from dataclasses import fields

from .errors import UserError


class Config:
    @classmethod
    def names(cls) -> set[str]:
        return {f.name for f in fields(cls)}

    @classmethod
    def pick(cls, settings: dict) -> dict:
        """The entries of `settings` that are this config's fields: for a mapping that holds
        other settings too on purpose (a size, the CLI's flags)."""
        return {k: v for k, v in settings.items() if k in cls.names()}

    @classmethod
    def from_dict(cls, recorded: dict, **overrides):
        """Rebuild from a dict (a checkpoint's config.json), by keyword. A key that is not
        a field is a mistake (a typo, or a newer wordlstm's setting), never dropped silently."""
        settings = {**recorded, **overrides}
        unknown = sorted(set(settings) - cls.names())
        if unknown:
            raise UserError(f"{cls.__name__} has no setting {unknown[0]!r}; the settings are "
                            f"{', '.join(sorted(cls.names()))}")
        return cls(**settings)
