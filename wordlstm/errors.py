"""The one exception a user can cause and fix: every layer raises it, every front end shows its message;
and the two helpers its messages share (a count and its noun, a capital)."""


class UserError(ValueError):
    """A problem the user caused and can fix; its message says what to do."""


def count(n: int, noun: str, plural: str | None = None) -> str:
    """A number and its noun, agreed, for what users read: `1 word`, `2 words`, `12,778 words`."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def capital(text: str) -> str:
    """`text` with its first letter a capital and the rest as it is (str.capitalize would write "16 gb")."""
    return text[:1].upper() + text[1:]
