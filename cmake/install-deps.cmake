# SPDX-License-Identifier: Apache-2.0
# Installs what slotguard's tests need on Debian or Ubuntu: Catch2 2.x (the
# 'catch2' package), and the engines the examples put slotguard in front of
# (libyara, libclamav, libbpf; below). Run as `cmake -P cmake/install-deps.cmake`;
# it does nothing when they are already there, and uses sudo only when not root.
# Pass -D PACKAGES="a b" to install further packages the same way.
set(_wanted catch2)
if(DEFINED PACKAGES)
  separate_arguments(_more UNIX_COMMAND "${PACKAGES}")
  list(APPEND _wanted ${_more})
endif()

# The engines examples/engines puts slotguard in front of (docs/ENGINES.md):
# YARA, libclamav and libbpf, as development packages, so that the three
# replays build and run with the tests. Libraries only: the `clamav` package
# (and its clamav-freshclam, which downloads a signature database) is not
# installed, and nothing here runs freshclam; the replays bring their own
# signatures. Where they cannot be installed the engines' examples are left
# out of the build (a warning, not an error). -D ENGINES=OFF skips them.
set(_engines)
if(NOT DEFINED ENGINES OR ENGINES)
  set(_engines libyara-dev libclamav-dev libbpf-dev pkg-config)
endif()

find_program(_dpkg dpkg-query)
find_program(_apt apt-get)
if(NOT _dpkg OR NOT _apt)
  message(FATAL_ERROR "install-deps: no dpkg/apt-get here; install Catch2 2.x yourself "
                      "(https://github.com/catchorg/Catch2/tree/v2.x) and run the tests")
endif()

set(_missing)
set(_missing_engines)
foreach(_p IN LISTS _wanted _engines)
  execute_process(COMMAND "${_dpkg}" -W -f=\${Status} "${_p}"
                  OUTPUT_VARIABLE _st ERROR_QUIET RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0 OR NOT _st MATCHES "install ok installed")
    list(FIND _wanted "${_p}" _core)
    if(NOT _core EQUAL -1)
      list(APPEND _missing "${_p}")
    else()
      list(APPEND _missing_engines "${_p}")
    endif()
  endif()
endforeach()

if(NOT _missing AND NOT _missing_engines)
  list(JOIN _wanted " " _have)
  list(JOIN _engines " " _have_engines)
  message(STATUS "install-deps: already installed: ${_have} ${_have_engines}")
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

list(JOIN _missing " " _text)
list(JOIN _missing_engines " " _text_engines)
message(STATUS "install-deps: installing ${_text} ${_text_engines}")
execute_process(COMMAND ${_sudo} "${_apt}" update -qq RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "install-deps: apt-get update failed (${_rc})")
endif()
if(_missing)
  execute_process(COMMAND ${_sudo} env DEBIAN_FRONTEND=noninteractive "${_apt}" install -y -qq ${_missing}
                  RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "install-deps: apt-get install ${_missing} failed (${_rc})")
  endif()
endif()
if(_missing_engines)
  # One at a time, so that an engine a distribution lacks leaves the others.
  # --no-install-recommends: only what the build links.
  foreach(_p IN LISTS _missing_engines)
    execute_process(COMMAND ${_sudo} env DEBIAN_FRONTEND=noninteractive "${_apt}" install -y -qq
                            --no-install-recommends "${_p}"
                    RESULT_VARIABLE _rc)
    if(NOT _rc EQUAL 0)
      message(WARNING "install-deps: apt-get install ${_p} failed (${_rc}): the example of "
                      "examples/engines that needs it will not be built")
    endif()
  endforeach()
endif()
