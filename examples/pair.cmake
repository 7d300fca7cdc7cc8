# Run the example back end and front end together (CTest, both platforms):
#   cmake -DBACKEND=... -DFRONTEND=... -DDIR=... [-DPIPE=ON]
#         [-DEMULATOR=wine-run] -P pair.cmake
# execute_process starts all its COMMANDs at once; the front end retries
# until the back end listens.
#
# Every stream that CMake itself would hold is a file, never a pipe: a
# process that the program under test starts and that outlives it inherits
# what it was given, and CMake waits for every pipe it reads to be closed.
# Under Wine that process is the prefix's services.exe (and the helpers it
# starts), which keeps the stderr of the first Wine program of the session
# for as long as the wineserver runs: with a persistent server
# (`wineserver -p`) that is forever, and the test hung for its whole timeout.
# A file has no writer to wait for. (The two commands' stdout and stdin stay
# connected by the pipe execute_process makes between them; neither uses it,
# and CMake does not read it.)
string(RANDOM LENGTH 8 tag)
if(PIPE)
  set(addr "\\\\.\\pipe\\shmap-example-${tag}")
else()
  set(addr "${DIR}/example-${tag}.sock")
endif()
set(log "${DIR}/example-${tag}")
file(WRITE "${log}.in" "")
execute_process(
  COMMAND ${EMULATOR} ${BACKEND} ${addr}
  COMMAND ${EMULATOR} ${FRONTEND} ${addr}
  INPUT_FILE "${log}.in" OUTPUT_FILE "${log}.out" ERROR_FILE "${log}.err"
  RESULTS_VARIABLE rcs TIMEOUT 100)
file(READ "${log}.out" out)
file(READ "${log}.err" err)
file(REMOVE "${log}.in" "${log}.out" "${log}.err")
message("${out}${err}")
if(NOT rcs STREQUAL "0;0")
  message(FATAL_ERROR "back end and front end exited with ${rcs}")
endif()
