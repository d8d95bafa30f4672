"""Text <-> word tokens, exactly as the book cleans text, and back again.

Cleaning (the book's, chapter 8): lower-case; newlines and '-' become spaces;
each of ,.:;?!$()/_&%*@'` and '"' stands alone as a token; split on whitespace.
A text that keeps its lines (verse, lyrics, lists: text/lines.py) also gets a
NEWLINE token at each line break; the book's mode, the default, has none.

`detokenize` undoes the padding well enough to read: punctuation is reattached,
quotes hug the words they enclose, and re-tokenizing its output gives back the
same tokens (it only ever removes a space next to a punctuation token, the
text's learned surface included). With a
vocabulary's written forms (`written_forms`) it also restores the text's case.
"""
import collections
import re

from ..errors import UserError

PUNCT = ",.:;?!$()/_&%*@'`\""


MAX_TEXT_TOKENS = 50_000  # what a server scores or checks at once: about 2 s of scoring on 2 CPU cores


NEWLINE = "\n"  # the token of a line break, in a text that keeps its lines


def tokenize(text: str, lines: bool = False) -> list[str]:
    """Clean `text` the book's way and split it into word tokens; with `lines`, a NEWLINE token at each line
    break (\r\n and \r read as \n)."""
    # A chain of str.replace, as in the book, is 3x faster than one str.translate
    # with this table in CPython. Newlines need no replacing: split() cuts there.
    text = text.lower().replace("-", " ")
    for c in PUNCT:
        text = text.replace(c, f" {c} ")
    if not lines:
        return text.split()
    tokens = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        tokens += line.split()
        tokens.append(NEWLINE)
    tokens.pop()  # the break after the last line is not in the text
    return tokens


# Detokenizing: whether to put a space between two tokens depends only on the
# previous token, the current one, and whether a quote is open. That makes it
# streamable: Detokenizer.add(token) returns the piece of text to append.
NO_SPACE_BEFORE = set(",.;:?!)%")
_NO_SPACE_AFTER = set("($/")
SUFFIXES = {"s", "t", "ll", "re", "ve", "d", "m"}  # don ' t -> don't, anna ' s -> anna's
TOGGLES = {'"', "_", "`"}  # paired marks: the first opens, the next closes
SENTENCE_ENDS = {".", "!", "?"}
_WORD_OR_MARK = re.compile("[^\\s\\-" + re.escape(PUNCT) + "]+|[" + re.escape(PUNCT) + "]")  # tokenize's, in case
_OR_BREAK = re.compile(_WORD_OR_MARK.pattern + "|\r\n|\r|\n")  # and, with lines, its line breaks


class Detokenizer:
    """Turns a stream of tokens into readable text, one piece per token.

    forms: each token's written form (Vocab.forms). Given, the text reads as the training text is
    written: its words in their usual case ("Anna", "I"), a capital at each sentence and quotation start, and an
    opening mark written with the word it opens. A pair that would close at once is left out after a
    word (`said ""`: a generated empty pair), and read as close-then-open after punctuation (`." "Oh`:
    a text whose quote spanned paragraphs left one unclosed). None: the book's lower-case tokens as
    they are. Either way, tokenize() of the text gives back the tokens, but for an empty pair."""

    def __init__(self, forms: dict[str, str] | None = None, surface=None):
        self.surface = surface  # text/surface.py's Surface: the text's own case and spacing, where it taught them
        self.prev = self.prev2 = None
        self.open = set()  # toggling marks currently open
        self.seen = set()  # the toggling marks written so far
        self.glued_apostrophe = False  # the previous token was a ' stuck to its word
        self.forms = forms
        self.sentence_start = True
        self.held: list[tuple] = []  # with forms, opening marks not written yet: (mark, piece, the token before,
        # whether a sentence started before it)
        self.before = ""
        self.apostrophe = None  # with a surface, a ' held, and the token before it: the token after says whose it is

    def add(self, token: str) -> str:
        held = ""
        if self.apostrophe is not None:  # a word's own (Levin's), a word's start ('tis), or a quote ('banished')
            (held, before), self.apostrophe = self.apostrophe, None
            held = (" " if self.surface.apostrophe(held.startswith(" "), before, token) else "") + held.lstrip()
        piece = self._add(token)
        if token == "'" and self.surface is not None and self.before:
            self.apostrophe, piece = (piece, self.before), ""
        return held + piece

    def finish(self) -> str:
        """What is still held when the text ends."""
        held, self.apostrophe = self.apostrophe, None
        return held[0] if held else ""

    def _add(self, token: str) -> str:
        starts = self.sentence_start
        space, word, _ = self.decide(token)
        piece = (" " if space else "") + word
        if self.forms is None:
            return piece
        if token in TOGGLES and token in self.open:  # it opens: written with what it encloses
            self.held.append((token, piece, self.before, starts))
            return ""
        if token in TOGGLES and self.held and self.held[-1][0] == token:  # it would close at once
            mark, _, before, self.sentence_start = self.held.pop()
            if before[:1].isalnum() or before in TOGGLES:  # after a word or a closing mark: an empty pair, left out
                return ""
            # After punctuation (`." "Oh`) it is the text's own close-then-open, read the other way round
            # since a quote that spans paragraphs left one unclosed: write the first as a closing mark.
            self.open.add(mark)
            self.held.append((token, " " + token, mark, self.sentence_start))
            self.sentence_start = True
            return mark
        held, self.held = "".join(p for _, p, _, _ in self.held), []
        return held + piece

    def decide(self, token: str) -> tuple[bool, str, str]:
        """(whether a space stands before `token`, its written form, its key: a paired mark's says whether it
        opens or closes), from the rules and, where it taught them, the text's surface; the state moves on."""
        if token in TOGGLES and token not in self.seen:
            if self.surface is not None and self.prev in self.surface.closes:
                self.open.add(token)  # a text's first mark, after `,` where the text closes its quotations: it closes
            self.seen.add(token)
        key = token + ("c" if token in self.open else "o") if token in TOGGLES else token
        before2, before = self.prev2 or "", self.prev
        space = self._spaced(token).startswith(" ")
        if self.surface is not None and before is not None and NEWLINE not in (token, before):
            learned = self.surface.spaced(before, key)
            space = space if learned is None else learned
        self.prev2 = before
        if self.forms is None:
            return space, token, key
        word = usual = self.forms.get(token, token)
        if self.sentence_start and word[:1].isalpha():
            word = word[0].upper() + word[1:]
        if self.surface is not None:
            word = self.surface.form(before2, before or "", token, usual) or word
        if token in TOGGLES and token in self.open:  # it opens
            self.sentence_start |= token == '"'  # a quotation starts with a capital: she said, "Yes
        elif token in SENTENCE_ENDS:
            self.sentence_start = True
        elif token[:1].isalnum() or token == '"' and self.before in ("?", "!"):  # "Where?" asked the dog
            self.sentence_start = False
        return space, word, key

    def closes(self, token: str) -> bool:
        """Whether `token` next would close a mark the text has open (a quotation)."""
        return token in TOGGLES and token in self.open

    def _spaced(self, token: str) -> str:
        prev, space = self.prev, self.prev is not None
        self.before = prev or ""
        if token in NO_SPACE_BEFORE or token == "/" or NEWLINE in (token, prev):  # a line starts where it starts
            space = False
        elif prev in _NO_SPACE_AFTER:
            space = False
        elif prev in TOGGLES and prev in self.open:  # just after an opening mark
            space = False
        elif prev == "'" and not self.glued_apostrophe:  # after an opening '
            space = False
        elif prev == "'" and token in SUFFIXES:
            space = False
        if token in TOGGLES:
            if token in self.open:  # closing: stick to the previous word
                space = False
                self.open.discard(token)
            else:
                self.open.add(token)
        if token == "'":
            self.glued_apostrophe = prev is not None and prev[-1].isalnum()
            if self.glued_apostrophe:
                space = False
        self.prev = token
        return (" " if space else "") + token


def tokenize_at_most(text: str, limit: int = MAX_TEXT_TOKENS, lines: bool = False) -> list[str]:
    """tokenize(text, lines), or UserError where it has more than `limit` tokens: a server's bound on one
    request."""
    tokens = tokenize(text, lines)
    if len(tokens) > limit:
        raise UserError(f"the text has {len(tokens):,} tokens (words and punctuation); "
                        f"give at most {limit:,} at a time")
    return tokens


def detokenize(tokens, forms: dict[str, str] | None = None, surface=None) -> str:
    d = Detokenizer(forms, surface)
    return "".join(d.add(t) for t in tokens) + d.finish()


def written_forms(text: str) -> dict[str, str]:
    """Each token's most frequent written form in `text`, where it is not the token itself: "anna" ->
    "Anna", "i" -> "I", "god" -> "God" ("the" stays "the"). Sentence starts, where every word is
    capitalised, are left out of the count. The tokens are tokenize()'s: only their case differs."""
    best: dict[str, tuple[str, int]] = {}
    for form, n in _form_counts(text).items():
        token = form.lower()
        if n > best.get(token, ("", 0))[1]:
            best[token] = (form, n)
    return {token: form for token, (form, _) in best.items() if form != token}


def always_capitalised(text: str, min_count: int = 3) -> set[str]:
    """The tokens `text` writes with a capital wherever a sentence does not start (seen `min_count` times or
    more there): its names, "Anna", "Levin", "I"."""
    upper, lower = collections.Counter(), collections.Counter()
    for form, n in _form_counts(text).items():
        (upper if form[:1].isupper() else lower)[form.lower()] += n
    return {t for t, n in upper.items() if n >= min_count and not lower[t] and t[:1].isalpha()}


def _form_counts(text: str) -> collections.Counter:
    """How often each written form of a word stands in `text` where a sentence does not start."""
    counts, start = collections.Counter(), True
    for t in _WORD_OR_MARK.findall(text.replace("-", " ")):
        if t in SENTENCE_ENDS:
            start = True
        elif t not in PUNCT:  # a quote or a bracket leaves a sentence start where it is
            if not start:
                counts[t] += 1
            start = False
    return counts


def scan(text: str, lines: bool = False) -> tuple[list[str], list[str], list[bool]]:
    """`text`'s tokens as written, as tokenize(text, lines) gives them, and whether a space (or, without
    `lines`, a line break) stands before each; never next to a NEWLINE."""
    written, spaces, end, broken = [], [], None, False
    for m in (_OR_BREAK if lines else _WORD_OR_MARK).finditer(text.replace("-", " ")):
        word = m.group()
        space = end is not None and m.start() > end and not broken  # never after a line break...
        broken = word[0] in "\r\n"
        written.append(NEWLINE if broken else word)
        spaces.append(space and not broken)  # ...nor before one
        end = m.end()
    return written, [w.lower() for w in written], spaces


def token_spans(text: str, lines: bool = False) -> list[tuple[int, int]]:
    """Where each of tokenize(text, lines)'s tokens is written in `text`: (start, end) character offsets."""
    return [m.span() for m in (_OR_BREAK if lines else _WORD_OR_MARK).finditer(text.replace("-", " "))]


def labelled(text: str, labels: list) -> list[tuple[str, object]]:
    """`text` as written, a piece per run of tokens with the same label (None: unlabelled; a label per
    token of tokenize(text)): what gr.HighlightedText shows. A labelled piece runs from its first token's
    first character to its last token's last; what lies between pieces (spaces, line breaks) is unlabelled."""
    pieces = []

    def add(piece: str, label):  # onto the last piece where the label is the same
        if pieces and pieces[-1][1] == label:
            pieces[-1] = (pieces[-1][0] + piece, label)
        elif piece:
            pieces.append((piece, label))

    end, before = 0, None
    for (start, stop), label in zip(token_spans(text), labels):
        add(text[end:start], label if label == before else None)  # inside a run, the gap is the run's
        add(text[start:stop], label)
        end, before = stop, label
    add(text[end:], None)
    return pieces
