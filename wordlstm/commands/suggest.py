"""The model's most likely next words after a text, with their probabilities (co-writing).

    wordlstm suggest runs/anna --prompt "Anna, and the prince"          # ten next words
    wordlstm suggest runs/anna --prompt "Anna, and the pr" --k 5        # what "pr" may be becoming

One word per line, a tab, then its probability (of a word being typed: given what is typed of it);
unknown words of the text are named on stderr. --json: one JSON line instead,
{"words": [{"word": ..., "probability": ...}, ...], "partial": ..., "unknown": [...]}, as the app's /suggest.
"""
import json
import sys

from wordlstm import UserError
from wordlstm.commands.cli import ArgumentParser
from wordlstm.share.hub import load_model
from wordlstm.use.suggest import MAX_K, Suggester, percent


def main():
    p = ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoint", help="checkpoint folder, or OWNER/NAME of a model repo on the Hub")
    p.add_argument("--prompt", required=True, help="the text so far; a last word without a space after it is "
                                                   "being typed, and the suggestions complete it")
    p.add_argument("--k", type=int, default=10, help=f"how many words (1 to {MAX_K}; default 10)")
    p.add_argument("--json", action="store_true", help="print one JSON line, for programs")
    p.add_argument("--token", default=None, help="Hugging Face token, for a private repo (default: HF_TOKEN or saved login)")
    args = p.parse_args()

    ckpt = load_model(args.checkpoint, token=args.token)
    suggestions = Suggester(ckpt.model, ckpt.vocab)(args.prompt, args.k)
    read = args.prompt[:len(args.prompt) - len(suggestions.partial)]
    if read.strip():  # words to read, none known: refused as generate refuses such a prompt
        ckpt.vocab.encode_prompt(read)
    if not suggestions.words:
        raise UserError(f"no word of the model's vocabulary begins with {suggestions.partial!r}")
    if args.json:
        print(json.dumps(suggestions.to_dict(), ensure_ascii=False))
        return
    if suggestions.unknown:
        print(f"warning: {ckpt.vocab.unknown_note(suggestions.unknown)}", file=sys.stderr)
    for word, prob in suggestions.words:
        print(f"{word}\t{percent(prob)}")
