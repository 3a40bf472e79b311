#!/bin/sh
# expect_error.sh CC INCLUDE_DIR SOURCE MESSAGE: SOURCE must fail to compile with
# -DMZ_PRECISE_GC, saying MESSAGE, and compile without it (CGC).
cc=$1 include=$2 source=$3 message=$4
err=$(mktemp)
trap 'rm -f "$err"' EXIT
if "$cc" -O2 -DMZ_PRECISE_GC -I"$include" -c "$source" -o /dev/null 2>"$err"; then
  echo "expect_error: $source compiled under MZ_PRECISE_GC" >&2
  exit 1
fi
if ! grep -q "$message" "$err"; then
  echo "expect_error: the error does not say \"$message\":" >&2
  cat "$err" >&2
  exit 1
fi
"$cc" -O2 -I"$include" -c "$source" -o /dev/null
