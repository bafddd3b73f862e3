#!/usr/bin/env bash
# The cost of sampling power at 10 Hz against the host CPU sampler in the same run (goal:
# below 0.2 % of one core). Sources read fixture trees: these machines have no power sensor.
#   bench/power.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
exec cargo bench --quiet -p sandbench-power --bench sampling_cost -- "${1:-20}"
