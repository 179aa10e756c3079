#include "query_server.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <zmq.hpp>

#include "logwire/observe_json.h"
#include "logwire/observe_query.h"
#include "logwire/query_protocol.h"
#include "logwire/timestamp.h"
#include "logwire/version.h"

namespace logwire {
namespace {

constexpr std::chrono::milliseconds k_stop_check_interval{100};

std::string reply_error(std::string_view code, std::string_view message,
                        std::string_view hint = {}) {
  ordered_json error = {{"code", code}, {"message", message}};
  if (!hint.empty()) error["hint"] = hint;
  const ordered_json reply = {{"v", k_query_protocol_version}, {"error", std::move(error)}};
  return reply.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

using clock_type = std::chrono::steady_clock;

double milliseconds(clock_type::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

// A result already written as JSON text, and where the broker's time went.
std::string reply_result_text(const std::string& result, clock_type::duration in_store,
                              clock_type::time_point received) {
  const double broker_ms = milliseconds(clock_type::now() - received);
  return fmt::format(R"({{"v":{},"result":{},"timing":{{"storeMs":{:.3f},"brokerMs":{:.3f}}}}})",
                     k_query_protocol_version, result, milliseconds(in_store), broker_ms);
}

// Asks the store what `request` asks and writes its answer.
std::string observe(const observe_request& request, const store& records,
                    clock_type::time_point received) {
  const auto asked = clock_type::now();
  switch (request.mode) {
    case observe_mode::backend_logs: {
      if (request.id) {
        const auto record = records.record_by_id(*request.id);
        const auto in_store = clock_type::now() - asked;
        if (!record) {
          return reply_error(record.error().code, record.error().message, record.error().hint);
        }
        return reply_result_text(record_json_text(*record), in_store, received);
      }
      auto answer = records.query(request.query);
      if (!answer) {
        return reply_error(answer.error().code, answer.error().message, answer.error().hint);
      }
      // The browser's view of each record's request, in one short field.
      std::vector<std::string> browser = records.frontend().browser_requests(answer->logs);
      const auto in_store = clock_type::now() - asked;
      return reply_result_text(
          observe_json_text(std::move(*answer), request.max_bytes, std::move(browser)), in_store,
          received);
    }
    case observe_mode::services: {
      const auto services = records.services(request.query.services);
      const auto in_store = clock_type::now() - asked;
      return reply_result_text(
          services_json_text(services, request.query.services, request.max_bytes), in_store,
          received);
    }
    case observe_mode::summary: {
      const summary_query query{.services = request.query.services,
                                .since_ns = request.query.since_ns,
                                .until_ns = request.query.until_ns};
      const auto summary = records.summary(query);
      const auto in_store = clock_type::now() - asked;
      return reply_result_text(summary_json_text(summary, query, request.max_bytes), in_store,
                               received);
    }
    case observe_mode::timeline: {
      // The store's work and the JSON are one pass here: storeMs covers both.
      std::string text = timeline_json_text(records, request.timeline, request.max_bytes);
      return reply_result_text(text, clock_type::now() - asked, received);
    }
    case observe_mode::frontend: {
      auto answer = records.frontend().query(request.frontend);
      const auto in_store = clock_type::now() - asked;
      if (!answer) {
        return reply_error(answer.error().code, answer.error().message, answer.error().hint);
      }
      return reply_result_text(frontend_json_text(*answer, request.max_bytes), in_store, received);
    }
  }
  return reply_error("internal", "an observe mode without an answer");
}

std::string reply_result(ordered_json result) {
  const ordered_json reply = {{"v", k_query_protocol_version}, {"result", std::move(result)}};
  return reply.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

struct query_server::socket_state {
  zmq::context_t context{1};
  zmq::socket_t socket{context, zmq::socket_type::rep};
  std::filesystem::path path;

  ~socket_state() {
    socket.close();
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
};

query_server::query_server(std::unique_ptr<socket_state> state, const store& records)
    : socket_(std::move(state)), store_(&records) {}
query_server::query_server(query_server&&) noexcept = default;
query_server::~query_server() = default;

result<query_server> query_server::bind(const runtime_dir& dir, const store& records) {
  auto state = std::make_unique<socket_state>();
  state->path = dir.path() / "query.sock";
  std::error_code ec;
  std::filesystem::remove(state->path, ec);
  try {
    state->socket.set(zmq::sockopt::linger, 0);
    state->socket.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(k_max_query_message));
    state->socket.bind(dir.query_endpoint());
  } catch (const zmq::error_t& e) {
    return error{errc::io_error, "cannot listen on " + dir.query_endpoint() + ": " + e.what()};
  }
  return query_server(std::move(state), records);
}

void query_server::serve(const std::atomic<bool>& stop) {
  zmq::socket_t& socket = socket_->socket;
  while (!stop.load(std::memory_order_relaxed)) {
    zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
    try {
      zmq::poll(&item, 1, k_stop_check_interval);
      if ((item.revents & ZMQ_POLLIN) == 0) continue;
      zmq::message_t request;
      if (!socket.recv(request, zmq::recv_flags::dontwait)) continue;
      const std::string reply = handle(request.to_string_view(), *store_);
      socket.send(zmq::buffer(reply), zmq::send_flags::none);
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      spdlog::error("query socket: {}", e.what());
    }
  }
}

std::string query_server::handle(std::string_view request, const store& records) {
  const auto received = clock_type::now();
  const auto body = nlohmann::json::parse(request, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    return reply_error("bad_request", "a request is a JSON object {\"v\", \"method\", \"params\"}");
  }
  const auto version = body.find("v");
  if (version == body.end() || !version->is_number_integer() ||
      version->get<int>() != k_query_protocol_version) {
    return reply_error("unsupported_version", "this broker speaks query protocol version " +
                                                  std::to_string(k_query_protocol_version));
  }
  const auto method = body.find("method");
  if (method == body.end() || !method->is_string()) {
    return reply_error("bad_request", "the request has no method");
  }
  const auto params = body.value("params", nlohmann::json::object());
  const std::string& name = method->get_ref<const std::string&>();
  try {
    if (name == "ping") {
      return reply_result(
          {{"broker", "logwire"}, {"version", k_library_version}, {"pid", ::getpid()}});
    }
    if (name == "observe") {
      const auto request = parse_observe_request(params, unix_now_ns());
      if (!request) {
        return reply_error(request.error().code, request.error().message, request.error().hint);
      }
      return observe(*request, records, received);
    }
  } catch (const std::exception& e) {
    spdlog::error("query {} failed: {}", name, e.what());
    return reply_error("internal", std::string("the broker failed to answer: ") + e.what());
  }
  return reply_error("unknown_method", "unknown method '" + name + "'; known: ping, observe");
}

}  // namespace logwire
