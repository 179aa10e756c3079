#include "logwire/log_record.h"

#include <flatbuffers/flatbuffers.h>

#include "logwire/logwire_generated.h"

namespace logwire {
namespace {

std::string text(const flatbuffers::String* value) {
  return value != nullptr ? std::string(value->string_view()) : std::string();
}

}  // namespace

bool verify_record(std::span<const std::byte> bytes) noexcept {
  if (bytes.size() < sizeof(flatbuffers::uoffset_t) || bytes.size() > k_max_record_bytes)
    return false;
  flatbuffers::Verifier verifier(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(),
                                 k_max_record_depth, k_max_record_tables);
  return verifier.VerifyBuffer<wire::Record>(nullptr);
}

log_record decode_record(std::span<const std::byte> bytes, std::string_view default_service) {
  const auto* record = flatbuffers::GetRoot<wire::Record>(bytes.data());
  log_record out;
  out.timestamp_ns = record->timestamp_ns();
  out.severity = level_from_wire(static_cast<std::uint8_t>(record->level()));
  out.service = text(record->service());
  if (out.service.empty()) out.service = default_service;
  out.message = text(record->message());
  out.request_id = text(record->request_id());
  out.traceparent = text(record->traceparent());
  out.span_id = text(record->span_id());
  out.stack_trace = text(record->stack_trace());
  if (const auto* fields = record->fields()) {
    out.fields.reserve(fields->size());
    for (const wire::Field* f : *fields) {
      switch (f->kind()) {
        case wire::FieldKind::Int:
          out.fields.emplace_back(text(f->key()), f->int_value());
          break;
        case wire::FieldKind::Double:
          out.fields.emplace_back(text(f->key()), f->double_value());
          break;
        case wire::FieldKind::Bool:
          out.fields.emplace_back(text(f->key()), f->bool_value());
          break;
        case wire::FieldKind::String:
          out.fields.emplace_back(text(f->key()), text(f->string_value()));
          break;
        default:
          break;  // a kind from a newer schema: skipped, per the evolution rule
      }
    }
  }
  return out;
}

}  // namespace logwire
