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
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# Which wine runs the tests is chosen by the caller (scripts/test picks the
# Wine 8 and the Wine 10 lane); default to the system's.
if(NOT DEFINED SHMAP_WINE)
  set(SHMAP_WINE wine)
endif()
set(CMAKE_CROSSCOMPILING_EMULATOR ${SHMAP_WINE})
