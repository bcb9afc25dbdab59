# SPDX-License-Identifier: Apache-2.0
# Runs fleet_sim on a small fleet and checks that it succeeded and wrote its
# chart and table.
# Inputs: FLEET_SIM (the program), EMULATOR ("|"-separated, may be empty),
# OUT_DIR (where the outputs go), and optionally LATENT (minutes: the latent
# case) with MIN_RATIO.
#
# The ordinary case: the program's exit code says slotguard was better on
# every measure. The latent case (content whose crash comes after probation):
# the exit code says the breaker run was better than the run without it on
# every measure, and this script checks that its device-minutes down are at
# least MIN_RATIO times smaller (docs/FLEET.md, "Content that crashes later",
# gives the measured ratio and why the threshold).
if(NOT FLEET_SIM OR NOT OUT_DIR)
  message(FATAL_ERROR "run_check.cmake needs FLEET_SIM and OUT_DIR")
endif()
string(REPLACE "|" ";" _emulator "${EMULATOR}")
file(REMOVE_RECURSE "${OUT_DIR}")
file(MAKE_DIRECTORY "${OUT_DIR}")
set(_svg "${OUT_DIR}/fleet.svg")
set(_md "${OUT_DIR}/fleet.md")
set(_args --devices 20000 --seed 7)
if(LATENT)
  # The first 200 admitted devices run real guards, the rest replay them:
  # the same table as with all 20,000 real (checked), in a few seconds.
  list(APPEND _args --latent-after-minutes "${LATENT}" --real-limit 200)
endif()
execute_process(
  COMMAND ${_emulator} "${FLEET_SIM}" ${_args} --svg "${_svg}" --markdown "${_md}"
  RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "fleet_sim exited with ${_rc}")
endif()
foreach(_f IN ITEMS "${_svg}" "${_md}")
  if(NOT EXISTS "${_f}")
    message(FATAL_ERROR "fleet_sim did not write ${_f}")
  endif()
endforeach()
file(READ "${_svg}" _svg_text)
if(NOT _svg_text MATCHES "^<svg .*</svg>\n$" OR NOT _svg_text MATCHES "<polyline")
  message(FATAL_ERROR "${_svg} is not a whole chart")
endif()
file(READ "${_md}" _md_text)
if(NOT _md_text MATCHES "devices that ever crashed" OR NOT _md_text MATCHES "minutes until the fleet is whole")
  message(FATAL_ERROR "${_md} is not the table")
endif()
if(LATENT)
  if(NOT MIN_RATIO)
    message(FATAL_ERROR "the latent check needs MIN_RATIO")
  endif()
  if(NOT _md_text MATCHES "\\| slotguard, no breaker \\| slotguard, breaker \\|")
    message(FATAL_ERROR "${_md} has no columns for the runs without and with the breaker")
  endif()
  if(NOT _md_text MATCHES "\\| device-minutes down \\| ([0-9,]+) \\| ([0-9,]+) \\| ([0-9,]+) \\|")
    message(FATAL_ERROR "${_md} has no row of device-minutes down for three runs")
  endif()
  string(REPLACE "," "" _off "${CMAKE_MATCH_2}")
  string(REPLACE "," "" _on "${CMAKE_MATCH_3}")
  if(_on EQUAL 0)
    message(FATAL_ERROR "the breaker run had no device down: the latent crash did not happen")
  endif()
  math(EXPR _bound "${_on} * ${MIN_RATIO}")
  if(_off LESS _bound)
    message(FATAL_ERROR "device-minutes down: ${_off} without the breaker, ${_on} with it: "
                        "not ${MIN_RATIO} times fewer with it")
  endif()
  math(EXPR _ratio "${_off} / ${_on}")
  message(STATUS "fleet_sim latent case: device-minutes down ${_off} without the breaker, ${_on} with it "
                 "(${_ratio} times fewer; at least ${MIN_RATIO} required)")
endif()
message(STATUS "fleet_sim: outputs in ${OUT_DIR}")
