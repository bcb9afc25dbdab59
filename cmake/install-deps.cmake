# SPDX-License-Identifier: Apache-2.0
# Installs what slotguard's tests need on Debian or Ubuntu: Catch2 2.x (the
# 'catch2' package). Run as `cmake -P cmake/install-deps.cmake`; it does
# nothing when Catch2 is already there, and uses sudo only when not root.
# Pass -D PACKAGES="a b" to install further packages the same way.
set(_wanted catch2)
if(DEFINED PACKAGES)
  separate_arguments(_more UNIX_COMMAND "${PACKAGES}")
  list(APPEND _wanted ${_more})
endif()

find_program(_dpkg dpkg-query)
find_program(_apt apt-get)
if(NOT _dpkg OR NOT _apt)
  message(FATAL_ERROR "install-deps: no dpkg/apt-get here; install Catch2 2.x yourself "
                      "(https://github.com/catchorg/Catch2/tree/v2.x) and run the tests")
endif()

set(_missing)
foreach(_p IN LISTS _wanted)
  execute_process(COMMAND "${_dpkg}" -W -f=\${Status} "${_p}"
                  OUTPUT_VARIABLE _st ERROR_QUIET RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0 OR NOT _st MATCHES "install ok installed")
    list(APPEND _missing "${_p}")
  endif()
endforeach()

if(NOT _missing)
  message(STATUS "install-deps: already installed: ${_wanted}")
  return()
endif()

execute_process(COMMAND id -u OUTPUT_VARIABLE _uid OUTPUT_STRIP_TRAILING_WHITESPACE)
set(_sudo)
if(NOT _uid STREQUAL "0")
  find_program(_sudo_exe sudo)
  if(NOT _sudo_exe)
    message(FATAL_ERROR "install-deps: not root and no sudo; install: ${_missing}")
  endif()
  set(_sudo "${_sudo_exe}")
endif()

message(STATUS "install-deps: installing ${_missing}")
execute_process(COMMAND ${_sudo} "${_apt}" update -qq RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "install-deps: apt-get update failed (${_rc})")
endif()
execute_process(COMMAND ${_sudo} env DEBIAN_FRONTEND=noninteractive "${_apt}" install -y -qq ${_missing}
                RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "install-deps: apt-get install ${_missing} failed (${_rc})")
endif()
