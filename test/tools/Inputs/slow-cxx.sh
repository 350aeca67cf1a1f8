#!/bin/sh
# A host compiler that starts, says so (its pid, in SLOW_CXX_STARTED), then
# takes its time: for interrupting racc midway.
echo $$ > "$SLOW_CXX_STARTED.tmp" && mv "$SLOW_CXX_STARTED.tmp" "$SLOW_CXX_STARTED"
sleep 60
exec clang++-16 "$@"
