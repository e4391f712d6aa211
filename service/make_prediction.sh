#!/bin/sh
# Asks the model service for a prediction and prints its JSON answer. POSIX sh (dash, bash,
# busybox sh) plus curl, sed, awk and tr: `sh make_prediction.sh` works wherever people type it.
#
# usage: make_prediction.sh [--human] [--host HOST] [--port PORT] [CAR]
#   no CAR             the example car: the first smoke-test case of the model's manifest.json
#   CAR as JSON        '{"cylinders":4,...}' (one car), '[{...},{...}]' (several) or '{"instances":[...]}'
#   --file FILE        the JSON from FILE; '-' or --file - reads it from stdin
#   CAR as key=value   weight=4500 origin=Japan ...: the example car with these fields changed
#   --human            one sentence per car with its MPG instead of the JSON answer
# HOST (localhost), PORT (the installed service's, else 8080), TIMEOUT_SECONDS (10) and
# MODEL_MANIFEST (found beside the script) may also come from the environment.
#
# Exit codes: 0 answered; 1 curl missing; 2 bad arguments (or no example car to send);
# 3 service unreachable; 4 the service refused the input (its error is printed);
# 5 the service failed or answered without predictions.
set -eu

EXIT_NO_CURL=1
EXIT_USAGE=2
EXIT_UNREACHABLE=3
EXIT_REFUSED=4
EXIT_SERVICE=5
NL='
'

die() {
  code="$1"
  shift
  printf 'make_prediction: %s\n' "$*" >&2
  exit "$code"
}

usage() {
  sed -n '5,11p' "$0" | sed 's/^# \{0,1\}//'
}

# This script's own path, symlinks (/usr/local/bin, the application folder) followed.
script_path() {
  if resolved="$(readlink -f -- "$0" 2>/dev/null)" && [ -n "$resolved" ]; then
    printf '%s\n' "$resolved"
  else
    printf '%s\n' "$0"
  fi
}

# The manifest of the model this script was installed with: app/bin/../model in a revision,
# service/model in the repository, so that it is found from wherever the script is called.
find_manifest() {
  if [ -n "${MODEL_MANIFEST:-}" ]; then
    printf '%s\n' "$MODEL_MANIFEST"
    return 0
  fi
  dir="$(dirname -- "$(script_path)")"
  for candidate in "$dir/../model/manifest.json" "$dir/model/manifest.json" "$dir/app/model/manifest.json"; do
    if [ -f "$candidate" ]; then
      printf '%s\n' "$candidate"
      return 0
    fi
  done
  return 1
}

# The port of the service installed beside this script: AfterInstall writes it to
# <root>/etc/<app>/service.env for a revision in <root>/opt/<app>/app/bin, so that on an instance
# (or a local target) `sh make_prediction.sh` asks that machine's own service.
installed_port() {
  bin_dir="$(dirname -- "$(script_path)")"
  case "$bin_dir" in
    */opt/*/app/bin) ;;
    *) return 1 ;;
  esac
  app_dir="${bin_dir%/app/bin}"
  settings="${app_dir%/opt/*}/etc/${app_dir##*/}/service.env"
  [ -r "$settings" ] || return 1
  found="$(sed -n 's/^PORT=\([0-9][0-9]*\)$/\1/p' "$settings" | sed -n '$p')"
  [ -n "$found" ] || return 1
  printf '%s\n' "$found"
}

# example_field FIELD: "instance" (the car as flat JSON) or "name" of the manifest's first smoke
# case. The manifest is JSON of any layout: joined into one line, the first case's instance is
# the first flat {...} after "instance" (features are scalars, so it holds no nested braces).
example_field() {
  manifest="$(find_manifest)" || die "$EXIT_USAGE" "no example car: the model's manifest.json is not beside this script (set MODEL_MANIFEST or give a car, see --help)"
  [ -r "$manifest" ] || die "$EXIT_USAGE" "cannot read the model manifest $manifest"
  tr '\n\r\t' '   ' <"$manifest" | sed -n 's/^.*"smoke_test"[^[]*\[[^{]*{\(.*\)$/\1/p' | {
    case "$1" in
      instance) sed -n 's/^[^{]*"instance"[[:space:]]*:[[:space:]]*\({[^}]*}\).*$/\1/p' ;;
      name) sed -n 's/^[^{]*"name"[[:space:]]*:[[:space:]]*"\([^"]*\)".*$/\1/p' ;;
    esac
  }
}

example_car() {
  car="$(example_field instance)"
  [ -n "$car" ] || die "$EXIT_USAGE" "no example car: $(find_manifest) has no smoke_test case with an instance"
  # Rewritten compactly (the manifest is indented), fields in the manifest's order.
  with_fields "$car"
}

# with_fields BASE K=V...: BASE (a flat JSON object) with each K set to V. V is sent as a number
# when it looks like one, else as a JSON string; new keys are appended in the order given.
with_fields() {
  base="$1"
  shift
  awk -v base="$base" '
    function quote(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); return "\"" s "\"" }
    BEGIN {
      body = base
      sub(/^[[:space:]]*\{/, "", body); sub(/\}[[:space:]]*$/, "", body)
      n = 0
      count = split(body, parts, ",")
      for (i = 1; i <= count; i++) {
        part = parts[i]
        if (part ~ /^[[:space:]]*$/) continue
        colon = index(part, ":")
        key = substr(part, 1, colon - 1); value = substr(part, colon + 1)
        gsub(/^[[:space:]]*"|"[[:space:]]*$/, "", key); gsub(/^[[:space:]]+|[[:space:]]+$/, "", value)
        if (!(key in values)) order[++n] = key
        values[key] = value
      }
      for (i = 1; i < ARGC; i++) {
        eq = index(ARGV[i], "=")
        key = substr(ARGV[i], 1, eq - 1); value = substr(ARGV[i], eq + 1)
        if (value ~ /^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$/) json = value; else json = quote(value)
        if (!(key in values)) order[++n] = key
        values[key] = json
      }
      out = "{"
      for (i = 1; i <= n; i++) out = out (i > 1 ? "," : "") quote(order[i]) ":" values[order[i]]
      print out "}"
    }' "$@"
}

# as_request JSON: a request body for /predict from one car, a list of cars or a whole request.
as_request() {
  json="$(printf '%s' "$1" | tr '\n\r\t' '   ' | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')"
  case "$json" in
    '{'*'"instances"'*) printf '%s\n' "$json" ;;
    '{'*) printf '{"instances":[%s]}\n' "$json" ;;
    '['*) printf '{"instances":%s}\n' "$json" ;;
    '') die "$EXIT_USAGE" "the car is empty: give JSON such as '{\"cylinders\":4,...}' or key=value pairs" ;;
    *) die "$EXIT_USAGE" "the car is neither a JSON object nor a list: $(printf '%s' "$json" | cut -c1-80)" ;;
  esac
}

# human ANSWER LABEL: "The model NAME VERSION predicts X miles per gallon for LABEL." per prediction.
human() {
  printf '%s\n' "$1" | awk -v label="$2" '
    {
      model = $0
      if (match(model, /"model"[[:space:]]*:[[:space:]]*\{[^}]*\}/)) {
        model = substr(model, RSTART, RLENGTH)
        name = model; sub(/^.*"name"[[:space:]]*:[[:space:]]*"/, "", name); sub(/".*$/, "", name)
        version = model; sub(/^.*"version"[[:space:]]*:[[:space:]]*"/, "", version); sub(/".*$/, "", version)
        model = name " " version
      } else model = ""
      list = $0
      sub(/^.*"predictions"[[:space:]]*:[[:space:]]*\[/, "", list); sub(/\].*$/, "", list)
      count = split(list, mpg, ",")
      for (i = 1; i <= count; i++) {
        what = count == 1 ? label : label " #" i
        printf "The model %spredicts %.1f miles per gallon for %s.\n", (model == "" ? "" : model " "), mpg[i], what
      }
    }'
}

# set_car SOURCE JSON: the one car (or list) of this request; a second one is an error.
set_car() {
  [ -z "$source" ] || die "$EXIT_USAGE" "give one car, not two: $source and $1"
  source="$1"
  car="$2"
}

main() {
  human_output=false
  host="${HOST:-localhost}"
  port="${PORT:-$(installed_port || echo 8080)}"
  car=""
  source=""
  pairs=""
  while [ "$#" -gt 0 ]; do
    case "$1" in
      -h | --help)
        usage
        exit 0
        ;;
      --human) human_output=true ;;
      --host | --port | --file | -f)
        [ "$#" -ge 2 ] || die "$EXIT_USAGE" "$1 needs a value (see --help)"
        case "$1" in
          --host) host="$2" ;;
          --port) port="$2" ;;
          *)
            if [ "$2" = - ]; then
              set_car "stdin" "$(cat)"
            else
              if [ ! -f "$2" ] || [ ! -r "$2" ]; then
                die "$EXIT_USAGE" "cannot read the car file $2"
              fi
              set_car "--file $2" "$(cat -- "$2")"
            fi
            ;;
        esac
        shift
        ;;
      -) set_car "stdin" "$(cat)" ;;
      -?*) die "$EXIT_USAGE" "unknown option $1 (see --help)" ;;
      '{'* | '['* | [[:space:]]*) set_car "the argument" "$1" ;;
      *=*)
        case "${1%%=*}" in
          '' | [!A-Za-z_]* | *[!A-Za-z0-9_]*) die "$EXIT_USAGE" "$1: a field name is letters, digits or _ (such as weight=4500)" ;;
        esac
        pairs="$pairs$1$NL"
        ;;
      *) die "$EXIT_USAGE" "$1 is neither a car as JSON nor a key=value pair (see --help)" ;;
    esac
    shift
  done
  case "$port" in
    '' | *[!0-9]*) die "$EXIT_USAGE" "the port must be a number, got '$port'" ;;
  esac
  [ -n "$host" ] || die "$EXIT_USAGE" "the host is empty"
  command -v curl >/dev/null 2>&1 || die "$EXIT_NO_CURL" "curl is not installed (apt-get install curl)"

  label="your car"
  if [ -z "$source" ]; then
    car="$(example_car)"
    label="the example car ($(example_field name))"
  fi
  if [ -n "$pairs" ]; then
    case "$(printf '%s' "$car" | tr -d ' \n\r\t')" in
      '{'*'"instances"'* | '['*) die "$EXIT_USAGE" "key=value pairs change one car: give them alone or with one car object, not with a list" ;;
    esac
    # One argument per pair (a value may hold spaces), split on newlines only, no globbing.
    set -f
    old_ifs="$IFS"
    IFS="$NL"
    # shellcheck disable=SC2086 # the split on newlines is the point
    set -- $pairs
    IFS="$old_ifs"
    set +f
    car="$(with_fields "$car" "$@")"
    label="$label with $(printf '%s' "$pairs" | tr '\n' ' ' | sed 's/ *$//')"
  fi
  request="$(as_request "$car")"

  url="http://$host:$port/predict"
  # The body, a newline, then the HTTP status; on a transport failure, curl's own message.
  if ! response="$(curl --silent --show-error --max-time "${TIMEOUT_SECONDS:-10}" \
    --header 'content-type: application/json' --data-binary "$request" \
    --write-out '\n%{http_code}' "$url" 2>&1)"; then
    reason="${response#*curl: }"
    die "$EXIT_UNREACHABLE" "cannot reach the model service at $url: ${reason%%"$NL"*}"
  fi
  status="${response##*"$NL"}"
  body="${response%"$NL"*}"
  case "$status" in
    2??) ;;
    4??) die "$EXIT_REFUSED" "the model service at $url refused the car (HTTP $status): $body" ;;
    *) die "$EXIT_SERVICE" "the model service at $url answered HTTP $status: $body" ;;
  esac
  case "$body" in
    *'"predictions"'*) ;;
    *) die "$EXIT_SERVICE" "the model service at $url answered HTTP $status without predictions: $body" ;;
  esac
  if [ "$human_output" = true ]; then
    human "$body" "$label"
  else
    printf '%s\n' "$body"
  fi
}

main "$@"
