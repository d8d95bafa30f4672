import codecs

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ANNA
from wordlstm import UserError, Vocab, detokenize, tokenize
from wordlstm.text.texts import decode_bytes, read_text
from wordlstm.text.tokenizer import PUNCT


def test_book_facts_on_anna():
    vocab, ids = Vocab.build(read_text(ANNA))
    assert len(ids) == 437_098
    assert len(vocab) == 12_778
    assert [vocab.stoi[w] for w in [",", ".", "the", '"', "and", "anna"]] == [0, 1, 2, 3, 4, 62]
    assert vocab.unk_id is None  # nothing dropped, so no <unk>: exactly the book's vocabulary


def test_cleaning_is_the_books():
    text = 'Anna\'s well-known "Hello," she said;\r\nit cost $5 (50%)!'
    assert tokenize(text) == ["anna", "'", "s", "well", "known", '"', "hello", ",", '"', "she", "said", ";",
                              "it", "cost", "$", "5", "(", "50", "%", ")", "!"]


@pytest.mark.parametrize("tokens, text", [
    ("hello , world .", "hello, world."),
    ('he said , " come here ! " and left .', 'he said, "come here!" and left.'),
    ("don ' t touch levin ' s hat ( or else ) .", "don't touch levin's hat (or else)."),
    ("and / or 50 % ; yes : no ?", "and/or 50%; yes: no?"),
])
def test_detokenize_reattaches_punctuation(tokens, text):
    assert detokenize(tokens.split()) == text


def test_detokenize_never_double_space_or_space_before_punct():
    out = detokenize(", . , hello . . ; : ? ! world \" \" ' '".split())
    assert "  " not in out
    assert not any(f" {p}" in out for p in ",.;:?!")


words = st.sampled_from(["anna", "the", "prince", "s", "t", "levin", "5", "été", "x"])
tokens = st.lists(st.one_of(words, st.sampled_from(list(PUNCT))), max_size=40)


@given(tokens)
@settings(max_examples=300, deadline=None)
def test_detokenize_round_trips(toks):
    assert tokenize(detokenize(toks)) == toks


@given(st.text())
@settings(max_examples=300, deadline=None)
def test_encode_never_raises_on_any_unicode(text):
    vocab = Vocab(["the", ",", "anna"])
    enc = vocab.encode(text)
    assert len(enc.ids) == sum(t in vocab.stoi for t in enc.tokens)
    assert set(enc.unknown) == {t for t in enc.tokens if t not in vocab.stoi}


def test_decode_bytes_accepts_bom_and_crlf():
    assert tokenize(decode_bytes(codecs.BOM_UTF8 + "Héllo,\r\nworld".encode())) == ["héllo", ",", "world"]


@pytest.mark.parametrize("data, message", [
    (b"", "empty or only whitespace"),
    (b" \n\t\r\n ", "empty or only whitespace"),
    (b"abc\x00\x01def", "binary"),
    ("caf\xe9".encode("latin-1"), "not valid UTF-8"),
    ("hello".encode("utf-16"), "UTF-16"),
])
def test_decode_bytes_rejects_bad_corpora(data, message):
    with pytest.raises(UserError, match=message):
        decode_bytes(data)


def test_read_text_rejects_folders_missing_and_huge_files(tmp_path):
    with pytest.raises(UserError, match="is a folder"):
        read_text(tmp_path)
    with pytest.raises(UserError, match="no such file"):
        read_text(tmp_path / "nope.txt")
    big = tmp_path / "big.txt"
    big.write_text("word " * 1000)
    with pytest.raises(UserError, match="the limit is"):
        read_text(big, max_bytes=100)
