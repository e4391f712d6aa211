#!/usr/bin/env bash
# Posts one known car to the model service's /predict and prints the answer (needs only bash and curl).
set -euo pipefail

# The request contract's example car: a 1970 Chevrolet Chevelle Malibu.
readonly CAR='{"instances":[{"cylinders":8,"displacement":307,"horsepower":130,"weight":3504,"acceleration":12,"model_year":1970,"origin":"USA"}]}'

die() {
  printf 'make_prediction: %s\n' "$*" >&2
  exit 1
}

main() {
  local url="http://${HOST:-localhost}:${PORT:-8080}/predict"
  local response status body
  command -v curl >/dev/null 2>&1 || die "curl is not installed"

  # On success stdout is the body, a newline, then the status code; on a transport failure, curl's own message.
  if ! response="$(curl --silent --show-error --max-time "${TIMEOUT_SECONDS:-10}" \
    --header 'content-type: application/json' --data "${CAR}" \
    --write-out '\n%{http_code}' "${url}" 2>&1)"; then
    local reason="${response#*curl: }"
    die "cannot reach the model service at ${url}: ${reason%%$'\n'*}"
  fi
  status="${response##*$'\n'}"
  body="${response%$'\n'*}"
  if [[ ! "${status}" =~ ^2[0-9][0-9]$ ]]; then
    die "the model service at ${url} answered HTTP ${status}: ${body}"
  fi
  if [[ "${body}" != *'"predictions"'* ]]; then
    die "the model service at ${url} answered HTTP ${status} without predictions: ${body}"
  fi
  printf '%s\n' "${body}"
}

main "$@"
