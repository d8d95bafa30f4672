"""What the page shows of the package's values: the loss curve and the samples as a training goes, the
Runs table, a corpus's summary, the lines under a result. Data frames and gradio updates, no decisions:
those are the session's and the planner's. Needs the app extra (gradio, pandas)."""
import math

import gradio as gr
import pandas as pd

from ..errors import capital, count
from ..use.suggest import percent
from .runs import Runs
from .session import Session

SAMPLE_COLUMNS = ["step", "validation perplexity", "sample (same prompt and seed each time)"]
SURPRISE = {"surprising": "#fde68a", "very surprising": "#fca5a5", "unknown word": "#d4d4d8"}  # the score's colours


def curve(history: list[dict]) -> pd.DataFrame:
    # The plot fixes its axis types and its series at the first value it draws:
    # two NaN rows (never drawn) put both series there from the start.
    seed = [{"step": 0, "loss": math.nan, "split": "train"}, {"step": 0, "loss": math.nan, "split": "validation"}]
    return pd.DataFrame(seed + history, columns=["step", "loss", "split"])


def samples_table(rows: list) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=SAMPLE_COLUMNS)


class Watch:
    """A training's events as the page shows them: the curve's points, the samples (newest first), the status
    line and the progress bar's text."""

    def __init__(self, text: str, status: str):
        self.text, self.status, self.history, self.samples = text, status, [], []

    def see(self, e, progress):
        if e.kind == "step":
            self.history.append({"step": e.step, "loss": e.train_loss, "split": "train"})
        elif e.kind == "val":
            self.history.append({"step": e.step, "loss": e.val_loss, "split": "validation"})
            self.samples.insert(0, [e.step, round(e.val_ppl, 1), e.sample])
        eta = f", about {e.eta:.0f} s left" if e.eta is not None else ""
        progress(e.progress, desc=f"epoch {e.epoch}, step {e.step}{eta}")
        self.status = e.describe(self.text)

    def views(self) -> tuple:
        """The status, the curve and the samples."""
        return self.status, gr.LinePlot(curve(self.history), visible=True), samples_table(self.samples)


def corpus_stats(corpus, seq_len: int) -> tuple[str, pd.DataFrame]:
    return corpus.describe(seq_len), pd.DataFrame(corpus.stats(20)["top_words"], columns=["word", "count"])


def model_note(session: Session) -> str:
    ckpt = session.ckpt or session.default
    if ckpt is None:
        return "**Model:** none yet. Train one above, or load one in Share."
    return f"**Model:** {f'your model ({session.source})' if session.ckpt else 'the default model'}, {ckpt.describe()}."


def runs_table(session: Session) -> pd.DataFrame:
    return pd.DataFrame(session.runs.rows() if session.trained else [], columns=Runs.COLUMNS)


def runs_menu(session: Session):
    """The Run menu: the session's runs whose models it keeps, newest first; the newest picked."""
    kept = [r for r in reversed(session.runs.all) if r.ckpt is not None] if session.trained else []
    choices = [(f"run {r.id}: {r.row[1]}, perplexity {r.row[-1]}", r.id) for r in kept]
    return gr.Dropdown(choices=choices, value=kept[0].id if kept else None)


def prompts_for(session: Session):
    """Updates for the example prompts and the prompt box, after the model changed."""
    prompts = session.prompts()
    return gr.Dataset(samples=[[p] for p in prompts]), prompts[0]


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
