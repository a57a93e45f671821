#!/usr/bin/env bash
# timed.sh OUT CMD...: runs CMD (stdout discarded, stderr to OUT.stderr) and writes
# "<exit> <wall s> <user s> <sys s>" to OUT; user/sys include every child process.
out=$1; shift
TIMEFORMAT='%R %U %S'
{ time "$@" >/dev/null 2>"$out.stderr"; } 2>"$out.time"
rc=$?
echo "$rc $(tail -n1 "$out.time")" >"$out"
