#!/bin/sh
# A sample workload for the README's first command: a busy process, a half-busy one,
# a multi-threaded one and a burst of short-lived children, all at once.
set -e
BURN=${BURN:-$(dirname "$0")/../build/tools/burn}
"$BURN" --seconds 4 &
"$BURN" --seconds 4 --duty 0.5 &
"$BURN" --seconds 2 --threads 2 --duty 0.3 &
"$BURN" --children 50 --child-ms 5 &
wait
