"""The line under a training's result that proposes what would help a small text."""
from wordlstm.serve.advice import advice


def test_a_small_text_with_word_salad_is_told_what_helps():
    line = advice(93_000, 230.0, "small", warm_start=False)
    assert "93,000 tokens" in line and "default model" in line and "medium size" in line


def test_no_advice_where_it_would_nag():
    assert advice(93_000, 230.0, "small", warm_start=True) == ""  # the user chose a warm start already
    assert "medium" not in advice(93_000, 230.0, "medium", warm_start=False)  # nor the size they chose
    assert advice(2_000_000, 230.0, "small", warm_start=False) == ""  # a large text: more text helps it
    assert advice(93_000, 80.0, "small", warm_start=False) == ""  # sentences already
