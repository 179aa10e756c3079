#include "logwire/mcp_server.h"

#include <array>
#include <condition_variable>
#include <exception>
#include <istream>
#include <map>
#include <memory>
#include <mutex>
#include <ostream>
#include <thread>
#include <utility>

#include "logwire/query_protocol.h"
#include "logwire/version.h"
#include "observe_tool.h"

namespace logwire {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;
using mcp_server_outcome = boost::system::result<ordered_json, jsonrpc_error>;

// JSON-RPC 2.0 error codes (jsonrpc.org/specification, "Error object").
constexpr int k_parse_error = -32700;
constexpr int k_invalid_request = -32600;
constexpr int k_method_not_found = -32601;
constexpr int k_invalid_params = -32602;
constexpr int k_internal_error = -32603;

// Bigger arguments cannot fit in one query frame; the broker would drop the frame and the
// agent would see a misleading broker_unavailable after the timeout.
constexpr std::size_t k_max_arguments = k_max_query_message - 1024;

constexpr std::string_view k_instructions =
    "logwire streams the logs of the developer's backend services, live, to a local broker, "
    "and what the browser did (requests, clicks, console errors) when the page loads "
    "logwire.js. Call the observe tool with what:'backend-logs' to read recent log records; "
    "narrow them with service, level (minimum severity), since ('5m' or an RFC 3339 time) and "
    "limit. Records carry requestId and traceId, which tie a backend's work to the browser "
    "request that caused it: what:'timeline' with a requestId shows the click, the request, "
    "every backend line for it and the response in order; what:'frontend' with minStatus 400 "
    "lists the browser's failed requests. To investigate a failure, start with level:'ERROR' "
    "and since:'5m'; to catch the failure of an action you are about to trigger, call with "
    "waitMs.";

// Replacing bad UTF-8 instead of throwing: an error message may quote the client's bytes,
// and a reply with U+FFFD beats no reply.
template <class json_type>
std::string to_line(const json_type& message) {
  return message.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string error_line(const json& id, int code, std::string message) {
  return to_line(ordered_json{{"jsonrpc", "2.0"},
                              {"id", id},
                              {"error", {{"code", code}, {"message", std::move(message)}}}});
}

bool is_blank(std::string_view line) {
  return line.find_first_not_of(" \t\r\n") == line.npos;
}

// Names quoted back in an error message are cut short: the client may have sent megabytes.
std::string quote_short(std::string_view text) {
  constexpr std::size_t k_max_quoted = 100;
  if (text.size() <= k_max_quoted) return "'" + std::string(text) + "'";
  return "'" + std::string(text.substr(0, k_max_quoted)) + "...'";
}

// Keeps at most `keep` bytes of the line and drops the rest of it, unlike std::getline.
bool read_capped_line(std::istream& in, std::string& line, std::size_t keep) {
  line.clear();
  std::streambuf* buffer = in.rdbuf();
  if (buffer == nullptr) return false;
  bool read_any = false;
  for (int c = buffer->sbumpc(); c != std::char_traits<char>::eof(); c = buffer->sbumpc()) {
    read_any = true;
    if (c == '\n') return true;
    if (line.size() < keep) line.push_back(static_cast<char>(c));
  }
  in.setstate(std::ios::eofbit);
  return read_any;
}

// Spelled out because json converts implicitly to almost anything, which makes the
// result's converting constructors ambiguous.
mcp_server_outcome success(ordered_json value) {
  return mcp_server_outcome(boost::system::in_place_value, std::move(value));
}

const json& empty_object() {
  static const json k_empty = json::object();
  return k_empty;
}

}  // namespace

bool nests_deeper_than(std::string_view text, std::size_t limit) {
  std::size_t depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

std::optional<std::string> mcp_server::handle_line(std::string_view line) {
  const std::atomic<bool> never{false};
  return handle_line(line, never);
}

std::optional<std::string> mcp_server::handle_line(std::string_view line,
                                                   const std::atomic<bool>& cancelled) {
  if (line.size() > k_max_mcp_line) {
    return error_line(nullptr, k_invalid_request, "Invalid Request: message larger than 4 MiB");
  }
  if (is_blank(line)) return std::nullopt;
  if (nests_deeper_than(line, k_max_mcp_nesting)) {
    return error_line(
        nullptr, k_invalid_request,
        "Invalid Request: nested deeper than " + std::to_string(k_max_mcp_nesting) + " levels");
  }
  const json message = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (message.is_discarded()) {
    return error_line(nullptr, k_parse_error,
                      "Parse error: a line must hold one JSON value in UTF-8");
  }
  if (message.is_array()) {
    return error_line(nullptr, k_invalid_request,
                      "Invalid Request: batches are not supported; send one message per line");
  }
  if (!message.is_object()) {
    return error_line(nullptr, k_invalid_request, "Invalid Request: a message is a JSON object");
  }

  const auto method = message.find("method");
  const auto id = message.find("id");
  // A response: this server sends no requests, so it has nothing to match, and JSON-RPC
  // forbids answering a response.
  if (method == message.end() && (message.contains("result") || message.contains("error"))) {
    return std::nullopt;
  }
  // Notifications are never answered, not even with an error, and none needs action here.
  // An object with neither an id nor a method is no notification but an invalid request.
  if (id == message.end()) {
    if (method == message.end()) {
      return error_line(nullptr, k_invalid_request, "Invalid Request: a message needs a method");
    }
    return std::nullopt;
  }
  if (!id->is_string() && !id->is_number()) {
    return error_line(nullptr, k_invalid_request,
                      "Invalid Request: id must be a string or a number");
  }
  const auto version = message.find("jsonrpc");
  if (version == message.end() || *version != "2.0") {
    return error_line(*id, k_invalid_request, "Invalid Request: jsonrpc must be \"2.0\"");
  }
  if (method == message.end() || !method->is_string()) {
    return error_line(*id, k_invalid_request, "Invalid Request: method must be a string");
  }
  const json* params = &empty_object();
  if (const auto given = message.find("params"); given != message.end()) {
    if (!given->is_object()) {
      return error_line(*id, k_invalid_params, "Invalid params: params must be an object");
    }
    params = &*given;
  }

  outcome result = [&]() -> outcome {
    try {
      return dispatch(method->get_ref<const std::string&>(), *params, cancelled);
    } catch (const std::exception& e) {
      return jsonrpc_error{k_internal_error, std::string("Internal error: ") + e.what()};
    }
  }();
  if (!result) return error_line(*id, result.error().code, std::move(result.error().message));
  return to_line(ordered_json{{"jsonrpc", "2.0"}, {"id", *id}, {"result", std::move(*result)}});
}

mcp_server::outcome mcp_server::dispatch(std::string_view method, const json& params,
                                         const std::atomic<bool>& cancelled) {
  if (method == "initialize") return initialize(params);
  if (method == "ping") return success(ordered_json::object());
  if (method == "tools/list") {
    return success(ordered_json{{"tools", ordered_json::array({observe_tool_definition()})}});
  }
  if (method == "tools/call") return call_tool(params, cancelled);
  return jsonrpc_error{k_method_not_found, "Method not found: " + quote_short(method)};
}

mcp_server::outcome mcp_server::initialize(const json& params) {
  const auto requested = params.find("protocolVersion");
  if (requested == params.end() || !requested->is_string()) {
    return jsonrpc_error{k_invalid_params,
                         "Invalid params: initialize needs protocolVersion, a string such as "
                         "\"2025-06-18\""};
  }
  std::string_view version = k_latest_mcp_version;
  for (const std::string_view supported : k_mcp_versions) {
    if (requested->get_ref<const std::string&>() == supported) version = supported;
  }
  return success(ordered_json{{"protocolVersion", std::string(version)},
                              {"capabilities", {{"tools", ordered_json::object()}}},
                              {"serverInfo", {{"name", "logwire"}, {"version", k_library_version}}},
                              {"instructions", std::string(k_instructions)}});
}

mcp_server::outcome mcp_server::call_tool(const json& params, const std::atomic<bool>& cancelled) {
  const auto name = params.find("name");
  if (name == params.end() || !name->is_string()) {
    return jsonrpc_error{k_invalid_params, "Invalid params: tools/call needs name, a string"};
  }
  const std::string& tool = name->get_ref<const std::string&>();
  if (tool != k_observe_tool_name) {
    return jsonrpc_error{k_invalid_params, "Unknown tool: " + quote_short(tool) +
                                               "; this server has one tool, observe"};
  }
  // A null arguments is read as absent: some clients send null for "no arguments".
  const json* arguments = &empty_object();
  if (const auto given = params.find("arguments"); given != params.end() && !given->is_null()) {
    if (!given->is_object()) {
      return jsonrpc_error{k_invalid_params, "Invalid params: arguments must be an object"};
    }
    arguments = &*given;
  }
  if (to_line(*arguments).size() > k_max_arguments) {
    return jsonrpc_error{k_invalid_params,
                         "Invalid params: arguments larger than the broker accepts (1 MiB)"};
  }

  try {
    return success(run_observe(backend_, *arguments, cancelled));
  } catch (const std::exception& e) {
    // Still a tool result, not a protocol error, so the agent reads what went wrong.
    return success(observe_tool_result(
        *arguments, broker_error{"internal", std::string("observe failed: ") + e.what(), ""}));
  }
}

namespace {

// The tool calls of one stdio session that are still running, and the one writer they
// share. Every reply is written whole, one line at a time.
class call_tracker {
 public:
  explicit call_tracker(std::ostream& out) : out_(out) {}

  void write(const std::string& reply) {
    const std::lock_guard lock(write_mutex_);
    out_ << reply << '\n';
    out_.flush();
    if (!out_) failed_.store(true);
  }
  bool failed() const noexcept { return failed_.load(); }

  struct call {
    std::atomic<bool> cancelled{false};
    std::atomic<bool> dropped{false};  // cancelled by the client: no reply
  };

  // Waits for room, then registers a call under its JSON-RPC id.
  std::shared_ptr<call> begin(const std::string& id) {
    std::unique_lock lock(mutex_);
    room_.wait(lock, [&] { return running_ < k_max_calls_in_flight; });
    ++running_;
    auto entry = std::make_shared<call>();
    calls_.emplace(id, entry);
    return entry;
  }
  void end(const std::string& id, const std::shared_ptr<call>& entry) {
    const std::lock_guard lock(mutex_);
    for (auto [it, last] = calls_.equal_range(id); it != last; ++it) {
      if (it->second == entry) {
        calls_.erase(it);
        break;
      }
    }
    --running_;
    room_.notify_all();
  }
  // notifications/cancelled: the client no longer wants the reply.
  void cancel(const std::string& id) {
    const std::lock_guard lock(mutex_);
    for (auto [it, last] = calls_.equal_range(id); it != last; ++it) {
      it->second->dropped.store(true);
      it->second->cancelled.store(true);
    }
  }
  // End of input: every waiting call ends now and answers with what it has.
  void cancel_all_and_wait() {
    std::unique_lock lock(mutex_);
    for (auto& [id, entry] : calls_) entry->cancelled.store(true);
    room_.wait(lock, [&] { return running_ == 0; });
  }

 private:
  std::ostream& out_;
  std::mutex write_mutex_;
  std::atomic<bool> failed_{false};
  std::mutex mutex_;
  std::condition_variable room_;
  std::size_t running_ = 0;                                  // guarded by mutex_
  std::multimap<std::string, std::shared_ptr<call>> calls_;  // guarded by mutex_
};

// What the reader must know of a message before handing it on: a tool call to run on its
// own thread (its id, as JSON text), or the id a cancellation names. Anything else, and
// anything malformed, is handled in line by handle_line().
struct message_peek {
  std::optional<std::string> tool_call_id;
  std::optional<std::string> cancelled_id;
};

message_peek peek(std::string_view line) {
  message_peek out;
  if (line.size() > k_max_mcp_line || nests_deeper_than(line, k_max_mcp_nesting)) return out;
  const json message = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!message.is_object()) return out;
  const auto method = message.find("method");
  if (method == message.end() || !method->is_string()) return out;
  const auto id = message.find("id");
  if (*method == "tools/call" && id != message.end() && (id->is_string() || id->is_number())) {
    out.tool_call_id = id->dump();
  } else if (*method == "notifications/cancelled" && id == message.end()) {
    const auto params = message.find("params");
    if (params != message.end() && params->is_object()) {
      const auto request = params->find("requestId");
      if (request != params->end() && (request->is_string() || request->is_number()))
        out.cancelled_id = request->dump();
    }
  }
  return out;
}

}  // namespace

bool serve_lines(mcp_server& server, std::istream& in, std::ostream& out) {
  call_tracker calls(out);
  std::string line;
  while (!calls.failed() && read_capped_line(in, line, k_max_mcp_line + 1)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const message_peek seen = peek(line);
    if (seen.cancelled_id) calls.cancel(*seen.cancelled_id);
    if (!seen.tool_call_id) {
      if (const auto reply = server.handle_line(line)) calls.write(*reply);
      continue;
    }
    const std::string id = *seen.tool_call_id;
    auto entry = calls.begin(id);
    std::thread([&server, &calls, id, entry, message = std::move(line)] {
      try {
        const auto reply = server.handle_line(message, entry->cancelled);
        if (reply && !entry->dropped.load()) calls.write(*reply);
      } catch (const std::exception&) {
        // Out of memory: the call has no answer to give; the session goes on.
      }
      calls.end(id, entry);
    }).detach();
    line = std::string();
  }
  calls.cancel_all_and_wait();
  return !calls.failed();
}

}  // namespace logwire
