import pytest

from wordlstm import UNK, UserError, Vocab


def test_ties_keep_first_occurrence_order():
    vocab, ids = Vocab.build("b a c a b c d")
    assert vocab.itos == ["b", "a", "c", "d"]
    assert vocab.itos == [vocab.itos[i] for i in ids[[0, 1, 2, 6]]]


def test_min_count_routes_rare_words_to_unk():
    vocab, ids = Vocab.build("a a a b b c d e")
    v2, ids2 = Vocab.build("a a a b b c d e", min_count=2)
    assert v2.itos == ["a", UNK, "b"]  # <unk> (3: c, d, e) ties with a, after it by first occurrence
    assert [v2.itos[i] for i in ids2] == ["a", "a", "a", "b", "b", UNK, UNK, UNK]
    assert v2.counts == [3, 3, 2]
    assert len(ids2) == len(ids)


def test_max_vocab_caps_size_and_merges_with_a_real_unk_word():
    text = "<unk> x x x y y z w <unk>"
    vocab, ids = Vocab.build(text, max_vocab=3)
    assert len(vocab) == 3
    assert vocab.itos == [UNK, "x", "y"]  # two real <unk> + z + w = 4
    assert vocab.counts[0] == 4


def test_prompt_unknown_words_are_dropped_without_unk_and_reported():
    vocab = Vocab(["the", "prince", ",", "anna"])
    enc = vocab.encode_prompt("Anna, and the prince zzz and")
    assert [vocab.itos[i] for i in enc.ids] == ["anna", ",", "the", "prince"]
    assert enc.unknown == ["and", "zzz"]


def test_prompt_unknown_words_map_to_unk_when_it_exists():
    vocab = Vocab(["the", UNK, "prince"])
    enc = vocab.encode_prompt("the duke")
    assert enc.ids == [0, 1] and enc.unknown == ["duke"]


def test_prompt_errors_name_the_words():
    vocab = Vocab(["the", "prince"])
    with pytest.raises(UserError, match="empty"):
        vocab.encode_prompt("   ")
    with pytest.raises(UserError, match="'zork', 'blorp'"):
        vocab.encode_prompt("Zork blorp")


def test_bad_options():
    with pytest.raises(UserError, match="min_count"):
        Vocab.build("a b", min_count=0)
    with pytest.raises(UserError, match="max_vocab"):
        Vocab.build("a b", max_vocab=1)


def test_json_round_trip(tmp_path):
    vocab, _ = Vocab.build("a b b c c c", min_count=2)
    vocab.save(tmp_path / "v.json")
    back = Vocab.load(tmp_path / "v.json")
    assert back.itos == vocab.itos and back.counts == vocab.counts and back.unk_id == vocab.unk_id
