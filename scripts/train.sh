#!/usr/bin/env bash
# Train the Rasa model unless its inputs are unchanged. Rasa's own fingerprint
# restores cached components, but it still re-validates the data and retrains
# the project's custom intent classifier (about a minute on two cores), so an
# unchanged checkout is detected here first: a hash of everything training
# reads (domain, data, config, the custom components, the spaCy pipeline and
# the pinned Rasa requirements) is kept beside the model. One training at a
# time on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
exec 9>/tmp/juniper-rasa-train.lock
flock 9
if [ ! -f build/spacy/en_shop/config.cfg ] || [ rasa_ext/spacy_pipeline.py -nt build/spacy/en_shop/config.cfg ]; then
  .venv-rasa/bin/python -m rasa_ext.spacy_pipeline build/spacy/en_shop
fi
model=models/assistant.tar.gz
stamp=models/assistant.inputs.sha256
inputs_hash() {
  { find data rasa_ext build/spacy/en_shop -type f \( -name '*.yml' -o -name '*.yaml' -o -name '*.py' -o -name '*.cfg' -o -name '*.json' \) -not -path '*/__pycache__/*' -print0 \
      | LC_ALL=C sort -z | xargs -0 sha256sum
    sha256sum domain.yml config.yml requirements/rasa.txt
    if [ "$#" -gt 0 ]; then printf 'args %s\n' "$*"; fi
  } | sha256sum | cut -d' ' -f1
}
want=$(inputs_hash "$@")
if [ -f "$model" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "model is up to date with domain, data and config: not retraining ($model)"
  exit 0
fi
export TF_CPP_MIN_LOG_LEVEL=2 SQLALCHEMY_SILENCE_UBER_WARNING=1
start=$(date +%s)
rm -f "$stamp"
.venv-rasa/bin/rasa train --domain domain.yml --data data --config config.yml --out models \
  --fixed-model-name assistant "$@"
echo "$want" > "$stamp"
echo "rasa train finished in $(( $(date +%s) - start ))s"
