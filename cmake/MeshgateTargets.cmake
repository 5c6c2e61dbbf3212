# Helpers that give every meshgate target the same warnings and layout.

# Our own code is warning-free; generated code is compiled elsewhere without them.
set(MESHGATE_WARNINGS -Wall -Wextra -Werror -Wno-missing-field-initializers)

# A section per function and per object, so that the statically linked proxy
# can drop what it never calls and lay out what it runs by the symbol order
# (cmake/StaticProxy.cmake). The tests' ordinary links are unaffected.
set(MESHGATE_SECTION_FLAGS -ffunction-sections -fdata-sections)

# meshgate_module(NAME SOURCES... LINK ...)
# One static library per module: target `meshgate_<name>`, public headers
# included as "<module>/file.h" from the project root.
function(meshgate_module name)
  cmake_parse_arguments(M "" "" "SOURCES;LINK" ${ARGN})
  set(target "meshgate_${name}")
  if(M_SOURCES)
    add_library(${target} STATIC ${M_SOURCES})
    target_include_directories(${target} PUBLIC "${PROJECT_SOURCE_DIR}")
    target_compile_options(${target} PRIVATE ${MESHGATE_WARNINGS} ${MESHGATE_SECTION_FLAGS})
    target_link_libraries(${target} PUBLIC ${M_LINK})
  else()
    add_library(${target} INTERFACE)
    target_include_directories(${target} INTERFACE "${PROJECT_SOURCE_DIR}")
    target_link_libraries(${target} INTERFACE ${M_LINK})
  endif()
endfunction()

# meshgate_binary(NAME SOURCES... LINK ...)
function(meshgate_binary name)
  cmake_parse_arguments(M "" "" "SOURCES;LINK" ${ARGN})
  add_executable(${name} ${M_SOURCES})
  target_compile_options(${name} PRIVATE ${MESHGATE_WARNINGS})
  target_link_libraries(${name} PRIVATE ${M_LINK})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}/bin")
endfunction()

# meshgate_test(NAME SOURCES... LINK ... [LABELS ...])
# A GoogleTest binary registered with CTest, one CTest entry per test case.
function(meshgate_test name)
  cmake_parse_arguments(M "" "" "SOURCES;LINK;LABELS" ${ARGN})
  add_executable(${name} ${M_SOURCES})
  target_compile_options(${name} PRIVATE ${MESHGATE_WARNINGS})
  target_link_libraries(${name} PRIVATE ${M_LINK} GTest::gmock GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE
    MESHGATE_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    MESHGATE_BINARY_DIR="${CMAKE_BINARY_DIR}")
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}/tests")
  if(NOT M_LABELS)
    set(M_LABELS unit)
  endif()
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES LABELS "${M_LABELS}")
endfunction()

# meshgate_fuzz(NAME SOURCES... LINK ... CORPUS dir)
# A fuzz target written against LLVMFuzzerTestOneInput. Built with clang and
# -fsanitize=fuzzer when MESHGATE_FUZZ is on; always built as a replay binary
# that runs every file of the seed corpus, registered as a unit test.
function(meshgate_fuzz name)
  cmake_parse_arguments(M "" "CORPUS" "SOURCES;LINK" ${ARGN})
  add_executable(${name} ${M_SOURCES} "${PROJECT_SOURCE_DIR}/unit/fuzz_replay_main.cc")
  target_compile_options(${name} PRIVATE ${MESHGATE_WARNINGS})
  target_link_libraries(${name} PRIVATE ${M_LINK})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}/fuzz")
  add_test(NAME ${name}.seed_corpus COMMAND ${name} "${M_CORPUS}")
  set_tests_properties(${name}.seed_corpus PROPERTIES LABELS "unit;fuzz")
endfunction()

include(GoogleTest)
