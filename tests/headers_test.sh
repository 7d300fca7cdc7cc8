#!/usr/bin/env bash
# Every public header is self-contained and compiles on its own as C99, C11
# and C++17 with -Wall -Wextra -Werror -pedantic, without <windows.h>.
#   headers_test.sh INCLUDE_DIR
set -euo pipefail
inc=$1
fail=0 n=0
for h in $(cd "$inc" && find . -name '*.h' | sed 's|^\./||' | sort); do
  # One declaration after the include keeps the unit non-empty for -pedantic.
  src="#include <$h>
typedef int shmap_header_test_unit;"
  for std in c99 c11; do
    n=$((n + 1))
    if ! printf '%s\n' "$src" | cc -std=$std -Wall -Wextra -Werror -pedantic \
         -I"$inc" -x c -fsyntax-only -; then
      echo "headers_test: $h does not compile as $std"; fail=$((fail + 1))
    fi
  done
  n=$((n + 1))
  if ! printf '%s\n' "$src" | c++ -std=c++17 -Wall -Wextra -Werror -pedantic \
       -I"$inc" -x c++ -fsyntax-only -; then
    echo "headers_test: $h does not compile as C++17"; fail=$((fail + 1))
  fi
  if printf '%s\n' "$src" | cc -std=c11 -I"$inc" -E -x c - | grep -q 'windows.h'; then
    echo "headers_test: $h pulls in windows.h"; fail=$((fail + 1))
  fi
done
echo "headers_test: $((n - fail)) passed, $fail failed"
[ "$fail" -eq 0 ]
