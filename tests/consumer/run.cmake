# SPDX-License-Identifier: Apache-2.0
# cmake -D MODE=add_subdirectory|fetchcontent|find_package|separate -D SOURCE_DIR=...
#       -D WORK_DIR=... [-D CXX_COMPILER=...] [-D GENERATOR=...] -P run.cmake
foreach(_v MODE SOURCE_DIR WORK_DIR)
  if(NOT DEFINED ${_v})
    message(FATAL_ERROR "run.cmake: ${_v} is required")
  endif()
endforeach()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

set(_common)
if(CXX_COMPILER)
  list(APPEND _common "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
endif()
if(GENERATOR)
  list(APPEND _common -G "${GENERATOR}")
endif()

function(run_step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "step failed (${_rc}): ${ARGN}")
  endif()
endfunction()

set(_extra)
if(MODE STREQUAL "find_package")
  # Install slotguard alone into a private prefix, then find it there.
  run_step("${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${WORK_DIR}/slotguard-build" ${_common}
           -DSLOTGUARD_BUILD_TESTS=OFF -DSLOTGUARD_BUILD_EXAMPLES=OFF -DSLOTGUARD_INSTALL=ON)
  run_step("${CMAKE_COMMAND}" --install "${WORK_DIR}/slotguard-build" --prefix "${WORK_DIR}/prefix")
  if(NOT EXISTS "${WORK_DIR}/prefix/share/pkgconfig/slotguard.pc")
    message(FATAL_ERROR "the install has no pkg-config file")
  endif()
  list(APPEND _extra "-DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix")
endif()

run_step("${CMAKE_COMMAND}" -S "${CMAKE_CURRENT_LIST_DIR}/project" -B "${WORK_DIR}/build" ${_common}
         "-DMODE=${MODE}" "-DSLOTGUARD_SOURCE_DIR=${SOURCE_DIR}" ${_extra})
run_step("${CMAKE_COMMAND}" --build "${WORK_DIR}/build")
run_step("${WORK_DIR}/build/consumer")
message(STATUS "consumer (${MODE}): ok")
