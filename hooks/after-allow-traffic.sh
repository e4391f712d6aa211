#!/usr/bin/env bash
# AfterAllowTraffic: confirms the service still answers after traffic arrived, and logs which model it serves.
set -euo pipefail
# shellcheck source=hooks/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

main() {
  load_service_env
  local url="http://127.0.0.1:$PORT/health"
  retry 10 1 curl --silent --fail --max-time 2 --output /dev/null "$url" || die "$url does not answer 200 after traffic was allowed"
  log "serving revision $REVISION_VERSION, model $MODEL_VERSION"
}

main "$@"
