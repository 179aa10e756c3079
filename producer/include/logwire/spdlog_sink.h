// A spdlog sink that streams to logwire: a backend already on spdlog adds one sink and
// its log lines reach the agent, with spdlog's levels mapped and the thread's
// request_scope attached.
//
//   auto logs = std::make_shared<logwire::producer>(
//       logwire::producer::open({.service = "api-server"}).value());
//   spdlog::default_logger()->sinks().push_back(std::make_shared<logwire::spdlog_sink>(logs));
//
// Header-only, so the producer library does not depend on spdlog; link the
// logwire::spdlog_sink target (or spdlog yourself) to use it. Behind spdlog's async
// logger the sink runs on spdlog's worker thread, where no request_scope is set: use a
// synchronous logger for this sink (logwire's own call does not block either).
#pragma once

#include <spdlog/details/null_mutex.h>
#include <spdlog/sinks/base_sink.h>

#include <chrono>
#include <memory>

#include "logwire/producer.h"

namespace logwire {

inline level level_from_spdlog(spdlog::level::level_enum value) noexcept {
  switch (value) {
    case spdlog::level::trace:
      return level::trace;
    case spdlog::level::debug:
      return level::debug;
    case spdlog::level::info:
      return level::info;
    case spdlog::level::warn:
      return level::warn;
    case spdlog::level::err:
      return level::error;
    case spdlog::level::critical:
      return level::fatal;
    default:
      return level::info;
  }
}

// Thread-safety: as spdlog's sinks; needs no lock of its own, since producer::write()
// may be called from any thread (hence null_mutex).
class spdlog_sink final : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
 public:
  explicit spdlog_sink(std::shared_ptr<producer> logs) : logs_(std::move(logs)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    if (msg.level == spdlog::level::off) return;
    const std::string_view logger(msg.logger_name.data(), msg.logger_name.size());
    const std::string_view message(msg.payload.data(), msg.payload.size());
    const auto timestamp =
        std::chrono::duration_cast<std::chrono::nanoseconds>(msg.time.time_since_epoch()).count();
    const bool has_source = !msg.source.empty();
    const field all[] = {field("logger", logger),
                         field("file", has_source ? msg.source.filename : ""),
                         field("line", has_source ? msg.source.line : 0),
                         field("function", has_source ? msg.source.funcname : "")};
    std::span<const field> fields(all, has_source ? 4 : 1);
    if (logger.empty()) fields = fields.subspan(1);
    logs_->write({.severity = level_from_spdlog(msg.level),
                  .message = message,
                  .fields = fields,
                  .timestamp_ns = timestamp});
  }
  void flush_() override {}

 private:
  std::shared_ptr<producer> logs_;
};

}  // namespace logwire
