// libFuzzer target: arbitrary bytes as what an MCP client writes to logwire-mcp's stdin,
// cut into lines the way the stdio transport cuts them, each line through
// mcp_server::handle_line with a fake observe backend in place of the broker. Nothing may
// crash or throw, and every reply must be what JSON-RPC 2.0 and MCP promise the client:
//   - one line of valid JSON, an object with jsonrpc "2.0", an id, and exactly one of
//     result and error (an error with an integer code and a string message);
//   - a reply exactly when the line was a request (it had an id) or was no valid message
//     at all; none for notifications, responses and blank lines;
//   - the request's own id when it was a string or a number, else null with an error;
//   - initialize agrees to a version the server lists; a tools/call result has text
//     content, and an isError result a code.
//
// Input layout: byte 0 is the session's mode, the rest is the client's stream.
//   byte 0 % 4   0, 3  never cancelled
//                1     cancelled before the call (the client went away)
//                2     cancelled while the backend answers the first observe
//   byte 0 / 4   a salt mixed into the fake backend's choices
// tests/fuzz/mcp_line_seeds/*.bin seed the corpus behind a 0 byte: MCP sessions as a
// client writes them, one message a line.
//
// The fake backend answers from a hash of the arguments it is given: a broker error, an
// exception, an empty answer (with a newer cursor, so waitMs waits), a count without
// records (so the narrowing advice runs) or a few records that echo the arguments' text,
// invalid UTF-8 included. A poll with its own cursor always ends the wait (a record or an
// error), so a waitMs input costs at most one poll interval.
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <new>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "logwire/mcp_server.h"
#include "logwire/observe_backend.h"

namespace {

using nlohmann::json;
using nlohmann::ordered_json;

// Stops the run with a message libFuzzer shows beside the input that caused it.
void require(bool condition, const char* what, std::string_view detail = {}) {
  if (!condition) {
    std::fprintf(stderr, "mcp_line_fuzz: invariant broken: %s\n%.*s\n", what,
                 static_cast<int>(detail.size() > 2000 ? 2000 : detail.size()), detail.data());
    std::abort();
  }
}

std::uint64_t fnv1a(std::string_view text, std::uint64_t salt) {
  std::uint64_t hash = 14695981039346656037ull ^ salt;
  for (const char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ull;
  }
  return hash;
}

constexpr std::string_view k_poll_cursor = "fuzz-newer-cursor";

// Deterministic: the same arguments and salt give the same answer. Thread-safety: one
// thread (the fuzzer's); the server calls it from handle_line's.
class fake_backend final : public logwire::observe_backend {
 public:
  fake_backend(std::uint64_t salt, std::atomic<bool>* cancel_on_first_call)
      : salt_(salt), cancel_on_first_call_(cancel_on_first_call) {}

  logwire::broker_result observe(const json& arguments) override {
    require(arguments.is_object(), "the backend was given arguments that are no object",
            arguments.dump(-1, ' ', false, json::error_handler_t::replace));
    if (cancel_on_first_call_ != nullptr) {
      cancel_on_first_call_->store(true);
      cancel_on_first_call_ = nullptr;
    }
    ++calls_;
    require(calls_ <= 64, "one tool call asked the backend more than 64 times");
    const std::string text = arguments.dump(-1, ' ', false, json::error_handler_t::replace);
    const std::uint64_t hash = fnv1a(text, salt_);
    const auto cursor = arguments.find("cursor");
    const bool polling =
        cursor != arguments.end() && cursor->is_string() && *cursor == k_poll_cursor;
    if (polling) return hash % 2 == 0 ? records(arguments, hash) : error(hash);
    switch (hash % 8) {
      case 0:
        return error(hash);
      case 1:
        throw std::runtime_error("fake backend: connection reset");
      case 2:
        return ordered_json{{"type", "backend-logs"},
                            {"logs", ordered_json::array()},
                            {"totalCount", 0},
                            {"newerCursor", k_poll_cursor}};
      case 3:
        return ordered_json{{"type", "backend-logs"},
                            {"logs", ordered_json::array()},
                            {"totalCount", (hash >> 8) % 5}};
      case 4:
        // An answer of another mode, whatever was asked.
        return ordered_json{{"type", "services"},
                            {"services", ordered_json::array({{{"name", "api"}}})}};
      default:
        return records(arguments, hash);
    }
  }

  void reset() { calls_ = 0; }

 private:
  static logwire::broker_result error(std::uint64_t hash) {
    static constexpr const char* k_codes[] = {"broker_unavailable", "invalid_param",
                                              "cursor_expired", "unknown_mode", "protocol_error"};
    const char* code = k_codes[(hash >> 16) % 5];
    return logwire::broker_error{code, std::string("fake ") + code,
                                 (hash >> 24) % 2 == 0 ? "" : "try again"};
  }

  static logwire::broker_result records(const json& arguments, std::uint64_t hash) {
    ordered_json logs = ordered_json::array();
    const std::size_t count = 1 + (hash >> 32) % 3;
    for (std::size_t i = 0; i < count; ++i) {
      ordered_json record = {{"timestamp", "2026-01-31T10:15:23.456Z"},
                             {"service", "api-server"},
                             {"level", i == 0 ? "ERROR" : "INFO"},
                             {"message", "Payment failed"}};
      // Whatever the agent asked for comes back in the record, as a store would echo a
      // matched request ID or text, bad bytes and all.
      for (const char* key : {"requestId", "text", "service", "level", "since"}) {
        const auto value = arguments.find(key);
        if (value != arguments.end() && value->is_string()) record[key] = *value;
      }
      if ((hash >> 40) % 4 == 0) record["message"] = std::string("bad \xff\xfe utf-8 \xc3");
      record["fields"] = {{"attempt", static_cast<std::int64_t>(i)}, {"ok", (hash >> 44) % 2 == 0}};
      logs.push_back(std::move(record));
    }
    ordered_json result = {{"type", "backend-logs"},
                           {"logs", std::move(logs)},
                           {"totalCount", count + (hash >> 48) % 3}};
    if ((hash >> 52) % 2 == 0) result["nextCursor"] = "fuzz-older";
    return result;
  }

  std::uint64_t salt_;
  std::atomic<bool>* cancel_on_first_call_;
  int calls_ = 0;
};

bool is_blank(std::string_view line) {
  return line.find_first_not_of(" \t\r\n") == line.npos;
}

// What the client must get back for `line`.
struct expectation {
  bool reply = false;
  std::optional<json> id;  // the reply's id when it must echo the request's
  std::string method;      // the request's method, when it had a string one
};

expectation expect(std::string_view line) {
  expectation out;
  if (is_blank(line)) return out;
  if (logwire::nests_deeper_than(line, logwire::k_max_mcp_nesting)) {
    out.reply = true;  // refused before it is read, so with a null id
    return out;
  }
  const json message = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!message.is_object()) {
    out.reply = true;  // not JSON, a batch or a bare value: an error with a null id
    return out;
  }
  const auto method = message.find("method");
  const auto id = message.find("id");
  if (method == message.end() && (message.contains("result") || message.contains("error")))
    return out;  // a response
  if (id == message.end()) {
    out.reply = method == message.end();  // a notification gets none
    return out;
  }
  out.reply = true;
  if (id->is_string() || id->is_number()) out.id = *id;
  if (method != message.end() && method->is_string()) out.method = method->get<std::string>();
  return out;
}

void check_reply(std::string_view line, const expectation& expected,
                 const std::optional<std::string>& reply) {
  require(reply.has_value() == expected.reply,
          expected.reply ? "no reply to a request or a bad message"
                         : "a reply to a notification, a response or a blank line",
          line);
  if (!reply) return;
  require(reply->find('\n') == std::string::npos && reply->find('\r') == std::string::npos,
          "a reply spans more than one line", *reply);
  const json message = json::parse(*reply, nullptr, /*allow_exceptions=*/false);
  require(!message.is_discarded(), "a reply is not valid JSON (or not UTF-8)", *reply);
  require(message.is_object(), "a reply is not a JSON object", *reply);
  require(message.value("jsonrpc", "") == "2.0", "a reply without jsonrpc \"2.0\"", *reply);
  const auto id = message.find("id");
  require(id != message.end(), "a reply without an id", *reply);
  const bool has_result = message.contains("result");
  const bool has_error = message.contains("error");
  require(has_result != has_error, "a reply needs exactly one of result and error", *reply);
  require(message.size() == 3, "a reply has members besides jsonrpc, id and result/error", *reply);
  if (has_error) {
    const json& error = message["error"];
    require(error.is_object() && error.contains("code") && error["code"].is_number_integer() &&
                error.contains("message") && error["message"].is_string(),
            "an error without an integer code and a string message", *reply);
  }
  if (expected.id) {
    require(*id == *expected.id, "a reply with another id than its request's", *reply);
  } else {
    require(id->is_null() && has_error, "a reply without the request's id is no null-id error",
            *reply);
  }
  if (!has_result) return;
  const json& result = message["result"];
  require(result.is_object(), "a result that is no object", *reply);
  if (expected.method == "initialize") {
    const std::string version = result.value("protocolVersion", "");
    bool known = false;
    for (const std::string_view supported : logwire::k_mcp_versions) known |= version == supported;
    require(known, "initialize agreed to a version the server does not list", *reply);
  } else if (expected.method == "tools/call") {
    const auto content = result.find("content");
    require(content != result.end() && content->is_array() && !content->empty() &&
                (*content)[0].value("type", "") == "text" && (*content)[0].contains("text") &&
                (*content)[0]["text"].is_string() &&
                !(*content)[0]["text"].get_ref<const std::string&>().empty(),
            "a tool result without text content", *reply);
    if (result.value("isError", false)) {
      const json* code = nullptr;
      if (const auto structured = result.find("structuredContent");
          structured != result.end() && structured->is_object() && structured->contains("error") &&
          (*structured)["error"].is_object() && (*structured)["error"].contains("code")) {
        code = &(*structured)["error"]["code"];
      }
      require(code != nullptr && code->is_string() && !code->get_ref<const std::string&>().empty(),
              "an isError tool result without an error code", *reply);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t mode = data[0];
  const std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);

  std::atomic<bool> cancelled{mode % 4 == 1};
  fake_backend backend(mode / 4, mode % 4 == 2 ? &cancelled : nullptr);
  logwire::mcp_server server(backend);

  // Lines as the stdio transport cuts them: at '\n', a trailing '\r' dropped.
  std::size_t start = 0;
  while (start <= stream.size()) {
    std::size_t end = stream.find('\n', start);
    if (end == stream.npos) end = stream.size();
    std::string line(stream.substr(start, end - start));
    if (!line.empty() && line.back() == '\r') line.pop_back();
    // Copied to memory of exactly its size, so AddressSanitizer catches a read past it.
    const std::vector<char> exact(line.begin(), line.end());
    const std::string_view given(exact.data(), exact.size());
    const expectation expected = expect(line);
    backend.reset();
    std::optional<std::string> reply;
    try {
      reply = server.handle_line(given, cancelled);
    } catch (const std::bad_alloc&) {
      throw;  // allowed by the contract; libFuzzer reports it as out of memory
    } catch (const std::exception& e) {
      require(false, "handle_line threw", e.what());
    }
    check_reply(line, expected, reply);
    if (end == stream.size()) break;
    start = end + 1;
  }
  return 0;
}
