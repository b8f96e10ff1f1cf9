"""Fixtures of the Rasa component tests (tests/rasa_ext/).

Modules that need Rasa keep their checks in `<module>_checks.py`, run inside `.venv-rasa` by
tests/rasa_env/ (one process for every checks module, each check a test); the NLU pipeline
in miniature those checks train is tests/rasa_ext/pipeline_support.py. The rest
(shorthand, serve) are plain pytest modules with no fixtures of their own.
"""
