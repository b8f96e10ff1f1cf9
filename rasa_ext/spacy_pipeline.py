"""Build the spaCy pipeline Rasa uses: spaCy's blank English tokenizer, lookup
lemmas, and an EntityRuler for the identifiers customers type. No downloaded
weights: everything comes from spacy.blank("en") and PyPI packages.

Run with the Rasa environment: `python -m rasa_ext.spacy_pipeline build/spacy/en_shop`.
Rasa's SpacyEntityExtractor reports each ruler label as an entity of that name.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import spacy
from spacy.language import Language

DIGITS = r"^\d+$"

# Order numbers as customers type them: "#1043", "1043", "no. 00001043".
# Phone numbers are longer or split into groups; the ruler keeps the longest
# match, so a phone number is never read as an order number.
ORDER_NUMBER: list[list[dict[str, Any]]] = [
    [{"TEXT": {"REGEX": r"^#?\d{3,8}$"}}],
    [{"ORTH": "#"}, {"TEXT": {"REGEX": r"^\d{3,8}$"}}],
]

PHONE: list[list[dict[str, Any]]] = [
    # +447700900123, 07700900123, 07700-900-123
    [{"TEXT": {"REGEX": r"^\+?\d[\d\-]{8,16}\d$"}}],
    # +44 7700 900123, +44 (0)7700 900123 is rare enough to leave out
    [{"TEXT": {"REGEX": r"^\+\d{1,3}$"}}, {"TEXT": {"REGEX": r"^\d{2,5}$"}}, {"TEXT": {"REGEX": r"^\d{3,8}$"}}],
    [{"TEXT": {"REGEX": r"^\+\d{1,3}$"}}, {"TEXT": {"REGEX": r"^\d{7,12}$"}}],
    [{"TEXT": {"REGEX": r"^\+\d{1,3}$"}}, {"TEXT": {"REGEX": r"^\d{2,5}$"}}, {"TEXT": {"REGEX": r"^\d{2,5}$"}}, {"TEXT": {"REGEX": r"^\d{2,5}$"}}],
    # 07700 900123, 0161 496 0000
    [{"TEXT": {"REGEX": r"^0\d{3,4}$"}}, {"TEXT": {"REGEX": r"^\d{5,7}$"}}],
    [{"TEXT": {"REGEX": r"^0\d{2,4}$"}}, {"TEXT": {"REGEX": r"^\d{3,4}$"}}, {"TEXT": {"REGEX": r"^\d{3,4}$"}}],
    # (555) 123-4567
    [{"ORTH": "("}, {"TEXT": {"REGEX": r"^\d{3}$"}}, {"ORTH": ")"}, {"TEXT": {"REGEX": r"^\d{3}$"}}, {"ORTH": "-", "OP": "?"}, {"TEXT": {"REGEX": r"^\d{4}$"}}],
]

EMAIL: list[list[dict[str, Any]]] = [[{"LIKE_EMAIL": True}]]

# Dates like 2024-11-02 would otherwise lend their year to an order number.
# The label is not one Rasa extracts, so the match simply swallows them.
DATE: list[list[dict[str, Any]]] = [
    [{"TEXT": {"REGEX": r"^\d{4}$"}}, {"ORTH": "-"}, {"TEXT": {"REGEX": r"^\d{1,2}$"}}, {"ORTH": "-"}, {"TEXT": {"REGEX": r"^\d{1,2}$"}}],
    [{"TEXT": {"REGEX": r"^\d{1,2}/\d{1,2}/\d{2,4}$"}}],
]


def build() -> Language:
    nlp = spacy.blank("en")
    # "order#1043" and "number:1043" arrive without spaces; split them so the
    # digits become a token of their own.
    infixes = list(nlp.Defaults.infixes) + [r"(?<=[A-Za-z])[#:](?=\d)"]
    nlp.tokenizer.infix_finditer = spacy.util.compile_infix_regex(infixes).finditer
    # Lookup lemmas (tables from the spacy-lookups-data package, copied into the
    # saved pipeline): "parcels arrived" and "parcel arrive" become the same
    # features, which small training data needs to generalise.
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    # Before the ruler is added: initialising an EntityRuler empties it.
    nlp.initialize()
    ruler = nlp.add_pipe("entity_ruler", config={"overwrite_ents": True})
    patterns = (
        [{"label": "order_number", "pattern": p} for p in ORDER_NUMBER]
        + [{"label": "phone", "pattern": p} for p in PHONE]
        + [{"label": "email", "pattern": p} for p in EMAIL]
        + [{"label": "date", "pattern": p} for p in DATE]
    )
    ruler.add_patterns(patterns)  # type: ignore[attr-defined]
    return nlp


def main(argv: list[str]) -> int:
    target = Path(argv[1] if len(argv) > 1 else "build/spacy/en_shop")
    nlp = build()
    target.parent.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(target)
    print(f"spaCy pipeline written to {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
