"""The app over its HTTP API, through gradio_client, as a script or a second user would use it."""
import os
import random
import re
import time
import zipfile

import pytest

pytest.importorskip("gradio")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

from conftest import ROOT, TINY  # noqa: E402
from wordlstm.text.tokenizer import PUNCT, tokenize  # noqa: E402

SMALL = dict(seq_len=10, embed_dim=16, hidden_size=32, num_layers=1, batch_size=8, dropout=0.0, lr=0.01)
WORDS_A = "alpha beta gamma delta epsilon zeta eta theta iota kappa".split()
WORDS_B = "red orange yellow green blue indigo violet black white grey".split()


def text_of(words, n=400, seed=0):
    rng = random.Random(seed)
    return " ".join(rng.choice(words) + ("." if i % 9 == 8 else "") for i in range(n))


@pytest.fixture
def corpus(tmp_path):
    def make(text, name="corpus.txt"):
        path = tmp_path / name
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        return handle_file(str(path))
    return make


def words_in(text):
    """The words of a generated text, punctuation aside."""
    return set(text.lower().translate(str.maketrans(PUNCT, " " * len(PUNCT))).split())  # as tokens: lower case


def client(url):
    return Client(url, verbose=False)


def test_default_model_answers_a_cold_client(url):
    text, note = client(url).predict(prompt="Anna, and the prince", max_new_tokens=20, seed=1, api_name="/generate")
    assert text.startswith("Anna, and the prince")  # as the novel writes it
    assert len(text.split()) > 10


def test_generation_ends_where_the_writer_asks_and_says_why(url):
    c = client(url)
    text, note = c.predict(prompt="Anna, and the prince", max_new_tokens=300, seed=1, sentences=2, api_name="/generate")
    new = tokenize(text)[len(tokenize("Anna, and the prince")):]
    assert sum(t in ".?!" for t in new) == 2 and note == "Ended after 2 sentences."
    text, note = c.predict(prompt="Anna", max_new_tokens=300, seed=1, stop=",", api_name="/generate")
    assert text.endswith(",") and text.count(",") == 1 and note == "Ended at ','."
    with pytest.raises(AppError, match="the model never writes 'qqqzzz'"):
        c.predict(prompt="Anna", stop="qqqzzz", api_name="/generate")


def test_suggest_gives_the_next_words_and_completes_the_one_being_typed(url):
    c = client(url)
    found = c.predict(text="Anna, and the ", k=5, api_name="/suggest")
    probs = [w["probability"] for w in found["words"]]
    assert len(probs) == 5 and probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1
    typed = c.predict(text="Anna, and the pr", k=3, api_name="/suggest")
    assert typed["partial"] == "pr" and all(w["word"].lower().startswith("pr") for w in typed["words"])
    assert c.predict(text="Anna zzyzx ", k=3, api_name="/suggest")["unknown"] == ["zzyzx"]
    with pytest.raises(AppError, match="k must be between 1 and 50"):
        c.predict(text="Anna", k=0, api_name="/suggest")


@pytest.mark.slow
def test_train_reports_progress_then_generates_reproducibly(url, corpus):
    c = client(url)
    job = c.submit(corpus=corpus(TINY), epochs=0, max_seconds=4, seed=1, **SMALL, api_name="/train")
    job.result()
    outputs = job.outputs()
    assert len(outputs) >= 3  # status and curve updates streamed while training
    final_status = outputs[-1][0]
    assert final_status.startswith("Done") and "perplexity" in final_status and "cpu" in final_status
    # Where the run stands has one place, the progress line: in every update, its share never going back, the
    # same step as the curve's last point; the status line says the plan meanwhile, not a second position.
    lines = [o[11] for o in outputs]
    shares = [int(re.search(r"<b>(\d+)%</b>", line).group(1)) for line in lines]
    assert shares == sorted(shares) and shares[-1] == 100 and all("step " in line for line in lines)
    assert all(o[0].startswith("Training: ") and not re.search(r"step \d", o[0]) for o in outputs[:-1])
    assert os.path.getsize(outputs[-1][4]) > 0  # the model zip
    a = c.predict(prompt="the cat", max_new_tokens=30, temperature=1.0, top_k=0, seed=5, api_name="/generate")[0]
    b = c.predict(prompt="the cat", max_new_tokens=30, temperature=1.0, top_k=0, seed=5, api_name="/generate")[0]
    assert a == b
    assert words_in(a) <= words_in(TINY)  # its own model: only words of its corpus


@pytest.mark.slow
def test_two_clients_stay_isolated(url, corpus):
    ca, cb = client(url), client(url)
    ja = ca.submit(corpus=corpus(text_of(WORDS_A), "a.txt"), epochs=0, max_seconds=3, seed=1, **SMALL, api_name="/train")
    jb = cb.submit(corpus=corpus(text_of(WORDS_B), "b.txt"), epochs=0, max_seconds=3, seed=1, **SMALL, api_name="/train")
    ja.result(), jb.result()
    for c, own, other in ((ca, WORDS_A, WORDS_B), (cb, WORDS_B, WORDS_A)):
        text, _ = c.predict(prompt=own[0], max_new_tokens=60, seed=2, api_name="/generate")
        assert words_in(text) <= set(own) and not words_in(text) & set(other)


def test_stop_keeps_a_usable_model(url, corpus):
    c = client(url)
    job = c.submit(corpus=corpus(text_of(WORDS_A, 3000)), epochs=1000, max_seconds=0, seed=1, **SMALL,
                   api_name="/train")
    while not any(o and "Training on" in o[11] for o in job.outputs()):
        assert not job.done(), job.outputs()
        time.sleep(0.1)
    c.predict(api_name="/stop")
    final = job.result()[0]
    assert final.startswith("Stopped")
    text, _ = c.predict(prompt="alpha", max_new_tokens=20, seed=0, api_name="/generate")
    assert words_in(text) <= set(WORDS_A)


@pytest.mark.parametrize("content, message", [
    (b"", "empty"), (b"\x00\x01\x02\x03", "binary"), ("\xe9t\xe9".encode("latin-1"), "not valid UTF-8"),
    (b"a few words", "too few for one window"),
])
def test_bad_corpus_uploads_get_clear_errors(url, corpus, content, message):
    with pytest.raises(AppError, match=message):
        client(url).predict(corpus=corpus(content), epochs=1, max_seconds=5, seed=0, **SMALL, api_name="/train")


def test_several_files_or_a_zip_train_as_documents(url, corpus, tmp_path):
    c, a, b = client(url), corpus(text_of(WORDS_A), "a.txt"), corpus(text_of(WORDS_B), "b.txt")
    stats, _ = c.predict([a, b], 10, api_name="/upload_corpus")
    assert "(2 files)" in stats and "| a.txt | 444 | 50.0% | 45 tokens |" in stats and "| b.txt |" in stats
    status = c.predict(corpus=[a, b], epochs=2, max_seconds=0, seed=0, **SMALL, api_name="/train")[0]
    assert status.startswith("Done: trained on `a.txt and 1 more`")
    for prompt in ("alpha", "red"):  # a vocabulary of both files
        assert c.predict(prompt=prompt, max_new_tokens=5, seed=0, api_name="/generate")[0].startswith(prompt.title())
    with zipfile.ZipFile(tmp_path / "texts.zip", "w") as zf:
        zf.writestr("texts/a.txt", text_of(WORDS_A))
        zf.writestr("texts/b.txt", text_of(WORDS_B))
    assert stats == c.predict(handle_file(str(tmp_path / "texts.zip")), 10, api_name="/upload_corpus")[0].replace(
        "texts.zip", "a.txt and 1 more")
    with zipfile.ZipFile(tmp_path / "bad.zip", "w") as zf:
        zf.writestr("a.txt", text_of(WORDS_A))
        zf.writestr("b.txt", "caf\xe9".encode("latin-1"))
    with pytest.raises(AppError, match=r"b.txt \(in bad.zip\) is not valid UTF-8"):
        c.predict(handle_file(str(tmp_path / "bad.zip")), 10, api_name="/upload_corpus")
    with pytest.raises(AppError, match="including the training text works for a text of one .txt file"):
        c.predict("alice/two", False, True, "x", api_name="/push_to_hub")


def test_upload_over_the_cap_is_refused_with_the_limit(url, corpus):
    with pytest.raises(ValueError, match="exceeds the maximum file size of 204800 bytes"):
        client(url).predict(corpus=corpus("word " * 60_000), epochs=1, max_seconds=5, seed=0, api_name="/train")


def test_unknown_prompt_words_are_listed_and_all_unknown_is_an_error(url):
    c = client(url)
    text, note = c.predict(prompt="Anna zzyzx", max_new_tokens=5, seed=0, api_name="/generate")
    assert text.startswith("Anna zzyzx") and "zzyzx" in note
    with pytest.raises(AppError, match="'qqq', 'zzyzx'"):
        c.predict(prompt="qqq zzyzx", seed=0, api_name="/generate")


@pytest.mark.parametrize("entries, message", [
    ({"../config.json": b"{}", "model.safetensors": b"", "vocab.json": b"{}"}, "unsafe entry"),
    ({"evil.pkl": b"x"}, "holds 'evil.pkl'"),
    ({"config.json": b"{}"}, "lacks model.safetensors"),
])
def test_bad_model_zips_are_refused(url, tmp_path, entries, message):
    path = tmp_path / "m.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    with pytest.raises(AppError, match=message):
        client(url).predict(handle_file(str(path)), api_name="/upload_model")


@pytest.mark.slow
def test_model_zip_round_trip(url, corpus):
    c = client(url)
    zip_path = c.predict(corpus=corpus(text_of(WORDS_B)), epochs=0, max_seconds=2, seed=3, **SMALL,
                         api_name="/train")[4]
    note = c.predict(handle_file(zip_path), api_name="/upload_model")
    assert "your model" in note
    other = client(url)
    note = other.predict(handle_file(zip_path), api_name="/upload_model")
    assert "your model" in note
    a = c.predict(prompt="red", max_new_tokens=20, seed=1, api_name="/generate")[0]
    b = other.predict(prompt="red", max_new_tokens=20, seed=1, api_name="/generate")[0]
    assert a == b and words_in(a) <= set(WORDS_B)


def test_a_size_brings_its_regularizers_and_the_sliders_keep_the_shape(url, corpus):
    import json

    from wordlstm import SIZES
    zip_path = client(url).predict(corpus=corpus(text_of(WORDS_B)), epochs=1, max_seconds=0, seed=3, **SMALL,
                                   size="medium", api_name="/train")[4]
    with zipfile.ZipFile(zip_path) as z:
        model = json.loads(z.read("config.json"))["model"]
    assert model["hidden_size"] == SMALL["hidden_size"] and model["num_layers"] == 1  # the sliders' shape
    assert model["tie_weights"] is False  # medium ties them, but the sliders made them differ: untied, not an error
    for name in ("output_dropout", "embed_dropout", "weight_drop"):
        assert model[name] == SIZES["medium"][name] > 0  # the size's regularizers
    with pytest.raises(AppError, match="'huge' .* is not in the list of choices"):  # gradio's Radio checks it
        client(url).predict(epochs=1, max_seconds=0, seed=0, **SMALL, size="huge", api_name="/estimate")


def test_branches_train_and_save_their_mean(url, corpus):
    import json
    out = client(url).predict(corpus=corpus(text_of(WORDS_A)), epochs=1, max_seconds=0, seed=3, **SMALL, branches=2,
                              api_name="/train")
    with zipfile.ZipFile(out[4]) as z:
        config = json.loads(z.read("config.json"))
    assert [r["branch"] for r in config["schedule"]["runs"]] == [0, 1, 2] and config["metrics"]["branches"] == 2
    assert f"{config['metrics']['val_ppl']:.1f}" in out[0]  # the status gives the mean's perplexity


def test_the_models_menu_trains_an_ensemble(url, corpus):
    import json
    out = client(url).predict(corpus=corpus(text_of(WORDS_A)), epochs=1, max_seconds=0, seed=3, **SMALL, branches=0,
                              members=2, api_name="/train")
    with zipfile.ZipFile(out[4]) as z:
        config = json.loads(z.read("config.json"))
        card = z.read("README.md").decode()
    assert config["model"]["members"] == config["metrics"]["members"] == 2
    assert [r["member"] for r in config["schedule"]["runs"]] == [0, 1]
    assert "an ensemble of 2 models trained apart" in out[0] and "It is an ensemble of 2 such models" in card
    assert "2 models" in out[5]["data"][0][3]  # the Runs table says so
    estimate = client(url).predict(epochs=0, max_seconds=300, seed=0, **SMALL, members=3, api_name="/estimate")
    assert "an ensemble of 3 models trained apart" in estimate and "as asked" in estimate


@pytest.mark.slow
def test_a_client_that_goes_away_ends_its_training(url, corpus):
    import threading

    def trainings():
        return [t for t in threading.enumerate() if t.name == "wordlstm-training"]
    assert trainings() == []
    job = client(url).submit(corpus=corpus(text_of(WORDS_A)), epochs=0, max_seconds=120, seed=0, **SMALL,
                             api_name="/train")
    deadline = time.time() + 60
    while not trainings() and time.time() < deadline:
        time.sleep(0.2)
    assert trainings(), "the training never started"
    time.sleep(2)
    job.cancel()
    deadline = time.time() + 30
    while trainings() and time.time() < deadline:
        time.sleep(0.2)
    assert trainings() == []  # stopped within seconds, not after its 120 s budget


def test_training_streams_samples_then_scores_and_checks_originality(url, corpus):
    c = client(url)
    outputs = list(c.submit(corpus=corpus(text_of(WORDS_A, 2000)), epochs=3, max_seconds=0, seed=1, **SMALL,
                            api_name="/train"))
    samples = outputs[-1][2]["data"]  # newest first: [step, validation perplexity, sample]
    assert len(samples) == 3 and [row[0] for row in samples] == sorted((row[0] for row in samples), reverse=True)
    assert all(words_in(row[2]) <= set(WORDS_A) and len(row[2].split()) > 10 for row in samples)

    text = text_of(WORDS_A, 300, seed=9)
    summary, view, top = c.predict(text=text, api_name="/score")
    assert summary.startswith("**Perplexity ") and len(top["data"]) == 10
    assert "".join(piece["token"] for piece in view) == text  # the whole text, readable, a piece per label

    copied = text_of(WORDS_A, 2000)[:200]  # a slice of the training text...
    note, view = c.predict(text="red orange yellow green blue " + copied, min_words=6, api_name="/originality")
    labels = [piece["class_or_confidence"] for piece in view]
    assert "copied" in labels and labels[0] is None  # ...marked, after the new words
    assert "% of 6-word sequences are new" in note
    note, _ = c.predict(text=" ".join(WORDS_B * 3), min_words=6, api_name="/originality")
    assert note.startswith("**100% of 6-word sequences are new, nothing copied")


@pytest.mark.slow
def test_runs_table_switches_between_the_sessions_models(url, corpus, monkeypatch):
    from wordlstm.serve.runs import Runs
    c = client(url)
    first = c.predict(corpus=corpus(text_of(WORDS_A, 600), "a.txt"), epochs=0, max_seconds=2, seed=1, **SMALL,
                      api_name="/train")
    second = c.predict(corpus=corpus(text_of(WORDS_B, 600), "b.txt"), epochs=0, max_seconds=2, seed=1, **SMALL,
                       api_name="/train")
    table = second[5]
    assert [row[0] for row in table["data"]] == [2, 1] and [row[1] for row in table["data"]] == ["b.txt", "a.txt"]
    assert all(row[-1].endswith(" MB") for row in table["data"])  # both models kept, with their memory
    prompt = second[7]  # the prompt box now holds an opening of b.txt, in its words
    assert words_in(prompt.lower()) <= set(WORDS_B) and words_in(first[7].lower()) <= set(WORDS_A)

    note, zip_path, _, _, prompt, _ = c.predict(run=1, api_name="/use_run")
    assert "run 1, trained here" in note and "a.txt" in note and zip_path.endswith("wordlstm-run-1.zip")
    text = c.predict(prompt=prompt, max_new_tokens=40, seed=3, api_name="/generate")[0]
    assert words_in(text) <= set(WORDS_A)  # run 1's model again
    with pytest.raises(AppError, match="there is no run 9 in this session"):
        c.predict(run=9, api_name="/use_run")

    monkeypatch.setattr(Runs, "keep", 1)  # the next training frees every older model
    third = c.predict(corpus=corpus(text_of(WORDS_A, 600, seed=5), "c.txt"), epochs=0, max_seconds=1, seed=1,
                      **SMALL, api_name="/train")
    assert [row[-1] == "freed" for row in third[5]["data"]] == [False, True, True]
    with pytest.raises(AppError, match="run 2's model was freed"):
        c.predict(run=2, api_name="/use_run")


@pytest.mark.parametrize("api_name, extra", [("/score", {}), ("/originality", {"min_words": 6})])
def test_a_text_over_the_limit_is_refused_before_any_work(url, api_name, extra):
    from wordlstm.text.tokenizer import MAX_TEXT_TOKENS
    with pytest.raises(AppError, match=f"the text has {MAX_TEXT_TOKENS + 1:,} tokens .*give at most"):
        client(url).predict(text="word " * (MAX_TEXT_TOKENS + 1), **extra, api_name=api_name)


def test_a_freed_run_leaves_no_files(tiny_corpus, monkeypatch):
    import app
    from wordlstm import ModelConfig, TrainConfig, WordLSTM
    from wordlstm.training.events import TrainResult
    from wordlstm.serve.runs import Runs
    monkeypatch.setattr(Runs, "keep", 1)
    session = app.new_session()
    session.corpus = tiny_corpus
    model = WordLSTM(ModelConfig(len(tiny_corpus.vocab), 8, 8, 1))
    result = TrainResult(val_loss=2.0, steps=3, epochs=1.0, tokens=90, seconds=0.5, train_seconds=0.4, device="cpu",
                         stopped=False)
    for _ in range(3):
        session.record(model, result, TrainConfig(), "a new model")
    assert sorted(os.listdir(session.folder())) == ["run-3", "wordlstm-run-3.zip"]
    assert [run.ckpt is None for run in session.runs.all] == [True, True, False]
    assert session.ckpt is session.runs.all[-1].ckpt and session.source == "run 3, trained here"
    session.close()
    assert not os.path.exists(session.tmp)  # and the session's end takes the rest


def test_the_runs_table_says_where_a_model_kept_line_breaks(tiny_corpus):
    import app
    from test_lines import VERSE
    from wordlstm import ModelConfig, TrainConfig, WordLSTM, corpus_from_text
    from wordlstm.training.events import TrainResult
    session = app.new_session()
    result = TrainResult(val_loss=2.0, steps=3, epochs=1.0, tokens=90, seconds=0.5, train_seconds=0.4, device="cpu",
                         stopped=False)
    for corpus in (corpus_from_text(VERSE), tiny_corpus):
        session.corpus = corpus
        session.record(WordLSTM(ModelConfig(len(corpus.vocab), 8, 8, 1)), result, TrainConfig(), "a new model")
    verse, prose = (run.row[3] for run in session.runs.all)
    assert verse.endswith(", line breaks kept") and "line breaks" not in prose
    session.close()


@pytest.mark.slow
def test_a_queued_training_sees_its_position_and_the_wait(url, corpus):
    """One training at a time: the second waits in gradio's queue, which tells it its place
    and, from the expected length of the trainings (seeded with the page's budget), its wait."""
    from gradio_client.utils import Status
    # Epochs of seconds, so that early stopping cannot end it before the second one is queued.
    slow = {**SMALL, "hidden_size": 512, "num_layers": 2, "seq_len": 50, "batch_size": 32}
    first = client(url).submit(corpus=corpus(text_of(WORDS_A, n=30000)), epochs=0, max_seconds=6, seed=0, **slow,
                               api_name="/train")
    deadline = time.time() + 60
    while first.status().code not in (Status.PROCESSING, Status.ITERATING, Status.PROGRESS) and time.time() < deadline:
        time.sleep(0.1)
    second = client(url).submit(corpus=corpus(text_of(WORDS_B)), epochs=0, max_seconds=1, seed=0, **SMALL,
                                api_name="/train")
    seen = None
    while not first.done() and time.time() < deadline:
        status = second.status()
        if status.code == Status.IN_QUEUE and status.eta is not None:
            seen = status
            break
        time.sleep(0.1)
    assert seen is not None and seen.rank == 0 and seen.queue_size == 1 and seen.eta > 0, seen
    first.result(timeout=60)
    second.result(timeout=60)


def test_a_training_can_start_from_the_current_model(url, corpus):
    """"My current model" on the same text continues it: every word is shared, so a second
    epoch from it ends far below where a new model's first ends."""
    c, path = client(url), corpus(TINY * 4)
    ppl = lambda out: float(out[0].split("validation perplexity **")[1].split("**")[0])  # noqa: E731
    fresh = c.predict(corpus=path, epochs=1, max_seconds=0, seed=0, **SMALL, api_name="/train")
    warm = c.predict(corpus=path, epochs=1, max_seconds=0, seed=0, **SMALL, start_from="my current model",
                     api_name="/train")
    assert ppl(warm) < 0.8 * ppl(fresh)
    newest, older = warm[5]["data"][:2]
    assert newest[2] == f"run {older[0]}, trained here (100% of its words known)" and older[2] == "a new model"
    with pytest.raises(AppError, match="type the repo id of the Hub model to start from"):
        c.predict(corpus=path, epochs=1, max_seconds=0, **SMALL, start_from="a Hub model", api_name="/train")


def test_a_model_loaded_without_its_text_offers_the_openings_it_writes_and_the_writing_box_follows():
    """A zip or Hub model in a fresh session: example prompts are sentence openings the model writes itself
    (not its most frequent words, "the", "a", "to", "of"); the writing box's placeholder is the first of them,
    not the bundled model's "Anna, and the"."""
    from wordlstm import load_checkpoint
    from wordlstm.serve.session import Session
    from wordlstm.serve.views import prompts_for

    session = Session()
    session.ckpt, session.source = load_checkpoint(os.path.join(ROOT, "models", "anna")), "loaded from the zip"
    prompts = session.prompts()
    vocab = session.ckpt.vocab
    assert len(prompts) == 4 and all(len(p.split()) >= 2 and p[0].isupper() for p in prompts), prompts
    assert all(vocab.encode(p).unknown == [] for p in prompts)  # in the model's words
    _, prompt, writing = prompts_for(session)
    assert prompt == prompts[0] and writing.placeholder == prompts[0] != "Anna, and the"


def test_line_breaks_asked_for_are_read_by_the_estimate_and_named_in_advanced(tmp_path):
    """The estimate reads the session's text as the Line breaks setting asks (the plan's line says when they are
    kept), and the Advanced block's label names the setting when it is not auto."""
    import app
    from test_lines import VERSE
    from wordlstm import defaults as D, load_corpus
    from wordlstm.serve.views import advanced_block
    song = tmp_path / "song.txt"
    song.write_text(VERSE * 4)
    session = app.new_session()
    session.corpus = load_corpus(str(song))
    s = D.size_settings("auto")
    settings = dict(epochs=0, max_seconds=30, seed=0, seq_len=100, stride=0, embed_dim=s["embed_dim"],
                    hidden_size=s["hidden_size"], num_layers=s["num_layers"], dropout=s["dropout"], lr=0.01,
                    batch_size=s["batch_size"], min_count=1, softmax="auto", start_from="auto")
    assert "line breaks are kept" in app.estimate(**settings, session=session)
    assert "line breaks" not in app.estimate(**settings, session=session, lines="no")
    assert session.corpus.lines.asked == "no" and not session.corpus.vocab.lines  # the text as it will train
    label = advanced_block(size="auto", epochs=0, seed=0, branches="auto", members="auto", start_from="auto",
                           min_count=1, stride=0, lines="yes").label
    assert "line breaks yes" in label
    session.close()
