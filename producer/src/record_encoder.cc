#include "logwire/record_encoder.h"

#include <vector>

#include "logwire/logwire_generated.h"

namespace logwire {
namespace {

constexpr std::size_t k_initial_buffer = 1024;

flatbuffers::Offset<flatbuffers::String> optional_string(flatbuffers::FlatBufferBuilder& fbb,
                                                         std::string_view text) {
  return text.empty() ? flatbuffers::Offset<flatbuffers::String>()
                      : fbb.CreateString(text.data(), text.size());
}

flatbuffers::Offset<wire::Field> encode_field(flatbuffers::FlatBufferBuilder& fbb, const field& f) {
  const auto key = fbb.CreateString(f.key().data(), f.key().size());
  switch (f.type()) {
    case field::kind::string: {
      const auto value = fbb.CreateString(f.string_value().data(), f.string_value().size());
      return wire::CreateField(fbb, key, wire::FieldKind::String, value);
    }
    case field::kind::int64:
      return wire::CreateField(fbb, key, wire::FieldKind::Int, 0, f.int_value());
    case field::kind::float64:
      return wire::CreateField(fbb, key, wire::FieldKind::Double, 0, 0, f.double_value());
    case field::kind::boolean:
      return wire::CreateField(fbb, key, wire::FieldKind::Bool, 0, 0, 0.0, f.bool_value());
  }
  return wire::CreateField(fbb, key);
}

}  // namespace

struct record_encoder::builder {
  flatbuffers::FlatBufferBuilder fbb{k_initial_buffer};
  std::vector<flatbuffers::Offset<wire::Field>> fields;
};

record_encoder::record_encoder() : builder_(std::make_unique<builder>()) {}
record_encoder::~record_encoder() = default;

std::span<const std::byte> record_encoder::encode(const record_view& record,
                                                  std::int64_t timestamp_ns) {
  auto& fbb = builder_->fbb;
  fbb.Clear();
  auto& fields = builder_->fields;
  fields.clear();
  for (const field& f : record.fields) fields.push_back(encode_field(fbb, f));
  const auto fields_vector = fields.empty() ? 0 : fbb.CreateVector(fields);
  const auto service = optional_string(fbb, record.service);
  const auto message = optional_string(fbb, record.message);
  const auto request_id = optional_string(fbb, record.context.request_id);
  const auto traceparent = optional_string(fbb, record.context.traceparent);
  const auto span_id = optional_string(fbb, record.context.span_id);
  const auto stack_trace = optional_string(fbb, record.context.stack_trace);
  const auto root =
      wire::CreateRecord(fbb, timestamp_ns, static_cast<wire::Level>(record.severity), service,
                         message, request_id, traceparent, span_id, fields_vector, stack_trace);
  fbb.Finish(root);
  return {reinterpret_cast<const std::byte*>(fbb.GetBufferPointer()), fbb.GetSize()};
}

}  // namespace logwire
