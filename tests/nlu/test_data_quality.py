"""Quality gates for the NLU training data and the held-out paraphrase sets.

A held-out set is only worth something while it stays unseen: these tests
fail if any of its sentences leaks into training, exactly or nearly.
"""

from __future__ import annotations

import difflib
import json
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.timing import ADVERSARIAL, assert_linear

ROOT = Path(__file__).resolve().parents[2]
TRAINING_DIR = ROOT / "data" / "nlu"
PARAPHRASES = ROOT / "tests" / "nlu" / "paraphrases.yml"
# Written from other customer personas before the pipeline was tuned; never tuned on.
FRESH_PARAPHRASES = ROOT / "tests" / "nlu" / "paraphrases_fresh.yml"
# Written from eight customer personas for issue 8 (1,199 messages); never tuned on.
PERSONAS = ROOT / "tests" / "nlu" / "heldout_personas.yml"
PERSONAS_META = ROOT / "tests" / "nlu" / "heldout_personas.meta.yml"

INTENTS = frozenset(
    {
        "greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "out_of_scope",
        "inform", "track_order", "order_history", "cancel_order", "change_order",
        "place_order", "request_refund", "refund_status", "return_policy", "delivery_info",
        "change_shipping_address", "get_invoice", "payment_methods", "payment_issue",
        "account_help", "delete_account", "data_access", "newsletter", "request_human",
        "complaint", "give_feedback", "recommend", "linked_accounts", "cancellation_fee",
        "order_updates_stop", "order_updates_start",
    }
)  # fmt: skip
ENTITIES = frozenset({"order_number", "email", "phone", "product", "rating"})
# Extracted by the spaCy EntityRuler; annotating them would train DIET to fight it.
RULE_BASED_ENTITIES = frozenset({"order_number", "email", "phone"})

MIN_TRAINING_EXAMPLES = 40
# Smallest number of held-out sentences per intent, per held-out file.
MIN_HELD_OUT = {PARAPHRASES: 8, FRESH_PARAPHRASES: 6, PERSONAS: 25}
HELD_OUT_FILES = list(MIN_HELD_OUT)
# Intents a held-out file measures beyond INTENTS: the persona set was written for
# issue 8's new cancellation_fee before the training data had it.
EXTRA_HELD_OUT_INTENTS = {PERSONAS: frozenset({"cancellation_fee"})}
PERSONA_NAMES = frozenset(
    {"typist", "non_native", "angry", "polite", "rambler", "terse", "british", "amounts"}
)

# [text](entity), [text](entity:value) or [text]{"entity": ..., ...}
_ANNOTATION = re.compile(r"\[(?P<text>[^\]]+)\](?:\((?P<short>[^)]+)\)|(?P<json>\{[^}]+\}))")


@dataclass(frozen=True)
class Example:
    intent: str
    raw: str
    source: str

    @property
    def text(self) -> str:
        return _ANNOTATION.sub(lambda m: m["text"], self.raw)

    @property
    def entities(self) -> list[tuple[str, str]]:
        """(entity name, annotated text) for every annotation in the example."""
        found = []
        for m in _ANNOTATION.finditer(self.raw):
            if m["short"] is not None:
                name = m["short"].split(":", 1)[0]
            else:
                name = json.loads(m["json"])["entity"]
            found.append((name, m["text"]))
        return found


def normalise(text: str) -> str:
    """Lower case, punctuation and spacing removed: how "the same sentence" is judged."""
    return " ".join(re.sub(r"[^\w]+", " ", text.lower()).split())


def _within_one_edit(a: list[str], b: list[str]) -> bool:
    """Token edit distance <= 1, in linear time: it runs for millions of sentence pairs."""
    if len(a) > len(b):
        a, b = b, a
    if len(b) - len(a) > 1:
        return False
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i + 1 :] == b[i + 1 :] if len(a) == len(b) else a[i:] == b[i + 1 :]


def nearly_same(a: str, b: str) -> bool:
    """True if two normalised sentences differ only trivially.

    Catches one word added, dropped or swapped ("thank you kindly" / "thank you"),
    a reordering, a short rewording of a longer sentence, and spelling variants.
    """
    if a == b:
        return True
    ta, tb = a.split(), b.split()
    # In a three-word sentence a swapped word is usually the whole meaning
    # ("this is awful" / "this is bullshit"), so only an added or dropped word counts.
    one_word_apart = _within_one_edit(ta, tb)
    if one_word_apart and (len(ta) >= 4 or (len(ta) == 3 and len(tb) != 3)):
        return True
    if len(ta) == len(tb) >= 2 and sorted(ta) == sorted(tb):
        return True
    return (len(ta) >= 4 and _similar(ta, tb, 0.75)) or _similar(a, b, 0.9)


def _similar(a: str | list[str], b: str | list[str], threshold: float) -> bool:
    # Cheap upper bounds first: they rule out nearly every pair before the full ratio.
    # The first is real_quick_ratio() without the cost of building a matcher.
    total = len(a) + len(b)
    if total and 2.0 * min(len(a), len(b)) / total < threshold:
        return False
    matcher = difflib.SequenceMatcher(None, a, b)
    return (
        matcher.real_quick_ratio() >= threshold
        and matcher.quick_ratio() >= threshold
        and matcher.ratio() >= threshold
    )


def load_examples(path: Path) -> tuple[dict, list[Example]]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    examples = []
    for item in document.get("nlu", []):
        if "intent" not in item:
            continue
        for line in item["examples"].splitlines():
            line = line.strip()
            if not line:
                continue
            assert line.startswith("- "), f"{path.name}: example not in '- text' form: {line!r}"
            examples.append(Example(item["intent"], line[2:].strip(), path.name))
    return document, examples


def _training_files() -> list[Path]:
    return sorted(TRAINING_DIR.glob("*.yml"))


@pytest.fixture(scope="module")
def training() -> list[Example]:
    return [ex for path in _training_files() for ex in load_examples(path)[1]]


@pytest.fixture(scope="module", params=HELD_OUT_FILES, ids=lambda p: p.name)
def held_out(request: pytest.FixtureRequest) -> tuple[Path, list[Example]]:
    return request.param, load_examples(request.param)[1]


@pytest.fixture(scope="module")
def paraphrases(held_out: tuple[Path, list[Example]]) -> list[Example]:
    return held_out[1]


def _by_intent(examples: list[Example]) -> dict[str, list[Example]]:
    grouped: dict[str, list[Example]] = defaultdict(list)
    for ex in examples:
        grouped[ex.intent].append(ex)
    return grouped


@pytest.mark.parametrize("path", [*_training_files(), *HELD_OUT_FILES], ids=lambda p: p.name)
def test_every_file_declares_format_version(path: Path) -> None:
    document, _ = load_examples(path)
    assert document.get("version") == "3.1"


def test_training_files_exist() -> None:
    assert len(_training_files()) >= 5


def test_only_known_intents(
    training: list[Example], held_out: tuple[Path, list[Example]]
) -> None:
    path, paraphrases = held_out
    known = INTENTS | EXTRA_HELD_OUT_INTENTS.get(path, frozenset())
    unknown = {ex.intent for ex in training + paraphrases} - known
    assert not unknown, f"intents not in the design: {sorted(unknown)}"


def test_every_intent_has_enough_training_examples(training: list[Example]) -> None:
    # Count distinct sentences: a repeated line adds nothing for the classifier.
    counts = {
        intent: len({ex.text for ex in examples})
        for intent, examples in _by_intent(training).items()
    }
    short = {i: counts.get(i, 0) for i in INTENTS if counts.get(i, 0) < MIN_TRAINING_EXAMPLES}
    assert not short, f"intents under {MIN_TRAINING_EXAMPLES} examples: {short}"


def test_every_intent_has_enough_paraphrases(held_out: tuple[Path, list[Example]]) -> None:
    path, paraphrases = held_out
    minimum = MIN_HELD_OUT[path]
    counts = {i: len(exs) for i, exs in _by_intent(paraphrases).items()}
    expected = INTENTS | EXTRA_HELD_OUT_INTENTS.get(path, frozenset())
    short = {i: counts.get(i, 0) for i in expected if counts.get(i, 0) < minimum}
    assert not short, f"{path.name}: intents under {minimum} paraphrases: {short}"


def test_no_training_example_under_two_intents(training: list[Example]) -> None:
    intents_of: dict[str, set[str]] = defaultdict(set)
    for ex in training:
        intents_of[normalise(ex.text)].add(ex.intent)
    clashes = {text: sorted(i) for text, i in intents_of.items() if len(i) > 1}
    assert not clashes, f"examples listed under several intents: {clashes}"


def test_no_paraphrase_in_training(training: list[Example], paraphrases: list[Example]) -> None:
    seen = {normalise(ex.text) for ex in training}
    leaked = [ex.text for ex in paraphrases if normalise(ex.text) in seen]
    assert not leaked, f"paraphrases found in training data: {leaked}"


def test_no_paraphrase_nearly_in_training(
    training: list[Example], paraphrases: list[Example]
) -> None:
    trained = [(normalise(ex.text), ex) for ex in training]
    held_out = [(normalise(ex.text), ex) for ex in paraphrases]
    near = [
        f"{p.text!r} ~ {t.text!r} ({t.source})"
        for p_norm, p in held_out
        for t_norm, t in trained
        if nearly_same(p_norm, t_norm)
    ]
    assert not near, "paraphrases nearly identical to training examples:\n" + "\n".join(near)


def test_persona_set_does_not_repeat_other_held_out_sets() -> None:
    # The persona set is scored on its own; sentences shared with another held-out
    # set would measure the same wording twice.
    personas = [normalise(ex.text) for ex in load_examples(PERSONAS)[1]]
    near = [
        f"{ex.text!r} ~ {other.name}"
        for other in HELD_OUT_FILES
        if other != PERSONAS
        for ex in load_examples(other)[1]
        for text in personas
        if nearly_same(text, normalise(ex.text))
    ]
    assert not near, "persona examples nearly repeat other held-out sets:\n" + "\n".join(near)


def test_every_persona_example_has_a_known_persona() -> None:
    meta = yaml.safe_load(PERSONAS_META.read_text(encoding="utf-8"))
    assert set(meta["personas"]) == PERSONA_NAMES
    personas = meta["examples"]
    texts = [ex.text for ex in load_examples(PERSONAS)[1]]
    assert set(personas) == set(texts), {
        "without a persona": sorted(set(texts) - set(personas))[:10],
        "persona for no example": sorted(set(personas) - set(texts))[:10],
    }
    assert set(personas.values()) == PERSONA_NAMES
    # Enough of each kind of writer for a per-persona figure to mean something.
    counts = {p: list(personas.values()).count(p) for p in PERSONA_NAMES}
    assert min(counts.values()) >= 100, counts
    assert len(texts) >= 1100


def test_no_duplicate_paraphrases(paraphrases: list[Example]) -> None:
    intents_of: dict[str, set[str]] = defaultdict(set)
    for ex in paraphrases:
        intents_of[normalise(ex.text)].add(ex.intent)
    assert len(intents_of) == len(paraphrases)


def test_only_known_entities_are_annotated(training: list[Example]) -> None:
    unknown = {
        (ex.source, ex.raw) for ex in training for name, _ in ex.entities if name not in ENTITIES
    }
    assert not unknown, f"unknown entities: {sorted(unknown)}"


def test_rule_based_entities_are_not_annotated(training: list[Example]) -> None:
    annotated = [
        (ex.source, ex.raw)
        for ex in training
        for name, _ in ex.entities
        if name in RULE_BASED_ENTITIES
    ]
    assert not annotated, f"annotate these in the EntityRuler, not in training: {annotated}"


_BARE_RATING = re.compile(r"^\s*(10|[0-9])\s*(stars?|out of (5|five|10|ten))?\s*[!.]*\s*$", re.I)


def test_bare_ratings_are_annotated(training: list[Example]) -> None:
    # An unannotated "5" teaches the model that a rating is not an entity.
    unannotated = [
        ex.raw
        for ex in training
        if _BARE_RATING.match(ex.text) and ("rating", ex.text.split()[0]) not in ex.entities
    ]
    assert not unannotated, f"ratings without a rating annotation: {unannotated}"


def test_products_are_annotated_somewhere(training: list[Example]) -> None:
    products = {text for ex in training for name, text in ex.entities if name == "product"}
    assert len(products) >= 20, f"too few distinct product names annotated: {sorted(products)}"


def test_nearly_same_catches_trivial_rewording() -> None:
    assert nearly_same("thank you kindly", "thank you")
    assert nearly_same("cancel the order please", "please cancel the order")
    assert nearly_same("i d like to make a complaint", "i want to make a complaint")
    assert nearly_same("can i pay in instalments", "can i pay in installments")
    assert not nearly_same("this is awful", "this is bullshit")
    assert not nearly_same("where is my refund", "where is my order number")
    assert not nearly_same("how do i cancel the newsletter", "cancel my order")
    assert nearly_same("where is my parcel now", "where is my parcel")
    assert nearly_same("where is the parcel now", "where is my parcel now")
    assert not nearly_same("where is the parcel today", "where was my parcel now")


LOOKUPS = TRAINING_DIR / "lookups.yml"


def _word_lists() -> dict[str, dict[str, list[str]]]:
    """{"lookup": {name: entries}, "regex": {name: patterns}} from every training file."""
    found: dict[str, dict[str, list[str]]] = {"lookup": {}, "regex": {}}
    for path in _training_files():
        for item in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu", []):
            for kind in found:
                if kind in item:
                    assert item[kind] not in found[kind], f"{kind} {item[kind]!r} defined twice"
                    entries = [line.strip()[2:] for line in item["examples"].splitlines() if line.strip()]
                    found[kind][item[kind]] = entries
    return found


def test_concept_lists_exist() -> None:
    assert len(_word_lists()["lookup"]) >= 20


def test_lookup_and_regex_names_are_not_entities() -> None:
    # An entity extractor that reads lookups would start "finding" these.
    lists = _word_lists()
    names = set(lists["lookup"]) | set(lists["regex"])
    assert not names & ENTITIES
    assert all(name.endswith("_words") for name in lists["lookup"]), sorted(lists["lookup"])


def test_lookup_entries_are_clean() -> None:
    for name, entries in _word_lists()["lookup"].items():
        assert entries, name
        duplicates = {e for e in entries if entries.count(e) > 1}
        assert not duplicates, f"{name}: {sorted(duplicates)}"
        # Matching ignores case, and an entry with padding would never match.
        assert all(e == e.lower() == e.strip() and e for e in entries), name


def test_regexes_compile_and_match_what_they_describe() -> None:
    patterns = _word_lists()["regex"]
    for name, entries in patterns.items():
        for pattern in entries:
            re.compile(pattern, re.IGNORECASE)

    def matches(name: str, text: str) -> bool:
        return any(re.search(p, text, re.IGNORECASE) for p in patterns[name])

    assert matches("name_answer", "Maria Garcia")
    assert matches("name_answer", "i'm Tom")
    assert not matches("name_answer", "Thank You")
    assert not matches("name_answer", "maria garcia")  # capitals are what mark a name
    assert matches("rating_answer", "three")
    assert matches("rating_answer", "4 out of 5")
    assert not matches("rating_answer", "three mugs please")
    assert matches("email_like", "it's jo@example.com")
    assert not matches("email_like", "my email is wrong")


def _regex_features() -> list[tuple[str, str]]:
    found = []
    for path in sorted(TRAINING_DIR.glob("*.yml")):
        for item in (yaml.safe_load(path.read_text()) or {}).get("nlu", []):
            if "regex" in item:
                for line in item["examples"].splitlines():
                    if line.strip().startswith("- "):
                        found.append((item["regex"], line.strip()[2:]))
    return found


@pytest.mark.parametrize(("name", "pattern"), _regex_features())
def test_every_regex_feature_takes_linear_time_on_adversarial_messages(name: str, pattern: str) -> None:
    # Rasa's RegexFeaturizer runs each of these over every message a customer sends
    # (case-insensitive, as config.yml asks); a backtracking one lets a 2,000-character
    # message eat the Rasa server's CPU.
    compiled = re.compile(pattern, re.IGNORECASE)
    assert_linear(lambda text: list(compiled.finditer(text)), ADVERSARIAL, small=2_000)
