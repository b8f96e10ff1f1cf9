"""Rasa component: token lemmas with chat shorthand spelled out.

Sits after the tokenizer and before the featurizers in config.yml. It rewrites
only `Token.lemma`, which the lemma-based CountVectorsFeaturizers read: "cant
login pls" is featurised like "can login please". Token text, character offsets
and the spaCy doc stay untouched, so entity extraction and any featurizer with
`use_lemma: false` still see what the customer typed.
"""

from __future__ import annotations

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import TEXT, TEXT_TOKENS
from rasa.shared.nlu.training_data.message import Message

from rasa_ext.component import ProjectComponent
from rasa_ext.shorthand import normalise


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class ShorthandNormalizer(ProjectComponent):
    @classmethod
    def required_components(cls) -> list[type]:
        return [Tokenizer]

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            # Only the user's text: intent and action names are labels, not words.
            if message.get(TEXT) is None:
                continue
            for token in message.get(TEXT_TOKENS, []):
                standard = normalise(token.text)
                if standard is not None:
                    token.lemma = standard
        return messages
