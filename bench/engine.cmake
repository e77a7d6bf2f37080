# engine/storage benchmarks: plain mains that print their figures, the last
# line a one-line summary (see the top of each source). They never assert.
#   build/bench/engine_append [--dir DIR] [--seconds S]
#   build/bench/engine_apply  [--dir DIR] [--keys N] [--batch B] [--seconds S]
if(TARGET phalanx_storage)
  add_executable(engine_append ${CMAKE_CURRENT_LIST_DIR}/engine_append.cc)
  target_link_libraries(engine_append phalanx_storage)
  add_executable(engine_apply ${CMAKE_CURRENT_LIST_DIR}/engine_apply.cc)
  target_link_libraries(engine_apply phalanx_storage)
endif()
