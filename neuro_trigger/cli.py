"""What every command-line entry point shares: user errors become one line and exit code 2."""
import sys
from typing import Callable

from neuro_trigger.errors import USER_ERROR_EXIT_CODE, UserError, shorten

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
