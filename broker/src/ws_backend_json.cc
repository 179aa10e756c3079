#include "ws_backend_json.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>

#include "logwire/level.h"
#include "logwire/producer.h"
#include "logwire/remote_protocol.h"
#include "logwire/timestamp.h"
#include "logwire/version.h"

namespace logwire {
namespace {

using nlohmann::json;
using refusal_result = boost::system::result<ws_backend_codec::wire_message, remote_refusal>;

// 2100-01-01T00:00:00Z in ms: a later timestamp is a broken clock.
constexpr double k_latest_timestamp_ms = 4'102'444'800'000.0;
constexpr std::uint64_t k_max_first_sequence = std::uint64_t{1} << 62;

remote_refusal malformed(std::string message) {
  return remote_refusal{remote::refusal::malformed, std::move(message)};
}

// nlohmann's messages start with "[json.exception.parse_error.101] ": the rest is the reason.
std::string parse_reason(const std::exception& e) {
  std::string_view what = e.what();
  if (what.starts_with('[')) {
    if (const auto end = what.find("] "); end != what.npos) what.remove_prefix(end + 2);
  }
  return std::string(what);
}

std::string_view type_name(const json& value) {
  return value.type_name();
}

std::optional<std::uint64_t> whole_number(const json& value) {
  if (value.is_number_unsigned()) return value.get<std::uint64_t>();
  if (value.is_number_integer() && value.get<std::int64_t>() >= 0) {
    return static_cast<std::uint64_t>(value.get<std::int64_t>());
  }
  return std::nullopt;
}

std::optional<std::uint64_t> hex64(std::string_view text) {
  std::uint64_t out = 0;
  for (const char c : text) {
    int digit = 0;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      digit = c - 'A' + 10;
    } else {
      return std::nullopt;
    }
    out = out << 4 | static_cast<std::uint64_t>(digit);
  }
  return out;
}

// An OpenTelemetry severity number: ranges of four, 1-4 TRACE up to 21-24 FATAL.
std::optional<level> severity_level(std::int64_t number) {
  if (number < 1 || number > 24) return std::nullopt;
  return static_cast<level>((number - 1) / 4);
}

// A record's optional string: absent or null is empty; another type is an error.
bool optional_text(const json& record, const char* key, std::string_view& out,
                   std::string& problem) {
  const auto found = record.find(key);
  if (found == record.end() || found->is_null()) return true;
  if (!found->is_string()) {
    problem =
        std::string("\"") + key + "\" is " + std::string(type_name(*found)) + ", not a string";
    return false;
  }
  out = found->get_ref<const std::string&>();
  return true;
}

// Reads one record of a data message into `view`, with `fields` and `texts` holding what its
// views point at. An empty result means it was fine; otherwise why not.
std::string read_record(const json& record, std::int64_t now_ns, record_view& view,
                        std::vector<field>& fields, std::vector<std::string>& texts) {
  if (!record.is_object()) return "is " + std::string(type_name(record)) + ", not an object";
  std::string problem;
  view = record_view{};
  view.timestamp_ns = now_ns;
  if (!optional_text(record, "message", view.message, problem) ||
      !optional_text(record, "service", view.service, problem) ||
      !optional_text(record, "requestId", view.context.request_id, problem) ||
      !optional_text(record, "traceparent", view.context.traceparent, problem) ||
      !optional_text(record, "spanId", view.context.span_id, problem) ||
      !optional_text(record, "stackTrace", view.context.stack_trace, problem)) {
    return problem;
  }
  if (const auto time = record.find("timestamp"); time != record.end() && !time->is_null()) {
    if (time->is_string()) {
      const auto parsed = parse_time(time->get_ref<const std::string&>(), now_ns);
      if (!parsed) return "\"timestamp\": " + parsed.error().message;
      view.timestamp_ns = *parsed;
    } else if (time->is_number()) {
      const double ms = time->get<double>();
      if (!std::isfinite(ms) || ms < 0 || ms > k_latest_timestamp_ms) {
        return "\"timestamp\" " + time->dump() +
               " is not ms since the Unix epoch before the year 2100";
      }
      // Whole ms and the fraction apart: a double near 1.8e12 ms holds about 0.2 µs, and
      // multiplied out to ns it would lose that; the fraction keeps its µs.
      const double whole = std::floor(ms);
      view.timestamp_ns =
          static_cast<std::int64_t>(whole) * 1'000'000 + std::llround((ms - whole) * 1000) * 1000;
    } else {
      return "\"timestamp\" is " + std::string(type_name(*time)) +
             ", not RFC 3339 text or a number of ms";
    }
  }
  if (const auto given = record.find("level"); given != record.end() && !given->is_null()) {
    std::optional<level> severity;
    if (given->is_string()) {
      severity = parse_level(given->get_ref<const std::string&>());
    } else if (given->is_number_integer()) {
      severity = severity_level(given->get<std::int64_t>());
    }
    if (!severity) {
      return "\"level\" " + given->dump() + " is not one of " + std::string(k_level_names) +
             " (also WARNING, CRITICAL) nor an OpenTelemetry severity number 1 to 24";
    }
    view.severity = *severity;
  }
  fields.clear();
  texts.clear();
  if (const auto given = record.find("fields"); given != record.end() && !given->is_null()) {
    if (!given->is_object()) {
      return "\"fields\" is " + std::string(type_name(*given)) + ", not an object";
    }
    if (given->size() > k_max_record_fields) {
      return "\"fields\" holds " + std::to_string(given->size()) + " keys, more than " +
             std::to_string(k_max_record_fields);
    }
    texts.reserve(given->size());  // the views into it must not move
    for (const auto& [key, value] : given->items()) {
      if (value.is_string()) {
        fields.emplace_back(key, value.get_ref<const std::string&>());
      } else if (value.is_boolean()) {
        fields.emplace_back(key, value.get<bool>());
      } else if (value.is_number_unsigned()) {
        fields.emplace_back(key, value.get<std::uint64_t>());
      } else if (value.is_number_integer()) {
        fields.emplace_back(key, value.get<std::int64_t>());
      } else if (value.is_number_float()) {
        fields.emplace_back(key, value.get<double>());
      } else if (!value.is_null()) {
        texts.push_back(value.dump(-1, ' ', false, json::error_handler_t::replace));
        fields.emplace_back(key, std::string_view(texts.back()));
      }
    }
  }
  view.fields = fields;
  return {};
}

}  // namespace

refusal_result ws_backend_codec::to_wire(std::string_view text, std::int64_t now_ns) {
  if (text.size() > k_max_ws_backend_message) {
    return remote_refusal{remote::refusal::too_large,
                          "a message may hold " + std::to_string(k_max_ws_backend_message) +
                              " bytes, this one holds " + std::to_string(text.size())};
  }
  json message;
  try {
    message = json::parse(text);
  } catch (const json::parse_error& e) {
    return malformed("not JSON: " + parse_reason(e));
  }
  if (!message.is_object()) return malformed("a message is a JSON object");
  if (const auto v = message.find("v"); v == message.end() || *v != 1) {
    return remote_refusal{remote::refusal::unsupported_version,
                          "this broker speaks \"v\":1; the message says " +
                              (v == message.end() ? std::string("nothing") : v->dump())};
  }
  const auto type = message.find("type");
  if (type == message.end() || !type->is_string()) {
    return malformed("\"type\" is missing: hello, data, ping or bye");
  }
  const std::string& command = type->get_ref<const std::string&>();
  builder_.Clear();
  if (command == "ping") return wire_message{remote::command::ping, {}};
  if (command == "bye") return wire_message{remote::command::bye, {}};

  if (command == "hello") {
    const auto producer = message.find("producer");
    if (producer == message.end() || !producer->is_object()) {
      return malformed("hello needs \"producer\", an object with service and instanceId");
    }
    std::string_view service;
    std::string_view host;
    std::string_view language;
    std::string_view version;
    std::string_view instance;
    std::string problem;
    if (!optional_text(*producer, "service", service, problem) ||
        !optional_text(*producer, "host", host, problem) ||
        !optional_text(*producer, "language", language, problem) ||
        !optional_text(*producer, "libraryVersion", version, problem) ||
        !optional_text(*producer, "instanceId", instance, problem)) {
      return malformed("producer: " + problem);
    }
    if (service.empty()) return malformed("producer: \"service\" is missing or empty");
    const auto hi = instance.size() == 32 ? hex64(instance.substr(0, 16)) : std::nullopt;
    const auto lo = instance.size() == 32 ? hex64(instance.substr(16)) : std::nullopt;
    if (!hi || !lo || (*hi == 0 && *lo == 0)) {
      return malformed(
          "producer: \"instanceId\" must be 32 hex digits (128 random bits drawn when the "
          "backend starts), not all zero");
    }
    std::uint32_t pid = 0;
    if (const auto given = producer->find("pid"); given != producer->end() && !given->is_null()) {
      const auto number = whole_number(*given);
      if (!number || *number > std::numeric_limits<std::uint32_t>::max()) {
        return malformed("producer: \"pid\" " + given->dump() + " is not a process id");
      }
      pid = static_cast<std::uint32_t>(*number);
    }
    const wire::InstanceId id(*hi, *lo);
    const auto identity = wire::CreateProducerIdentity(
        builder_, builder_.CreateString(service.data(), service.size()),
        builder_.CreateString(host.data(), host.size()), pid, &id,
        builder_.CreateString(language.data(), language.size()),
        builder_.CreateString(version.data(), version.size()));
    builder_.Finish(wire::CreateHello(builder_, identity));
  } else if (command == "data") {
    const auto first = message.find("firstSequence");
    const auto first_sequence =
        first != message.end() ? whole_number(*first) : std::optional<std::uint64_t>();
    if (!first_sequence || *first_sequence > k_max_first_sequence) {
      return malformed("data needs \"firstSequence\", a whole number from 0 to 2^62");
    }
    std::uint64_t counts[2] = {0, 0};
    const char* count_keys[2] = {"dropped", "acknowledged"};
    for (int i = 0; i < 2; ++i) {
      const auto given = message.find(count_keys[i]);
      if (given == message.end() || given->is_null()) continue;
      const auto number = whole_number(*given);
      if (!number) {
        return malformed(std::string("\"") + count_keys[i] + "\" " + given->dump() +
                         " is not a whole number");
      }
      counts[i] = *number;
    }
    const auto records = message.find("records");
    if (records != message.end() && !records->is_null() && !records->is_array()) {
      return malformed("\"records\" is " + std::string(type_name(*records)) + ", not an array");
    }
    std::vector<flatbuffers::Offset<wire::RecordBuffer>> buffers;
    if (records != message.end() && records->is_array()) {
      if (records->size() > remote::k_max_envelope_records) {
        return remote_refusal{remote::refusal::too_large,
                              "a data message holds at most " +
                                  std::to_string(remote::k_max_envelope_records) + " records"};
      }
      buffers.reserve(records->size());
      record_view view;
      std::vector<field> fields;
      std::vector<std::string> texts;
      for (std::size_t i = 0; i < records->size(); ++i) {
        const std::string problem = read_record((*records)[i], now_ns, view, fields, texts);
        if (!problem.empty()) {
          return malformed("record " + std::to_string(i) + " (sequence " +
                           std::to_string(*first_sequence + i) + "): " + problem);
        }
        const std::span<const std::byte> bytes = encoder_.encode(view, view.timestamp_ns);
        // 8-aligned in the envelope, so the broker reads it where it lies.
        builder_.ForceVectorAlignment(bytes.size(), 1, 8);
        const auto vector = builder_.CreateVector(
            reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
        buffers.push_back(wire::CreateRecordBuffer(builder_, vector));
      }
    }
    const auto vector = builder_.CreateVector(buffers);
    wire::EnvelopeBuilder envelope(builder_);
    envelope.add_first_sequence(*first_sequence);
    envelope.add_records(vector);
    envelope.add_dropped(counts[0]);
    envelope.add_acknowledged(counts[1]);
    wire::FinishEnvelopeBuffer(builder_, envelope.Finish());
  } else {
    return remote_refusal{remote::refusal::unknown_command,
                          "unknown type " + type->dump().substr(0, 40) +
                              "; a backend sends hello, data, ping or bye"};
  }
  return wire_message{
      command == "hello" ? remote::command::hello : remote::command::data,
      {reinterpret_cast<const std::byte*>(builder_.GetBufferPointer()), builder_.GetSize()}};
}

std::string ws_backend_codec::to_json(std::string_view command, std::span<const std::byte> body) {
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(body.data());
  if (command == remote::command::welcome) {
    const auto* welcome = flatbuffers::GetRoot<wire::Welcome>(bytes);
    return json{{"v", 1},
                {"type", "welcome"},
                {"nextSequence", welcome->next_sequence()},
                {"heartbeatIntervalMs", welcome->heartbeat_interval_ms()},
                // What this transport accepts, not the ZeroMQ path's larger limit.
                {"maxMessageBytes", k_max_ws_backend_message},
                {"brokerVersion", k_library_version}}
        .dump();
  }
  if (command == remote::command::ack || command == remote::command::pong) {
    return R"({"v":1,"type":"ack","nextSequence":)" +
           std::to_string(flatbuffers::GetRoot<wire::Ack>(bytes)->next_sequence()) + "}";
  }
  const auto* refusal = flatbuffers::GetRoot<wire::Refusal>(bytes);
  return refusal_json(refusal->code() != nullptr ? refusal->code()->string_view() : "malformed",
                      refusal->message() != nullptr ? refusal->message()->string_view() : "");
}

std::string ws_backend_codec::refusal_json(std::string_view code, std::string_view message) {
  return json{{"v", 1}, {"type", "error"}, {"code", code}, {"message", message}}.dump(
      -1, ' ', false, json::error_handler_t::replace);
}

ws_backend_sessions::ws_backend_sessions(store& records) : sessions_(records, "websocket") {}

std::string ws_backend_sessions::handle(std::string_view peer, std::string_view json_text,
                                        std::string_view peer_address, std::int64_t now_ns) {
  const auto message = codec_.to_wire(json_text, now_ns);
  if (!message) {
    ++refused_.messages;
    ++refused_.refused;
    const std::uint64_t count = ++refused_.refused_by_code[std::string(message.error().code)];
    // The first of a kind and then every thousandth, as the ZeroMQ path logs its refusals.
    if (count == 1 || count % 1000 == 0) {
      spdlog::warn("refused a WebSocket backend's message ({} so far): {}: {}", count,
                   message.error().code, message.error().message);
    }
    return ws_backend_codec::refusal_json(message.error().code, message.error().message);
  }
  const auto as_bytes = [](std::string_view text) {
    return std::span<const std::byte>(reinterpret_cast<const std::byte*>(text.data()), text.size());
  };
  const std::span<const std::byte> frames[] = {as_bytes(remote::k_protocol),
                                               as_bytes(message->command), message->body};
  const auto reply = sessions_.handle(peer, frames, peer_address, now_ns);
  return ws_backend_codec::to_json(reply.command, reply.body);
}

remote_counters ws_backend_sessions::counters() const {
  remote_counters out = sessions_.counters();
  out.messages += refused_.messages;
  out.refused += refused_.refused;
  for (const auto& [code, count] : refused_.refused_by_code) out.refused_by_code[code] += count;
  return out;
}

}  // namespace logwire
