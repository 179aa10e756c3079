#include "logwire/record_keys.h"

#include <charconv>
#include <cstring>

#include "logwire/logwire_generated.h"
#include "logwire/traceparent.h"

namespace logwire {
namespace {

constexpr std::uint64_t k_m0 = 0xa076'1d64'78bd'642full;
constexpr std::uint64_t k_m1 = 0xe703'7ed1'a0b4'28dbull;
constexpr std::uint64_t k_m2 = 0x8ebc'6af0'9c88'c6e3ull;

// The high and low halves of a 128-bit product, folded: each output bit depends on
// every input bit of both words.
inline std::uint64_t fold_multiply(std::uint64_t a, std::uint64_t b) noexcept {
  const unsigned __int128 product = static_cast<unsigned __int128>(a) * b;
  return static_cast<std::uint64_t>(product) ^ static_cast<std::uint64_t>(product >> 64);
}

inline std::uint64_t load64(const char* p) noexcept {
  std::uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// The last 1 to 7 bytes, as one word (each byte read once).
inline std::uint64_t load_tail(const char* p, std::size_t n) noexcept {
  std::uint64_t v = 0;
  std::memcpy(&v, p, n);
  return v;
}

std::string_view view(const flatbuffers::String* text) noexcept {
  return text != nullptr ? text->string_view() : std::string_view();
}

bool same_name(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

bool named(std::string_view key, std::initializer_list<std::string_view> names) noexcept {
  for (const std::string_view name : names) {
    if (same_name(key, name)) return true;
  }
  return false;
}

}  // namespace

std::uint64_t hash_bytes(std::string_view bytes, std::uint64_t seed) noexcept {
  const char* p = bytes.data();
  std::size_t n = bytes.size();
  std::uint64_t h = seed ^ fold_multiply(n ^ k_m0, k_m1);
  while (n >= 16) {
    h = fold_multiply(load64(p) ^ k_m0 ^ h, load64(p + 8) ^ k_m1);
    p += 16;
    n -= 16;
  }
  if (n >= 8) {
    h = fold_multiply(load64(p) ^ k_m0 ^ h, k_m2);
    p += 8;
    n -= 8;
  }
  if (n > 0) h = fold_multiply(load_tail(p, n) ^ k_m1 ^ h, k_m2);
  return fold_multiply(h ^ k_m2, k_m0);
}

std::uint64_t key_hash(key_kind kind, std::string_view id) noexcept {
  return hash_bytes(id, static_cast<std::uint64_t>(kind) + 1);
}

record_keys::record_keys(const wire::Record& record) noexcept {
  auto set = [this](key_kind kind, std::string_view id) {
    auto& slot = ids_[static_cast<std::size_t>(kind)];
    if (slot.empty()) slot = id;
  };
  set(key_kind::request, view(record.request_id()));
  set(key_kind::span, view(record.span_id()));
  const std::string_view own_traceparent = view(record.traceparent());
  std::string_view field_traceparent;

  if (const auto* fields = record.fields()) {
    for (const wire::Field* f : *fields) {
      const std::string_view key = f->key()->string_view();
      key_kind kind;
      if (named(key, {"request_id", "requestId", "x-request-id", "req_id", "reqId"})) {
        kind = key_kind::request;
      } else if (named(key, {"trace_id", "traceId"})) {
        kind = key_kind::trace;
      } else if (named(key, {"span_id", "spanId"})) {
        kind = key_kind::span;
      } else if (named(key, {"session_id", "sessionId"})) {
        kind = key_kind::session;
      } else if (named(key, {"user_id", "userId"})) {
        kind = key_kind::user;
      } else if (same_name(key, "traceparent")) {
        if (field_traceparent.empty() && f->kind() == wire::FieldKind::String)
          field_traceparent = view(f->string_value());
        continue;
      } else {
        continue;
      }
      const auto k = static_cast<std::size_t>(kind);
      if (!ids_[k].empty()) continue;  // the record's own, or an earlier field
      if (f->kind() == wire::FieldKind::String) {
        ids_[k] = view(f->string_value());
      } else if (f->kind() == wire::FieldKind::Int) {
        auto& digits = digits_[k];
        const auto end =
            std::to_chars(digits.data(), digits.data() + digits.size(), f->int_value());
        ids_[k] =
            std::string_view(digits.data(), static_cast<std::size_t>(end.ptr - digits.data()));
      }
    }
  }
  auto parsed = parse_traceparent(own_traceparent);
  if (!parsed) parsed = parse_traceparent(field_traceparent);
  if (parsed) {
    // A valid traceparent is the trace's own word; a trace_id field only stands in for it.
    ids_[static_cast<std::size_t>(key_kind::trace)] = parsed->trace_id;
    set(key_kind::parent_span, parsed->parent_id);
  }
}

std::uint64_t content_hash(const wire::Record& record) noexcept {
  std::uint64_t h = static_cast<std::uint64_t>(record.level()) * k_m2;
  h = hash_bytes(view(record.message()), h);
  // Traceparent and span ID follow the request ID almost always; same_content compares
  // them, so the hash can leave them out and stay cheap.
  h = hash_bytes(view(record.request_id()), h);
  h = hash_bytes(view(record.stack_trace()), h);
  if (const auto* fields = record.fields()) {
    for (const wire::Field* f : *fields) {
      h = hash_bytes(f->key()->string_view(), h ^ static_cast<std::uint64_t>(f->kind()));
      switch (f->kind()) {
        case wire::FieldKind::String:
          h = hash_bytes(view(f->string_value()), h);
          break;
        case wire::FieldKind::Int:
          h = fold_multiply(h ^ static_cast<std::uint64_t>(f->int_value()), k_m1);
          break;
        case wire::FieldKind::Double: {
          std::uint64_t bits;
          const double value = f->double_value();
          std::memcpy(&bits, &value, sizeof bits);
          h = fold_multiply(h ^ bits, k_m1);
          break;
        }
        case wire::FieldKind::Bool:
          h = fold_multiply(h ^ (f->bool_value() ? 1u : 2u), k_m1);
          break;
        default:
          break;
      }
    }
  }
  return h;
}

bool same_content(const wire::Record& a, const wire::Record& b) noexcept {
  if (a.level() != b.level() || view(a.message()) != view(b.message()) ||
      view(a.request_id()) != view(b.request_id()) ||
      view(a.traceparent()) != view(b.traceparent()) || view(a.span_id()) != view(b.span_id()) ||
      view(a.stack_trace()) != view(b.stack_trace())) {
    return false;
  }
  const auto* fa = a.fields();
  const auto* fb = b.fields();
  const std::size_t na = fa != nullptr ? fa->size() : 0;
  const std::size_t nb = fb != nullptr ? fb->size() : 0;
  if (na != nb) return false;
  for (std::size_t i = 0; i < na; ++i) {
    const wire::Field* x = fa->Get(static_cast<flatbuffers::uoffset_t>(i));
    const wire::Field* y = fb->Get(static_cast<flatbuffers::uoffset_t>(i));
    if (x->kind() != y->kind() || x->key()->string_view() != y->key()->string_view()) return false;
    switch (x->kind()) {
      case wire::FieldKind::String:
        if (view(x->string_value()) != view(y->string_value())) return false;
        break;
      case wire::FieldKind::Int:
        if (x->int_value() != y->int_value()) return false;
        break;
      case wire::FieldKind::Double: {
        // Bit for bit, so that NaN repeats fold too.
        const double dx = x->double_value();
        const double dy = y->double_value();
        if (std::memcmp(&dx, &dy, sizeof dx) != 0) return false;
        break;
      }
      case wire::FieldKind::Bool:
        if (x->bool_value() != y->bool_value()) return false;
        break;
      default:
        return false;  // a kind from a newer schema: never taken for a repeat
    }
  }
  return true;
}

}  // namespace logwire
