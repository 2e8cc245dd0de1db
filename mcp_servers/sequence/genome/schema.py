"""JSON schema of `annotate_genome` output (the keys the issue fixes; more keys are allowed)."""

from __future__ import annotations

_INT = {"type": "integer", "minimum": 0}
_SPAN = {"type": "array", "items": _INT, "minItems": 2, "maxItems": 2}

FAMILY = {
    "type": ["object", "null"],
    "required": ["name", "score", "nearest"],
    "properties": {
        "name": {"type": "string"},
        "score": {"type": ["number", "null"]},
        "nearest": {"type": ["object", "null"], "required": ["accession", "identity"],
                    "properties": {"accession": {"type": "string"}, "identity": {"type": ["number", "null"]}}},
    },
}

GENE = {
    "type": "object",
    "required": ["role", "start", "end", "strand", "exons", "protein_length", "rep_call"],
    "properties": {
        "role": {"enum": ["rep", "cap", "other"]},
        "start": _INT, "end": _INT,
        "strand": {"enum": [1, -1]},
        "exons": {"type": ["array", "null"], "items": _SPAN},
        "protein_length": _INT,
        "rep_call": {"type": ["object", "null"], "required": ["call"],
                     "properties": {"call": {"enum": ["yes", "partial", "huh_only", "no"]}}},
    },
}

ORIGIN = {
    "type": ["object", "null"],
    "required": ["nonanucleotide", "start", "strand", "stem_length", "loop_length", "nick_after"],
    "properties": {
        "nonanucleotide": {"type": "string", "pattern": "^[ACGT]{9}$"},
        "start": _INT, "strand": {"enum": [1, -1]},
        "stem_length": {"type": "integer", "minimum": 1}, "loop_length": {"type": "integer", "minimum": 1},
        "nick_after": _INT,
    },
}

RECORD = {
    "type": "object",
    "required": ["id", "length", "topology", "is_cress", "family", "genes", "origin"],
    "properties": {
        "id": {"type": "string"},
        "length": {"type": "integer", "minimum": 1},
        "topology": {"enum": ["circular", "linear"]},
        "is_cress": {"enum": ["yes", "partial", "no"]},
        "family": FAMILY,
        "genes": {"type": "array", "items": GENE},
        "origin": ORIGIN,
    },
}

GENOME_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "annotate_genome result",
    "type": "object",
    "required": ["records"],
    "properties": {"records": {"type": "array", "items": RECORD}},
}
