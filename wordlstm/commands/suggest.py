"""The model's most likely next words after a text, with their probabilities (co-writing).

    wordlstm suggest runs/anna --prompt "Anna, and the prince"          # ten next words
    wordlstm suggest runs/anna --prompt "Anna, and the pr" --k 5        # what "pr" may be becoming

One word per line on stdout, a tab, then its probability; unknown words of the text are named on stderr.
"""
import sys

from wordlstm.commands.cli import ArgumentParser
from wordlstm.share.hub import load_model
from wordlstm.use.suggest import MAX_K, Suggester


def main():
    p = ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoint", help="checkpoint folder, or OWNER/NAME of a model repo on the Hub")
    p.add_argument("--prompt", required=True, help="the text so far; a last word without a space after it is "
                                                   "being typed, and the suggestions complete it")
    p.add_argument("--k", type=int, default=10, help=f"how many words (1 to {MAX_K}; default 10)")
    p.add_argument("--token", default=None, help="Hugging Face token, for a private repo (default: HF_TOKEN or saved login)")
    args = p.parse_args()

    ckpt = load_model(args.checkpoint, token=args.token)
    suggestions = Suggester(ckpt.model, ckpt.vocab)(args.prompt, args.k)
    if suggestions.unknown:
        print(f"warning: {ckpt.vocab.unknown_note(suggestions.unknown)}", file=sys.stderr)
    for word, prob in suggestions.words:
        print(f"{word}\t{prob:.4f}")
