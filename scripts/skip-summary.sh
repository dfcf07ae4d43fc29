#!/usr/bin/env bash
# Prints how many checks were skipped for want of a tool, and why: one line per reason, with its count.
log="$1"
if [ -s "$log" ]; then
  echo ""
  echo "skipped, for want of a tool or a server ($(wc -l <"$log") in all):"
  sort "$log" | uniq -c | sed 's/^ */  /'
else
  echo ""
  echo "nothing skipped"
fi
