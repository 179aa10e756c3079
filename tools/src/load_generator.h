// `logwire load`: a backend that does nothing but log, for tests and benchmarks. Each
// thread emits `count` records with fields `seq` (0..count-1) and `thread`, so a reader
// can tell exactly which records arrived, and how often. The realistic mix
// (realistic_mix.h) varies levels, IDs, fields and messages as a web backend's logs do.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace logwire {

enum class load_mix {
  plain,      // one INFO message, fields seq and thread
  realistic,  // realistic_mix.h; `message_bytes` does not apply
};

struct load_options {
  std::filesystem::path runtime_dir;
  std::string service;
  std::uint64_t count = 1000;  // per thread
  double rate = 0;             // records per second over all threads; 0: as fast as possible
  unsigned threads = 1;
  std::size_t ring_bytes = 0;  // 0: the producer's default
  std::size_t message_bytes = 40;
  load_mix mix = load_mix::plain;
  std::string endpoint;               // empty: $LOGWIRE_ENDPOINT, else shared memory
  std::filesystem::path spool_dir;    // ZeroMQ: spool unacknowledged records here
  std::size_t queue_bytes = 0;        // ZeroMQ: 0 means the producer's default
  double reconnect_max_seconds = 30;  // ZeroMQ
  double flush_seconds = 30;          // how long to wait at the end for delivery
};

// Runs the load to the end and prints what it did; the exit status of the command.
int run_load(const load_options& options);

}  // namespace logwire
