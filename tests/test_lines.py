"""Line breaks as tokens (wordlstm.text.lines): verse, lyrics and lists keep their lines, prose reads as the book's."""
import json

import pytest
import torch

from conftest import ANNA
from test_commands import wordlstm
from wordlstm import (ModelConfig, TrainConfig, UserError, Vocab, WordLSTM, corpus_from_text, load_checkpoint, save_checkpoint,
                      stream, train)
from wordlstm.text import vocab as vocab_module
from wordlstm.text.lines import choose_lines
from wordlstm.text.surface import Surface, reproduced
from wordlstm.text.tokenizer import NEWLINE, detokenize, scan, tokenize, written_forms

# A song: short lines, most of them ending without a sentence mark, each starting with a capital.
VERSE = ("The moon is up above the hill\nAnd all the fields are white and still\n"
         "I walk along the river side\nWhere once the willow used to hide\n"
         "Its branches in the water deep,\nAnd there the old stones lie asleep.\n\n") * 5
# Prose as a book wraps it: long lines, a sentence going on from one to the next.
PROSE = ("It was late in the evening when the carriage came at last to the house, and the old\n"
         "servant who opened the door had been waiting since noon, as he always did, for\n"
         "news of the young master and of the regiment that had gone south in the spring.\n") * 10


def test_tokenize_keeps_line_breaks_only_when_asked():
    assert NEWLINE not in tokenize(VERSE)
    tokens = tokenize(VERSE, lines=True)
    assert tokens[:8] == ["the", "moon", "is", "up", "above", "the", "hill", NEWLINE]
    assert tokens.count(NEWLINE) == VERSE.count("\n")  # each break a token, the text's last ones too
    assert [t for t in tokens if t != NEWLINE] == tokenize(VERSE)  # the book's tokens, the breaks aside
    assert tokenize("one\r\ntwo\rthree", lines=True) == ["one", NEWLINE, "two", NEWLINE, "three"]


def test_auto_keeps_the_lines_of_verse_not_of_prose():
    verse = choose_lines(VERSE)
    assert verse.keep and "kept" in verse.why and "short" in verse.why
    assert not choose_lines(PROSE).keep and "long" in choose_lines(PROSE).why
    with open(ANNA, encoding="utf-8") as f:
        assert not choose_lines(f.read(300_000)).keep  # the book's text keeps the book's tokens
    sayings = "A stitch in time saves nine.\nLook before you leap!\nWho knows?\n" * 10  # short, but sentences
    assert not choose_lines(sayings).keep and "end a sentence" in choose_lines(sayings).why
    assert not choose_lines("Roses are red\nViolets are blue\n").keep  # too few lines to tell
    assert choose_lines(PROSE, "yes").keep and not choose_lines(VERSE, "no").keep
    assert "as asked" in choose_lines(PROSE, "yes").why
    with pytest.raises(UserError, match="lines must be one of auto, yes, no"):
        choose_lines(VERSE, "maybe")


def test_a_corpus_of_verse_keeps_its_lines_in_its_vocabulary_and_checkpoint(tmp_path):
    corpus = corpus_from_text(VERSE)
    assert corpus.lines.keep and corpus.vocab.lines and NEWLINE in corpus.vocab.stoi
    assert corpus.info()["lines"] is True and "line breaks are kept" in corpus.describe(10)
    assert corpus.vocab.encode("the hill\nand").ids == corpus.vocab.lookup(["the", "hill", NEWLINE, "and"])
    prose = corpus_from_text(PROSE)
    assert not prose.vocab.lines and NEWLINE not in prose.vocab.stoi and "line breaks" not in prose.describe(10)
    save_checkpoint(tmp_path / "m", train(corpus.ids, ModelConfig(len(corpus.vocab), 8, 8, 1),
                                          TrainConfig(epochs=1, seq_len=10, batch_size=4))[0], corpus.vocab)
    again = load_checkpoint(tmp_path / "m").vocab
    assert again.lines and again.tokenize("a\nb") == ["a", NEWLINE, "b"]
    d = corpus.vocab.to_dict()
    assert d["lines"] is True and "lines" not in prose.vocab.to_dict()  # a prose vocabulary's file is as before
    with pytest.raises(UserError, match="'lines' is not true or false"):
        Vocab.from_dict({**d, "lines": "yes"})


def test_reading_in_chunks_never_splits_a_windows_line_break(monkeypatch):
    text = "the moon\r\nand the hill\r\nand the sea\r\n" * 20
    whole, ids, _ = Vocab.build_documents([text], lines=True)
    monkeypatch.setattr(vocab_module, "_CHUNK_CHARS", 7)  # a cut after nearly every word
    chunked, chunked_ids, _ = Vocab.build_documents([text], lines=True)
    assert chunked.itos == whole.itos and (chunked_ids == ids).all()
    assert ids.tolist().count(whole.stoi[NEWLINE]) == 60  # one a break, never two


def test_lines_are_written_back_as_the_text_writes_them():
    forms = written_forms(VERSE)
    surface = Surface.learn(VERSE, forms, lines=True)
    assert detokenize(tokenize(VERSE, lines=True), forms, surface) == VERSE  # capitals, breaks, no spaces
    written, tokens, spaces = scan("a b\n c\r\nd", lines=True)
    assert tokens == ["a", "b", NEWLINE, "c", NEWLINE, "d"] and spaces == [False, True, False, False, False, False]


def test_a_line_goes_on_in_lower_case_and_a_new_speaker_in_capitals():
    """The case after two tokens: a line after a speaker's name starts with a capital, one that goes on
    mid-sentence in lower case; after a blank line, a play's speaker is in capitals, even one never seen."""
    play = ("PAGE:\nThe king comes, and with him\nthe queen of the north.\nThe night is long.\n\n"
            "LORD:\nThe day is done, and with it\nthe sun of the south.\nThe end.\n\n") * 6
    forms = written_forms(play)
    tokens = tokenize("the end .\n\nherald :\nthe night comes with him\nthe king .\nthe end", lines=True)
    assert detokenize(tokens, forms, Surface.learn(play, forms, lines=True)) == \
        "The end.\n\nHERALD:\nThe night comes with him\nthe king.\nThe end"
    assert detokenize(tokens, forms) == "The end.\n\nHerald:\nthe night comes with him\nthe king.\nThe end"  # rules


def test_the_measure_keeps_lines_where_auto_keeps_them():
    assert reproduced(VERSE * 4)["lines"] is True and reproduced(PROSE * 4)["lines"] is False
    assert reproduced(VERSE * 4, lines="no")["lines"] is False


def test_a_model_of_verse_writes_lines(tmp_path):
    corpus = corpus_from_text(VERSE * 4)
    torch.manual_seed(0)
    model, _ = train(corpus.ids, ModelConfig(len(corpus.vocab), 32, 32, 1, 0.0),
                     TrainConfig(epochs=40, seq_len=20, batch_size=8, lr=0.01, seed=0))
    text = "".join(stream(model, corpus.vocab, corpus.vocab.encode("The moon"), max_new_tokens=60, seed=0))
    lines = text.split("\n")
    assert len(lines) >= 4  # it writes lines...
    assert all(line == line.strip() for line in lines)  # ...with no space around a break...
    assert all(line[:1].isupper() for line in lines if line)  # ...each starting as the song's do
    assert text.count("\n\n") >= 1  # and the blank line between verses


def test_coverage_counts_words_not_line_breaks():
    verse = corpus_from_text(VERSE).vocab
    assert verse.coverage(verse) == 1.0
    without = Vocab([w for w in verse.itos if w != NEWLINE])
    assert verse.coverage(without) == 1.0  # a model that never saw a line break still knows every word


@pytest.mark.slow
def test_the_cli_says_lines_are_kept_records_them_and_resumes_with_them(tmp_path):
    song = tmp_path / "song.txt"
    song.write_text(VERSE * 4)
    out = tmp_path / "run"
    r = wordlstm("train", song, "--out", out, "--dry-run")
    assert r.returncode == 0 and "its line breaks are kept: its lines are short" in r.stdout
    r = wordlstm("train", song, "--out", out, "--lines", "no", "--dry-run")
    assert r.returncode == 0 and "line breaks" not in r.stdout  # prose, as asked: nothing to say
    r = wordlstm("train", song, "--out", out, "--size", "small", "--epochs", "1", "--init-from", "new")
    assert r.returncode == 0, r.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["corpus"]["lines"] is True and json.loads((out / "vocab.json").read_text())["lines"] is True
    assert "the model writes lines" in (out / "README.md").read_text()
    r = wordlstm("train", "--resume", out, "--epochs", "2")  # the text read again with its line breaks
    assert r.returncode == 0, r.stderr
    r = wordlstm("bench", "--surface", "--corpus", song)
    assert r.returncode == 0 and json.loads(r.stdout.splitlines()[-1])["lines"] is True
    assert "lines kept" in r.stdout



def test_the_writing_box_reads_line_breaks_and_never_offers_one():
    """A model of verse reads the writer's line breaks as it read its text's, and its menu offers words: a line
    break is the writer's Enter key."""
    from wordlstm.use.suggest import Suggester
    corpus = corpus_from_text(VERSE)
    torch.manual_seed(0)
    model = WordLSTM(ModelConfig(len(corpus.vocab), 8, 8, 1))
    suggester = Suggester(model, corpus.vocab)
    found = suggester("The moon is up above the hill\n", k=len(corpus.vocab))
    assert suggester.read[-1] == corpus.vocab.stoi[NEWLINE]  # the break read as a token
    assert NEWLINE not in [w for w, _ in found.words] and len(found.words) == len(corpus.vocab) - 1
