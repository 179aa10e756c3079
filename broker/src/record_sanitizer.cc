#include "logwire/record_sanitizer.h"

#include <algorithm>
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

// Room per text for its table entry, offsets and a cut marker, so that texts kept within
// the budget keep the whole record within k_max_record_bytes.
constexpr std::size_t k_text_overhead = 96;

// Repairs one text within what is left of the record's budget: each replacement
// character is three bytes where the bad byte was one, so repaired texts can outgrow
// the record limit that their originals kept.
void repair(std::string& text, std::size_t& budget) {
  if (!valid_utf8(text)) text = repair_utf8(text);
  const std::size_t cap = std::min(k_max_text_bytes, budget);
  if (text.size() > cap) {
    const std::string_view kept = utf8_prefix(text, cap);
    text = std::string(kept) + cut_marker(text.size() - kept.size());
  }
  budget -= std::min(budget, text.size());
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
  const std::size_t overhead = (2 * record.fields.size() + 8) * k_text_overhead;
  std::size_t budget = k_max_record_bytes > overhead ? k_max_record_bytes - overhead : 0;
  for (std::string* text : {&record.service, &record.message, &record.request_id,
                            &record.traceparent, &record.span_id, &record.stack_trace}) {
    repair(*text, budget);
  }
  std::vector<field> fields;
  fields.reserve(record.fields.size());
  for (auto& [key, value] : record.fields) {
    repair(key, budget);
    if (auto* text = std::get_if<std::string>(&value)) {
      repair(*text, budget);
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
