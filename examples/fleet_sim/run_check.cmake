# SPDX-License-Identifier: Apache-2.0
# Runs fleet_sim on a small fleet and checks that it succeeded (slotguard
# better on every measure) and wrote its chart and table.
# Inputs: FLEET_SIM (the program), EMULATOR ("|"-separated, may be empty),
# OUT_DIR (where the outputs go).
if(NOT FLEET_SIM OR NOT OUT_DIR)
  message(FATAL_ERROR "run_check.cmake needs FLEET_SIM and OUT_DIR")
endif()
string(REPLACE "|" ";" _emulator "${EMULATOR}")
file(REMOVE_RECURSE "${OUT_DIR}")
file(MAKE_DIRECTORY "${OUT_DIR}")
set(_svg "${OUT_DIR}/fleet.svg")
set(_md "${OUT_DIR}/fleet.md")
execute_process(
  COMMAND ${_emulator} "${FLEET_SIM}" --devices 20000 --seed 7 --svg "${_svg}" --markdown "${_md}"
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
message(STATUS "fleet_sim: outputs in ${OUT_DIR}")
