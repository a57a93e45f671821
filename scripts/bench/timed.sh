#!/usr/bin/env bash
# timed.sh OUT CMD...: runs CMD (stdout discarded, stderr to OUT.stderr) and writes
# "<exit> <wall s> <user s> <sys s> <max RSS KiB>" to OUT; user/sys include every child process.
# Max RSS needs GNU time (Debian package 'time'); without it the field is 0.
out=$1; shift
if [ -x /usr/bin/time ]; then
  /usr/bin/time -o "$out.time" -f '%e %U %S %M' "$@" >/dev/null 2>"$out.stderr"
  rc=$?
else
  TIMEFORMAT='%R %U %S 0'
  { time "$@" >/dev/null 2>"$out.stderr"; } 2>"$out.time"
  rc=$?
fi
echo "$rc $(tail -n1 "$out.time")" >"$out"
