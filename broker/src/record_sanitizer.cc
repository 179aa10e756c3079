#include "logwire/record_sanitizer.h"

#include <string_view>
#include <vector>

#include "logwire/log_record.h"
#include "logwire/logwire_generated.h"
#include "logwire/utf8.h"

namespace logwire {
namespace {

bool fit(const flatbuffers::String* text) noexcept {
  if (text == nullptr) return true;
  const std::string_view view = text->string_view();
  return view.size() <= k_max_text_bytes && valid_utf8(view);
}

bool record_fit(const wire::Record& record) noexcept {
  if (!fit(record.message()) || !fit(record.service()) || !fit(record.request_id()) ||
      !fit(record.traceparent()) || !fit(record.span_id()) || !fit(record.stack_trace())) {
    return false;
  }
  if (const auto* fields = record.fields()) {
    for (const wire::Field* f : *fields) {
      if (!fit(f->key()) || !fit(f->string_value())) return false;
    }
  }
  return true;
}

void repair(std::string& text) {
  if (!valid_utf8(text)) text = repair_utf8(text);
  if (text.size() > k_max_text_bytes) {
    const std::string_view kept = utf8_prefix(text, k_max_text_bytes);
    text = std::string(kept) + cut_marker(text.size() - kept.size());
  }
}

}  // namespace

std::string cut_marker(std::size_t bytes_cut) {
  return "\xE2\x80\xA6 [cut: " + std::to_string(bytes_cut) + " bytes more]";
}

std::span<const std::byte> record_sanitizer::sanitize(std::span<const std::byte> verified) {
  const auto* root = flatbuffers::GetRoot<wire::Record>(verified.data());
  if (record_fit(*root)) return verified;

  ++repaired_;
  log_record record = decode_record(verified, {});
  for (std::string* text : {&record.service, &record.message, &record.request_id,
                            &record.traceparent, &record.span_id, &record.stack_trace}) {
    repair(*text);
  }
  std::vector<field> fields;
  fields.reserve(record.fields.size());
  for (auto& [key, value] : record.fields) {
    repair(key);
    if (auto* text = std::get_if<std::string>(&value)) {
      repair(*text);
      fields.emplace_back(key, std::string_view(*text));
    } else if (const auto* number = std::get_if<std::int64_t>(&value)) {
      fields.emplace_back(key, *number);
    } else if (const auto* real = std::get_if<double>(&value)) {
      fields.emplace_back(key, *real);
    } else {
      fields.emplace_back(key, std::get<bool>(value));
    }
  }
  return encoder_.encode({.severity = record.severity,
                          .message = record.message,
                          .context = {.request_id = record.request_id,
                                      .traceparent = record.traceparent,
                                      .span_id = record.span_id,
                                      .stack_trace = record.stack_trace},
                          .fields = fields,
                          .service = record.service},
                         record.timestamp_ns);
}

}  // namespace logwire
