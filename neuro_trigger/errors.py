"""The one exception type for user mistakes (bad config, bad data, bad path), and the guard that
turns ordinary faults of user-supplied inputs into it.

The CLIs turn a `UserError` into a single line on stderr and exit code 2, without a traceback (`run_cli`).
"""
import contextlib
import sys
from typing import Any, Callable, Iterator


class UserError(Exception):
    """A mistake the user can fix; its message names the file or key and what was expected."""


USER_ERROR_EXIT_CODE = 2
MESSAGE_LIMIT = 400  # characters of an error line; a 130 KB bad value must not be echoed whole


def shorten(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """`text` cut to about `limit` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"


def short_repr(value: Any, limit: int = 80) -> str:
    """repr() of a user's value for an error message, cut to `limit` characters."""
    try:
        text = repr(value)
    except RecursionError:
        text = f"<{type(value).__name__} nested too deeply to show>"
    return shorten(text, limit)


def describe(error: BaseException) -> str:
    """The reason of an OSError (its strerror, without the path), or the message of other errors."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    if isinstance(error, RecursionError):
        return "nested too deeply"
    return str(error) or type(error).__name__


@contextlib.contextmanager
def user_input(what: str) -> Iterator[None]:
    """Within the block, OSError, ValueError and RecursionError come from the user's `what` (a path or
    a key) and become one `UserError` line naming it. Wrap only the reading of user input, never training."""
    try:
        yield
    except UserError:
        raise
    except (OSError, ValueError, RecursionError) as e:
        raise UserError(f"{what}: {describe(e)}") from None


CTRL_C_EXIT_CODE = 130  # 128 + SIGINT, as shells expect


def run_cli(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> int:
    """Call `main(argv)`; a `UserError` prints one line 'error: <message>' (cut to a readable length)
    on stderr and returns 2; Ctrl-C outside training returns 130 without a traceback."""
    try:
        return main(argv) or 0
    except UserError as e:
        print(f"error: {shorten(' '.join(str(e).splitlines()))}", file=sys.stderr)
        return USER_ERROR_EXIT_CODE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return CTRL_C_EXIT_CODE
