# A boot sector is exactly 512 bytes and ends with 55 AA.
file(SIZE ${BIN} _size)
file(READ ${BIN} _sig OFFSET 510 LIMIT 2 HEX)
if(NOT _size EQUAL 512 OR NOT _sig STREQUAL "55aa")
  file(REMOVE ${BIN})
  message(FATAL_ERROR "${BIN}: ${_size} bytes ending in '${_sig}', not a 512-byte boot sector")
endif()
