"""What every command-line entry point shares: user errors become one line and exit code 2."""
import sys
from typing import Callable

from neuro_trigger.errors import USER_ERROR_EXIT_CODE, UserError


def run_cli(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> int:
    """Call `main(argv)`; a `UserError` prints 'error: <message>' on stderr and returns 2."""
    try:
        return main(argv) or 0
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return USER_ERROR_EXIT_CODE
