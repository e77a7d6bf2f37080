# bench/consensus_rounds: rounds per second of the pure Raft core, in process.
add_executable(consensus_rounds ${CMAKE_CURRENT_SOURCE_DIR}/consensus_rounds.cc)
target_link_libraries(consensus_rounds phalanx_consensus)
