#!/bin/sh
# What the handshake step (bpf/handshake.bpf.h) costs every transition, alone: this tree against
# a copy of it whose BPF object is compiled without the step's per-transition part (the listener
# step, the cookie test, the record's four handshake stores); nothing else differs. The work at
# SYN and SYN-ACK retransmits stays in both: the storm has none.
#   bench/handshake-step.sh [bpf-cost.js options, e.g. --rounds 9 --connections 20000]   (root)
set -eu
TREE=$(cd "$(dirname "$0")/.." && pwd)
COPY=${TMPDIR:-/tmp}/tcptrace-no-handshake-step
rm -rf "$COPY" && mkdir -p "$COPY"
cp -a "$TREE/bin" "$TREE/dist" "$TREE/bpf" "$TREE/scripts" "$TREE/package.json" "$COPY/"
ln -s "$TREE/node_modules" "$COPY/node_modules" && ln -s "$TREE/build" "$COPY/build"
# each line removed must be there: a renamed call fails here rather than measuring nothing
cut() { # FILE PATTERN [LINES]
  grep -q "$2" "$COPY/bpf/$1" || { echo "handshake-step: '$2' not in bpf/$1" >&2; exit 1; }
  sed -i "/$2/,+$(( ${3:-1} - 1 ))d" "$COPY/bpf/$1"
}
cut state.bpf.h 'if (t.new == TCP_LISTEN || (t.old == TCP_LISTEN' 2
cut state.bpf.h 'if (t.new == TCP_ESTABLISHED && t.old == TCP_SYN_RECV' 2
for f in 'e->diagnosis = ' 'e->diag_evidence = ' 'e->listener_backlog = ' 'e->listener_max = '; do cut emit.bpf.h "$f"; done
# the step's functions are now unused: not an error in the copy
sed -i "s/-Werror/-Werror -Wno-unused-function/" "$COPY/scripts/build-bpf"
(cd "$COPY" && scripts/build-bpf ./bpf/tcptrace.bpf.o)
exec node "$TREE/bench/bpf-cost.js" "$@" "$COPY" "$TREE"
