# Cross-build for 64-bit Windows with Debian's mingw-w64; tests run under Wine.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(SHMAP_MINGW_PREFIX x86_64-w64-mingw32)
# The -win32 thread model needs no libwinpthread DLL beside our binaries.
find_program(CMAKE_C_COMPILER NAMES ${SHMAP_MINGW_PREFIX}-gcc-win32 ${SHMAP_MINGW_PREFIX}-gcc REQUIRED)
find_program(CMAKE_CXX_COMPILER NAMES ${SHMAP_MINGW_PREFIX}-g++-win32 ${SHMAP_MINGW_PREFIX}-g++)
set(CMAKE_RC_COMPILER ${SHMAP_MINGW_PREFIX}-windres)
set(CMAKE_FIND_ROOT_PATH /usr/${SHMAP_MINGW_PREFIX})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
# BOTH: a consumer using this file can still find packages it installed
# elsewhere (CMAKE_PREFIX_PATH, shmap_DIR).
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
# Tests run under Wine through a small launcher that picks the Wine of the
# current lane at run time ($SHMAP_WINE; scripts/wine-lanes.sh sets it).
set(CMAKE_CROSSCOMPILING_EMULATOR ${CMAKE_CURRENT_LIST_DIR}/../scripts/lib/wine-run)
