"""Every error Apprentice raises on purpose, as one tree.

    ApprenticeError          a problem the user can fix; its message is one sentence naming the file and the fix
    ├── BadInput             a file that cannot be used as it is (corrupt, too large, wrong size, missing layer)
    │   └── PartlyDone       a batch drew and recorded what it could read; `results` holds those
    ├── NotFound             a task, apprentice or workshop that does not exist yet
    ├── Conflict             a request that clashes with what is stored (a task name taken, a kind mismatch)
    ├── Unreachable          another member's node did not answer, refused, or answered outside the guild protocol
    └── Withdrawn            a work's owner withdrew consent while a run was learning from it

Anything else that escapes is a bug and keeps its traceback.
"""


class ApprenticeError(Exception):
    """A problem the user can fix; str(error) is the one sentence to show them."""


class BadInput(ApprenticeError):
    """A file that cannot be used as it is."""


class PartlyDone(BadInput):
    """Some drawings of a batch could not be read; the others were drawn, written and recorded (`results`)."""

    def __init__(self, message: str, results: list) -> None:
        super().__init__(message)
        self.results = results


class NotFound(ApprenticeError):
    """A task, apprentice or workshop that does not exist yet."""


class Conflict(ApprenticeError):
    """A request that clashes with what is already stored."""


class Unreachable(ApprenticeError):
    """Another member's node did not answer, refused, or answered something malformed; `address` and `why` say
    which node and what went wrong, for reports that list peers."""

    def __init__(self, message: str, address: str = "", why: str = "") -> None:
        super().__init__(message)
        self.address, self.why = address, why or message


class Withdrawn(ApprenticeError):
    """A work's owner withdrew consent while a run was learning from it; nothing was published."""
