"""Every error Apprentice raises on purpose, as one tree.

    ApprenticeError          a problem the user can fix; its message is one sentence naming the file and the fix
    ├── BadInput             a file that cannot be used as it is (corrupt, too large, wrong size, missing layer)
    ├── NotFound             a task, apprentice or workshop that does not exist yet
    ├── Conflict             a request that clashes with what is stored (a task name taken, a kind mismatch)
    └── Withdrawn            a work's owner withdrew consent while a run was learning from it

Anything else that escapes is a bug and keeps its traceback.
"""


class ApprenticeError(Exception):
    """A problem the user can fix; str(error) is the one sentence to show them."""


class BadInput(ApprenticeError):
    """A file that cannot be used as it is."""


class NotFound(ApprenticeError):
    """A task, apprentice or workshop that does not exist yet."""


class Conflict(ApprenticeError):
    """A request that clashes with what is already stored."""


class Withdrawn(ApprenticeError):
    """A work's owner withdrew consent while a run was learning from it; nothing was published."""
