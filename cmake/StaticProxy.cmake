# The meshgate-proxy binary linked against static archives of its libraries.
#
# Why: a sidecar's idle memory is mostly code pages. Against the shared
# libraries, every process maps each library's dynamic symbol and relocation
# tables (libgrpc alone: 1.4 MB, all resident after symbol binding), dirties
# the relocated .data.rel.ro pages, and faults whole neighbourhoods of
# libraries it barely calls. A non-PIE binary with the archives, linked with
# --gc-sections, keeps only reachable code, resolves relocations at link
# time, and has no dynamic symbol tables beyond glibc's.
#
# glibc stays dynamic (NSS, getaddrinfo). gRPC, protobuf, abseil, upb, c-ares,
# re2, nghttp2, OpenSSL, zlib come from their static archives; libstdc++ and
# libgcc are linked statically; spdlog and fmt, which Debian ships as shared
# libraries only, are compiled from their headers into `meshgate_proxy_logging`.
#
# MESHGATE_STATIC_PROXY (default ON) falls back to the ordinary shared link,
# with a message, when an archive is missing, so a machine without the static
# packages still builds. After the link, a check fails the build if the
# binary still needs a shared library other than glibc's.
#
# Measured with bench/proxy/run.sh (100 clusters, one worker): idle VmRSS
# 22.5 MB shared, 14.8 MB static, 13.6 MB with proxy/grpc_core_plugins.cc,
# 9.9 MB with the symbol order below. What is left is the code the proxy
# runs, glibc (about 2 MB) and the heap. The link takes about 3 s.
#
# Only meshgate-proxy is linked this way: the tests link the same
# meshgate_proxy library against the shared libraries (fast links on small
# machines).

option(MESHGATE_STATIC_PROXY
       "link meshgate-proxy against static gRPC/protobuf/abseil/OpenSSL archives" ON)

# The shared libraries a static proxy may still need: glibc's own.
set(MESHGATE_STATIC_PROXY_ALLOWED_NEEDED
    "libc.so.6;libm.so.6;ld-linux-x86-64.so.2;libpthread.so.0;libdl.so.2;librt.so.1")

# Finds every archive in `names`; sets `out` to the list of paths, or to
# NOTFOUND-<name> for the first one missing.
function(_meshgate_find_archives out)
  set(paths "")
  foreach(name IN LISTS ARGN)
    find_library(MESHGATE_STATIC_${name} NAMES "lib${name}.a" NO_CACHE)
    if(NOT MESHGATE_STATIC_${name})
      set(${out} "NOTFOUND-lib${name}.a" PARENT_SCOPE)
      return()
    endif()
    list(APPEND paths "${MESHGATE_STATIC_${name}}")
  endforeach()
  set(${out} "${paths}" PARENT_SCOPE)
endfunction()

# The functions the proxy runs from start-up to serving, laid out first and
# side by side (proxy/symbol-order.txt, made by scripts/proxy-symbol-order.sh
# from a callgrind run). The kernel maps code around each page a process
# touches, so the same touched functions spread over the whole binary keep
# about a third more memory resident: 13.0 MB idle RSS unordered, 9.9 MB
# ordered (with our code and envoy_api compiled a section per function).
# Only lld takes an ordering file; without it the link is the same minus the
# ordering.
function(_meshgate_order_symbols name)
  set(order_file "${PROJECT_SOURCE_DIR}/proxy/symbol-order.txt")
  find_program(MESHGATE_LLD ld.lld)
  if(NOT MESHGATE_LLD OR NOT EXISTS "${order_file}")
    message(STATUS "${name}: ld.lld or ${order_file} missing, linking without symbol order "
                   "(more idle memory)")
    return()
  endif()
  target_link_options(${name} PRIVATE -fuse-ld=lld
    "LINKER:--symbol-ordering-file=${order_file}" LINKER:--no-warn-symbol-ordering)
  set_property(TARGET ${name} APPEND PROPERTY LINK_DEPENDS "${order_file}")
endfunction()

# meshgate_proxy_binary(NAME SOURCES... STATIC_SOURCES... LIBRARIES...)
# The proxy executable. LIBRARIES are our own static libraries in dependency
# order. Statically linked when MESHGATE_STATIC_PROXY is on and the archives
# are found, with STATIC_SOURCES added (code that replaces parts of the
# archives); otherwise exactly meshgate_binary() of SOURCES.
function(meshgate_proxy_binary name)
  cmake_parse_arguments(M "" "" "SOURCES;STATIC_SOURCES;LIBRARIES" ${ARGN})
  set(archives "")
  if(MESHGATE_STATIC_PROXY)
    _meshgate_find_archives(archives
      grpc++ grpc gpr upb address_sorting cares protobuf re2 nghttp2 ssl crypto z absl_base)
  endif()
  if(NOT MESHGATE_STATIC_PROXY OR archives MATCHES "^NOTFOUND-")
    if(MESHGATE_STATIC_PROXY)
      string(REPLACE "NOTFOUND-" "" missing "${archives}")
      message(STATUS "${name}: ${missing} not found, linking shared libraries "
                     "(-DMESHGATE_STATIC_PROXY=OFF silences this)")
    endif()
    meshgate_binary(${name} SOURCES ${M_SOURCES} LINK ${M_LIBRARIES})
    return()
  endif()
  # Every abseil archive next to libabsl_base.a: gRPC needs most of them, and
  # the linker takes from an archive only the members it needs.
  list(GET archives -1 absl_base_archive)
  list(REMOVE_AT archives -1)
  get_filename_component(absl_dir "${absl_base_archive}" DIRECTORY)
  file(GLOB absl_archives "${absl_dir}/libabsl_*.a")

  # spdlog and fmt from their headers, compiled once as the libraries would be.
  set(logging_source "${CMAKE_BINARY_DIR}/generated/meshgate_proxy_logging.cc")
  file(CONFIGURE OUTPUT "${logging_source}" @ONLY CONTENT [=[
// Generated by cmake/StaticProxy.cmake: the compiled parts of spdlog and fmt,
// for the statically linked meshgate-proxy (Debian ships them shared only).
#include <fmt/format-inl.h>
#include <spdlog/common-inl.h>
#include <spdlog/details/backtracer-inl.h>
#include <spdlog/details/log_msg-inl.h>
#include <spdlog/details/log_msg_buffer-inl.h>
#include <spdlog/details/os-inl.h>
#include <spdlog/details/periodic_worker-inl.h>
#include <spdlog/details/registry-inl.h>
#include <spdlog/logger-inl.h>
#include <spdlog/pattern_formatter-inl.h>
#include <spdlog/sinks/ansicolor_sink-inl.h>
#include <spdlog/sinks/base_sink-inl.h>
#include <spdlog/sinks/sink-inl.h>
#include <spdlog/sinks/stdout_color_sinks-inl.h>
#include <spdlog/spdlog-inl.h>

// What fmt's compiled library instantiates and the header-side code calls.
namespace fmt::detail {
template FMT_API locale_ref::locale_ref(const std::locale& loc);
template FMT_API auto locale_ref::get<std::locale>() const -> std::locale;
template FMT_API auto thousands_sep_impl(locale_ref) -> thousands_sep_result<char>;
template FMT_API auto decimal_point_impl(locale_ref) -> char;
template FMT_API void buffer<char>::append(const char*, const char*);
template FMT_API void vformat_to(buffer<char>&, string_view,
                                 basic_format_args<FMT_BUFFER_CONTEXT(char)>, locale_ref);
}  // namespace fmt::detail

template class spdlog::sinks::base_sink<std::mutex>;
template class spdlog::sinks::ansicolor_sink<spdlog::details::console_mutex>;
template class spdlog::sinks::ansicolor_stderr_sink<spdlog::details::console_mutex>;
template std::shared_ptr<spdlog::logger> spdlog::stderr_color_mt<spdlog::synchronous_factory>(
    const std::string&, spdlog::color_mode);
]=])
  add_library(meshgate_proxy_logging STATIC "${logging_source}")
  target_compile_definitions(meshgate_proxy_logging PRIVATE
    SPDLOG_COMPILED_LIB SPDLOG_FMT_EXTERNAL)
  target_compile_options(meshgate_proxy_logging PRIVATE -ffunction-sections -fdata-sections)

  # The sources compile with the libraries' usage requirements (include
  # directories, definitions); the link names the libraries by file, so CMake
  # does not append the shared libraries behind the imported targets.
  add_library(${name}_objects OBJECT ${M_SOURCES} ${M_STATIC_SOURCES})
  target_compile_options(${name}_objects PRIVATE ${MESHGATE_WARNINGS})
  target_link_libraries(${name}_objects PRIVATE ${M_LIBRARIES})
  add_executable(${name} $<TARGET_OBJECTS:${name}_objects>)
  set(library_files "")
  foreach(library IN LISTS M_LIBRARIES)
    list(APPEND library_files "$<TARGET_FILE:${library}>")
  endforeach()
  add_dependencies(${name} ${M_LIBRARIES} meshgate_proxy_logging)
  set_target_properties(${name} PROPERTIES
    RUNTIME_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}/bin"
    POSITION_INDEPENDENT_CODE OFF
    LINK_DEPENDS "${library_files};$<TARGET_FILE:meshgate_proxy_logging>")
  target_link_libraries(${name} PRIVATE
    ${library_files} $<TARGET_FILE:meshgate_proxy_logging>
    -Wl,--start-group ${archives} ${absl_archives} -Wl,--end-group
    Threads::Threads ${CMAKE_DL_LIBS} m rt)
  target_link_options(${name} PRIVATE
    -no-pie -static-libstdc++ -static-libgcc
    LINKER:--gc-sections LINKER:-O1 LINKER:--as-needed)
  _meshgate_order_symbols(${name})
  add_custom_command(TARGET ${name} POST_BUILD
    COMMAND "${CMAKE_COMMAND}" -DMESHGATE_CHECK_BINARY=$<TARGET_FILE:${name}>
            "-DMESHGATE_CHECK_ALLOWED=${MESHGATE_STATIC_PROXY_ALLOWED_NEEDED}"
            -P "${CMAKE_CURRENT_FUNCTION_LIST_FILE}"
    VERBATIM)
  message(STATUS "${name}: static link (gRPC, protobuf, abseil, OpenSSL, libstdc++)")
endfunction()

# Script mode (cmake -P): fail when MESHGATE_CHECK_BINARY needs a shared
# library outside MESHGATE_CHECK_ALLOWED.
if(CMAKE_SCRIPT_MODE_FILE AND DEFINED MESHGATE_CHECK_BINARY)
  cmake_policy(VERSION 3.20)
  execute_process(COMMAND readelf -d "${MESHGATE_CHECK_BINARY}"
                  OUTPUT_VARIABLE dynamic RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "readelf -d ${MESHGATE_CHECK_BINARY} failed")
  endif()
  string(REGEX MATCHALL "Shared library: \\[[^]]+\\]" needed "${dynamic}")
  foreach(entry IN LISTS needed)
    string(REGEX REPLACE "Shared library: \\[([^]]+)\\]" "\\1" lib "${entry}")
    if(NOT lib IN_LIST MESHGATE_CHECK_ALLOWED)
      message(FATAL_ERROR "${MESHGATE_CHECK_BINARY} still needs ${lib}: a static archive "
                          "is missing from cmake/StaticProxy.cmake")
    endif()
  endforeach()
endif()
