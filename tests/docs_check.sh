#!/usr/bin/env bash
# The API reference builds from include/ with doxygen and not one warning
# (docs/Doxyfile: WARN_IF_UNDOCUMENTED, WARN_AS_ERROR=FAIL_ON_WARNINGS).
#   tests/docs_check.sh [OUTPUT_DIR]      default build/pkg-doxygen
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build/pkg-doxygen}
rm -rf "$out" && mkdir -p "$out"
log=$out/warnings.log
# The Doxyfile on stdin, with the output directory replaced.
if ! { cat docs/Doxyfile; echo "OUTPUT_DIRECTORY = $out"; } | doxygen - 2>"$log" \
   || [ -s "$log" ]; then
  cat "$log"
  echo "docs_check: doxygen $(doxygen --version) warned ($(wc -l <"$log") lines)"
  exit 1
fi
# Every function the headers export has its entry in the reference.
missing=0
for f in $(cat include/shmap/*.h | tr '\n' ' ' | grep -oE 'SHMAP_API [^;(]*\(' \
           | sed -E 's/.*[ *]([A-Za-z0-9_]+) *\($/\1/' | grep '^shmap_'); do
  grep -q ">$f()&#160;" "$out"/html/globals_func*.html \
    || { echo "not in the reference: $f"; missing=1; }
done
[ "$missing" -eq 0 ] || exit 1
echo "docs_check: $out/html/index.html, no warnings"
