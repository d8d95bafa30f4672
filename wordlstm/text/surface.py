"""How a text writes its tokens, learned from the text: the surface the book's tokens leave out.

The tokenizer lowers every word and pads every mark with spaces; the Detokenizer's rules put the book's
prose back (marks reattached, a capital at each sentence start, each word's usual case). A text that writes
otherwise (a play's speakers in capitals, a space before each comma, `o'er` whole) is learned here, as a
truecaser learns case: from the training text, the form a token takes after the one or two tokens before
it, and whether a space stands before it after the one before (a quote mark keyed as opening or closing),
each kept only where it beats what the rules (or a shorter context) would write on that text. Unseen
contexts back off to a shorter one, then to the rules. Small: a text keeps a few thousand entries.
"""
import collections
import difflib
import re

from ..errors import UserError
from .lines import choose_lines
from .tokenizer import (PUNCT, SUFFIXES, TOGGLES, Detokenizer, always_capitalised, detokenize, scan,
                        tokenize, written_forms)

SEP = "\t"  # between a context's tokens: no token holds whitespace, but NEWLINE ("\n")
APOSTROPHE = "'" + SEP + SEP  # + the token after a ': the key of the space before that ' (Surface.apostrophe)
MIN_SEEN = 2  # a context seen once is the text's accident, not its habit


class Surface:
    """The learned exceptions to the rules: case[context] -> form, space[context] -> whether a space stands
    before. A context is its tokens joined by SEP: (two before, one before, token) or (one before, token)
    for case; (one before, token), (token,) or (one before,) + "" for space, a paired mark's token keyed by
    whether it opens or closes ('"o', '"c': Detokenizer.decide)."""

    def __init__(self, case: dict[str, str], space: dict[str, bool], closes: set[str] = frozenset()):
        self.case, self.space = case, space
        self.closes = set(closes)  # tokens after which a paired mark, the first of a text, closes: `," she said`

    def __len__(self):
        return len(self.case) + len(self.space) + len(self.closes)

    def form(self, before2: str, before: str, token: str, usual: str) -> str | None:
        """The token's written form after `before2`, `before` (tokens), where the text taught one: its own in
        that context, or its usual form `usual` as written after `before` (as it is, or capitalised)."""
        form = self.case.get(SEP.join((before2, before, token))) or self.case.get(SEP.join((before, token)))
        if form is None and token[:1].isalpha():
            return _as(self.case.get(SEP.join((before2, before, ""))) or self.case.get(before + SEP), usual)
        return form

    def apostrophe(self, space: bool, before: str, after: str) -> bool:
        """Whether a space stands before a ' between `before` and `after`, where `space` was decided before `after`
        was known (Detokenizer.add holds the ' until then): as the text taught for a ' before `after` ('tis,
        'mongst, WikiText's he 's), else glued to a word whose own it is (Levin's, don't), else `space`."""
        learned = self.space.get(APOSTROPHE + after)
        if learned is not None:
            return learned
        return False if after in SUFFIXES and before[-1:].isalnum() else space

    def spaced(self, before: str, key: str) -> bool | None:
        """Whether a space stands before the token keyed `key` after `before`, where the text taught it. A space
        is only ever taken away next to a mark: two words written as one would read back as one token."""
        if key[:1] in TOGGLES or before in TOGGLES:  # around a paired mark, only a habit of the text's marks
            contexts = (key,) if key[:1] in TOGGLES else (before + SEP,)
        else:
            contexts = (SEP.join((before, key)), key, before + SEP)
        for context in contexts:
            if context in self.space:
                space = self.space[context]
                return space if space or key[:1] in PUNCT or before in PUNCT else None
        return None

    @classmethod
    def learn(cls, text: str, forms: dict[str, str] | None, lines: bool = False) -> "Surface":
        """The exceptions that `text` (written with `forms`, its words' usual forms; with `lines`, its line breaks
        tokens) makes to the rules."""
        written, tokens, spaces = scan(text, lines)
        rules = Detokenizer(forms)
        keys, rule_forms, rule_spaces = [], [], []
        for t in tokens:  # the rules' decisions, token by token, with the text's own tokens before
            space, form, key = rules.decide(t)
            keys.append(key), rule_forms.append(form), rule_spaces.append(space)
        before = [""] + tokens[:-1]
        before2 = ["", ""] + tokens[:-2]
        # Whether a paired mark opens or closes is the rules' guess (they pair them in turn, and a quotation
        # that spans paragraphs leaves one open), so around them only a text's one habit is learned: a space
        # on both sides of every mark, as WikiText writes them. Elsewhere: the token, then the token before,
        # then the pair, each learned against what the shorter ones predict.
        space = _spaced_marks(tokens, spaces)
        free = [i for i in range(len(tokens)) if tokens[i] not in TOGGLES and before[i] not in TOGGLES]
        for context in (lambda i: keys[i], lambda i: before[i] + SEP, lambda i: SEP.join((before[i], keys[i]))):
            so_far = cls({}, space)  # what the entries learned so far write, as writing reads them
            predicted = [rule_spaces[i] if (s := so_far.spaced(before[i], keys[i])) is None else s for i in free]
            space.update(_beats([context(i) for i in free], [spaces[i] for i in free], predicted))
        # Then the space before a ', by the token after it, which writing knows once it has held the ' till then.
        so_far, at = cls({}, space), [i for i in range(1, len(tokens) - 1) if tokens[i] == "'"]
        predicted = [so_far.apostrophe(rule_spaces[i] if (s := so_far.spaced(before[i], "'")) is None else s,
                                       before[i], tokens[i + 1]) for i in at]
        space.update(_beats([APOSTROPHE + tokens[i + 1] for i in at], [spaces[i] for i in at], predicted))
        usual = [forms.get(t, t) if forms else t for t in tokens]
        words = [i for i, t in enumerate(tokens) if t[:1].isalpha()]
        # After a token, then after two, words as usual, capitalised or in capitals (a verse line's capital,
        # but not where a line goes on mid-sentence; a play's speaker); then the pair; then three.
        kinds = [_kind(written[i], usual[i]) for i in words]
        case = _beats([before[i] + SEP for i in words], kinds, [_kind(rule_forms[i], usual[i]) for i in words])
        after_one = [_as(case.get(before[i] + SEP), usual[i]) or rule_forms[i] for i in words]
        case.update(_beats([SEP.join((before2[i], before[i], "")) for i in words], kinds,
                           [_kind(f, usual[i]) for f, i in zip(after_one, words)]))
        predicted = list(rule_forms)
        for i in words:
            kind = case.get(SEP.join((before2[i], before[i], ""))) or case.get(before[i] + SEP)
            predicted[i] = _as(kind, usual[i]) or rule_forms[i]
        case.update(_beats([SEP.join((before[i], t)) for i, t in enumerate(tokens)], written, predicted))
        predicted = [case.get(SEP.join((before[i], t)), predicted[i]) for i, t in enumerate(tokens)]
        case.update(_beats([SEP.join((before2[i], before[i], t)) for i, t in enumerate(tokens)], written, predicted))
        return cls({k: v for k, v in case.items() if v is not None}, space, _closes(tokens, spaces))

    def to_dict(self) -> dict:
        return {"case": self.case, "space": {k: int(v) for k, v in self.space.items()}, "closes": sorted(self.closes)}

    @classmethod
    def from_dict(cls, d) -> "Surface":
        """Read strictly: a vocabulary file's "surface" must be two tables of strings to a form or a 0/1, and a
        list of strings (`closes`, which an older surface lacks: none)."""
        closes = d.get("closes", []) if isinstance(d, dict) else None
        if not (isinstance(d, dict) and isinstance(d.get("case"), dict) and isinstance(d.get("space"), dict)
                and all(isinstance(k, str) and isinstance(v, str) for k, v in d["case"].items())
                and all(isinstance(k, str) and v in (0, 1) for k, v in d["space"].items())
                and isinstance(closes, list) and all(isinstance(t, str) for t in closes)):
            raise UserError("the vocabulary file's surface is not two tables of strings; the checkpoint is corrupt")
        return cls(dict(d["case"]), {k: bool(v) for k, v in d["space"].items()}, set(closes))


def _closes(tokens: list[str], spaces: list[bool]) -> set[str]:
    """The tokens after which the text's paired marks mostly close (seen MIN_SEEN times or more): where a
    generated text's first mark follows one, the model began inside a quotation, and the mark closes it. A mark
    closes where it hugs the token before (`,"`) and opens where it hugs the one after (`"Yes`), as written:
    pairing them in turn goes astray where a quotation spans paragraphs."""
    closing, seen = collections.Counter(), collections.Counter()
    for i in range(1, len(tokens) - 1):
        if tokens[i] in TOGGLES and spaces[i] != spaces[i + 1]:  # spaced on one side only: it tells
            seen[tokens[i - 1]] += 1
            closing[tokens[i - 1]] += not spaces[i]
    return {b for b, n in seen.items() if n >= MIN_SEEN and closing[b] > n - closing[b]}


def _spaced_marks(tokens: list[str], spaces: list[bool]) -> dict[str, bool]:
    """Space entries for the paired marks a text writes with a space on both sides (nearly always)."""
    out = {}
    for mark in TOGGLES:
        at = [i for i, t in enumerate(tokens) if t == mark and 0 < i < len(tokens) - 1]
        if len(at) >= 10 and sum(spaces[i] and spaces[i + 1] for i in at) >= 0.95 * len(at):
            out.update({mark + "o": True, mark + "c": True, mark + SEP: True})
    return out


def _kind(form: str, usual: str) -> str | None:
    """How `form` writes a word whose usual form is `usual`: "=" as usual, "^" capitalised, "A" in capitals,
    None otherwise."""
    return "=" if form == usual else "^" if form == usual[:1].upper() + usual[1:] else \
        "A" if form == usual.upper() else None


def _as(kind: str | None, usual: str) -> str | None:
    return usual if kind == "=" else usual[:1].upper() + usual[1:] if kind == "^" else \
        usual.upper() if kind == "A" else None


def _beats(contexts: list[str], actual: list, predicted: list) -> dict:
    """For each context seen MIN_SEEN times or more, its most frequent actual value, where that value is right
    more often than `predicted` was in that context."""
    seen, pairs = collections.Counter(contexts), collections.Counter(zip(contexts, actual))
    right = collections.Counter(c for c, a, p in zip(contexts, actual, predicted) if a == p)
    best: dict[str, tuple] = {}
    for (c, value), n in pairs.items():
        if seen[c] >= MIN_SEEN and n > best.get(c, (None, 0))[1]:
            best[c] = (value, n)
    return {c: value for c, (value, n) in best.items() if n > right[c]}


def reproduced(text: str, learned: bool = True, lines: str = "auto") -> dict:
    """How much of `text` its own surface writes back: its last tenth (cut at a line break) tokenized (with its
    line breaks where `lines` keeps them: lines.choose_lines), then written with what the first nine tenths
    taught (their written forms, and with `learned` their Surface), compared with the original chunk by chunk
    (a chunk lies between two spaces; `-` reads as a space). The share of the original's chunks reproduced
    exactly, and the misses counted by kind, with examples."""
    cut = text.rfind("\n", 0, int(len(text) * 0.9))
    head, tail = text[: cut + 1], text[cut + 1:]
    forms, keep = written_forms(head), choose_lines(head, lines).keep
    surface = Surface.learn(head, forms, keep) if learned else None
    original = tail.replace("-", " ").split()
    written = detokenize(tokenize(tail, keep), forms, surface).replace("-", " ").split()
    known = set(tokenize(head))
    matcher = difflib.SequenceMatcher(None, original, written, autojunk=False)
    kinds, examples = collections.Counter(), collections.defaultdict(list)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op != "equal":
            a, b = " ".join(original[i1:i2]), " ".join(written[j1:j2])
            kind = _miss(a, b, known)
            kinds[kind] += i2 - i1
            examples[kind].append((a, b))
    same = sum(m.size for m in matcher.get_matching_blocks())
    return {"surface": same / max(1, len(original)), "chunks": len(original), "misses": dict(kinds),
            "examples": {k: v[:5] for k, v in examples.items()}, "entries": surface and len(surface),
            "lines": keep}


_LETTERS = r"[^\W\d_]+"
_WHOLE = re.compile(f"{_LETTERS}'{_LETTERS}")  # a word written whole around its apostrophe: o'er, don't
_APART = re.compile(f"({_LETTERS})(?: '|' | ' )({_LETTERS})")  # o' er, o 'er
_EMPTY = re.compile(r'(?:^|(?<=\s))"\s+"|"\s+"(?=\s|$)')  # a mark on its own beside another


def form_misses(texts: list[str], training: str) -> dict:
    """What generated `texts` get wrong of their training text's form: a doubled quote mark (`""`); `" "` but
    between a mark that closes a word and one that opens the next (`." "Oh`), an empty quotation; a paragraph
    that leaves a quotation open (a paragraph: what lies between blank lines, or the whole text where it has
    none); a name the training text always capitalises (tokenizer.always_capitalised) written otherwise; a word
    it writes whole around an apostrophe written apart (`o' er`). With the words checked and the line breaks
    written."""
    names, whole = always_capitalised(training), {w.lower() for w in _WHOLE.findall(training)}
    misses = dict.fromkeys(("doubled quotes", "empty quotations", "open quotations", "names in lower case",
                            "words split at an apostrophe"), 0)
    words = breaks = 0
    for text in texts:
        misses["doubled quotes"] += text.count('""')
        misses["empty quotations"] += len(_EMPTY.findall(text))
        misses["open quotations"] += sum(p.count('"') % 2 for p in re.split(r"\n\s*\n", text))
        written, _, _ = scan(text)
        misses["names in lower case"] += sum(w.lower() in names and not w[:1].isupper() for w in written)
        misses["words split at an apostrophe"] += sum(f"{a}'{b}".lower() in whole for a, b in _APART.findall(text))
        words += sum(w[:1].isalpha() for w in written)
        breaks += text.count("\n")
    return {"words": words, "line_breaks": breaks, "misses": misses}


def _miss(original: str, written: str, known: set) -> str:
    """What kind of miss writing `original` as `written` is."""
    if original.lower() == written.lower():
        new = any(w not in known for w in tokenize(original) if w[:1].isalpha())
        return "case of a word the text had not written before" if new else "case"
    if original.replace(" ", "") == written.replace(" ", ""):
        return "spacing"
    return "case and spacing" if original.replace(" ", "").lower() == written.replace(" ", "").lower() else "other"
