"""What would help a training: one line under its result, for a user whose text is small.

A word-level model of a small text writes word salad at a perplexity of a few hundred. Two things
measured on the 100K-token test text (docs/benchmarks.md, "Warm start") help most: starting from the
bundled model, and a larger model with its regularizers.
"""
SMALL_TEXT = 500_000  # tokens: below this, one run is at its best after a few epochs
HIGH_PERPLEXITY = 150  # above this, most of what the model writes does not read as sentences


def advice(tokens: int, val_ppl: float, size: str, warm_start: bool) -> str:
    """A line proposing what would help a run on a text of `tokens` tokens that reached `val_ppl`,
    trained at `size`, from another model or not; "" where nothing would, or the user chose it."""
    if warm_start or tokens >= SMALL_TEXT or val_ppl < HIGH_PERPLEXITY:
        return ""
    medium = " or the medium size" if size == "small" else ""
    return (f"Your text is small ({tokens:,} tokens). Start from the default model, which knows the words "
            f"your text shares with a novel (a warm start: -26% perplexity on a 100K-token text){medium}.")
