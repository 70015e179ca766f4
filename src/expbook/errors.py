"""One exception type per failure kind; each message says what, where, and what to do."""


class ExpbookError(Exception):
    """Base class: the CLI prints these as one line and exits with ``exit_code``."""

    exit_code = 1


class ParameterError(ExpbookError):
    """A parameter name or value the notebook does not accept. Nothing was run or written."""

    exit_code = 2


class DataError(ExpbookError):
    """A data file is missing or malformed; the message names the file (and column/row)."""

    exit_code = 3


class RunFailed(ExpbookError):
    """A notebook raised; the failed run is stored with its error, the last good run stays."""

    exit_code = 4

    def __init__(self, message: str, *, run_id: str = ""):
        super().__init__(message)
        self.run_id = run_id


class StoreLocked(ExpbookError):
    """Another process is writing the run store."""

    exit_code = 5
