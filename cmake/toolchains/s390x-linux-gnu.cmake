# SPDX-License-Identifier: Apache-2.0
# Cross-compiles slotguard and its tests for big-endian 64-bit Linux (s390x)
# with Debian's g++-s390x-linux-gnu and runs them under qemu-user, so that
# ctest and catch_discover_tests drive the build from an x86-64 machine.
#   cmake -S . -B build/s390x -G Ninja \
#         -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/s390x-linux-gnu.cmake
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR s390x)

set(_sg_triple s390x-linux-gnu)
find_program(CMAKE_CXX_COMPILER NAMES ${_sg_triple}-g++ ${_sg_triple}-g++-12 REQUIRED)
find_program(CMAKE_C_COMPILER NAMES ${_sg_triple}-gcc ${_sg_triple}-gcc-12)

set(CMAKE_FIND_ROOT_PATH /usr/${_sg_triple})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# -L: the cross C library's folder is the emulated program's root for the
# dynamic loader and shared libraries.
find_program(SLOTGUARD_QEMU NAMES qemu-s390x qemu-s390x-static NO_CMAKE_FIND_ROOT_PATH)
if(NOT SLOTGUARD_QEMU)
  set(SLOTGUARD_QEMU qemu-s390x)
endif()
set(CMAKE_CROSSCOMPILING_EMULATOR "${SLOTGUARD_QEMU}" -L /usr/${_sg_triple})
