# Browser events: their decoder, their store and the timeline, compiled into logwire_store
# (target_sources(logwire_store PRIVATE ...)).
target_sources(logwire_store PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/src/frontend_event.cc
  ${CMAKE_CURRENT_LIST_DIR}/src/frontend_json.cc
  ${CMAKE_CURRENT_LIST_DIR}/src/frontend_store.cc
  ${CMAKE_CURRENT_LIST_DIR}/src/timeline.cc
  ${CMAKE_CURRENT_LIST_DIR}/src/timeline_store.cc)
