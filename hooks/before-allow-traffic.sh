#!/usr/bin/env bash
# BeforeAllowTraffic: the instance must still be ready at the moment the load balancer starts sending it traffic.
set -euo pipefail
# shellcheck source=hooks/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

main() {
  load_service_env
  wait_for_http "http://127.0.0.1:$PORT$READY_PATH" 30 || die "the service is not ready: refusing traffic"
  log "ready for traffic"
}

main "$@"
