"""Errors a user can act on. The command line prints these as one line, without a traceback."""


class ChainruleError(Exception):
    """Base of the errors that describe the user's input rather than a bug."""


class ShapeError(ChainruleError, ValueError):
    """Shapes that an op cannot combine; the message names the op and the shapes."""


class DataError(ChainruleError, ValueError):
    """Bad data: the message names the file, the row and the column where it can."""


class CheckpointError(ChainruleError, ValueError):
    """A checkpoint that is missing, damaged, or does not fit the model."""


class TrainingError(ChainruleError):
    """Training that cannot go on: a checkpoint of another run, or a run that diverged."""


class DivergenceError(TrainingError):
    """A run whose loss, gradient or weights became NaN or infinite, or whose loss grew far
    beyond its starting value; the message suggests a smaller learning rate."""


class RunDirectoryError(ChainruleError):
    """A run directory that cannot be written: it holds a run already, or another writer has it."""


class CompileError(ChainruleError, RuntimeError):
    """A step that ``chainrule.compile`` can't record or replay faithfully; the message says
    what in the step broke it and what to do instead."""
