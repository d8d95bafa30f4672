"""What would help a training: one line under its result, for a user whose text is small.

A word-level model of a small text writes word salad at a perplexity of a few hundred. Two things
measured on a 100K-token text (docs/recipe.md#warm-start) help most: starting from the bundled model
(auto's choice for such a text, so advised only where the user chose a new model), and a larger model with
its regularizers.
"""
from ..errors import capital

WARM_GAIN = "-13%"  # docs/recipe.md#warm-start: 129.4 against 149.2 at 60 s
SMALL_TEXT = 500_000  # tokens: below this, one run is at its best after a few epochs
HIGH_PERPLEXITY = 150  # above this, most of what the model writes does not read as sentences


def advice(tokens: int, val_ppl: float, size: str, advised: bool) -> str:
    """A line proposing what would help a run on a text of `tokens` tokens that reached `val_ppl`, trained at
    `size`; `advised`: started new where auto would have started from the default model. "" where nothing
    would, or the user chose it."""
    if tokens >= SMALL_TEXT or val_ppl < HIGH_PERPLEXITY or not (advised or size == "small"):
        return ""
    warm = ("Start from auto or the default model, which knows most of your text's words (a warm start: "
            f"{WARM_GAIN} perplexity on a 100K-token text)") if advised else ""
    medium = "the medium size" if size == "small" else ""
    return f"Your text is small ({tokens:,} tokens). {capital(' or '.join(filter(None, [warm, medium])))}."
