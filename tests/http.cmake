# The broker's HTTP and WebSocket server: tests.
# Over loopback sockets, in process: the browser script, browser batches (POST and
# WebSocket), the security refusals, and backends on /logs with a torn connection replayed.
logwire_test(http_server_test
  SOURCES http_server_test.cc ws_backend_test.cc
  LIBS logwire_broker_core logwire_test_support)
target_compile_definitions(http_server_test PRIVATE
  LOGWIRE_BROWSER_SCRIPT="${PROJECT_SOURCE_DIR}/tools/browser/logwire.js")
# The real broker process: --http and its log line, a WebSocket backend killed with SIGKILL
# and the broker killed under a streaming one, replayed exactly once.
logwire_test(ws_backend_kill_test
  SOURCES ws_backend_kill_test.cc
  LIBS logwire_test_support logwire::client nlohmann_json::nlohmann_json Boost::headers)
add_dependencies(ws_backend_kill_test logwire-broker)
