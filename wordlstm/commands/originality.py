"""Which parts of a text are copied word for word from a corpus?

    wordlstm originality data/anna.txt sample.txt --min-words 6

Prints how much of the text is new, then each copied span as the text writes it and where the corpus has
it. --json: one JSON line instead, {"novel_fraction": ..., "ngrams": ..., "min_words": ...,
"copied_spans": [[start, end, corpus_offset], ...]}, where a span is the text's tokens [start, end) (the
book's tokenization), found verbatim at that token of the corpus.
"""
import json

from wordlstm import load_corpus
from wordlstm.commands.cli import ArgumentParser
from wordlstm.planning.defaults import MIN_WORDS
from wordlstm.text.texts import read_text
from wordlstm.use.originality import originality


def main():
    p = ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("corpus", help="the training text, a UTF-8 .txt file")
    p.add_argument("file", help="the text to check, a UTF-8 file")
    p.add_argument("--min-words", type=int, default=MIN_WORDS,
                   help=f"the shortest copy that counts, in tokens (default {MIN_WORDS})")
    p.add_argument("--json", action="store_true", help="print one JSON line, for programs")
    args = p.parse_args()

    corpus, text = load_corpus(args.corpus, written=False), read_text(args.file)  # its ids and words are enough
    report = originality(corpus.ids, corpus.vocab.lookup(corpus.vocab.tokenize(text)), args.min_words)
    print(json.dumps(report.to_dict()) if args.json else "\n".join(report.lines(text, corpus.vocab.lines)))
