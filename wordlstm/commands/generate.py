"""Generate text from a checkpoint folder or a Hugging Face Hub model repo.

    wordlstm generate runs/anna --prompt "Anna, and the prince"
    wordlstm generate alice/anna-lstm --prompt "Anna"   # downloaded once, then cached

    wordlstm generate runs/anna --prompt "Anna" --check-copies data/anna.txt   # then: what is copied
    wordlstm generate runs/anna --prompt "Anna" --sentences 3   # ends after its third sentence

The text, prompt included, goes to stdout as it is generated; warnings, and why it ended, to stderr.
"""
import sys

from wordlstm import MAX_NEW_TOKENS, load_corpus, stream
from wordlstm.commands.cli import ArgumentParser
from wordlstm.planning.defaults import MIN_WORDS, NEW_TOKENS, TEMPERATURE, TOP_K, TOP_P
from wordlstm.share.hub import load_model
from wordlstm.use.originality import originality
from wordlstm.use.sample import Ending


def main():
    p = ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoint", help="checkpoint folder, or OWNER/NAME of a model repo on the Hub")
    p.add_argument("--prompt", required=True, help="text to start from; unknown words are skipped or become <unk>")
    p.add_argument("--max-new-tokens", type=int, default=NEW_TOKENS,
                   help=f"tokens to generate (0 to {MAX_NEW_TOKENS}; default {NEW_TOKENS})")
    p.add_argument("--temperature", type=float, default=TEMPERATURE,
                   help=f"0 = greedy; below 1 safer, above 1 wilder (default {TEMPERATURE}, as the app)")
    p.add_argument("--top-k", type=int, default=TOP_K,
                   help=f"sample among the k most likely tokens (0 = off; default {TOP_K}, as the app)")
    p.add_argument("--top-p", type=float, default=TOP_P,
                   help=f"sample among the most likely tokens holding this mass (1 = off; default {TOP_P:g})")
    p.add_argument("--sentences", type=int, default=0,
                   help="end after this many sentences (0 = off; --max-new-tokens still bounds the text)")
    p.add_argument("--stop", metavar="TEXT", default=None,
                   help="end at the first TEXT the model writes: a word or punctuation, e.g. ';' or 'chapter'")
    p.add_argument("--seed", type=int, default=None, help="random seed: the same seed gives the same text")
    p.add_argument("--device", default="cpu", help="cpu (default; fastest for one token at a time), cuda, mps")
    p.add_argument("--token", default=None, help="Hugging Face token, for a private repo (default: HF_TOKEN or saved login)")
    p.add_argument("--check-copies", metavar="CORPUS", default=None,
                   help="after the text, report the spans copied word for word from this training text")
    p.add_argument("--min-words", type=int, default=MIN_WORDS,
                   help=f"with --check-copies: the shortest copy that counts (default {MIN_WORDS})")
    args = p.parse_args()

    ckpt = load_model(args.checkpoint, device=args.device, token=args.token)
    # A bad path fails before generating; its ids and words are all the check reads.
    corpus = load_corpus(args.check_copies, written=False) if args.check_copies else None
    prompt = ckpt.vocab.encode_prompt(args.prompt)
    ending = Ending.of(ckpt.vocab, args.sentences, args.stop)
    note = ckpt.vocab.unknown_note(prompt.unknown)
    if note:
        print(f"warning: {note}", file=sys.stderr)
    pieces = stream(ckpt.model, ckpt.vocab, prompt, max_new_tokens=args.max_new_tokens,
                    temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, seed=args.seed, ending=ending)
    text = ""
    for piece in pieces:
        print(piece, end="", flush=True)
        text += piece
    print()
    print(f"ended {pieces.why}", file=sys.stderr)
    if corpus is not None:
        report = originality(corpus.ids, corpus.vocab.lookup(corpus.vocab.tokenize(text)), args.min_words)
        print("\n".join(report.lines(text, corpus.vocab.lines)))

