"""Score a text with a model: its perplexity, and the words that surprised the model most.

    wordlstm score runs/anna chapter.txt
    wordlstm score alice/anna-lstm chapter.txt --top 20

Prints the perplexity and a short table: each word's surprise in bits (-log2 of its probability) and what
the model expected instead. --json: one JSON line instead,
{"perplexity": ..., "tokens": ..., "scored": ..., "unknown": ..., "most_surprising": [[word, bits, [guesses]], ...]}
"""
import json

from wordlstm.commands.cli import ArgumentParser
from wordlstm.errors import count
from wordlstm.share.hub import load_model
from wordlstm.text.texts import read_text
from wordlstm.use.score import score


def main():
    p = ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoint", help="checkpoint folder, or OWNER/NAME of a model repo on the Hub")
    p.add_argument("file", help="a UTF-8 text file to score")
    p.add_argument("--top", type=int, default=10, help="how many of the most surprising words to list (default 10)")
    p.add_argument("--json", action="store_true", help="print one JSON line, for programs")
    p.add_argument("--token", default=None, help="Hugging Face token, for a private repo")
    args = p.parse_args()

    ckpt = load_model(args.checkpoint, token=args.token)
    result = score(ckpt.model, ckpt.vocab, read_text(args.file))
    if args.json:
        print(json.dumps(result.to_dict(args.top), ensure_ascii=False))
        return
    print(f"perplexity {result.perplexity:.1f} over {count(result.scored, 'word')} "
          f"({count(len(result.words), 'token')}, {result.unknown:,} not in the vocabulary)")
    print(f"{'word':<16}{'bits':>7}  the model expected")
    for w in result.most_surprising(args.top):
        print(f"{w.word:<16}{w.bits:>7.1f}  {', '.join(g for g, _ in w.guesses)}")
