"""Errors of the sequence core. Every message is meant to be shown to a user (or an LLM) as it is."""

from __future__ import annotations


class SequenceError(ValueError):
    """Base class: a problem with the caller's input or with what the core can do for it."""


class InputError(SequenceError):
    """The input could not be read (empty, malformed FASTA, GenBank without CDS, ...)."""


class InvalidSequenceError(SequenceError):
    """Letters that are not amino acids. `problems` lists (record id, 1-based position, letter)."""

    def __init__(self, message: str, problems: list[tuple[str, int, str]] | None = None):
        super().__init__(message)
        self.problems = problems or []


class NucleotideInputError(SequenceError):
    """DNA/RNA given where a protein is needed; `translations` offers the CDS/ORF translations found."""

    def __init__(self, message: str, translations: list[dict] | None = None):
        super().__init__(message)
        self.translations = translations or []


class SequenceTooLongError(SequenceError):
    """Above the hard size limit (BIOAGENT_SEQUENCE__MAX_RESIDUES)."""


class MutationError(SequenceError):
    """A mutation that cannot be scored: bad syntax, wrong wild-type letter, position out of range."""


class RecordSelectionError(SequenceError):
    """Several records were given where one is needed, or the requested record id does not exist."""


class ModelUnavailableError(SequenceError):
    """No ESM model could be loaded (offline and no local checkpoint, missing fair-esm, bad checkpoint)."""
