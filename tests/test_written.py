"""Text that reads as the training text is written: the book's lower-case tokens and vocabulary stay
as they are, and the written forms, sentence capitals and quotes come back on the way out."""
import torch

from conftest import ANNA
from wordlstm import ModelConfig, Vocab, WordLSTM, corpus_from_text, generate, load_corpus, tokenize
from wordlstm.text.data import sentence_openings
from wordlstm.text.texts import read_text
from wordlstm.text.tokenizer import Detokenizer, detokenize, written_forms


def test_the_bundled_text_round_trips_with_its_names_capitalised_and_its_token_ids_unchanged():
    corpus = load_corpus(ANNA)
    assert corpus.vocab.stoi[","] == 0 and corpus.vocab.stoi["the"] == 2 and len(corpus.vocab) == 12_778
    tokens = [corpus.vocab.itos[i] for i in corpus.ids.tolist()]
    text = detokenize(tokens, corpus.vocab.forms)
    assert corpus.vocab.lookup(tokenize(text)) == corpus.ids.tolist()  # the book's ids, every one
    assert '""' not in text
    for name in ("Anna", "Vronsky", "Levin", "Stepan Arkadyevitch", "God", " I "):
        assert name in text, name
    assert " the " in text
    assert "every unhappy family is unhappy in its own way. Everything was in confusion" in text  # a capital
    assert corpus.vocab.forms["anna"] == "Anna" and "the" not in corpus.vocab.forms


def test_forms_are_the_most_frequent_written_form_away_from_sentence_starts():
    text = "The cat saw the dog. The dog saw Anna. Anna saw the dog and I saw Anna."
    assert written_forms(text) == {"anna": "Anna", "i": "I"}  # "The" only starts sentences: "the"


def test_an_empty_pair_of_quotes_is_left_out_and_a_quote_hugs_its_words():
    detok = Detokenizer(forms={})
    text = "".join(detok.add(t) for t in ["he", "said", '"', '"', "the", "end", ".", '"', "oh", ",", "no", '"']) 
    assert text == 'He said the end. "Oh, no"'
    # After punctuation, two quotes are the text's close-then-open, read the other way round.
    assert detokenize(["yes", ".", '"', '"', "no", "."], forms={}) == 'Yes." "No.'
    assert detokenize(["he", "said", '"', '"', "the", "end"]) == 'he said "" the end'  # no forms: as the book


def test_generation_writes_the_forms_of_its_vocabulary_and_a_vocabulary_without_them_stays_lower_case():
    torch.manual_seed(0)
    corpus = corpus_from_text("Anna met Levin. " * 30 + "Then Anna and Levin left. " * 10)
    model = WordLSTM(ModelConfig(len(corpus.vocab), 8, 8, 1)).eval()
    text = generate(model, corpus.vocab, "anna met", max_new_tokens=30, seed=0)
    assert text.startswith("Anna met") and "anna" not in text and "levin" not in text
    old = Vocab(corpus.vocab.itos, corpus.vocab.counts)  # as saved before forms were recorded
    lower = generate(model, old, "anna met", max_new_tokens=30, seed=0)
    assert lower.startswith("anna met") and lower == lower.lower() and tokenize(lower) == tokenize(text)
    assert Vocab.from_dict(corpus.vocab.to_dict()).forms == corpus.vocab.forms  # saved and read back


def test_example_prompts_come_from_running_text_not_bylines_headings_or_lists():
    text = """QUOTATIONS

"I intend to live forever. So far it has gone well for me, thank you."
Steven Wright

"If you want to make God laugh, tell him about the plans you have made."
Woody Allen

- a list item that is long enough to be a line of running text, nearly
Some people never go crazy. What truly horrible lives they must lead, said somebody.
"""
    openings = sentence_openings(text)
    assert openings and not any("Wright" in o or "Allen" in o or "QUOTATIONS" in o for o in openings), openings
    assert set(openings) <= {"I intend to", "So far it", "If you want", "Some people never", "What truly horrible"}
    assert "I intend to" in openings  # as the text writes it
    anna = sentence_openings(read_text(ANNA))
    assert all(o.split()[0][0].isupper() and "Chapter" not in o for o in anna)
