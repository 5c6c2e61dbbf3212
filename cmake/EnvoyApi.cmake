# Generates C++ (messages and gRPC stubs) for the Envoy v3 API closure that
# meshgate speaks, into ONE static library `envoy_api` that is built once and
# shared by every module (compiler, xds-server, proxy, tests).
#
# The .proto sources come from the npm package pinned in
# third_party/npm/package-lock.json (`make deps` installs it). Its bundled
# validate/validate.proto predates the Envoy protos (no `ignore_empty`), so a
# patched copy is generated into the build tree; the annotations are only
# options to us, their numbers never reach the wire.

set(MESHGATE_PROTO_PKG "${PROJECT_SOURCE_DIR}/third_party/npm/node_modules/@grpc/grpc-js-xds/deps")
if(NOT EXISTS "${MESHGATE_PROTO_PKG}/envoy-api/envoy")
  message(FATAL_ERROR "Envoy API protos not found under ${MESHGATE_PROTO_PKG}; run `make deps`.")
endif()

find_program(PROTOC protoc REQUIRED)
find_program(GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)

set(_gen "${CMAKE_BINARY_DIR}/gen")
set(_validate_dir "${CMAKE_BINARY_DIR}/proto-patched")
file(MAKE_DIRECTORY "${_gen}" "${_validate_dir}/validate")

# Patch validate.proto: add `ignore_empty` to every rule message that lacks it.
file(READ "${MESHGATE_PROTO_PKG}/protoc-gen-validate/validate/validate.proto" _v)
foreach(_pair
    "FloatRules=8" "DoubleRules=8" "Int32Rules=8" "Int64Rules=8" "UInt32Rules=8"
    "UInt64Rules=8" "SInt32Rules=8" "SInt64Rules=8" "Fixed32Rules=8" "Fixed64Rules=8"
    "SFixed32Rules=8" "SFixed64Rules=8" "StringRules=26" "BytesRules=16"
    "RepeatedRules=5" "MapRules=6")
  string(REPLACE "=" ";" _kv "${_pair}")
  list(GET _kv 0 _msg)
  list(GET _kv 1 _num)
  string(REPLACE "message ${_msg} {" "message ${_msg} {\n    optional bool ignore_empty = ${_num};" _v "${_v}")
endforeach()
file(WRITE "${_validate_dir}/validate/validate.proto.tmp" "${_v}")
file(COPY_FILE "${_validate_dir}/validate/validate.proto.tmp" "${_validate_dir}/validate/validate.proto" ONLY_IF_DIFFERENT)

set(MESHGATE_PROTO_INCLUDES
  "${_validate_dir}"
  "${MESHGATE_PROTO_PKG}/envoy-api"
  "${MESHGATE_PROTO_PKG}/xds"
  "${MESHGATE_PROTO_PKG}/googleapis")
set(_incflags)
foreach(_i ${MESHGATE_PROTO_INCLUDES})
  list(APPEND _incflags "-I${_i}")
endforeach()

# Compute the transitive closure of the roots with protoc itself.
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/cmake/envoy_api_roots.txt")
file(STRINGS "${PROJECT_SOURCE_DIR}/cmake/envoy_api_roots.txt" _roots REGEX "^[^#].*\\.proto$")
execute_process(
  COMMAND "${PROTOC}" ${_incflags} --include_imports
          "--descriptor_set_out=${CMAKE_BINARY_DIR}/envoy_api.pb" ${_roots}
  RESULT_VARIABLE _rc ERROR_VARIABLE _err)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "protoc failed on the Envoy API roots:\n${_err}")
endif()
find_path(_wkt_dir google/protobuf/descriptor.proto PATHS /usr/include REQUIRED)
execute_process(
  COMMAND "${PROTOC}" "-I${_wkt_dir}" --decode=google.protobuf.FileDescriptorSet google/protobuf/descriptor.proto
  INPUT_FILE "${CMAKE_BINARY_DIR}/envoy_api.pb"
  OUTPUT_VARIABLE _decoded RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "could not decode the Envoy API descriptor set")
endif()
string(REGEX MATCHALL "\n  name: \"[^\"]+\"" _names "${_decoded}")
set(MESHGATE_ENVOY_PROTOS)
foreach(_n ${_names})
  string(REGEX REPLACE "\n  name: \"([^\"]+)\"" "\\1" _f "${_n}")
  if(NOT _f MATCHES "^google/protobuf/")  # well-known types ship with libprotobuf
    list(APPEND MESHGATE_ENVOY_PROTOS "${_f}")
  endif()
endforeach()
list(LENGTH MESHGATE_ENVOY_PROTOS _count)
message(STATUS "Envoy API closure: ${_count} .proto files")

set(_srcs)
set(_hdrs)
foreach(_f ${MESHGATE_ENVOY_PROTOS})
  string(REGEX REPLACE "\\.proto$" "" _base "${_f}")
  list(APPEND _srcs "${_gen}/${_base}.pb.cc")
  list(APPEND _hdrs "${_gen}/${_base}.pb.h")
  # gRPC stubs only where there is a service: the rest would be empty objects.
  foreach(_root ${MESHGATE_PROTO_INCLUDES})
    if(EXISTS "${_root}/${_f}")
      file(STRINGS "${_root}/${_f}" _services REGEX "^service ")
      if(_services)
        list(APPEND _srcs "${_gen}/${_base}.grpc.pb.cc")
        list(APPEND _hdrs "${_gen}/${_base}.grpc.pb.h")
      endif()
      break()
    endif()
  endforeach()
endforeach()

add_custom_command(
  OUTPUT ${_srcs} ${_hdrs}
  COMMAND "${PROTOC}" ${_incflags} "--cpp_out=${_gen}" "--grpc_out=${_gen}"
          "--plugin=protoc-gen-grpc=${GRPC_CPP_PLUGIN}" ${MESHGATE_ENVOY_PROTOS}
  DEPENDS "${CMAKE_BINARY_DIR}/envoy_api.pb" "${_validate_dir}/validate/validate.proto"
  COMMENT "Generating C++ for ${_count} Envoy API protos"
  VERBATIM)

add_library(envoy_api STATIC ${_srcs})
target_include_directories(envoy_api SYSTEM PUBLIC "${_gen}")
target_link_libraries(envoy_api PUBLIC protobuf::libprotobuf gRPC::grpc++)
# Generated code: always optimised (it sits on the xDS hot path), no debug info
# (it halves the build), never warned about, a section per function for the
# proxy's ordered static link. Protos whose fields are C++20 keywords
# (jwt_authn's `requires`) cannot be compiled as C++20 by protobuf 3.21.
target_compile_options(envoy_api PRIVATE -w -O2 -g0 ${MESHGATE_SECTION_FLAGS})
set_target_properties(envoy_api PROPERTIES POSITION_INDEPENDENT_CODE ON)
