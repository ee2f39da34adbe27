"""The one error type users see: a sentence naming the file, the field and what is allowed."""

from __future__ import annotations


class InputError(ValueError):
    """Bad user input (a file, a field, a command-line value).

    Args:
        source: where the input came from (a file name, or e.g. ``--wavelengths``).
        field: the offending field as a path, e.g. ``layers[2].thickness_nm``; empty if the
            whole input is at fault.
        problem: what is wrong and what is allowed, as the rest of one sentence.
    """

    def __init__(self, source: str, field: str, problem: str):
        self.source, self.field, self.problem = source, field, problem
        where = f"{source}: field '{field}'" if field else f"{source}:"
        text = f"{where} {problem}".rstrip(".") + "."
        # one line whatever the input quoted in it holds (a name, a value, a path with a line break)
        super().__init__(text.replace("\r", "\\r").replace("\n", "\\n"))

    def within(self, source: str) -> "InputError":
        """The same error, re-attributed to a file once the caller knows its name."""
        return InputError(source, self.field, self.problem)
