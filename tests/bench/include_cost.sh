#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Include cost: what including a slotguard header costs a translation unit,
# against the peer every C++ file pays anyway (<string> <vector> <thread>),
# timed in the same run. Each translation unit includes one header and is
# compiled with `CXX -std=c++17 -fsyntax-only -Iinclude`; rounds are
# interleaved (every unit once per round), so a load that comes and goes
# touches all of them alike. Prints, per unit, the median wall time and the
# median CPU time (user + sys of the compiler: what it costs however busy
# the machine is), the preprocessed line count, and both ratios to the
# baseline. The "std floor" units include the standard headers that a
# header's whole slotguard include tree names, and nothing else: what the
# header would cost if its own code were free. Units marked "sep" are
# compiled as a separately compiled program's units are
# (SLOTGUARD_CONFIG_SEPARATE_COMPILATION=1: declarations only, the code in
# the one implementation unit). Exits 1 when a target is missed (judged on
# the CPU medians, which a shared machine disturbs far less than the wall
# times):
#   slotguard/reader.hpp <= 1.5 x the baseline (header-only, the default),
#   slotguard/guard.hpp <= 3 x when compiled separately (header-only it
#   carries the whole library's code: reported, not a target).
#
#   tests/bench/include_cost.sh [compiler=g++] [rounds=5]
#
# Not a ctest: timings are not tests (docs/PERFORMANCE.md, "Include cost").
set -eu
CXX=${1:-g++}
ROUNDS=${2:-5}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# The standard headers that slotguard header $1 and the slotguard headers it
# includes name and that this platform's compiler does include (a header
# named only on another standard library's side of an #if is not counted; a
# standard library's own header named on its side is): the floor a header's
# own code adds to. $2: more compiler options (the separate mode's
# definition).
std_floor() {
  local all deps h
  # shellcheck disable=SC2086
  all=$(printf '#include <slotguard/%s>\n' "$1" |
    "$CXX" -std=c++17 ${2:-} -M -I"$ROOT/include" -x c++ - | tr ' \\' '\n\n')
  deps=$(printf '%s\n' "$all" | grep '/include/slotguard/')
  # shellcheck disable=SC2086
  for h in $(grep -hE '^#include <([a-z_]+|bits/[a-z_]+\.h)>' $deps |
    sed 's/^#include <\([a-z_./]*\)>.*/\1/' | sort -u); do
    if printf '%s\n' "$all" | grep -q "/$h\$"; then printf '#include <%s>\\n' "$h"; fi
  done
}

SEP='#define SLOTGUARD_CONFIG_SEPARATE_COMPILATION 1'
# name|the unit's lines (\n between them)
UNITS=(
  "baseline|#include <string>\n#include <vector>\n#include <thread>"
  "reader std floor|#include <string>\n#include <vector>\n#include <thread>\n$(std_floor reader.hpp)"
  "reader.hpp|#include <slotguard/reader.hpp>"
  "schema_view.hpp|#include <slotguard/schema_view.hpp>"
  "snapshot.hpp|#include <slotguard/snapshot.hpp>"
  "schema.hpp|#include <slotguard/schema.hpp>"
  "bundle.hpp|#include <slotguard/bundle.hpp>"
  "storage.hpp|#include <slotguard/storage.hpp>"
  "tree.hpp|#include <slotguard/tree.hpp>"
  "guard std floor|#include <string>\n#include <vector>\n#include <thread>\n$(std_floor guard.hpp)"
  "guard.hpp|#include <slotguard/guard.hpp>"
  "slotguard.hpp|#include <slotguard/slotguard.hpp>"
  "guard sep floor|#include <string>\n#include <vector>\n#include <thread>\n$(std_floor guard.hpp -DSLOTGUARD_CONFIG_SEPARATE_COMPILATION=1)"
  "guard.hpp sep|$SEP\n#include <slotguard/guard.hpp>"
  "schema.hpp sep|$SEP\n#include <slotguard/schema.hpp>"
  "bundle.hpp sep|$SEP\n#include <slotguard/bundle.hpp>"
  "slotguard.hpp sep|$SEP\n#include <slotguard/slotguard.hpp>"
)
# Targets: name|maximum ratio to the baseline.
TARGETS=("reader.hpp|1.5" "guard.hpp sep|3")

compile() {
  "$CXX" -std=c++17 -fsyntax-only -I"$ROOT/include" "$1"
}

n=${#UNITS[@]}
for ((i = 0; i < n; i++)); do
  printf '%b\n' "${UNITS[$i]#*|}" > "$WORK/unit$i.cpp"
  # Once untimed: warms the file cache, and a unit that does not compile
  # stops the script here rather than timing an error message.
  compile "$WORK/unit$i.cpp"
  "$CXX" -std=c++17 -E -I"$ROOT/include" "$WORK/unit$i.cpp" | wc -l > "$WORK/lines$i"
done

TIMEFORMAT='%R %U %S'
for ((r = 0; r < ROUNDS; r++)); do
  for ((i = 0; i < n; i++)); do
    { time compile "$WORK/unit$i.cpp"; } 2>> "$WORK/times$i"
  done
done

# median FILE COLUMN-EXPRESSION: the median over the rounds.
median() {
  awk "{ print $2 }" "$1" | sort -g | awk '{ v[NR] = $1 } END {
    if (NR % 2) printf "%.3f", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo "include cost: $CXX -std=c++17 -fsyntax-only, medians of $ROUNDS interleaved rounds, $(date -u '+%Y-%m-%d %H:%M UTC')"
"$CXX" --version | head -n 1
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
printf '%-18s %8s %8s %8s %8s %9s\n' unit "wall s" "x base" "cpu s" "x base" lines
base_wall=$(median "$WORK/times0" '$1')
base_cpu=$(median "$WORK/times0" '$2 + $3')
declare -A cpu_ratio
for ((i = 0; i < n; i++)); do
  name=${UNITS[$i]%%|*}
  wall=$(median "$WORK/times$i" '$1')
  cpu=$(median "$WORK/times$i" '$2 + $3')
  rw=$(awk -v a="$wall" -v b="$base_wall" 'BEGIN { printf "%.2f", a / b }')
  rc=$(awk -v a="$cpu" -v b="$base_cpu" 'BEGIN { printf "%.2f", a / b }')
  cpu_ratio[$name]=$rc
  printf '%-18s %8s %8s %8s %8s %9s\n' "$name" "$wall" "$rw" "$cpu" "$rc" "$(cat "$WORK/lines$i")"
done

status=0
for t in "${TARGETS[@]}"; do
  name=${t%%|*}
  limit=${t#*|}
  got=${cpu_ratio[$name]}
  if awk -v g="$got" -v l="$limit" 'BEGIN { exit !(g <= l) }'; then
    echo "target met:    $name ${got} x <= ${limit} x"
  else
    echo "target missed: $name ${got} x > ${limit} x"
    status=1
  fi
done
exit $status
