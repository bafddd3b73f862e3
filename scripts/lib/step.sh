# Sourced by the scripts: `step WHAT ESTIMATE COMMAND...` runs one long step so that it is never
# silent for a minute, in a terminal and in a log alike:
#   ==> 12:03:04 building the inference engines … (about 15 min on 2 cores)
#       Compiling tract-core v0.23.0                  (the command's own stderr, line by line)
#       … still building the inference engines …: 150 s so far; last: Compiling candle-core …
#   ==> 12:17:40 done in 876 s: building the inference engines …
# The command's stdout stays on stdout; its stderr goes to stderr through a reader that prints
# a heartbeat after every 30 s without a line. Returns the command's exit status.
STEP_HEARTBEAT_S="${STEP_HEARTBEAT_S:-30}"

step() {
  local what=$1 estimate=$2
  shift 2
  local t0=$SECONDS rc=0 line last="" fifo
  echo "==> $(date +%H:%M:%S) $what (${estimate})" >&2
  fifo=$(mktemp -u "${TMPDIR:-/tmp}/sandbench-step.XXXXXX")
  mkfifo "$fifo"
  "$@" 2>"$fifo" &
  local pid=$!
  while true; do
    if IFS= read -r -t "$STEP_HEARTBEAT_S" line; then
      printf '%s\n' "$line" >&2
      [ -z "${line// /}" ] || last=$line
    elif (($? > 128)); then
      echo "    … still ${what}: $((SECONDS - t0)) s so far${last:+; last: ${last#"${last%%[![:space:]]*}"}}" >&2
    else
      [ -z "$line" ] || printf '%s\n' "$line" >&2
      break
    fi
  done <"$fifo"
  rm -f "$fifo"
  wait "$pid" || rc=$?
  if ((rc == 0)); then
    echo "==> $(date +%H:%M:%S) done in $((SECONDS - t0)) s: $what" >&2
  else
    echo "==> $(date +%H:%M:%S) FAILED (exit $rc) after $((SECONDS - t0)) s: $what" >&2
  fi
  return "$rc"
}
