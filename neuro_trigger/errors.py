"""The one exception type for user mistakes (bad config, bad data, bad path).

The CLIs turn it into a single line on stderr and exit code 2, without a traceback.
"""


class UserError(Exception):
    """A mistake the user can fix; its message names the file or key and what was expected."""


USER_ERROR_EXIT_CODE = 2
