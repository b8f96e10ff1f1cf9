#!/usr/bin/env bash
# Train the Rasa model unless domain, data and config are unchanged (Rasa's
# own fingerprint decides). One training at a time on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
exec 9>/tmp/juniper-rasa-train.lock
flock 9
if [ ! -f build/spacy/en_shop/config.cfg ] || [ rasa_ext/spacy_pipeline.py -nt build/spacy/en_shop/config.cfg ]; then
  .venv-rasa/bin/python -m rasa_ext.spacy_pipeline build/spacy/en_shop
fi
export TF_CPP_MIN_LOG_LEVEL=2 SQLALCHEMY_SILENCE_UBER_WARNING=1
start=$(date +%s)
.venv-rasa/bin/rasa train --domain domain --data data --config config.yml --out models \
  --fixed-model-name assistant "$@"
echo "rasa train finished in $(( $(date +%s) - start ))s"
