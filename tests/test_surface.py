"""The surface a text teaches (wordlstm.text.surface): its case by context and its spacing, learned where they
beat the rules; and the measure of it, `wordlstm bench --surface`."""
import json
import re

import pytest

from conftest import ANNA
from test_commands import wordlstm
from wordlstm import (ModelConfig, UserError, WordLSTM, corpus_from_text, load_checkpoint, save_checkpoint,
                      stream)
from wordlstm.text.surface import Surface, form_misses, reproduced
from wordlstm.text.tokenizer import detokenize, tokenize, written_forms

# WikiText's habit: a space on both sides of every mark, quotes included.
SPACED = ('The band played " Where the Streets " at the show , and the crowd sang . ' * 6
          + 'It was filming , and the song " Pride " ran ( live ) for days . ' * 6)
# A play: each speaker in capitals after a line's end; the name in capitals nowhere else, and words with
# an inner apostrophe written whole.
PLAY = "ACT I.\n" + ("GREMIO: O'er the hill the night comes on.\nBAPTISTA: Ne'er was a night so long; I met Gremio there.\n"
        "GREMIO: 'Tis so, and o'er the sea the same.\nBAPTISTA: Ne'er tell me, Gremio.\n") * 4


def write(text, learned=True):
    forms = written_forms(text)
    return detokenize(tokenize(text), forms, Surface.learn(text, forms) if learned else None)


def test_a_text_that_spaces_its_marks_is_written_back_so():
    assert write(SPACED) == SPACED.strip()
    assert write(SPACED, learned=False) != SPACED.strip()  # the rules write the book's prose: `filming, and`


def test_case_by_context_and_inner_apostrophes_are_learned():
    written = write(PLAY)
    assert written.split()[2:] == PLAY.split()[2:]  # GREMIO: at a line's start, Gremio in one; O'er, 'Tis
    rules = write(PLAY, learned=False)
    assert "Gremio:" in rules and "O' er" in rules  # what the rules alone wrote


def test_the_rules_stay_where_the_text_taught_nothing():
    text = 'She said, "Yes." He went out. "Where?" asked the dog. ' * 3
    forms = written_forms(text)
    surface = Surface.learn(text, forms)
    assert detokenize(tokenize(text), forms, surface) == detokenize(tokenize(text), forms)  # nothing to beat
    assert detokenize(["he", "said", "."], forms, surface) == "He said."


def test_the_surface_round_trips_through_json_and_is_read_strictly():
    surface = Surface.learn(PLAY, written_forms(PLAY))
    again = Surface.from_dict(json.loads(json.dumps(surface.to_dict())))
    assert (again.case, again.space) == (surface.case, surface.space) and len(again) > 0
    assert Surface.from_dict({"case": {}, "space": {}}).closes == set()  # a vocabulary saved by 0.19.0
    for bad in ([], {"case": {}}, {"case": {"a": 1}, "space": {}}, {"case": {}, "space": {"a": "yes"}},
                {"case": {}, "space": {}, "closes": ","}):
        with pytest.raises(UserError, match="surface"):
            Surface.from_dict(bad)


def test_the_measure_counts_what_the_last_tenth_writes_back_and_its_misses():
    text = (PLAY * 3) + "GREMIO: Zounds, here comes Petruchio!\n"
    rules, learned = reproduced(text, learned=False), reproduced(text)
    assert learned["surface"] == 1.0 - sum(learned["misses"].values()) / learned["chunks"]
    assert rules["surface"] < learned["surface"]
    assert "case of a word the text had not written before" in learned["misses"]  # Petruchio: new to the text
    assert learned["lines"] is False


@pytest.mark.slow
def test_bench_surface_prints_the_measure_then_one_json_line(tmp_path):
    corpus = tmp_path / "play.txt"
    corpus.write_text(PLAY * 3)
    r = wordlstm("bench", "--surface", "--corpus", corpus)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout.splitlines()[-1])
    assert report["surface"] > 0.95 > report["rules"] and report["lines"] is False
    assert "chunks written back exactly" in r.stdout.splitlines()[0]


def test_a_corpus_learns_its_surface_and_its_model_writes_with_it(tmp_path):
    corpus = corpus_from_text(SPACED)
    assert corpus.vocab.surface is not None and corpus.vocab.surface.spaced("filming", ",") is True
    model = WordLSTM(ModelConfig(len(corpus.vocab), 8, 8, 1))
    save_checkpoint(tmp_path / "m", model, corpus.vocab)
    ckpt = load_checkpoint(tmp_path / "m")
    assert ckpt.vocab.surface.space == corpus.vocab.surface.space  # through vocab.json
    text = "".join(stream(ckpt.model, ckpt.vocab, ckpt.vocab.encode("The band"), max_new_tokens=300, seed=0))
    assert " , " in text and not re.search(r"\w[,.]", text)  # every mark spaced, as the text spaces them
    ckpt.vocab.surface = None  # a checkpoint saved before 0.19.0: the rules, the book's prose
    text = "".join(stream(ckpt.model, ckpt.vocab, ckpt.vocab.encode("The band"), max_new_tokens=300, seed=0))
    assert " , " not in text and re.search(r"\w,", text)


def test_the_text_written_back_tokenizes_to_the_same_tokens():
    """Whatever the surface learned, it only moves spaces next to a mark and changes case: the originality
    check and the scorer read generated text back into the very tokens that were generated."""
    with open(ANNA, encoding="utf-8") as f:
        novel = f.read()
    for text in (novel[:1_500_000], SPACED * 3, PLAY * 3):
        cut = text.rfind("\n", 0, int(len(text) * 0.9)) + 1 or int(len(text) * 0.9)
        forms = written_forms(text[:cut])
        tokens = tokenize(text[cut:])
        assert tokenize(detokenize(tokens, forms, Surface.learn(text[:cut], forms))) == tokens
    glue = Surface({}, {"st\tgeorge": False, "st\t.": False})  # a learned "no space" between two words
    assert detokenize(["st", "george", "st", "."], None, glue) == "st george st."


def test_the_form_check_counts_what_generated_text_gets_wrong():
    training = "Anna went o'er the hill. Then Anna came, and Anna saw. So Anna said, \"Yes.\" 'Tis so."
    good = form_misses(['Then Anna said, "Yes," and "no." "So." O\'er the hill.'], training)
    assert good["misses"] == dict.fromkeys(good["misses"], 0) and good["words"] == 11  # o'er: two tokens
    bad = form_misses(['Then anna said "" and, " "yes o\' er\n\n"Open', 'so " "x'], training)
    assert bad["misses"] == {"doubled quotes": 1, "empty quotations": 2, "open quotations": 1,
                             "names in lower case": 1, "words split at an apostrophe": 1}
    assert bad["line_breaks"] == 2


@pytest.mark.slow
def test_bench_surface_checks_what_a_model_of_the_text_writes(tmp_path):
    corpus = corpus_from_text(PLAY * 3)
    save_checkpoint(tmp_path / "m", WordLSTM(ModelConfig(len(corpus.vocab), 8, 8, 1)), corpus.vocab)
    text = tmp_path / "play.txt"
    text.write_text(PLAY * 3)
    r = wordlstm("bench", "--surface", "--corpus", text, "--model", tmp_path / "m")
    assert r.returncode == 0, r.stderr
    generated = json.loads(r.stdout.splitlines()[-1])["generated"]
    assert generated["words"] >= 2000 and set(generated["misses"]) >= {"doubled quotes", "names in lower case"}
    assert f"{generated['words']:,} words written at the defaults" in r.stdout


def test_a_words_apostrophe_stays_with_it_where_the_text_spaces_its_quotes_after_that_word():
    """tinyshakespeare writes `the word 'banished'` more often than `word's`: the space the surface learned
    before a quote after `word` must not split `word's`, which the next token shows."""
    text = "The word 'banished' and the word 'grace' and the word 'love' and the word's end. " * 3
    forms = written_forms(text)
    surface = Surface.learn(text, forms)
    assert surface.spaced("word", "'") is True
    assert detokenize(tokenize("the word ' s end . the word ' grace '"), forms, surface) == \
        "The word's end. The word 'grace'"
    assert detokenize(tokenize("the word '"), forms, surface) == "The word '"  # held to the end, then written
    spaced = "It 's the band 's song , and he 's there . " * 12  # WikiText's habit: every such apostrophe spaced
    forms = written_forms(spaced)
    assert detokenize(tokenize(spaced), forms, Surface.learn(spaced, forms)) == spaced.strip()
    elided = "I think 'tis so, and 'twas ever so: Anna's word, Kate's too. " * 6  # a word that starts with one
    forms = written_forms(elided)
    assert detokenize(tokenize(elided), forms, Surface.learn(elided, forms)) == elided.strip()
    assert "think' tis" in detokenize(tokenize(elided), forms)  # the rules: the ' glued to the word before


def test_a_text_that_begins_inside_a_quotation_closes_it_as_the_training_text_does():
    """A generated text may begin inside a quotation: its first mark, after `,` where the training text closes
    its quotations, closes one, and the marks after it pair from there (not `to see, "She said," that`)."""
    dialog = 'He came in. "I am late," she said, "but here." "Yes," he said. "And you?" ' * 4
    forms = written_forms(dialog)
    surface = Surface.learn(dialog, forms)
    assert "," in surface.closes and "said" not in surface.closes
    tokens = tokenize('to see , " she said , " that you are late . " " yes , " he said .')
    assert detokenize(tokens, forms, surface) == 'To see," she said, "that you are late." "Yes," he said.'
    assert detokenize(tokens, forms) == 'To see, "She said," that you are late." "Yes," he said.'  # the rules
    assert detokenize(tokenize('he said . " " " and so'), forms, surface) == 'He said." And so'  # no `." "" And`
