"""The trainings of one app session: each saved as a checkpoint folder and a .zip to download,
the models of the last few kept, older ones freed with their files."""
import os
import shutil
from dataclasses import asdict, dataclass

from ..errors import UserError
from ..share.archive import pack
from ..share.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from ..text.data import Corpus

KEEP = 5  # the models a session keeps: its last trainings; older ones are freed


@dataclass
class Run:
    id: int  # 1, 2, ... in the session
    corpus: Corpus
    ckpt: Checkpoint | None  # None once freed
    zip: str  # the model as a .zip, to download
    row: list  # its row of the Runs table, without the memory column

    @property
    def memory(self) -> str:
        if self.ckpt is None:
            return "freed"
        return f"{sum(p.numel() * p.element_size() for p in self.ckpt.model.parameters()) / 2**20:.1f} MB"


class Runs:
    """A session's runs, oldest first, written under `folder`."""
    COLUMNS = ["run", "text", "started from", "settings", "seconds", "steps", "tokens/s", "validation perplexity",
               "model in memory"]
    keep = KEEP  # how many runs' models are kept

    def __init__(self, folder: str):
        self.folder, self.all = folder, []

    def record(self, model, corpus: Corpus, result, cfg, start: str, init_from: dict | None = None,
               schedule=None) -> Run:
        """Save a finished training (its model, the TrainResult, the TrainConfig and Schedule; where it started
        and what it took from there) as the next run."""
        number = len(self.all) + 1
        folder = os.path.join(self.folder, f"run-{number}")
        save_checkpoint(folder, model, corpus.vocab, train=asdict(cfg), metrics=result.metrics(),
                        **({"schedule": schedule.as_dict()} if schedule is not None else {}),
                        corpus=corpus.info(), corpus_ids=corpus.ids, start=start,
                        **({"init_from": init_from} if init_from else {}))
        m = model.config
        settings = (f"{m.num_layers}x{m.hidden_size} {m.softmax}" + (f", {m.members} models" if m.members > 1 else "")
                    + f", dropout {m.dropout}, seq {cfg.seq_len}, "
                    f"batch {cfg.batch_size}, lr {cfg.lr}, seed {cfg.seed}"
                    + (", line breaks kept" if corpus.lines.keep else ""))
        known = f" ({init_from['coverage']:.0%} of its words known)" if init_from else ""
        run = Run(number, corpus, load_checkpoint(folder),
                  pack(folder, os.path.join(self.folder, f"wordlstm-run-{number}.zip")),
                  [number, os.path.basename(corpus.name), start + known, settings, round(result.seconds, 1),
                   result.steps, round(result.tokens_per_s), round(result.val_ppl, 1)])
        self.all.append(run)
        for old in self.all[:-self.keep]:  # free the models beyond the last `keep`, and their files
            if old.ckpt is not None:
                old.ckpt = None
                shutil.rmtree(os.path.join(self.folder, f"run-{old.id}"), ignore_errors=True)
                os.remove(old.zip)
        return run

    def get(self, number) -> Run:
        """Run `number`, or UserError if there is none or its model was freed."""
        found = next((r for r in self.all if r.id == number), None)
        if found is None:
            raise UserError(f"there is no run {number} in this session; pick one from the Runs table")
        if found.ckpt is None:
            raise UserError(f"run {number}'s model was freed (the session keeps its last {self.keep}); train it again")
        return found

    def rows(self) -> list[list]:
        """The Runs table, newest first."""
        return [[*run.row, run.memory] for run in reversed(self.all)]
