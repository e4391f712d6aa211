#!/usr/bin/env bash
# ValidateService: waits (bounded) for readiness, runs make_prediction.sh, checks golden predictions; non-zero makes CodeDeploy roll back.
set -euo pipefail
# shellcheck source=hooks/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly READY_TIMEOUT_SECONDS=60

fail_with_logs() {
  warn "$1"
  warn "last lines of the service's output:"
  service_logs 30 >&2
  die "validation failed: $1"
}

main() {
  load_service_env
  local base="http://127.0.0.1:$PORT" answer
  log "waiting up to ${READY_TIMEOUT_SECONDS}s for $base$READY_PATH"
  wait_for_http "$base$READY_PATH" "$READY_TIMEOUT_SECONDS" || fail_with_logs "the service never became ready"

  answer="$(HOST=127.0.0.1 PORT="$PORT" "$APP_DIR/app/bin/make_prediction.sh")" ||
    fail_with_logs "make_prediction.sh failed"
  log "make_prediction.sh: $answer"

  "$(node_bin)" "$BUNDLE_DIR/hooks/smoke-check.mjs" --url "$base" --manifest "$APP_DIR/app/model/manifest.json" \
    --answer "$answer" || fail_with_logs "the predictions do not match the model's golden answers"
  log "revision $REVISION_VERSION (model $MODEL_VERSION) is serving correct predictions"
}

main "$@"
