"""Errors a user can act on. The command line prints these as one line, without a traceback."""


class ChainruleError(Exception):
    """Base of the errors that describe the user's input rather than a bug."""


class ShapeError(ChainruleError, ValueError):
    """Shapes that an op cannot combine; the message names the op and the shapes."""


class DataError(ChainruleError, ValueError):
    """Bad data: the message names the file, the row and the column where it can."""


class CheckpointError(ChainruleError, ValueError):
    """A checkpoint that is missing, damaged, or does not fit the model."""


class CompileError(ChainruleError, RuntimeError):
    """A step that ``chainrule.compile`` can't record or replay faithfully; the message says
    what in the step broke it and what to do instead."""
