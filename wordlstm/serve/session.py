"""One user's state in the app: their corpus, their models (the current one and the runs), their
uploaded files, kept in a folder of their own and freed with the session; and what the app decides
with them: which text to read, which model to start from or to write with, what to push."""
import os
import shutil
import tempfile

from ..errors import UserError
from ..share.archive import unpack
from ..share.hub import load_model, push
from ..text.data import load_corpus
from ..text.texts import size_of
from ..text.tokenizer import NEWLINE, tokenize_at_most
from ..use.originality import Checker
from ..use.sample import openings
from ..use.score import score
from ..use.suggest import Suggester
from .advice import advice
from .runs import Runs
from .uploads import Uploads, inside


class Session:
    """One user's corpus, model, runs and files."""

    def __init__(self, sample: str | None = None, default=None, shared=None, examples: tuple = ()):
        self.sample = sample  # the server's sample text, the one file besides the session's own it may read
        self.default = default  # the server's default model (a Checkpoint, read-only, shared), or None
        self.shared = shared  # shared() -> the sample's corpus, read once for every session
        self.examples = list(examples)  # prompts for the default model
        self.corpus = None  # read only from a file this session uploaded, or from the bundled sample
        self.ckpt = None  # the user's own model: trained here or uploaded
        self.job = None
        self.tmp = None
        self.uploads = Uploads()  # the files this session uploaded, moved into its folder
        self.originality = Checker()  # keeps the training text's n-gram index between checks
        self._runs = None  # every training of the session (runs.py), once there is one
        self.source = ""  # where the current model came from, for the model line
        self._suggester = None  # the writing box's reader of the text (suggest.py), for one model

    def __deepcopy__(self, memo):  # gr.State copies its initial value; a session is never shared
        return self

    @property
    def trained(self) -> bool:
        """Whether the session has trained: its runs exist (asking for them makes its folder)."""
        return self._runs is not None

    @property
    def runs(self) -> Runs:
        if self._runs is None:
            self._runs = Runs(self.folder())
        return self._runs

    def record(self, model, result, cfg, start: str, init_from: dict | None = None, schedule=None):
        """A finished training (from `start`, a model's name) becomes the session's next run and its current model."""
        run = self.runs.record(model, self.corpus, result, cfg, start, init_from, schedule)
        self.ckpt, self.source = run.ckpt, f"run {run.id}, trained here"
        return run

    def finished(self, job, planned):
        """A finished training of `planned` (a TrainingPlan) in `job` (a TrainingThread): (its run, the line that
        says how it ended, with what would help where anything would)."""
        init, start = planned.init, planned.start
        run = self.record(job.model.cpu(), job.result, planned.train, start.name, init and init.describe(start.name),
                          planned.schedule)
        hint = advice(len(self.corpus.ids), job.result.val_ppl, planned.size, advised=start.advised)
        line = (f"{job.result.describe(os.path.basename(self.corpus.name), planned.train.patience)} It is run "
                f"{run.id}: write with it in *2. Write*, or download it in *4. Share*."
                + (f"\n\n*{hint}*" if hint else ""))
        return run, line

    def use_run(self, number: int):
        """Run `number` of this session's becomes the current model, with its text; the run."""
        found = self.runs.get(number)
        self.ckpt, self.corpus, self.source = found.ckpt, found.corpus, f"run {found.id}, trained here"
        return found

    def read(self, paths: tuple, min_count: int, admission, lines: str = "auto"):
        """The corpus of `paths` (the session's own files, or the sample) with `min_count` and `lines` (whether
        line breaks are tokens: lines.ASK): the session's corpus where it is that text already, the shared sample
        where it is that, else read once `admission` admits its memory."""
        if self.corpus is not None and (self.corpus.sources, self.corpus.min_count, self.corpus.lines.asked) == \
                (paths, min_count, lines):
            return self.corpus
        if self.shared is not None and paths == (self.sample,) and min_count == self.shared().min_count \
                and lines in ("auto", "yes" if self.shared().lines.keep else "no"):
            return self.shared()
        with admission.reading(size_of(paths)):
            return load_corpus(paths, min_count=min_count, parent=self.folder(), lines=lines)

    def text_to_train(self, uploaded: tuple, min_count: int, admission, lines: str = "auto"):
        """The text a training reads, now the session's corpus: the files just uploaded, else the text picked
        before (or the sample), read again where `min_count` or `lines` changed."""
        paths = uploaded or (self.corpus.sources if self.corpus is not None else (self.sample,))
        self.corpus = self.read(paths, min_count, admission, lines)
        return self.corpus

    def current(self):
        """The model to write with: the user's, else the server's default; UserError where there is neither."""
        ckpt = self.ckpt or self.default
        if ckpt is None:
            raise UserError("there is no model yet: train one first")
        return ckpt

    def model_text(self):
        """The session's corpus if the current model was trained on it; else None (a model from the Hub or a
        zip)."""
        ckpt = self.ckpt or self.default
        return self.corpus if ckpt is not None and ckpt.trained_on(self.corpus) else None

    def training_text(self):
        """The text the current model was trained on; UserError where this session does not have it."""
        corpus = self.model_text()
        if corpus is not None:
            return corpus
        if self.ckpt is None and self.shared is not None:  # the default model: its text is the bundled sample
            return self.shared()
        raise UserError("the text your model was trained on is not in this session (a model from the Hub or a "
                        "zip); pick that text in Data, or train here, to check for copies")

    def prompts(self) -> list[str]:
        """Prompts in the words of the current model's text: its frequent sentence openings; the examples for
        the default model; a model without its text, the openings it writes itself."""
        if self.ckpt is None:
            return self.examples
        corpus = self.model_text()
        if corpus is not None:
            return corpus.openings()
        return openings(self.ckpt.model, self.ckpt.vocab)

    START_FROM = ["auto", "a new model", "the default model", "my current model", "a Hub model"]

    def start(self, start_from: str, repo_id: str = "", fetch: bool = True):
        """(what the Ask's start is, the checkpoint it names): ("auto", None) for auto's choice, ("new", None) for
        a new model, else the model's name and checkpoint. fetch=False (for an estimate): nothing is downloaded
        or refused."""
        repo_id = (repo_id or "").strip()
        if not fetch and start_from in ("my current model", "a Hub model"):  # an estimate's: nothing to refuse yet
            return start_from, start_from == "my current model" and self.ckpt or None
        if start_from == "the default model":
            if self.default is None:
                raise UserError("this server has no default model; start from a new model")
            return "the default model", self.default
        if start_from == "my current model":
            if self.ckpt is None:
                raise UserError("you have no model yet: train one, or load one in Share, then continue from it")
            return self.source, self.ckpt
        if start_from == "a Hub model":
            if not repo_id:
                raise UserError("type the repo id of the Hub model to start from, like alice/anna-lstm")
            return f"the Hub model {repo_id}", load_model(repo_id, hub_only=True)
        return ("new" if start_from == "a new model" else "auto"), None

    def text_to_push(self, include: bool) -> str | None:
        """The training text's file to push beside the model, where the user asked to include it; only ever a
        file of this session's, or the sample. UserError where it cannot be included."""
        if not include:
            return None
        corpus = self.model_text()
        if corpus is not None and (corpus.documents or not corpus.name.lower().endswith(".txt")):
            raise UserError("including the training text works for a text of one .txt file, and this model's came "
                            "in several or in a zip: untick \"include the training text\"")
        if corpus is None or not os.path.isfile(corpus.name):
            raise UserError("the text this model was trained on is not here any more; "
                            "untick \"include the training text\" or train again")
        if not self.owns(corpus.name):
            raise UserError("the training text is not a file of this session; untick \"include the training text\"")
        return corpus.name

    def stop(self) -> str:
        """Stop the session's training after its step; a line that says so."""
        if self.job is not None and not self.job.done:
            self.job.stop.set()
            return "Stopping after this step; the weights trained so far are kept..."
        return "Nothing is training."

    def copies(self, text: str, min_words: int) -> tuple[str, list]:
        """Which spans of `text` are copied word for word from the current model's training text: a line
        (Markdown), and the label ("copied" or None) of each of its words and marks (a line break has none)."""
        if not (text or "").strip():
            raise UserError("generate a text first, or paste one, to check it for copies")
        corpus = self.training_text()
        tokens = tokenize_at_most(text, lines=corpus.vocab.lines)
        report = self.originality(corpus, corpus.vocab.lookup(tokens), min_words)
        labels = ["copied" if c else None for t, c in zip(tokens, report.copied(len(tokens))) if t != NEWLINE]
        return f"**{report.summary()}** (against `{os.path.basename(corpus.name)}`).", labels

    def load_zip(self, path: str, name: str):
        """A model's .zip (a file of this session's) becomes the current model."""
        self.ckpt, self.source = unpack(path, parent=self.folder()), f"loaded from the zip `{name}`"

    def load_hub(self, repo_id: str, token: str | None = None):
        """A Hub model becomes the current model."""
        repo_id = (repo_id or "").strip()
        if not repo_id:
            raise UserError("type the repo id of a wordlstm model, like alice/anna-lstm")
        self.ckpt = load_model(repo_id, token=token, hub_only=True)
        self.source = f"loaded from the Hub: `{repo_id}`"

    def push(self, repo_id: str, *, private: bool, token: str | None, include_text: bool) -> str:
        """Push the user's model to the Hub (the token serves this one request, and is kept nowhere); its URL."""
        if self.ckpt is None:
            raise UserError("there is no model of yours to push yet: train one, or load one, first")
        corpus, path = self.model_text(), self.text_to_push(include_text)
        return push(self.ckpt, repo_id, private=private, token=token, corpus_path=path,
                    corpus_ids=None if corpus is None else corpus.ids)

    def score(self, text: str):
        """`text` scored by the current model (use.score.Score)."""
        ckpt = self.current()
        if not (text or "").strip():
            raise UserError("paste a text to score, a few sentences or more")
        tokenize_at_most(text, lines=ckpt.vocab.lines)  # score() tokenizes again: milliseconds, against seconds
        return score(ckpt.model, ckpt.vocab, text)

    def suggester(self, ckpt) -> Suggester:
        """The writing box's suggester for `ckpt`: kept between keystrokes, anew for another model."""
        if self._suggester is None or self._suggester.model is not ckpt.model:
            self._suggester = Suggester(ckpt.model, ckpt.vocab)
        return self._suggester

    def folder(self) -> str:
        if self.tmp is None:
            self.tmp = tempfile.mkdtemp(prefix="wordlstm-session-")
        return self.tmp

    def owns(self, path: str) -> bool:
        """Whether `path` is the bundled sample or inside this session's own folder."""
        if path == self.sample:
            return True
        return self.tmp is not None and inside(path, self.tmp)

    def close(self):
        if self.job is not None:
            self.job.stop.set()
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
