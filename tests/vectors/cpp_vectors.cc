#include "vectors/cpp_vectors.h"

#include <array>
#include <cstring>
#include <limits>
#include <span>
#include <string_view>
#include <variant>

#include "logwire/level.h"
#include "logwire/logwire_generated.h"
#include "logwire/producer.h"
#include "logwire/record_encoder.h"
#include "record_writer.h"

namespace logwire::test_vectors {
namespace {

constexpr std::int64_t k_base_ns = 1'732'406'400'000'000'000;  // 2024-11-24T00:00:00Z

log_record record(std::int64_t timestamp_ns, level severity, std::string message) {
  log_record out;
  out.timestamp_ns = timestamp_ns;
  out.severity = severity;
  out.message = std::move(message);
  return out;
}

cpp_vector basic() {
  log_record r = record(k_base_ns + 123'456'789, level::error, "Payment gateway timeout");
  r.service = "payments-worker";
  r.request_id = "req-12345";
  r.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  r.span_id = "00f067aa0ba902b7";
  r.fields = {{"gateway", std::string("stripe")}, {"timeout_ms", std::int64_t{5000}}};
  r.stack_trace = "PaymentTimeout: no answer in 5000 ms\n  at charge (payments.cc:118)\n";
  return {"cpp-basic",
          {.producer = vector_identity{.service = "payments-api",
                                       .host = "build-host-1",
                                       .pid = 4242,
                                       .instance_hi = 0x0123'4567'89ab'cdef,
                                       .instance_lo = 0xfedc'ba98'7654'3210,
                                       .language = "c++",
                                       .library_version = "0.1.0"},
           .first_sequence = 42,
           .records = {{std::move(r), record_encoding::builder}}}};
}

// Every field kind and its edges, the same record laid out by both C++ encoders.
cpp_vector fields() {
  // "café — 支付 🚀 👩‍💻" (the last one a ZWJ sequence)
  log_record r = record(k_base_ns + 1, level::info,
                        "caf\u00e9 \u2014 \u652f\u4ed8 \U0001F680 \U0001F469\u200d\U0001F4BB");
  r.fields = {
      {"text", std::string("plain")},
      {"empty", std::string()},
      {"", std::string("an empty key")},
      {"unicode \u043a\u043b\u044e\u0447",
       std::string("\u00fc\u00f1\u00ee\u00e7\u00f8 \U0001F600")},
      {"control", std::string("tab\there\nnewline \"quoted\" \\ backslash")},
      {"int_zero", std::int64_t{0}},
      {"int_negative", std::int64_t{-1}},
      {"int_min", std::numeric_limits<std::int64_t>::min()},
      {"int_max", std::numeric_limits<std::int64_t>::max()},
      {"double_zero", 0.0},
      {"double_half", 0.5},
      {"double_negative", -2.25},
      {"double_huge", 1e300},
      {"bool_true", true},
      {"bool_false", false},
  };
  vector_envelope envelope{.producer = vector_identity{.service = "fields-service",
                                                       .host = "h",
                                                       .pid = 1,
                                                       .instance_hi = 1,
                                                       .instance_lo = 2,
                                                       .language = "c++",
                                                       .library_version = "0.1.0"}};
  envelope.records.push_back({r, record_encoding::builder});
  r.timestamp_ns += 1;
  envelope.records.push_back({std::move(r), record_encoding::fast_writer});
  return {"cpp-fields", std::move(envelope)};
}

// A full batch with no identity (the producer sent it at HELLO) and drops to report.
cpp_vector batch() {
  vector_envelope envelope{.first_sequence = 1000,
                           .dropped = 7,
                           .last_drop_ns = k_base_ns - 1'000'000,
                           .acknowledged = 1000};
  for (std::int64_t i = 0; i < 100; ++i) {
    log_record r = record(k_base_ns + i * 1000, i % 10 == 9 ? level::warn : level::info,
                          "batch record " + std::to_string(i));
    r.request_id = "req-batch";
    r.fields = {{"i", i}};
    envelope.records.push_back({std::move(r), record_encoding::builder});
  }
  return {"cpp-batch", std::move(envelope)};
}

// One record per level, alternating the encoders; an identity with its optional parts absent.
cpp_vector levels() {
  vector_envelope envelope{.producer = vector_identity{.service = "levels-service",
                                                       .instance_hi = ~std::uint64_t{0},
                                                       .language = "c++"},
                           .first_sequence = 7};
  for (int i = 0; i <= static_cast<int>(k_max_level); ++i) {
    const auto severity = static_cast<level>(i);
    log_record r = record(k_base_ns + i, severity, "level " + std::string(level_name(severity)));
    if (severity == level::fatal) r.stack_trace = "abort()\n";
    envelope.records.push_back(
        {std::move(r), i % 2 == 0 ? record_encoding::builder : record_encoding::fast_writer});
  }
  return {"cpp-levels", std::move(envelope)};
}

std::vector<std::byte> encode_record(const vector_record& spec, record_encoder& encoder) {
  const log_record& r = spec.record;
  std::vector<field> fields;
  fields.reserve(r.fields.size());
  for (const auto& [key, value] : r.fields) {
    std::visit(
        [&fields, &key](const auto& v) {
          if constexpr (std::is_same_v<std::decay_t<decltype(v)>, std::string>) {
            fields.emplace_back(key, std::string_view(v));
          } else {
            fields.emplace_back(key, v);
          }
        },
        value);
  }
  const record_view view{.severity = r.severity,
                         .message = r.message,
                         .context = {.request_id = r.request_id,
                                     .traceparent = r.traceparent,
                                     .span_id = r.span_id,
                                     .stack_trace = r.stack_trace},
                         .fields = fields,
                         .service = r.service};
  if (spec.encoding == record_encoding::builder) {
    const auto bytes = encoder.encode(view, r.timestamp_ns);
    return {bytes.begin(), bytes.end()};
  }
  const record_writer writer(view, r.timestamp_ns);
  std::vector<std::uint64_t> aligned(writer.size() / sizeof(std::uint64_t) + 1);
  writer.write(reinterpret_cast<std::byte*>(aligned.data()));
  const auto* start = reinterpret_cast<const std::byte*>(aligned.data());
  return {start, start + writer.size()};
}

flatbuffers::Offset<flatbuffers::String> optional_text(flatbuffers::FlatBufferBuilder& fbb,
                                                       const std::string& text) {
  return text.empty() ? flatbuffers::Offset<flatbuffers::String>() : fbb.CreateString(text);
}

}  // namespace

std::vector<cpp_vector> cpp_vectors() {
  std::vector<cpp_vector> out;
  out.push_back(basic());
  out.push_back(fields());
  out.push_back(batch());
  out.push_back(levels());
  return out;
}

// Laid out as the C++ producer's sender does (producer/src/remote_stream.cc): record
// buffers first, each 8-aligned, then the envelope, finished with its file identifier.
std::vector<std::byte> encode_envelope(const vector_envelope& envelope) {
  flatbuffers::FlatBufferBuilder fbb(1024);
  record_encoder encoder;
  std::vector<flatbuffers::Offset<wire::RecordBuffer>> buffers;
  for (const vector_record& spec : envelope.records) {
    const std::vector<std::byte> bytes = encode_record(spec, encoder);
    fbb.ForceVectorAlignment(bytes.size(), 1, 8);
    const auto vector =
        fbb.CreateVector(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    buffers.push_back(wire::CreateRecordBuffer(fbb, vector));
  }
  const auto records = fbb.CreateVector(buffers);
  flatbuffers::Offset<wire::ProducerIdentity> producer;
  if (const auto& id = envelope.producer) {
    const auto service = optional_text(fbb, id->service);
    const auto host = optional_text(fbb, id->host);
    const auto language = optional_text(fbb, id->language);
    const auto version = optional_text(fbb, id->library_version);
    const wire::InstanceId instance(id->instance_hi, id->instance_lo);
    producer =
        wire::CreateProducerIdentity(fbb, service, host, id->pid, &instance, language, version);
  }
  wire::EnvelopeBuilder builder(fbb);
  builder.add_producer(producer);
  builder.add_first_sequence(envelope.first_sequence);
  builder.add_records(records);
  builder.add_dropped(envelope.dropped);
  builder.add_last_drop_ns(envelope.last_drop_ns);
  builder.add_acknowledged(envelope.acknowledged);
  wire::FinishEnvelopeBuffer(fbb, builder.Finish());
  const auto* start = reinterpret_cast<const std::byte*>(fbb.GetBufferPointer());
  return {start, start + fbb.GetSize()};
}

nlohmann::json envelope_json(const vector_envelope& envelope) {
  static constexpr std::array<std::string_view, 4> k_kinds = {"string", "int", "double", "bool"};
  nlohmann::json producer = nullptr;
  if (const auto& id = envelope.producer) {
    producer = {{"service", id->service},
                {"host", id->host},
                {"pid", id->pid},
                {"instanceId", {{"hi", id->instance_hi}, {"lo", id->instance_lo}}},
                {"language", id->language},
                {"libraryVersion", id->library_version}};
  }
  nlohmann::json records = nlohmann::json::array();
  for (const vector_record& spec : envelope.records) {
    const log_record& r = spec.record;
    nlohmann::json fields = nlohmann::json::array();
    for (const auto& [key, value] : r.fields) {
      fields.push_back(
          {{"key", key},
           {"kind", k_kinds.at(value.index())},
           {"value", std::visit([](const auto& v) { return nlohmann::json(v); }, value)}});
    }
    records.push_back({{"timestampNs", r.timestamp_ns},
                       {"level", level_name(r.severity)},
                       {"service", r.service},
                       {"message", r.message},
                       {"requestId", r.request_id},
                       {"traceparent", r.traceparent},
                       {"spanId", r.span_id},
                       {"fields", std::move(fields)},
                       {"stackTrace", r.stack_trace}});
  }
  return {{"producer", std::move(producer)},       {"firstSequence", envelope.first_sequence},
          {"dropped", envelope.dropped},           {"lastDropNs", envelope.last_drop_ns},
          {"acknowledged", envelope.acknowledged}, {"records", std::move(records)}};
}

}  // namespace logwire::test_vectors
