# bench/swim_sim: SWIM's cost and detection time in simulation (no network,
# no clock): messages and bytes per member per period at n = 5, 50, 500, and
# periods to detect a crash.
add_executable(swim_sim ${CMAKE_CURRENT_SOURCE_DIR}/swim_sim.cc)
target_link_libraries(swim_sim phalanx_membership_sim)
