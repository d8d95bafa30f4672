"""One user's state in the app: their corpus, their models (the current one and the runs), their
uploaded files, kept in a folder of their own and freed with the session."""
import shutil
import tempfile

from ..use.originality import Checker
from ..use.suggest import Suggester
from .runs import Runs
from .uploads import Uploads, inside


class Session:
    """One user's corpus, model, runs and files."""

    def __init__(self, sample: str | None = None):
        self.sample = sample  # the server's sample text, the one file besides the session's own it may read
        self.corpus = None  # read only from a file this session uploaded, or from the bundled sample
        self.ckpt = None  # the user's own model: trained here or uploaded
        self.job = None
        self.tmp = None
        self.uploads = Uploads()  # the files this session uploaded, moved into its folder
        self.originality = Checker()  # keeps the training text's n-gram index between checks
        self._runs = None  # every training of the session (wordlstm.runs), once there is one
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

    def record(self, model, result, cfg, init_from: dict | None = None):
        """A finished training becomes the session's next run and its current model."""
        run = self.runs.record(model, self.corpus, result, cfg, init_from)
        self.ckpt, self.source = run.ckpt, f"run {run.id}, trained here"
        return run

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
