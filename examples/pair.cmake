# Run the example back end and front end together (CTest, both platforms):
#   cmake -DBACKEND=... -DFRONTEND=... -DDIR=... [-DPIPE=ON]
#         [-DEMULATOR=wine-run] -P pair.cmake
# execute_process starts all its COMMANDs at once; the front end retries
# until the back end listens. (Their stdout/stdin are piped together, which
# neither uses: the back end logs to stderr.)
string(RANDOM LENGTH 8 tag)
if(PIPE)
  set(addr "\\\\.\\pipe\\shmap-example-${tag}")
else()
  set(addr "${DIR}/example-${tag}.sock")
endif()
execute_process(
  COMMAND ${EMULATOR} ${BACKEND} ${addr}
  COMMAND ${EMULATOR} ${FRONTEND} ${addr}
  RESULTS_VARIABLE rcs TIMEOUT 100)
if(NOT rcs STREQUAL "0;0")
  message(FATAL_ERROR "back end and front end exited with ${rcs}")
endif()
