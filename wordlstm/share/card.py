"""The model card (README.md) that travels with every checkpoint, on disk and on the Hub.

Built with huggingface_hub's ModelCard / ModelCardData from what config.json
records, plus a few sample generations made here with their settings.
"""
import os

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from ..errors import UserError
from ..training.schedule import Schedule
from ..use.defaults import MIN_WORDS, TEMPERATURE, TOP_K, TOP_P
from ..use.originality import NgramIndex, originality
from ..use.sample import default_prompt, generate

LIBRARY = "wordlstm"
TAGS = ["text-generation", "lstm", "pytorch", "word-level"]
SAMPLE_SETTINGS = {"max_new_tokens": 40, "temperature": TEMPERATURE, "top_k": TOP_K, "top_p": TOP_P}

TEMPLATE = """---
{{ card_data }}
---

# {{ model_name }}

A word-level LSTM language model trained with wordlstm, the method of chapter 8 of
*Learn Generative AI with PyTorch* (Liu, 2024): {{ model.num_layers }} LSTM layers of {{ model.hidden_size }} units
over {{ model.embed_dim }}-dimensional word embeddings{{ " tied to its output layer," if model.tie_weights }} and {{ "an adaptive" if model.softmax == "adaptive" else "a full" }} softmax over {{ "{:,}".format(model.vocab_size) }} words.
{% if model.cache_lambda %}Its next-word distribution mixes in a continuous cache (Grave et al., 2017) over the last {{ model.cache_size }} words
it read (λ {{ model.cache_lambda }}, θ {{ model.cache_theta }}); the cache has no weights of its own.
{% endif %}{% if model.unseen_share and model.unseen_ids %}The {{ "{:,}".format(model.unseen_ids|length) }} words of the vocabulary that its training text never has share
{{ "%.2f"|format(100 * model.unseen_share) }}% of the probability of every next word: Good-Turing's estimate of how often a new word comes.
{% endif %}{% if (model.members or 1) > 1 %}It is an ensemble of {{ model.members }} such models, trained apart from different starts: its next-word
probabilities are the mean of theirs, each with its own cache.
{% endif %}It writes text in the style of the corpus it was trained on, one word at a time.

## Usage

With the `wordlstm` package installed (`pip install -e .` in a clone of the project):

```python
from wordlstm import Checkpoint, generate

ck = Checkpoint.from_pretrained("{{ repo_id }}")  # downloaded once, then cached
print(generate(ck.model, ck.vocab, "{{ prompt }}", max_new_tokens=50, seed=0))
```

Or `wordlstm generate {{ repo_id }} --prompt "{{ prompt }}"`, or the "Load from Hub" box of the app.

## Training data

| | |
| --- | --- |
| corpus | `{{ corpus.name }}` |
| tokens | {{ "{:,}".format(corpus.tokens) if corpus.tokens is number else "?" }} |
| vocabulary | {{ "{:,}".format(model.vocab_size) }} words (min count {{ corpus.min_count }}, max vocab {{ corpus.max_vocab }}) |
| sha256 | `{{ corpus.sha256 }}` |
| line breaks | {{ "tokens: the model writes lines" if corpus.lines else "read as spaces (the book's tokens)" }} |
{% if corpus.files %}
It was trained on {{ corpus.files | length }} files, each a document: no training window spans two, and each gave
the last part of its text to validation.

| file | tokens |
| --- | ---: |
{% for f in corpus.files %}| {{ f.name }} | {{ "{:,}".format(f.tokens) }} |
{% endfor %}{% endif %}
{{ corpus_note }}

## Training

| hyperparameter | value |
| --- | --- |
{% for k, v in hyperparameters.items() %}| {{ k }} | {{ v }} |
{% endfor %}
| result | value |
| --- | --- |
{% for k, v in results.items() %}| {{ k }} | {{ v }} |
{% endfor %}
{% if command %}Command: `{{ command }}`
{% endif %}{% if members > 1 %}
Trained as {{ members }} models apart, one after the other, each a first run from its own start{% if branches %} and then
branches from its best weights ({{ branches }} in all){% endif %}, each run with its own seed and a share of the time
budget{% if run_epochs %}, at most {{ run_epochs }} epochs long{% endif %}{% if leftover_branches %} ({{ leftover_branches }} branches on the time left by runs that ended
early){% endif %}; each model is the mean of its branches' weights, and the ensemble's next-word probabilities the mean of the models'.
{% elif branches %}
Trained as a first run, then {{ branches }} branches from its best weights, each with its own seed and a share
of the time budget{% if run_epochs %}, at most {{ run_epochs }} epochs long{% endif %}{% if leftover_branches %} ({{ leftover_branches }} of them on the time left by runs that ended
early){% endif %}; the model is the mean of the branches' weights (a model soup).
{% endif %}{% if init_from %}
Started from {{ init_from.source }} (a warm start): its LSTM, and the rows of the {{ init_from.shared_words }} words of
{{ init_from.vocab_size }} that both vocabularies share ({{ init_from.copied_output_rows }} with their output rows){% if init_from.coverage %},
{{ "%.0f" | format(init_from.coverage * 100) }}% of the text's tokens{% endif %}; the other words started from the mean embedding.
{% elif start %}
Started from {{ start }}.
{% endif %}
## Samples

Settings: {{ sample_settings }}.

{% for s in samples %}- seed {{ s.seed }}{% if s.novel is not none %} ({{ s.novel }}){% endif %}: {{ s.text | replace("\n", "  \n  ") }}
{% endfor %}
## Versions

{% for k, v in versions.items() %}{{ k }} {{ v }}{{ ", " if not loop.last }}{% endfor %}

## Limitations

A small recurrent model of one text: it imitates that text's words and punctuation, knows nothing else, and
repeats the biases of its corpus. Words it never saw are unknown to it.
"""


def hyperparameters(model_cfg: dict, train: dict) -> dict:
    """The card's settings table: the unseen words (hundreds of ids, in config.json) by their number."""
    shown = {**model_cfg, **train}
    if "unseen_ids" in shown:
        shown["unseen_ids"] = f"{len(shown['unseen_ids']):,} words (in config.json)"
    if shown.pop("documents", None):  # a token count per file: the training data's table lists them
        shown["documents"] = f"{len(train['documents']):,} files (see Training data)"
    return shown


def run_epochs(config: dict) -> int | None:
    """The most epochs each run trained, from the recorded schedule (or, for a checkpoint written when it was a
    training setting, from "train")."""
    if "schedule" in config:
        return Schedule.from_dict(config["schedule"]).run_epochs
    return config.get("train", {}).get("run_epochs")


def build_card(model, vocab, config: dict, repo_id: str | None = None, corpus_included: bool = False,
               corpus_ids=None) -> ModelCard:
    """A ModelCard from a checkpoint's parts; `repo_id` goes into the usage snippet.
    With the training text's `corpus_ids`, each sample says how much of it is new."""
    corpus, metrics, train = config.get("corpus", {}), config.get("metrics", {}), config.get("train", {})
    model_cfg = config["model"]  # save_checkpoint always writes it
    repo_id = repo_id or "OWNER/NAME"
    corpus_name = os.path.splitext(os.path.basename(str(corpus.get("name") or "model")))[0]
    model_name = repo_id.split("/")[-1] if repo_id != "OWNER/NAME" else f"wordlstm-{corpus_name}"
    eval_results = None
    held_out = "last 10% of each file (held out)" if corpus.get("files") else "last 10% (held out)"
    if metrics.get("val_ppl") is not None:
        eval_results = [EvalResult(task_type="text-generation", dataset_type="text", dataset_name=corpus_name,
                                   dataset_split=held_out, metric_type="perplexity",
                                   metric_value=round(metrics["val_ppl"], 2), metric_name="validation perplexity")]
    data = ModelCardData(library_name=LIBRARY, tags=list(TAGS), pipeline_tag="text-generation",
                         model_name=model_name, eval_results=eval_results)
    prompt = default_prompt(vocab)
    try:
        samples = [{"seed": seed, "text": generate(model, vocab, prompt, seed=seed, **SAMPLE_SETTINGS), "novel": None}
                   for seed in range(3)]
    except UserError:  # a vocabulary with no usable prompt word: a card without samples
        samples = []
    if corpus_ids is not None and samples:
        index = NgramIndex(corpus_ids, MIN_WORDS)
        for s in samples:
            s["novel"] = originality(corpus_ids, vocab.lookup(vocab.tokenize(s["text"])), MIN_WORDS, index).summary()
    results = {k: metrics[k] for k in ("val_loss", "val_ppl", "steps", "epochs", "tokens", "seconds", "device", "stopped")
               if k in metrics}
    for k in ("val_loss", "val_ppl", "epochs"):
        if isinstance(results.get(k), float):
            results[k] = round(results[k], 4)
    note = ("The training text is included in this repository as `corpus.txt`." if corpus_included else
            "The training text itself is not included; its sha256 identifies it.")
    return ModelCard.from_template(
        data, template_str=TEMPLATE, model_name=model_name, repo_id=repo_id, prompt=prompt,
        model=model_cfg,
        corpus={"tokens": None, "min_count": 1, "max_vocab": None, "sha256": "?", **corpus,
                "name": os.path.basename(str(corpus.get("name", "?")))},  # never the user's local path
        corpus_note=note, hyperparameters=hyperparameters(model_cfg, train), results=results,
        command=config.get("command"), branches=metrics.get("branches", 0), members=metrics.get("members", 1),
        leftover_branches=metrics.get("leftover_branches", 0), run_epochs=run_epochs(config),
        init_from=config.get("init_from"), start=config.get("start"),
        samples=samples, sample_settings=", ".join(f"{k} {v}" for k, v in SAMPLE_SETTINGS.items()) + f", prompt \"{prompt}\"",
        versions=config.get("versions", {}))
