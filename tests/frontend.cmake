# Browser events, their store and the timeline: unit tests.
logwire_test(frontend_test
  SOURCES frontend_event_test.cc frontend_store_test.cc timeline_test.cc
  LIBS logwire::store logwire_broker_core logwire_test_support nlohmann_json::nlohmann_json)
