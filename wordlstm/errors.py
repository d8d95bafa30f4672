"""The one exception a user can cause and fix: every layer raises it, every front end shows its message."""


class UserError(ValueError):
    """A problem the user caused and can fix; its message says what to do."""
