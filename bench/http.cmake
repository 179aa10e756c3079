# Browser events over the broker's WebSocket.
add_executable(http_ingest_bench http_ingest_bench.cc)
target_link_libraries(http_ingest_bench PRIVATE logwire_broker_core benchmark::benchmark)
target_include_directories(http_ingest_bench PRIVATE ${PROJECT_SOURCE_DIR}/tests)
