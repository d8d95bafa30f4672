"""wordlstm in the browser: pick a text, train a word-level LSTM on it, generate, share.

    python app.py          # http://127.0.0.1:7860 (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT to change)

The handlers, then the page; the work is the `wordlstm` package's. Every browser tab (and every API
client) gets its own `Session` through gr.State: nothing a user makes lives in a module-level global.
"""
import functools
import os

import gradio as gr
import torch

from wordlstm import Corpus, ModelConfig, TrainConfig, UserError, defaults, load_corpus, stream, train
from wordlstm.errors import capital, count
from wordlstm.planning.auto import MAX_MEMBERS
from wordlstm.planning.limits import Admission, Limits
from wordlstm.planning.start import default_model
from wordlstm.planning.planner import Ask, plan_training, sentence
from wordlstm.serve import zerogpu
from wordlstm.serve.runs import KEEP
from wordlstm.serve.session import Session
from wordlstm.serve.views import (BRANCHES as BRANCH_LOSS, SURPRISE, Watch, advanced_block, corpus_stats, curve,
                                  model_note, next_word_menu, prompts_for, runs_menu, runs_table, samples_table, scored)
from wordlstm.serve.web import (CSS, Blocks, expect_to_take, inputs_for, poll_calmly, private_state,
                                serve_until_interrupted, user_error)
from wordlstm.text.lines import ASK as LINES
from wordlstm.text.tokenizer import NEWLINE, labelled
from wordlstm.training.runner import TrainingThread
from wordlstm.training.schedule import MAX_BRANCHES
from wordlstm.use.sample import MAX_NEW_TOKENS, Ending, LiveSampler
from wordlstm.use.suggest import append

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLE_CORPUS = os.path.join(HERE, "data", "anna.txt")
MAX_UPLOAD = os.environ.get("WORDLSTM_MAX_UPLOAD", "25mb")
TRAIN_CONCURRENCY = int(os.environ.get("WORDLSTM_TRAIN_CONCURRENCY", "1"))  # trainings at once
RUN_TRAINING = zerogpu.training_function()  # train(), or through a ZeroGPU lease on such a Space
TRAINS_ON = "cuda" if RUN_TRAINING is not train or torch.cuda.is_available() else "cpu"  # for the estimates
BRANCHES = ["auto", *range(MAX_BRANCHES + 1)]  # the Branches menu: auto's choice, or a number
MODELS = ["auto", *range(1, MAX_MEMBERS + 1)]  # the Models menu: auto's choice, or how many to train apart
WRITING_K = 8  # next words the writing box offers
TIME_BUDGET = defaults.TIME_BUDGET  # a first model within a minute
# What one training may take (WORDLSTM_MAX_MEMORY_MB, WORDLSTM_MAX_TRAIN_SECONDS), with the trainings running now.
ADMISSION = Admission(Limits.from_env(), TRAINS_ON)

ON_SPACE_WITH_OAUTH = bool(os.environ.get("SPACE_ID") and os.environ.get("OAUTH_CLIENT_ID"))  # `hf_oauth: true`
EXAMPLES = ["Anna, and the prince", "Happy families are", "Levin went out into the fields", "She said, \""]


@functools.cache
def sample_corpus():
    """The bundled sample, read once: the default model's text, shared read-only like the model."""
    return load_corpus(SAMPLE_CORPUS)


DEFAULT = default_model()  # models/anna, read-only, shared by all (None where there is none)


def new_session() -> Session:
    return Session(sample=SAMPLE_CORPUS, default=DEFAULT, shared=sample_corpus, examples=EXAMPLES)


def uploaded(file, session: Session, suffix: str) -> str:
    """The session's own copy of a file it uploaded (wordlstm.serve.uploads), or UserError."""
    return session.uploads.take(file, demo.GRADIO_CACHE, session.folder(), suffix)


# -- Data -----------------------------------------------------------------------
@user_error
def use_upload(files, seq_len, session: Session):
    if not files:
        return "Upload .txt files or a .zip of them, or use the sample.", None, session
    paths = tuple(uploaded(f, session, (".txt", ".zip")) for f in files)
    session.corpus = session.read(paths, 1, ADMISSION)
    return *corpus_stats(session.corpus, int(seq_len)), session


@user_error
def use_sample(seq_len, session: Session):
    session.corpus = sample_corpus()
    return *corpus_stats(session.corpus, int(seq_len)), None, session


# -- Train ----------------------------------------------------------------------
def ask(epochs, max_seconds, seed, seq_len, stride, embed_dim, hidden_size, num_layers, dropout, lr, batch_size,
        min_count, softmax, size=defaults.AUTO, branches="auto", members="auto", start=defaults.AUTO) -> Ask:
    """The page's settings as an Ask."""
    return Ask.from_form(size, epochs=epochs, max_seconds=max_seconds, branches=branches, members=members,
                         min_count=min_count, start=start, seed=int(seed), seq_len=int(seq_len),
                         stride=int(stride) or None, batch_size=int(batch_size), lr=float(lr), softmax=softmax,
                         embed_dim=int(embed_dim), hidden_size=int(hidden_size), num_layers=int(num_layers),
                         dropout=float(dropout))


@user_error
def estimate(epochs, max_seconds, seed, seq_len, stride, embed_dim, hidden_size, num_layers, dropout, lr,
             batch_size, min_count, softmax, start_from, session: Session, size=defaults.AUTO, branches="auto",
             members="auto", lines="auto") -> str:
    """The settings panel's live line: what training so would cost on the session's text (or the sample), if it fits."""
    corpus = session.corpus and session.text_to_train((), session.corpus.min_count, ADMISSION, lines)  # lines as asked
    corpus, (start, source) = corpus or sample_corpus(), session.start(start_from, fetch=False)
    asked = ask(epochs, max_seconds, seed, seq_len, stride, embed_dim, hidden_size, num_layers, dropout, lr,
                batch_size, min_count, softmax, size, branches, members, start)
    name = f"`{os.path.basename(corpus.name)}`" if session.corpus else "the sample, *Anna Karenina*, until you pick one"
    text = f"on {name} ({count(len(corpus.ids), 'token')}, {count(corpus.vocab_size_at(asked.min_count), 'word')})"
    try:
        planned = plan_training(corpus, asked, device=TRAINS_ON, admission=ADMISSION, source=source,
                                default=session.default)
    except UserError as e:
        return f"**Does not fit this server** {text}: {e}."
    why = f"\n\n*{sentence(planned.why)}*" if planned.why else ""
    return f"**Estimate** {text}: {planned.summary()}. {capital(ADMISSION.limits.describe())}.{why}"


@user_error
def train_model(corpus, epochs, max_seconds, seed, seq_len, stride, embed_dim, hidden_size, num_layers,
                dropout, lr, batch_size, min_count, lines, softmax, start_from, start_repo, session: Session,
                size=defaults.AUTO, branches="auto", members="auto", progress=gr.Progress()):
    """Train on `corpus` (or the text picked in Data, or the sample), new or from another model; streams curves."""
    progress(0, desc="Reading the corpus...")
    if session.job is not None and not session.job.done:
        raise gr.Error("a training is already running in this session; stop it first")
    paths = tuple(uploaded(f, session, (".txt", ".zip")) for f in corpus or [])
    text = session.text_to_train(paths, int(min_count), ADMISSION, lines)
    start, source = session.start(start_from, start_repo)
    planned = plan_training(text, ask(epochs, max_seconds, seed, seq_len, stride, embed_dim, hidden_size,
                                      num_layers, dropout, lr, batch_size, min_count, softmax, size, branches,
                                      members, start), device=TRAINS_ON, admission=ADMISSION, source=source,
                            default=session.default)
    job = session.job = TrainingThread(text.ids, planned.model, planned.train, run=RUN_TRAINING,
                                       sampler=LiveSampler(text.vocab), init=planned.init and planned.init.state,
                                       schedule=planned.schedule)
    watch = Watch(os.path.basename(text.name), f"Training: {planned.summary()}."
                  + (f" {sentence(planned.why)}" if planned.why else ""))
    try:
        with ADMISSION.running(job, planned.cost):  # its estimated peak counts as in use until it ends
            for events in job.events():
                for e in events:
                    watch.see(e)
                skip = [gr.skip()] * 6  # the model, its zip, the runs, the prompts and the writing box: at the end
                yield *watch.views(), *skip, gr.Markdown(visible=False), gr.skip(), watch.progress, gr.skip(), session
    except GeneratorExit:  # the client went away or cancelled: nobody will read this training
        job.stop.set()
        raise
    if job.error is not None:
        raise job.error  # a UserError becomes one line (user_error); anything else is a bug, shown as one
    run, watch.status = session.finished(job, planned)
    yield (*watch.views(), model_note(session), run.zip, runs_table(session), *prompts_for(session),
           gr.Markdown(visible=False), runs_menu(session), watch.progress, gr.Button(visible=True), session)


@user_error
def use_run(run, session: Session):
    """Make run number `run` of this session's Runs table the current model."""
    found = session.use_run(int(run or 0))
    return model_note(session), found.zip, runs_table(session), *prompts_for(session), session


# -- Generate -------------------------------------------------------------------
@user_error
def generate_text(prompt, max_new_tokens, temperature, top_k, top_p, seed, session: Session, sentences=0, stop=""):
    """The text as it comes, and a note: the prompt's unknown words, then why the text ended."""
    ckpt = session.current()
    encoded = ckpt.vocab.encode_prompt(prompt or "")
    ending = Ending.of(ckpt.vocab, int(sentences or 0), stop)
    note = capital(ckpt.vocab.unknown_note(encoded.unknown) or "")
    pieces = stream(ckpt.model, ckpt.vocab, encoded, max_new_tokens=int(max_new_tokens), temperature=float(temperature),
                    top_k=int(top_k), top_p=float(top_p), seed=int(seed), ending=ending)
    text = ""
    for piece in pieces:
        text += piece
        yield text, note
    yield text, "  \n".join(filter(None, [note, f"Ended {pieces.why}."]))


@user_error
def suggest_words(text, k, session: Session) -> dict:
    """/suggest: the model's `k` most likely next words after `text` (a word being typed: its completions),
    with their probabilities."""
    return session.suggester(session.current())(text or "", int(k)).to_dict()


@user_error
def next_words(text, session: Session):
    """The writing box's menu of next words, and a line: unknown words, or what the menu completes."""
    ckpt = session.current()
    s = session.suggester(ckpt)(text or "", WRITING_K)
    return *next_word_menu(s, ckpt.vocab), s.partial


def write_on(text, word, partial):
    """The writing box's text with the picked word written on (in place of the word being typed)."""
    return append(text or "", word, partial) if word else gr.skip()


# -- What the model learned -----------------------------------------------------
@user_error
def score_text(text, session: Session):
    """Perplexity of `text` under the current model, each word's surprise, the ten most surprising."""
    result = session.score(text)
    summary, top = scored(result)
    return summary, labelled(text, [w.label for w in result.words if w.word != NEWLINE]), top


@user_error
def check_originality(text, min_words, session: Session):
    """Which spans of `text` are copied word for word from the model's training text."""
    note, labels = session.copies(text, int(min_words))
    return note, labelled(text, labels)


# -- Share ----------------------------------------------------------------------
@user_error
def upload_model(file, session: Session):
    if file is None:
        raise gr.Error("choose a model .zip first")
    session.load_zip(uploaded(file, session, ".zip"), os.path.basename(file))
    return model_note(session), session


@user_error
def push_model(repo_id, private, include_corpus, token, session: Session, oauth_token: gr.OAuthToken | None = None):
    """Push the session's model to the Hub. The token (typed, or from "Sign in
    with Hugging Face" on a Space) serves this one request: it is not kept in
    the session, logged, or written into any file."""
    token = (token or "").strip() or (oauth_token.token if oauth_token else None)
    url = session.push(repo_id, private=bool(private), token=token, include_text=bool(include_corpus))
    return f"Pushed: [{url}]({url})", ""


@user_error
def load_from_hub(repo_id, token, session: Session):
    session.load_hub(repo_id, (token or "").strip() or None)
    return model_note(session), session


# -- The page -------------------------------------------------------------------
with Blocks(title="wordlstm") as demo:
    session = gr.State(new_session, time_to_live=6 * 3600, delete_callback=Session.close)
    gr.Markdown("# wordlstm\nTrain a word-level LSTM language model on your own text, watch it learn, "
                "then write with it. The method of *Learn Generative AI with PyTorch*, chapter 8, made fast.")
    with gr.Tabs() as tabs:
        with gr.Tab("1. Train", id="train"):
            with gr.Row(equal_height=True):
                corpus_file = gr.File(label="Your text: .txt files, or a .zip of them (UTF-8; each file a document)",
                                      file_types=[".txt", ".zip"], file_count="multiple", height=120, scale=3)
                with gr.Column(scale=2):
                    sample_btn = gr.Button("Use the sample: Anna Karenina (Tolstoy)")
                    corpus_md = gr.Markdown("Upload .txt files or a .zip of them, or use the sample.")
            with gr.Row(equal_height=True):
                max_seconds = gr.Number(TIME_BUDGET, label="Time budget (s)", precision=0, minimum=0,
                                        maximum=24 * 3600, info="stop after this many seconds, 0 = no limit", scale=2)
                train_btn = gr.Button("Train", variant="primary", scale=2)
                stop_btn = gr.Button("Stop", variant="stop", scale=1)
            estimate_md = gr.Markdown(f"*The cost appears here; {ADMISSION.limits.describe()}.*", elem_id="estimate")
            T, M, S = TrainConfig, ModelConfig, defaults.size_settings(defaults.AUTO)  # defaults written once: theirs
            with gr.Accordion("Advanced settings: all at their defaults", open=False, elem_id="advanced") as advanced:
                with gr.Row():
                    size = gr.Radio(defaults.SIZE_NAMES, value=defaults.AUTO, label="Model size",
                                    info="auto: the most of the budget on this server and text (the estimate says "
                                         "why); small: the book's 128x3; medium: 256x2; large: 1024x2")
                    epochs = gr.Number(0, label="Epochs", precision=0, minimum=0, maximum=1000,
                                       info="passes over the text, 1-1000; 0: as the time budget allows")
                    seed = gr.Number(TrainConfig.seed, label="Seed", info="same seed, same model", precision=0)
                with gr.Row():
                    branches = gr.Dropdown(BRANCHES, value="auto", label="Branches", info="auto: as the size picks; "
                                           "0: one run; K: K more from its best weights, the model their mean")
                    members = gr.Dropdown(MODELS, value="auto", label="Models", info="auto: one, or 2-4 where the "
                                          "budget holds many epochs; K: K models, their probabilities averaged")
                    start_from = gr.Radio(Session.START_FROM, value=Session.START_FROM[0], label="Start from",
                                          info="auto: the default model for a small text in words it knows (a warm "
                                               "start: it learns far more), else new; the estimate says which")
                    start_repo = gr.Textbox("", label="Hub model to start from", placeholder="alice/anna-lstm",
                                            info="for \"a Hub model\": its shapes replace the settings below")
                with gr.Row():
                    seq_len = gr.Slider(5, 400, T.seq_len, step=1, label="Sequence length", info="tokens per window")
                    stride = gr.Slider(0, 400, T.stride or 0, step=1, label="Stride", info="0: the window; 1: the book")
                    batch_size = gr.Slider(1, 256, S["batch_size"], step=1, label="Batch size", info="windows per step")
                    lr = gr.Number(T.lr, label="Learning rate", info="Adam, 1e-5 to 0.1")
                with gr.Row():
                    embed_dim = gr.Slider(8, 512, S["embed_dim"], step=8, label="Embedding size", info="8-512")
                    hidden_size = gr.Slider(8, 1024, S["hidden_size"], step=8, label="Hidden size", info="8-1024")
                    num_layers = gr.Slider(1, 4, S["num_layers"], step=1, label="LSTM layers", info="1-4")
                    dropout = gr.Slider(0, 0.8, S["dropout"], step=0.05, label="Dropout", info="between LSTM layers")
                with gr.Row():
                    min_count = gr.Slider(1, 20, Corpus.min_count, step=1, label="Min count", info="rarer: <unk>")
                    lines = gr.Radio(list(LINES), value="auto", label="Line breaks as tokens", info="auto: for verse")
                    softmax = gr.Dropdown(["auto", "adaptive", "full"], value=M.softmax, label="Output layer",
                                          info="adaptive: about 5x faster on 2,000+ words; full: the book's")
            # Where a training stands, from its events (gradio's bar lost its text at each streamed update)
            progress_md = gr.HTML(elem_id="training-progress", min_height=30)
            status_md = gr.Markdown("Not trained yet.", elem_id="status")
            write_btn = gr.Button("Write with this model →", variant="primary", visible=False)
            curve_md = gr.Markdown(f"*The loss curve appears here once training starts: the training loss every "
                                   f"{T.log_every} steps, the validation loss after every epoch and during it.*")
            plot = gr.LinePlot(curve([]), x="step", y="loss", color="split", title="Loss (cross-entropy)",
                               color_title="", elem_id="training-curves", label="Training curves", visible=False,
                               color_map={"train": "#4c78a8", BRANCH_LOSS: "#72b7b2", "validation": "#f58518"})
            samples = gr.Dataframe(samples_table([]), label="What the model writes after each validation (newest "
                                   "first)", interactive=False, wrap=True, column_widths=["8%", "14%", "78%"],
                                   max_height=300, elem_id="samples")
            with gr.Accordion(f"Runs: this session's trainings, newest first (it keeps the last {KEEP} models)"):
                runs = gr.Dataframe(runs_table(Session()), label="Runs", interactive=False, wrap=True, elem_id="runs",
                                    column_widths=["6%", "12%", "34%", "9%", "8%", "9%", "11%", "11%"])
                with gr.Row():
                    run_number = gr.Dropdown([], label="Run", allow_custom_value=True, info="a run of this session")
                    use_run_btn = gr.Button("Use this run's model")
            with gr.Accordion("The text's 20 most frequent words", open=False):
                top_words = gr.Dataframe(headers=["word", "count"], max_height=250, show_label=False)

        with gr.Tab("2. Write", id="write"):
            model_md = gr.Markdown(model_note(new_session()))
            prompt = gr.Textbox(EXAMPLES[0], label="Prompt", lines=2)
            examples = gr.Dataset(components=[prompt], samples=[[p] for p in EXAMPLES], label="Example prompts",
                                  type="values")
            with gr.Row():
                max_new_tokens = gr.Slider(0, MAX_NEW_TOKENS, defaults.NEW_TOKENS, step=1, label="New tokens")
                temperature = gr.Slider(0, 2, defaults.TEMPERATURE, step=0.05, label="Temperature", info="0 = greedy")
                top_k = gr.Slider(0, 200, defaults.TOP_K, step=1, label="Top-k", info="0 = off")
                top_p = gr.Slider(0.05, 1, defaults.TOP_P, step=0.05, label="Top-p", info="1 = off")
                gen_seed = gr.Number(0, label="Seed", info="same seed, same text", precision=0)
            with gr.Row():
                sentences = gr.Slider(0, 20, 0, step=1, label="Sentences", info="end after this many; 0 = off")
                stop_at = gr.Textbox("", label="Stop at", placeholder="; or chapter",
                                     info="end at the first time the model writes this word or punctuation")
            gen_btn = gr.Button("Generate", variant="primary")
            output = gr.Textbox(label="Generated text", lines=8)
            unknown_md = gr.Markdown()
            gr.Markdown("### Write with the model\nType, and the model offers its most likely next words (or, in "
                        "the middle of a word, what it may be becoming); a click writes one on.")
            writing = gr.Textbox("", label="Your text", lines=4, placeholder=EXAMPLES[0], elem_id="writing")
            next_word = gr.Radio([], label="Next word", elem_id="next-word")
            writing_md = gr.Markdown()
            partial = gr.State("")

        with gr.Tab("3. What the model learned", id="learned"):
            with gr.Row():
                with gr.Column():
                    gr.Markdown("### Score a text\nHow surprised is the model by each word? Paste a passage of the "
                                "training text, then the same words shuffled, and compare.")
                    score_input = gr.Textbox(label="Text to score", lines=5)
                    score_btn = gr.Button("Score")
                    score_md = gr.Markdown()
                    score_view = gr.HighlightedText(label="Surprise per word (-log2 of its probability, in bits)",
                                                    color_map=SURPRISE, combine_adjacent=False, show_legend=True,
                                                    elem_id="surprise")
                    surprising = gr.Dataframe(label="The ten most surprising words", interactive=False, wrap=True)
                with gr.Column():
                    gr.Markdown("### Originality\nWhat a text copies word for word from the training text.")
                    orig_input = gr.Textbox(label="Text to check", lines=5, placeholder="generate, then check")
                    with gr.Row():
                        min_words = gr.Slider(3, 20, defaults.MIN_WORDS, step=1, label="Shortest copy (words)")
                        use_output_btn = gr.Button("Use the generated text")
                    orig_btn = gr.Button("Check for copies")
                    orig_md = gr.Markdown()
                    orig_view = gr.HighlightedText(label="Copied spans", color_map={"copied": "#fca5a5"},
                                                   combine_adjacent=False, show_legend=True, elem_id="copies")

        with gr.Tab("4. Share", id="share"):
            with gr.Row():
                download = gr.File(label="Download your model (.zip)", interactive=False)
                with gr.Column():
                    model_zip = gr.File(label="Load a model (.zip from this app)", file_types=[".zip"], type="filepath")
                    load_btn = gr.Button("Load model")
            gr.Markdown("### Hugging Face Hub")
            with gr.Row():
                repo_id = gr.Textbox(label="Repo id", placeholder="your-name/anna-lstm", info="OWNER/NAME on the Hub")
                hf_token = gr.Textbox(label="Token", type="password", placeholder="hf_...",
                                      info="write access to push; used for this request only, never stored")
                private = gr.Checkbox(False, label="Private repo")
                include_corpus = gr.Checkbox(False, label="Include the training text",
                                             info="off: only its statistics and sha256 go into the model card")
            if ON_SPACE_WITH_OAUTH:
                gr.LoginButton()
            with gr.Row():
                push_btn = gr.Button("Push my model to the Hub")
                hub_load_btn = gr.Button("Load from the Hub")
            hub_md = gr.Markdown()

    settings = dict(epochs=epochs, max_seconds=max_seconds, seed=seed, seq_len=seq_len, stride=stride,
                    embed_dim=embed_dim, hidden_size=hidden_size, num_layers=num_layers, dropout=dropout, lr=lr,
                    batch_size=batch_size, min_count=min_count, softmax=softmax, size=size, branches=branches,
                    members=members, start_from=start_from, lines=lines)
    shape = dict(embed_dim=embed_dim, hidden_size=hidden_size, num_layers=num_layers, dropout=dropout,
                 batch_size=batch_size)  # what a size sets among the sliders
    size.change(lambda name: [defaults.size_settings(name)[k] for k in shape], [size], list(shape.values()),
                queue=False, api_visibility="private")
    show_estimate = dict(fn=estimate, inputs=inputs_for(estimate, **settings, session=session), outputs=[estimate_md],
                         concurrency_id="estimate", concurrency_limit=2, trigger_mode="always_last")
    # One listener for every trigger, the corpus's summary included: "always_last" then runs the estimate
    # once more after one in flight, with the latest settings. Two listeners could finish out of order,
    # and an estimate of an earlier budget stayed on the page.
    gr.on([demo.load, corpus_md.change] + [c.change for c in settings.values()], **show_estimate, api_name="estimate")
    in_advanced = {k: c for k, c in settings.items() if k != "max_seconds"}
    gr.on([c.change for c in in_advanced.values()], lambda *v: advanced_block(**dict(zip(in_advanced, v))),
          list(in_advanced.values()), [advanced], queue=False, api_visibility="private")
    corpus_file.upload(use_upload, [corpus_file, seq_len, session], [corpus_md, top_words, session],
                       api_name="upload_corpus")
    sample_btn.click(use_sample, [seq_len, session], [corpus_md, top_words, corpus_file, session],
                     api_name="use_sample")
    train_btn.click(train_model, inputs_for(train_model, corpus=corpus_file, **settings, start_repo=start_repo,
                                            session=session),
                    [status_md, plot, samples, model_md, download, runs, examples, prompt, writing, curve_md,
                     run_number, progress_md, write_btn, session], api_name="train", show_progress_on=[progress_md],
                    concurrency_id="train", concurrency_limit=TRAIN_CONCURRENCY)
    write_btn.click(lambda: gr.Tabs(selected="write"), None, [tabs], queue=False, api_visibility="private")
    stop_btn.click(Session.stop, [session], [status_md], api_name="stop", concurrency_limit=None, queue=False)
    gen_btn.click(generate_text, inputs_for(generate_text, prompt=prompt, max_new_tokens=max_new_tokens,
                                            temperature=temperature, top_k=top_k, top_p=top_p, seed=gen_seed,
                                            session=session, sentences=sentences, stop=stop_at),
                  [output, unknown_md], api_name="generate", concurrency_id="generate", concurrency_limit=4)
    score_btn.click(score_text, [score_input, session], [score_md, score_view, surprising], api_name="score",
                    concurrency_id="generate", concurrency_limit=4)
    orig_btn.click(check_originality, [orig_input, min_words, session], [orig_md, orig_view], api_name="originality",
                   concurrency_id="generate", concurrency_limit=4)
    # The menu follows the typing with no progress overlay, which would flash over it at every keystroke.
    writing.change(next_words, [writing, session], [next_word, writing_md, partial], trigger_mode="always_last",
                   show_progress="hidden", api_visibility="private", concurrency_id="generate", concurrency_limit=4)
    next_word.input(write_on, [writing, next_word, partial], [writing], queue=False, api_visibility="private")
    # /suggest: the same words as data, for clients (the page's button is hidden: the box asks as you type).
    suggest_k, suggestions = gr.Number(WRITING_K, visible=False, precision=0), gr.JSON(visible=False)
    gr.Button(visible=False).click(suggest_words, [writing, suggest_k, session], [suggestions], api_name="suggest",
                                   concurrency_id="generate", concurrency_limit=4)
    use_output_btn.click(lambda text: text, [output], [orig_input], queue=False, api_visibility="private")
    use_run_btn.click(use_run, [run_number, session], [model_md, download, runs, examples, prompt, writing, session],
                      api_name="use_run")
    examples.click(lambda sample: sample[0], [examples], [prompt], queue=False, api_visibility="private")
    load_btn.click(upload_model, [model_zip, session], [model_md, session], api_name="upload_model").success(
        prompts_for, [session], [examples, prompt, writing], api_visibility="private")
    push_btn.click(push_model, [repo_id, private, include_corpus, hf_token, session], [hub_md, hf_token],
                   api_name="push_to_hub")
    hub_load_btn.click(load_from_hub, [repo_id, hf_token, session], [model_md, session],
                       api_name="load_from_hub").success(prompts_for, [session], [examples, prompt, writing],
                                                         api_visibility="private")


private_state(demo, new_session)


def launch(**kwargs):
    demo.queue(default_concurrency_limit=4)
    expect_to_take(demo, "train", TIME_BUDGET)
    poll_calmly(demo)
    return demo.launch(max_file_size=MAX_UPLOAD, theme=gr.themes.Soft(), css=CSS, **kwargs)


if __name__ == "__main__":
    launch(prevent_thread_lock=True)
    serve_until_interrupted(demo)
