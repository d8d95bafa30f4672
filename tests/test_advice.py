"""The line under a training's result that proposes what would help a small text."""
from wordlstm.serve.advice import advice


def test_a_small_text_with_word_salad_is_told_what_helps():
    line = advice(93_000, 230.0, "small", advised=True)
    assert "93,000 tokens" in line and "default model" in line and "medium size" in line
    line = advice(93_000, 230.0, "medium", advised=True)
    assert line.startswith("Your text is small (93,000 tokens). Start from auto")
    assert advice(93_000, 230.0, "small", advised=False) == ("Your text is small (93,000 tokens). "
                                                             "The medium size.")


def test_no_advice_where_it_would_nag():
    assert advice(93_000, 230.0, "medium", advised=False) == ""  # auto's start, or a text it would not help
    assert "medium" not in advice(93_000, 230.0, "medium", advised=True)  # nor the size they chose
    assert advice(2_000_000, 230.0, "small", advised=True) == ""  # a large text: more text helps it
    assert advice(93_000, 80.0, "small", advised=True) == ""  # sentences already
