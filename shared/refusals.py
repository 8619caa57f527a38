"""What a use case answers when it will not do what was asked; each entrypoint
turns it into its own answer (HTTP: `shared.http.refusals`; a consumed event: a
dead letter or nothing). The message says why, without personal data."""


class NotFound(LookupError):
    """No such thing (the message says which)."""


class Conflict(Exception):
    """The request clashes with what is stored (the message says how)."""


class Invalid(ValueError):
    """The request is inconsistent with what is stored (the message says how)."""


class Erased(Exception):
    """The volunteer was erased: nothing more is kept or accepted for the id."""
