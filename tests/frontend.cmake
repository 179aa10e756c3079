# Browser events, their store and the timeline: unit tests.
logwire_test(frontend_test
  SOURCES frontend_event_test.cc frontend_store_test.cc timeline_test.cc
  LIBS logwire::store logwire_broker_core logwire_test_support nlohmann_json::nlohmann_json)
# The observe tool's browser modes: schema, descriptions and first lines, answered by the
# broker's query handler over a real store.
logwire_test(frontend_mcp_test
  SOURCES frontend_mcp_test.cc
  LIBS logwire::mcp logwire_broker_core logwire_test_support nlohmann_json::nlohmann_json)
target_include_directories(frontend_mcp_test PRIVATE ${PROJECT_SOURCE_DIR}/mcp_bridge/src)
