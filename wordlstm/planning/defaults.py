"""The settings the front ends share, written once: the sizes and the default budget, and (from
use/defaults.py) how a model writes.

The model's and the training's own defaults stay in their dataclasses (ModelConfig, TrainConfig);
a size here names only what it changes from them.
"""
from dataclasses import fields

from ..errors import UserError
from ..model.lstm import ModelConfig
from ..training.config import TrainConfig
from ..use.defaults import MIN_WORDS, NEW_TOKENS, TEMPERATURE, TOP_K, TOP_P  # noqa: F401  (read here by the front ends)

TIME_BUDGET = 60  # seconds: the app's default training budget, and the CLI's when it is given no bound

# Model sizes (`--size`, the app's "Model size"): only what each changes from ModelConfig's and
# TrainConfig's defaults, which are the book's model. The larger two carry AWD-LSTM's
# regularizers, without which a larger model learns a small text by heart within an epoch or two,
# and the batch that trains them best (docs/recipe.md, "Sizes").
SIZES = {
    "small": {},
    "medium": dict(embed_dim=256, hidden_size=256, num_layers=2, dropout=0.3, output_dropout=0.2, embed_dropout=0.05,
                   weight_drop=0.2, tie_weights=True, batch_size=16),
    "large": dict(embed_dim=512, hidden_size=1024, num_layers=2, dropout=0.4, output_dropout=0.4, embed_dropout=0.1,
                  weight_drop=0.3),
}
# The default size: auto.choose picks the size and the branches from the device, the text and the budget.
# Its model is the medium one, so the app's sliders show medium's settings under it.
AUTO, AUTO_SIZE = "auto", "medium"
SIZE_NAMES = [AUTO, *SIZES]


def size_settings(name: str) -> dict:
    """Every setting that some size changes, as size `name` has it: what the app's sliders and the
    CLI's flags start from when the size is picked."""
    changed = {k for size in SIZES.values() for k in size}
    defaults = {f.name: f.default for cls in (ModelConfig, TrainConfig) for f in fields(cls) if f.name in changed}
    return {**defaults, **SIZES[AUTO_SIZE if name == AUTO else name]}


def tied(size: str, asked: dict) -> bool:
    """Whether `size`'s tied weights stay tied with the settings `asked` for: while the embedding and hidden
    sizes are equal (the app's sliders, and the CLI's flags under auto, change them freely)."""
    shape = {**size_settings(size), **asked}
    return shape["tie_weights"] and shape["embed_dim"] == shape["hidden_size"]


def split_settings(settings: dict) -> tuple[dict, dict]:
    """A flat dict of settings (a size, a recipe) as (ModelConfig's, TrainConfig's); UserError for a key
    that is neither's."""
    model, train = ModelConfig.pick(settings), TrainConfig.pick(settings)
    unknown = sorted(set(settings) - set(model) - set(train))
    if unknown:
        raise UserError(f"there is no setting {unknown[0]!r}")
    return model, train


def configs(size: str, vocab_size: int, **asked) -> tuple[ModelConfig, TrainConfig]:
    """The configs of `size` for a vocabulary of `vocab_size` words, with the settings `asked` for by
    name (the CLI's flags, the app's controls) in place of the size's."""
    model, train = split_settings({**size_settings(size), **asked})
    return ModelConfig.from_dict(model, vocab_size=vocab_size), TrainConfig.from_dict(train)
