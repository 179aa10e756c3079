// Logs one record through an installed logwire; exits 0 if the record is in the ring.
#include <logwire/producer.h>
#include <logwire/request_scope.h>

#include <iostream>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  auto logs = logwire::producer::open({.service = "installed-app", .runtime_dir = argv[1]});
  if (!logs) {
    std::cerr << logs.error().message << "\n";
    return 1;
  }
  auto scope = logwire::request_scope::from_headers("req-installed", "");
  return logs->log(logwire::level::info, "hello from outside the tree", {}, {{"answer", 42}}) ? 0
                                                                                              : 1;
}
