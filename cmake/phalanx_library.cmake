# Layering: which folder's code may use which (DESIGN.md "Layout", issue 17).
#
# Headers are included by their path from the repository root
# ("consensus/raft.h"), yet no target has the root as an include directory.
# Each folder is published on its own: ${PROJECT_BINARY_DIR}/include/<id>/<folder>
# is a symlink to the folder (or, for proto/, the generated headers), and
# include/<id> is an include directory of that folder's libraries alone. So a
# target sees a folder's headers only if it links one of that folder's
# libraries, and phalanx_library() lets a library link only the folders the
# table below allows:
#   - a forbidden #include fails to compile ("No such file or directory");
#   - a forbidden link (USES, or a target_link_libraries() around the function)
#     fails at configure time, and so does a target that puts the source or
#     build root back on its include path.
# Tests and benchmarks link what they test; they are not restricted.

# The Phalanx folders each folder's libraries may use, besides their own
# folder. Every folder holding a phalanx_library() needs an entry.
set(PHALANX_MAY_USE_consensus "")
set(PHALANX_MAY_USE_membership "")
set(PHALANX_MAY_USE_proto "")
set(PHALANX_MAY_USE_resp "")  # only its own Store interface
set(PHALANX_MAY_USE_engine/storage consensus)
set(PHALANX_MAY_USE_engine/transport consensus proto)
set(PHALANX_MAY_USE_engine/node consensus membership proto resp engine/storage engine/transport)
set(PHALANX_MAY_USE_tests "")  # test helpers: linked by tests only
# Folders every folder may use (header-only helpers such as util/).
set(PHALANX_FOR_EVERYONE util)

# The include directory that publishes `folder` (a path from the root).
function(phalanx_include_root folder out_var)
  string(REPLACE "/" "_" id "${folder}")
  set(${out_var} ${PROJECT_BINARY_DIR}/include/${id} PARENT_SCOPE)
endfunction()

# phalanx_library(<name> STATIC|INTERFACE
#                 [SOURCES <file>...]
#                 [USES <phalanx library>...]   linked PUBLIC; checked against the table
#                                               once every CMakeLists.txt has been read
#                 [LIBS <other library>...]     third-party libraries, linked PUBLIC
#                 [GENERATED])
# Defines a library of the folder this is called from and publishes that folder
# to it (and to whoever links it). GENERATED: the caller writes the folder's
# headers under phalanx_include_root(<folder>)/<folder> itself (proto/).
function(phalanx_library name type)
  cmake_parse_arguments(PARSE_ARGV 2 arg "GENERATED" "" "SOURCES;USES;LIBS")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "phalanx_library(${name}): unknown arguments ${arg_UNPARSED_ARGUMENTS}")
  endif()
  file(RELATIVE_PATH folder ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR})
  if(NOT DEFINED PHALANX_MAY_USE_${folder} AND NOT folder IN_LIST PHALANX_FOR_EVERYONE)
    message(FATAL_ERROR "phalanx_library(${name}): folder '${folder}' has no rule in "
                        "cmake/phalanx_library.cmake; say there what it may use")
  endif()

  phalanx_include_root(${folder} root)
  if(NOT arg_GENERATED)
    set(link ${root}/${folder})
    get_filename_component(parent ${link} DIRECTORY)
    file(MAKE_DIRECTORY ${parent})
    set(current "")
    if(IS_SYMLINK ${link})
      file(READ_SYMLINK ${link} current)
    endif()
    if(NOT current STREQUAL "${CMAKE_CURRENT_SOURCE_DIR}")
      file(REMOVE ${link})
      file(CREATE_LINK ${CMAKE_CURRENT_SOURCE_DIR} ${link} SYMBOLIC)
    endif()
  endif()

  if(type STREQUAL "INTERFACE")
    set(scope INTERFACE)
    add_library(${name} INTERFACE ${arg_SOURCES})
  elseif(type STREQUAL "STATIC")
    set(scope PUBLIC)
    add_library(${name} STATIC ${arg_SOURCES})
  else()
    message(FATAL_ERROR "phalanx_library(${name}): type must be STATIC or INTERFACE")
  endif()
  target_include_directories(${name} ${scope} ${root})
  target_link_libraries(${name} ${scope} ${arg_USES} ${arg_LIBS})
  set_target_properties(${name} PROPERTIES PHALANX_FOLDER "${folder}")
  set_property(GLOBAL APPEND PROPERTY PHALANX_LIBRARIES ${name})
endfunction()

# Every target defined under `dir`, recursively.
function(_phalanx_targets_under dir out_var)
  get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(sub ${subdirs})
    _phalanx_targets_under(${sub} more)
    list(APPEND targets ${more})
  endforeach()
  set(${out_var} ${targets} PARENT_SCOPE)
endfunction()

function(_phalanx_check_no_root_include what dirs)
  foreach(d ${dirs})
    string(REGEX REPLACE "/+$" "" d "${d}")
    if(d STREQUAL PROJECT_SOURCE_DIR OR d STREQUAL PROJECT_BINARY_DIR)
      message(FATAL_ERROR "${what} has ${d} as an include directory, which lets it include any "
                          "folder's headers. Define the library with phalanx_library() "
                          "(cmake/phalanx_library.cmake) and link what it uses instead.")
    endif()
  endforeach()
endfunction()

# Runs once every CMakeLists.txt has been read: the links of every Phalanx
# library against the table, and no target with the whole tree on its path.
function(_phalanx_check_layering)
  get_property(libraries GLOBAL PROPERTY PHALANX_LIBRARIES)
  foreach(lib ${libraries})
    get_target_property(folder ${lib} PHALANX_FOLDER)
    set(allowed ${folder} ${PHALANX_MAY_USE_${folder}} ${PHALANX_FOR_EVERYONE})
    get_target_property(direct ${lib} LINK_LIBRARIES)
    get_target_property(interface ${lib} INTERFACE_LINK_LIBRARIES)
    foreach(dep IN LISTS direct interface)
      string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" dep "${dep}")
      if(NOT TARGET "${dep}")
        continue()
      endif()
      get_target_property(dep_folder ${dep} PHALANX_FOLDER)
      if(dep_folder AND NOT dep_folder IN_LIST allowed)
        string(JOIN ", " others ${PHALANX_MAY_USE_${folder}} ${PHALANX_FOR_EVERYONE})
        message(FATAL_ERROR "${lib} (${folder}/) links ${dep} (${dep_folder}/), but ${folder}/ "
                            "may use only itself and: ${others} (cmake/phalanx_library.cmake)")
      endif()
    endforeach()
  endforeach()

  _phalanx_targets_under(${PROJECT_SOURCE_DIR} targets)
  foreach(t ${targets})
    get_target_property(type ${t} TYPE)
    set(dirs "")
    if(NOT type STREQUAL "INTERFACE_LIBRARY")
      get_target_property(dirs ${t} INCLUDE_DIRECTORIES)
    endif()
    get_target_property(interface_dirs ${t} INTERFACE_INCLUDE_DIRECTORIES)
    _phalanx_check_no_root_include("Target ${t}" "${dirs};${interface_dirs}")
  endforeach()
endfunction()

cmake_language(DEFER DIRECTORY ${PROJECT_SOURCE_DIR} CALL _phalanx_check_layering)
