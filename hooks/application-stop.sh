#!/usr/bin/env bash
# ApplicationStop: stops the service if it runs. This is the PREVIOUS revision's copy, so it must succeed when nothing is installed or running.
set -euo pipefail
# shellcheck source=hooks/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

main() {
  log "stopping $APP_NAME ($SERVICE_MANAGER)"
  service_stop
  log "stopped"
}

main "$@"
