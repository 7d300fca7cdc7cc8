#!/usr/bin/env bash
# Draw docs/perf.png from shmap-bench --json output: translate time against
# the number of mappings (left) and every ours/baseline ratio as a bar
# (right).
#
#   bench/plot.sh [RESULTS.json [OUT.png]]
#
# Without RESULTS.json it runs the bench first (`--json --study`, from
# $SHMAP_BENCH, else build/bench-release or build/release) and keeps what it
# printed beside the picture as OUT.json. Needs gnuplot (installed here with
# apt-get when missing) and python3 (its standard library only).
set -euo pipefail
source "$(dirname "$0")/../scripts/lib/common.sh"

json=${1:-}
out=${2:-$SHMAP_ROOT/docs/perf.png}
need_pkgs gnuplot-nox

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ -z "$json" ]; then
  bench=${SHMAP_BENCH:-}
  for b in "$SHMAP_ROOT/build/bench-release/bin/shmap-bench" \
           "$SHMAP_ROOT/build/release/bin/shmap-bench"; do
    [ -n "$bench" ] || { [ -x "$b" ] && bench=$b; }
  done
  [ -n "$bench" ] || die "no shmap-bench built: cmake --preset release && cmake --build --preset release"
  json=${out%.png}.json
  say "running $bench --json --study (a minute or two)"
  "$bench" --json --study >"$tmp/run.json"
  mv "$tmp/run.json" "$json"
fi
[ -r "$json" ] || die "cannot read $json"

# JSON -> whitespace-separated tables gnuplot reads directly.
python3 - "$json" "$tmp" <<'EOF'
import json, re, sys

rows = json.load(open(sys.argv[1]))
out = sys.argv[2]

# Left: translate (and the --study stand-ins, when present) by mapping count.
series = {}  # column name -> {n: ns}
# The --study rows worth a line (the others are in docs/performance.md).
STAND_INS = ("no lock", "eytzinger", "radix", "radix inline",
             "radix inline, chained")
for r in rows:
    m = re.fullmatch(r"translate, (\d+) mappings", r["name"])
    if m:
        n = int(m.group(1))
        series.setdefault("shmap_window_translate", {})[n] = r["ours_ns"]
        series.setdefault("loop without the lookup", {})[n] = r["baseline_ns"]
        continue
    m = re.fullmatch(r"study (.+), (\d+) mappings", r["name"])
    if m and m.group(1) in STAND_INS:
        series.setdefault("stand-in: " + m.group(1), {})[int(m.group(2))] = r["ours_ns"]
names = list(series)
counts = sorted({n for s in series.values() for n in s})
with open(f"{out}/translate.dat", "w") as f:
    f.write(" ".join(["n"] + ['"%s"' % c for c in names]) + "\n")
    for n in counts:
        f.write(" ".join([str(n)] + ["%.2f" % series[c][n] if n in series[c] else "NaN"
                                     for c in names]) + "\n")
with open(f"{out}/translate.cols", "w") as f:
    f.write(str(len(names)))

# Right: one bar per comparison with a real operation as the baseline.
bars = [r for r in rows
        if r["baseline_ns"] > 0
        and not r["name"].startswith(("translate", "study"))]
peers = ("glib", "boost.interprocess")
# A row compared with more than one set of bare calls (the round trip: the
# region mapped anywhere, or placed in a reservation as the back end's
# window does) names which one each bar is, so no two bars read alike.
bare = {}
for r in bars:
    if r["baseline"] not in peers:
        bare[r["name"]] = bare.get(r["name"], 0) + 1
# (short enough to stay clear of the left plot).
SHORT = {"sendmsg/recvmsg+fstat+mmap+replies": "unplaced",
         "the same, placed: mmap MAP_FIXED + PROT_NONE remap": "placed"}
def label_of(r):
    if r["baseline"] in peers:
        return "%s vs %s" % (r["name"], r["baseline"])
    if bare[r["name"]] == 1:
        return "%s vs bare calls" % r["name"]
    return "%s vs bare, %s" % (r["name"], SHORT.get(r["baseline"], r["baseline"]))
labels = [label_of(r) for r in bars]
assert len(set(labels)) == len(labels), "two bars with one label"
with open(f"{out}/ratios.dat", "w") as f:
    for i, r in enumerate(reversed(bars)):
        peer = r["baseline"] in peers
        label = label_of(r)
        f.write('%d %.3f %d "%s"\n' % (i, r["ratio"], 2 if peer else 1, label))
with open(f"{out}/ratios.n", "w") as f:
    f.write(str(len(bars)))
with open(f"{out}/ratios.max", "w") as f:
    f.write("%.2f" % max([1.3] + [1.15 * r["ratio"] for r in bars]))
EOF

cols=$(cat "$tmp/translate.cols")
nbars=$(cat "$tmp/ratios.n")
xmax=$(cat "$tmp/ratios.max")
gnuplot <<EOF
set terminal pngcairo size 1600,760 font "DejaVu Sans,11" noenhanced
set output "$out"
set linetype 1 lc rgb "#6a3d9a" lw 3 dt 1
set linetype 2 lc rgb "#33a02c" lw 3 dt 1
set linetype 3 lc rgb "#1f78b4" lw 1.5 dt 2
set linetype 4 lc rgb "#ff7f00" lw 1.5 dt 2
set linetype 5 lc rgb "#e31a1c" lw 1.5 dt 2
set linetype 6 lc rgb "#000000" lw 1.5 dt 2
set linetype 7 lc rgb "#000000" lw 1.5 dt 3
set multiplot title "shmap-bench: median of rounds, ns per operation"

set origin 0,0
set size 0.42,0.95
set title "translate: time against the number of mappings"
set logscale xy
set format x "%.0f"
set xlabel "mappings in the window"
set ylabel "ns per translate"
set key top left box opaque font ",10"
set grid
set xrange [5:200000]
set arrow 1 from 5,50 to 200000,50 nohead dt 2 lw 2 lc rgb "#c00000"
set label 1 "target: 50 ns at 100,000 mappings" at 700,42 tc rgb "#c00000"
plot for [i=2:$cols+1] "$tmp/translate.dat" using 1:i with linespoints \
       lt (i-1) pt 7 ps 0.8 title columnheader(i)

unset logscale
unset arrow 1
unset label 1
set format x "%g"
set origin 0.42,0
set size 0.58,0.95
set lmargin 44
set title "ours / baseline: below 1, shmap is faster"
set xlabel "ratio"
unset ylabel
set key below box
set bmargin 6
set xrange [0:$xmax]
set yrange [-0.7:$nbars-0.3]
set ytics scale 0 font ",10"
set grid xtics noytics
set style fill solid 0.85 noborder
set arrow 2 from 1,-0.7 to 1,$nbars-0.3 nohead lw 1.5 lc rgb "black"
set arrow 3 from 1.05,-0.7 to 1.05,$nbars-0.3 nohead dt 2 lw 2 lc rgb "#c00000"
plot "$tmp/ratios.dat" \
       using 2:1:(0):2:(\$1-0.35):(\$1+0.35):(\$3==1 ? 0x4477aa : 0xee8833):ytic(4) \
       with boxxyerror lc rgb variable notitle, \
     "$tmp/ratios.dat" using 2:1:(sprintf(" %.2f", \$2)) with labels left \
       font ",9" notitle, \
     NaN with boxes lc rgb "#4477aa" title "vs bare system calls", \
     NaN with boxes lc rgb "#ee8833" title "vs peer library", \
     NaN with lines dt 2 lw 2 lc rgb "#c00000" title "target: 5 % over bare"
unset multiplot
EOF
echo "wrote $out (from $json)"
