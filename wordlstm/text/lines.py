"""Whether a text keeps its line breaks as tokens: verse, lyrics, lists and plays do; prose does not.

Prose is wrapped wherever its lines happen to end (about 60-75 characters in a book), and its breaks say
nothing a space does not. A poem's or a play's lines are short and mostly end without a sentence mark:
there, a model that writes NEWLINE tokens writes lines. The book's mode (no NEWLINE) stays the default for
prose, and for every figure measured on the book.
"""
from dataclasses import dataclass

from ..errors import UserError

ASK = ("auto", "yes", "no")  # the setting: auto decides from the text
SHORT = 50  # characters: a text whose lines average fewer is verse or a list (tinyshakespeare: 33; anna.txt: 61)
ENDED = 0.5  # ...if fewer than this share of them end a sentence (tinyshakespeare: 0.30; WikiText: 0.64)
MIN_LINES = 20  # fewer lines tell nothing


@dataclass(frozen=True)
class Lines:
    keep: bool
    why: str  # one line for people: what was chosen, and why
    asked: str = "auto"  # the setting it was chosen with (ASK)


def choose_lines(text: str, asked: str = "auto") -> Lines:
    """Whether `text` keeps its line breaks: as `asked` ("yes", "no"), or with "auto" from its lines (all of
    them: a large text's caller gives its first megabyte, data.surface_sample)."""
    if asked not in ASK:
        raise UserError(f"lines must be one of {', '.join(ASK)} (got {asked!r})")
    if asked != "auto":
        return Lines(asked == "yes", f"its line breaks are {'kept' if asked == 'yes' else 'read as spaces'}, "
                                     "as asked", asked)
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    if len(lines) < MIN_LINES:
        return Lines(False, f"its line breaks are read as spaces: it has {len(lines)} lines, too few to tell verse")
    mean = sum(map(len, lines)) / len(lines)
    ended = sum(line.rstrip("\"'”’)]").endswith((".", "!", "?")) for line in lines) / len(lines)
    if mean >= SHORT:
        return Lines(False, f"its line breaks are read as spaces: its lines are long ({mean:.0f} characters on "
                            "average), as prose's are")
    if ended >= ENDED:
        return Lines(False, f"its line breaks are read as spaces: {ended:.0%} of its lines end a sentence, "
                            "as prose's do")
    return Lines(True, f"its line breaks are kept: its lines are short ({mean:.0f} characters on average) and "
                       f"{1 - ended:.0%} of them end without . ! or ?, as verse and lists do")
