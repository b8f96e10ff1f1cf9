"""`rasa test ...` that keeps the fallback predictions; scripts/nlu_report.py runs it.

    .venv-rasa/bin/python -m scripts.rasa_test_keep_fallback test nlu --cross-validation ...

Rasa's evaluation reverts a FallbackClassifier prediction to the intent beneath
it. For the report a fallback is what the customer got ("please rephrase"), a
miss like any other, so the check that triggers the revert is switched off.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> None:
    from rasa.__main__ import main as rasa_main
    from rasa.nlu.classifiers import fallback_classifier

    # rasa.nlu.test looks the function up on the module at call time; nothing else uses it.
    fallback_classifier.is_fallback_classifier_prediction = lambda prediction: False
    sys.argv = ["rasa", *argv]
    rasa_main()


if __name__ == "__main__":
    main(sys.argv[1:])
