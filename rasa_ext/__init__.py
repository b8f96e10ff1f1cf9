"""Extensions loaded by the Rasa server (`.venv-rasa`, Python 3.10).

Rasa imports these by dotted path from config.yml, endpoints.yml and
credentials.yml; nothing here may import the gateway or the CRM, which live in
the other environment.
"""
