// A broker's ZeroMQ side inside the benchmark process: a store on a private runtime
// directory and a remote_listener on a loopback port the kernel picks, served by a thread
// of its own. Removes the directory and the store's shared memory when done.
#pragma once

#include <stdlib.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "logwire/runtime_dir.h"
#include "logwire/store.h"
#include "logwire/timestamp.h"
#include "remote_listener.h"

namespace logwire::bench {

class broker_in_process {
 public:
  explicit broker_in_process(std::uint64_t store_bytes) {
    char pattern[] = "/tmp/lw-bench-XXXXXX";
    root_ = ::mkdtemp(pattern);
    dir_.emplace(runtime_dir::open(root_ / "rt").value());
    store_ = store::open(*dir_, {.memory_cap_bytes = store_bytes, .rate = {.per_second = 0}},
                         unix_now_ns())
                 .value();
    listener_.emplace(remote_listener::bind("tcp://127.0.0.1:0", *store_).value());
    thread_ = std::thread([this] { listener_->serve(stop_); });
  }
  ~broker_in_process() {
    stop_.store(true);
    thread_.join();
    listener_.reset();
    store_.reset();
    dir_->remove_shared_memory();
    std::filesystem::remove_all(root_);
  }
  broker_in_process(const broker_in_process&) = delete;
  broker_in_process& operator=(const broker_in_process&) = delete;

  const std::string& endpoint() const { return listener_->endpoint(); }
  const store& records() const { return *store_; }

 private:
  std::filesystem::path root_;
  std::optional<runtime_dir> dir_;
  std::unique_ptr<store> store_;
  std::optional<remote_listener> listener_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace logwire::bench
