# SPDX-License-Identifier: Apache-2.0
# Cross-compiles slotguard and its tests for 32-bit x86 Linux (i686, where
# size_t is 32 bits) with Debian's g++-i686-linux-gnu and runs them under
# qemu-user, so that ctest and catch_discover_tests drive the build from an
# x86-64 machine without a 32-bit C library of its own.
#   cmake -S . -B build/i686 -G Ninja \
#         -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/i686-linux-gnu.cmake
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR i686)

set(_sg_triple i686-linux-gnu)
find_program(CMAKE_CXX_COMPILER NAMES ${_sg_triple}-g++ ${_sg_triple}-g++-12 REQUIRED)
find_program(CMAKE_C_COMPILER NAMES ${_sg_triple}-gcc ${_sg_triple}-gcc-12)

set(CMAKE_FIND_ROOT_PATH /usr/${_sg_triple})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Debian 12's qemu-i386 (7.2) hangs in the first pthread_create of a
# dynamically linked i686 program started with -L; a static one runs (as does
# the same program started through its ld.so). Static executables keep the
# threaded tests meaningful under emulation.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")

# -L: the cross C library's folder is the emulated program's root for the
# dynamic loader and shared libraries.
find_program(SLOTGUARD_QEMU NAMES qemu-i386 qemu-i386-static NO_CMAKE_FIND_ROOT_PATH)
if(NOT SLOTGUARD_QEMU)
  set(SLOTGUARD_QEMU qemu-i386)
endif()
set(CMAKE_CROSSCOMPILING_EMULATOR "${SLOTGUARD_QEMU}" -L /usr/${_sg_triple})
