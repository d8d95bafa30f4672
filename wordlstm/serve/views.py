"""What the page shows of the package's values: the loss curve and the samples as a training goes, the
Runs table, a corpus's summary, the lines under a result. Data frames and gradio updates, no decisions:
those are the session's and the planner's. Needs the app extra (gradio, pandas)."""
import html
import math
import re

import gradio as gr
import pandas as pd

from ..errors import capital, count
from ..planning.defaults import AUTO
from ..planning.planner import settings_asked
from ..text.data import Corpus
from ..training.config import TrainConfig
from ..use.suggest import percent
from .runs import Runs
from .session import Session

SAMPLE_COLUMNS = ["step", "validation perplexity", "sample (same prompt and seed each time)"]
BRANCHES = "train, branches"  # the curve's series for the training loss of branches (of "train": first runs)
SURPRISE = {"surprising": "#fde68a", "very surprising": "#fca5a5", "unknown word": "#d4d4d8"}  # the score's colours


def curve(history: list[dict]) -> pd.DataFrame:
    # The plot fixes its axis types and its series at the first value it draws:
    # two NaN rows (never drawn) put both series there from the start.
    seed = [{"step": 0, "loss": math.nan, "split": "train"}, {"step": 0, "loss": math.nan, "split": "validation"}]
    return pd.DataFrame(seed + history, columns=["step", "loss", "split"])


def samples_table(rows: list) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=SAMPLE_COLUMNS)


class Watch:
    """A training's events as the page shows them: the progress line (the one place that says where the run
    stands), the curve's points and where each run began, the samples (newest first); the status line says
    what was planned, then how it ended."""

    def __init__(self, text: str, status: str):
        self.text, self.status, self.history, self.samples = text, status, [], []
        self.progress, self.run, self.starts = "", (0, 0), []  # starts: (step, what began there)

    def see(self, e):
        run = (e.member, e.branch)
        if e.kind == "step" and e.branch is not None and run != self.run:
            self.run = run
            self.starts.append((e.step, f"branch {e.branch}" if e.branch else f"model {e.member + 1}"))
        if e.kind == "step":
            self.history.append({"step": e.step, "loss": e.train_loss, "split": BRANCHES if e.branch else "train"})
        elif e.kind == "val":
            self.history.append({"step": e.step, "loss": e.val_loss, "split": "validation"})
            self.samples.insert(0, [e.step, round(e.val_ppl, 1), e.sample])
        self.progress = progress_line(e, self.text)

    def caption(self) -> str | None:
        """What the curve's jumps are: where each branch or model began, and why its loss jumps there."""
        if not self.starts:
            return None
        where = "; ".join(f"{what} at step {step:,}" for step, what in self.starts)
        return (f"Runs began: {where}. A branch goes on from its model's first run's best weights and a model "
                "starts anew, each with its own seed and its rate warming up again: the training loss jumps there.")

    def views(self) -> tuple:
        """The status, the curve and the samples (the progress line is `progress`)."""
        plot = gr.LinePlot(curve(self.history), visible=True, caption=self.caption())
        return self.status, plot, samples_table(self.samples)


def progress_line(e, text: str) -> str:
    """Where a run stands (a training.events.Event), as HTML: a bar, the share done, what trains, the time."""
    what = re.sub(r"`([^`]*)`", r"<code>\1</code>", re.sub(r"\*\*([^*]*)\*\*", r"<b>\1</b>",
                                                         html.escape(e.describe(text), quote=False)))
    done = 1.0 if e.kind == "done" else e.progress  # a run that ends early (patience) is done all the same
    left = "" if e.kind == "done" else f", about {e.eta:.0f} s left" if e.eta is not None else ""
    return (f'<div class="training-progress"><progress value="{done:.3f}" max="1"></progress> '
            f"<b>{done:.0%}</b> · {what} · {e.elapsed:.0f} s{left}</div>")


def advanced_block(*, size, epochs, seed, branches, members, start_from, min_count, stride, lines="auto", **sliders):
    """The page's Advanced block, labelled from its controls' values: the settings not at their defaults."""
    page = dict(size=size, epochs=int(epochs or 0), seed=int(seed or 0), branches=branches, models=members,
                start=start_from, min_count=int(min_count), line_breaks=lines)
    first = dict(size=AUTO, epochs=0, seed=TrainConfig.seed, branches="auto", models="auto",
                 start=Session.START_FROM[0], min_count=Corpus.min_count, line_breaks="auto")
    changed = {k: v for k, v in page.items() if v != first[k]} | settings_asked(
        {**sliders, "stride": int(stride) or None}, size)
    changes = ", ".join(f"{name.replace('_', ' ')} {value}" for name, value in changed.items())
    return gr.Accordion(label=f"Advanced settings, changed: {changes}" if changed else
                        "Advanced settings: all at their defaults")


def corpus_stats(corpus, seq_len: int) -> tuple[str, pd.DataFrame]:
    return corpus.describe(seq_len), pd.DataFrame(corpus.stats(20)["top_words"], columns=["word", "count"])


def model_note(session: Session) -> str:
    ckpt = session.ckpt or session.default
    if ckpt is None:
        return "**Model:** none yet. Train one in *1. Train*, or load one in *4. Share*."
    return f"**Model:** {f'your model ({session.source})' if session.ckpt else 'the default model'}, {ckpt.describe()}."


def runs_table(session: Session) -> pd.DataFrame:
    return pd.DataFrame(session.runs.rows() if session.trained else [], columns=Runs.COLUMNS)


def runs_menu(session: Session):
    """The Run menu: the session's runs whose models it keeps, newest first; the newest picked."""
    kept = [r for r in reversed(session.runs.all) if r.ckpt is not None] if session.trained else []
    choices = [(f"run {r.id}: {r.row[1]}, perplexity {r.row[-1]}", r.id) for r in kept]
    return gr.Dropdown(choices=choices, value=kept[0].id if kept else None)


def prompts_for(session: Session):
    """Updates for the example prompts, the prompt box and the writing box's placeholder, after the model
    changed: in the words of its text."""
    prompts = session.prompts()
    return gr.Dataset(samples=[[p] for p in prompts]), prompts[0], gr.Textbox(placeholder=prompts[0])


def next_word_menu(suggestion, vocab) -> tuple:
    """The writing box's menu of a use.suggest.Suggestion's words, and a line: the unknown words, or what the
    menu completes."""
    notes = [capital(vocab.unknown_note(suggestion.unknown) or ""),
             f"Words that *{suggestion.partial}* may be becoming." if suggestion.partial else "",
             "" if suggestion.words else "The model knows no such word."]
    choices = [(f"{word}  {percent(p)}", word) for word, p in suggestion.words]
    return gr.Radio(choices, value=None), " ".join(filter(None, notes))


def scored(result) -> tuple[str, pd.DataFrame]:
    """A use.score.Score as the page shows it: a summary line, and the ten most surprising words."""
    summary = (f"**Perplexity {result.perplexity:,.1f}** over {result.scored:,} words: on average the model "
               f"hesitated between about {result.perplexity:,.0f} words at each step."
               + (f" {count(result.unknown, 'word is', 'words are')} not in its vocabulary." if result.unknown else ""))
    top = pd.DataFrame([[w.word, round(w.bits, 1), "  ·  ".join(g for g, _ in w.guesses)]
                        for w in result.most_surprising(10)], columns=["word", "bits", "the model expected"])
    return summary, top
