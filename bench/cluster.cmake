# bench/cluster_propose: a real 3-node cluster proposing through the peer service.
if(TARGET phalanx)
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(HIREDIS_BENCH REQUIRED IMPORTED_TARGET hiredis)
  add_executable(cluster_propose ${CMAKE_CURRENT_SOURCE_DIR}/cluster_propose.cc)
  target_link_libraries(cluster_propose phalanx_storage phalanx_transport PkgConfig::HIREDIS_BENCH)
  add_dependencies(cluster_propose phalanx)
endif()
