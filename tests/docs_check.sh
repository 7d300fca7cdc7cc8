#!/usr/bin/env bash
# The API reference builds from include/ with doxygen and not one warning
# (docs/Doxyfile: WARN_IF_UNDOCUMENTED, WARN_AS_ERROR=FAIL_ON_WARNINGS);
# every exported function, every error code of SHMAP_ERRNO_MAP and every
# page (README.md, docs/*.md) has its entry.
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
# Every code of SHMAP_ERRNO_MAP is a documented enumerator of shmap_errno:
# a row of the enum's table with a description, and a line in the index of
# enum values.
codes=$(sed -n 's/^ *XX(\(E[A-Z]*\), *-[0-9]*, .*/SHMAP_\1/p' include/shmap/error.h)
[ "$(wc -w <<<"$codes")" -ge 30 ] || { echo "SHMAP_ERRNO_MAP not found in error.h"; exit 1; }
for c in $codes; do
  grep -qE "</a>$c&#160;</td><td class=\"fielddoc\"><p *>[^<]" "$out"/html/error_8h.html \
    && grep -q "<li>$c&#160;:" "$out"/html/globals_eval*.html \
    || { echo "no documented entry in the reference: $c"; missing=1; }
done
# The pages: the README and each document in docs/.
for md in README.md docs/*.md; do
  page=md_$(sed 's|/|_|g; s|\.md$||' <<<"$md")
  [ -s "$out/html/$page.html" ] || { echo "not a page of the reference: $md"; missing=1; }
done
[ "$missing" -eq 0 ] || exit 1
echo "docs_check: $out/html/index.html, no warnings"
