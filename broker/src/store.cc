#include "logwire/store.h"

#include <algorithm>
#include <limits>

#include "logwire/logwire_generated.h"
#include "logwire/record_keys.h"
#include "logwire/timestamp.h"

namespace logwire {
namespace {

const wire::Record& root_of(std::span<const std::byte> record) {
  return *flatbuffers::GetRoot<wire::Record>(record.data());
}

// The dedup key: the record's content within its service.
std::uint64_t dedup_key(std::uint64_t content, std::uint32_t service) noexcept {
  return content ^ ((static_cast<std::uint64_t>(service) + 1) * 0x9e37'79b9'7f4a'7c15ull);
}

std::optional<std::int64_t> int_field(const wire::Record& record, std::string_view key) {
  if (const auto* fields = record.fields()) {
    for (const wire::Field* f : *fields) {
      if (f->kind() == wire::FieldKind::Int && f->key()->string_view() == key)
        return f->int_value();
    }
  }
  return std::nullopt;
}

std::string_view string_field(const wire::Record& record, std::string_view key) {
  if (const auto* fields = record.fields()) {
    for (const wire::Field* f : *fields) {
      if (f->kind() == wire::FieldKind::String && f->key()->string_view() == key &&
          f->string_value() != nullptr) {
        return f->string_value()->string_view();
      }
    }
  }
  return {};
}

std::string_view message_of(const wire::Record& record) noexcept {
  return record.message() != nullptr ? record.message()->string_view() : std::string_view();
}

// The backend's own version, if the record gives one (k_app_version_fields).
std::string_view app_version_of(const wire::Record& record) noexcept {
  const auto* fields = record.fields();
  if (fields == nullptr) return {};
  for (const wire::Field* f : *fields) {
    if (f->kind() != wire::FieldKind::String || f->string_value() == nullptr) continue;
    const std::string_view key = f->key()->string_view();
    // Every name is 10 to 15 bytes: most keys are passed over on their length alone.
    if (key.size() < 10 || key.size() > 15) continue;
    for (const std::string_view name : k_app_version_fields) {
      if (key == name) return f->string_value()->string_view();
    }
  }
  return {};
}

// The producer library's version in a connected note: its `version` field, else the
// message ring_drain and remote_sessions write ("... (pid 12 on host, c++ logwire 0.1.0,
// shared memory)").
std::string library_version_of(const wire::Record& note) {
  if (const std::string_view given = string_field(note, "version"); !given.empty())
    return std::string(given);
  const std::string_view message = message_of(note);
  constexpr std::string_view k_marker = " logwire ";
  const std::size_t at = message.rfind(k_marker);
  if (at == std::string_view::npos) return {};
  const std::string_view rest = message.substr(at + k_marker.size());
  const std::size_t end = rest.find_first_of(", )");
  const std::string_view version = rest.substr(0, end);
  return version.size() <= 64 ? std::string(version) : std::string();
}

// The transport as observe names it: the notes say "tcp" for a remote producer, which
// speaks ZeroMQ over it.
std::string transport_name(std::string_view noted) {
  if (noted == "tcp") return "zeromq";
  return std::string(noted);
}

}  // namespace

store::store(record_log log, store_options options, std::int64_t now_ns)
    : options_(std::move(options)),
      log_(std::move(log)),
      dedup_(options_.dedup_window_ns),
      limiter_(options_.rate),
      recovered_(log_.recovered()),
      frontend_(options_.frontend_memory_cap_bytes, options_.retention_ns, now_ns) {
  log_.for_each([this](const log_entry& stored) {
    // The segment is the user's own, but a crash or a stray write may have damaged it.
    if (!verify_record(stored.record)) return;
    if (stored.header->kind > static_cast<std::uint32_t>(entry_kind::rate_limited)) return;
    const auto service = intern_service(stored.service);
    if (!service) return;
    const wire::Record& root = root_of(stored.record);
    const record_keys keys(root);
    index(stored, *service, root, keys);
    if (stored.kind() == entry_kind::rate_limited) {
      marker_sequence_ = std::max(marker_sequence_, stored.header->sequence);
    } else {
      const auto [last, first_of_kind] = last_sequence_.try_emplace(
          sequence_key{stored.instance(), stored.kind()}, stored.header->sequence);
      last->second = std::max(last->second, stored.header->sequence);
      if (first_of_kind && stored.kind() == entry_kind::record) note_app_version(*service, root);
    }
    seen(*service, stored.header->receive_ns);
    if (stored.kind() != entry_kind::record) take_note(stored, *service, root);
  });
}

store::~store() = default;

result<std::unique_ptr<store>> store::open(const runtime_dir& dir, store_options options,
                                           std::int64_t now_ns) {
  auto log = record_log::open(dir.store_segment(), options.memory_cap_bytes, now_ns);
  if (!log) return log.error();
  return std::unique_ptr<store>(new store(std::move(*log), std::move(options), now_ns));
}

std::optional<std::uint32_t> store::intern_service(std::string_view service) {
  // Records come in runs of one service: the last one is asked first.
  if (last_service_ < services_.size() && services_[last_service_].name == service)
    return last_service_;
  if (const auto found = service_ids_.find(service); found != service_ids_.end()) {
    last_service_ = found->second;
    return found->second;
  }
  if (services_.size() >= k_max_services) return std::nullopt;
  const auto id = static_cast<std::uint32_t>(services_.size());
  services_.push_back(service_state{.name = std::string(service), .counts = {}});
  services_.back().counts.service = service;
  service_ids_.emplace(std::string(service), id);
  return id;
}

void store::index(const log_entry& stored, std::uint32_t service, const wire::Record& record,
                  const record_keys& keys) {
  const std::uint64_t ordinal = end_ordinal();
  if (entries_.empty()) first_ordinal_ = ordinal;
  const level severity = level_from_wire(static_cast<std::uint8_t>(record.level()));
  const auto level_index = static_cast<std::size_t>(severity);
  service_state& state = services_[service];
  // A previous entry of the chain further back than 2^32 ordinals is long evicted.
  const std::uint64_t back = ordinal - state.newest_ordinal[level_index];
  const bool chained =
      state.counts.by_level[level_index] != 0 && back <= std::numeric_limits<std::uint32_t>::max();
  // The record's own request_id, a valid traceparent, or IDs in fields with the usual names.
  const bool has_ids = !keys.id(key_kind::request).empty() || !keys.id(key_kind::trace).empty() ||
                       (record.request_id() != nullptr && record.request_id()->size() != 0);
  entries_.push_back(entry{.position = stored.position,
                           .timestamp_ns = record.timestamp_ns(),
                           .receive_ns = stored.header->receive_ns,
                           .service = static_cast<std::uint16_t>(service),
                           .severity = severity,
                           .kind = static_cast<std::uint8_t>(stored.kind()),
                           .has_ids = has_ids,
                           .previous_alike = chained ? static_cast<std::uint32_t>(back) : 0});
  state.newest_ordinal[level_index] = ordinal;
  if (ordinal % k_block_entries == 0 || blocks_.empty()) blocks_.emplace_back();
  block_summary& block = blocks_.back();
  block.min_timestamp_ns = std::min(block.min_timestamp_ns, record.timestamp_ns());
  block.max_timestamp_ns = std::max(block.max_timestamp_ns, record.timestamp_ns());
  block.service_mask |= std::uint64_t{1} << (service % 64);
  block.level_mask |= static_cast<std::uint8_t>(1u << static_cast<unsigned>(severity));
  if (!has_ids && stored.kind() == entry_kind::record) block.any_without_ids = true;
  correlation_.add(ordinal, keys);
  service_counts& counts = state.counts;
  if (stored.kind() == entry_kind::record) {
    ++counts.stored;
    tally_repeat(ordinal, repeat_key(message_of(record), service, severity), service, severity,
                 stored.header->repeat_count);
  }
  ++counts.by_level[level_index];
}

std::uint64_t store::repeat_key(std::string_view message, std::uint32_t service,
                                level severity) noexcept {
  const std::uint64_t seed =
      (static_cast<std::uint64_t>(service) << 3) | static_cast<std::uint64_t>(severity);
  const std::uint64_t key = hash_bytes(message, seed);
  return key != 0 ? key : 1;  // 0 marks a free slot
}

void store::tally_repeat(std::uint64_t ordinal, std::uint64_t key, std::uint32_t service,
                         level severity, std::uint32_t count) noexcept {
  block_summary& block = blocks_[ordinal / k_block_entries - first_ordinal_ / k_block_entries];
  const auto offset = static_cast<std::uint8_t>(ordinal % k_block_entries);
  repeat_slot* least = &block.repeats[0];
  for (repeat_slot& slot : block.repeats) {
    if (slot.key == key) {
      slot.count += count;
      slot.offset = std::max(slot.offset, offset);
      return;
    }
    if (slot.count < least->count) least = &slot;
  }
  // Space-saving: the least counted message gives its slot up, and the newcomer inherits
  // its count as a possible error (a free slot has none).
  *least = repeat_slot{.key = key,
                       .count = least->count + count,
                       .error = least->count,
                       .service = static_cast<std::uint16_t>(service),
                       .offset = offset,
                       .severity = severity};
}

void store::note_app_version(std::uint32_t service, const wire::Record& record) {
  if (const std::string_view version = app_version_of(record);
      !version.empty() && version != services_[service].app_version) {
    services_[service].app_version = version;
  }
}

void store::seen(std::uint32_t service, std::int64_t receive_ns) noexcept {
  service_state& state = services_[service];
  state.first_seen_ns = std::min(state.first_seen_ns, receive_ns);
  state.last_seen_ns = std::max(state.last_seen_ns, receive_ns);
}

void store::forget_front(const log_entry& gone, bool expired) {
  // Entries never indexed (damaged ones found on recovery) have nothing to forget.
  if (entries_.empty() || entries_.front().position != gone.position) return;
  const entry& oldest = entries_.front();
  service_counts& counts = services_[oldest.service].counts;
  --counts.by_level[static_cast<std::size_t>(oldest.severity)];
  if (oldest.kind == static_cast<std::uint8_t>(entry_kind::record)) {
    --counts.stored;
    ++(expired ? counts.expired : counts.evicted);
  }
  entries_.pop_front();
  correlation_.evict_front();
  ++first_ordinal_;
  if (first_ordinal_ % k_block_entries == 0 && !blocks_.empty()) blocks_.pop_front();
}

void store::evict_front(bool expired) {
  const std::uint64_t oldest = entries_.front().position;
  while (log_.head() <= oldest && log_.evict_oldest([this, expired](const log_entry& gone) {
    forget_front(gone, expired);
  })) {
  }
}

void store::expire(std::int64_t now_ns) {
  const std::int64_t horizon = now_ns - options_.retention_ns;
  while (!entries_.empty() && entries_.front().receive_ns < horizon) {
    evict_front(true);
  }
}

std::uint64_t store::index_bytes() const noexcept {
  return entries_.size() * sizeof(entry) + blocks_.size() * sizeof(block_summary) +
         correlation_.memory_bytes() + dedup_.memory_bytes();
}

std::uint64_t store::memory_bytes() const {
  const std::lock_guard lock(mutex_);
  return log_.used_bytes() + index_bytes();
}

std::optional<std::uint64_t> store::append(const entry_meta& meta,
                                           std::span<const std::byte> record,
                                           std::uint32_t service) {
  const std::uint64_t frame = record_log::frame_bytes(meta.service.size(), record.size());
  if (frame > log_.capacity() / 4) return std::nullopt;
  // The cap holds records and indexes together; the oldest make room.
  while (!entries_.empty() &&
         log_.used_bytes() + frame + index_bytes() > options_.memory_cap_bytes) {
    evict_front(false);
  }
  const auto position =
      log_.append(meta, record, [this](const log_entry& gone) { forget_front(gone, false); });
  if (!position) return std::nullopt;
  log_.release_evicted();
  const log_entry stored = log_.at(*position);
  const wire::Record& root = root_of(stored.record);
  index(stored, service, root, record_keys(root));
  // Indexing it grew the indexes (a table may have doubled): the oldest make room again.
  while (entries_.size() > 1 && log_.used_bytes() + index_bytes() > options_.memory_cap_bytes) {
    evict_front(false);
  }
  return position;
}

void store::take_note(const log_entry& stored, std::uint32_t service, const wire::Record& record) {
  service_state& state = services_[service];
  switch (stored.kind()) {
    case entry_kind::dropped:
    case entry_kind::lost:
      if (const auto dropped = int_field(record, "dropped"); dropped && *dropped > 0)
        state.counts.dropped += static_cast<std::uint64_t>(*dropped);
      break;
    case entry_kind::connected:
      if (std::find(state.connected.begin(), state.connected.end(), stored.instance()) ==
          state.connected.end()) {
        state.connected.push_back(stored.instance());
      }
      state.transport = transport_name(string_field(record, "transport"));
      state.host = string_field(record, "host");
      state.language = string_field(record, "language");
      state.library_version = library_version_of(record);
      break;
    case entry_kind::disconnected:
    case entry_kind::crashed:
      std::erase(state.connected, stored.instance());
      break;
    default:
      break;
  }
}

void store::write_marker(const rate_limiter::drop_report& report, std::int64_t now_ns) {
  const std::string& service = services_[report.service].name;
  const std::string from = format_rfc3339_ms(report.first_ns);
  const std::string to = format_rfc3339_ms(report.last_ns);
  const auto limit = static_cast<std::int64_t>(report.limit);
  const std::string message =
      "rate limit: " + std::to_string(report.count) + " records of " + service +
      " dropped between " + from + " and " + to + " (limit " + std::to_string(limit) +
      " records/s per service; raise it with logwire-broker --rate-limit " + service + "=N)";
  const field fields[] = {{"event", "rate_limited"},
                          {"dropped", static_cast<std::int64_t>(report.count)},
                          {"from", from},
                          {"to", to},
                          {"limit", limit}};
  const auto bytes = markers_.encode(
      {.severity = level::warn, .message = message, .fields = fields, .service = service},
      report.last_ns);
  append({.service = service,
          .receive_ns = now_ns,
          .instance = {},
          .sequence = ++marker_sequence_,
          .kind = entry_kind::rate_limited},
         bytes, report.service);
}

insert_status store::insert(std::span<const std::byte> record, const entry_meta& given) {
  entry_meta meta = given;
  const wire::Record& root = root_of(record);
  if (root.service() != nullptr && root.service()->size() != 0) {
    meta.service = root.service()->string_view();  // a record may speak for another service
  }
  const bool is_record = meta.kind == entry_kind::record;
  // Hashed before the lock is taken.
  const std::uint64_t content = is_record && dedup_.enabled() ? content_hash(root) : 0;

  const std::lock_guard lock(mutex_);
  auto [last, first_of_kind] =
      last_sequence_.try_emplace(sequence_key{meta.instance, meta.kind}, meta.sequence);
  if (!first_of_kind) {
    if (meta.sequence <= last->second) return insert_status::duplicate;
    last->second = meta.sequence;
  }
  expire(meta.receive_ns);
  dedup_.saw(root.timestamp_ns(), meta.receive_ns);
  dedup_.age(meta.receive_ns);  // bounded without maintain(): it forgets from the front only
  const auto service = intern_service(meta.service);
  if (!service) return insert_status::refused;
  seen(*service, meta.receive_ns);
  service_counts& counts = services_[*service].counts;

  std::uint64_t key = 0;
  if (is_record) {
    if (dedup_.enabled()) {
      key = dedup_key(content, *service);
      if (const auto earlier = dedup_.find(key); earlier && *earlier >= first_ordinal_) {
        const entry& e = at_ordinal(*earlier);
        const std::int64_t apart = root.timestamp_ns() - e.timestamp_ns;
        if (e.service == *service && apart <= dedup_.window_ns() && -apart <= dedup_.window_ns()) {
          const log_entry stored = log_.at(e.position);
          if (same_content(root_of(stored.record), root)) {
            log_entry_header& h = *stored.header;
            if (h.repeat_count != std::numeric_limits<std::uint32_t>::max()) ++h.repeat_count;
            // The latest of them all, the stored one included: a repeat may be older.
            h.last_timestamp_ns =
                std::max({h.last_timestamp_ns, e.timestamp_ns, root.timestamp_ns()});
            // The fold is all the log keeps of this sequence: a restart must still know it
            // was taken, or a replay of it would be stored as a new record.
            if (stored.instance() == meta.instance)
              h.sequence = std::max(h.sequence, meta.sequence);
            ++counts.deduplicated;
            tally_repeat(*earlier, repeat_key(message_of(root), *service, e.severity), *service,
                         e.severity, 1);
            return insert_status::deduplicated;
          }
        }
      }
    }
    if (const auto report = limiter_.take_report(*service, meta.receive_ns))
      write_marker(*report, meta.receive_ns);
    if (!limiter_.admit(*service, meta.service, meta.receive_ns)) {
      ++services_[*service].counts.rate_limited;
      return insert_status::rate_limited;
    }
  }
  if (!append(meta, record, *service)) return insert_status::too_large;
  if (is_record && first_of_kind) note_app_version(*service, root);
  if (is_record) {
    if (dedup_.enabled()) {
      dedup_.remember(key, end_ordinal() - 1, root.timestamp_ns(), meta.receive_ns);
      while (entries_.size() > 1 && log_.used_bytes() + index_bytes() > options_.memory_cap_bytes) {
        evict_front(false);
      }
    }
  } else {
    take_note(log_.at(entries_.back().position), *service, root);
  }
  return insert_status::stored;
}

void store::maintain(std::int64_t now_ns) {
  {
    const std::lock_guard lock(mutex_);
    expire(now_ns);
    dedup_.age(now_ns);
    const std::vector<std::uint32_t> pending = limiter_.pending();
    for (const std::uint32_t service : pending) {
      if (const auto report = limiter_.take_report(service, now_ns)) write_marker(*report, now_ns);
    }
    log_.release_evicted();
  }
  frontend_.maintain(now_ns);
}

std::optional<std::uint64_t> store::last_sequence(instance_id instance, entry_kind kind) const {
  const std::lock_guard lock(mutex_);
  const auto found = last_sequence_.find(sequence_key{instance, kind});
  if (found == last_sequence_.end()) return std::nullopt;
  return found->second;
}

std::vector<service_counts> store::counts() const {
  const std::lock_guard lock(mutex_);
  std::vector<service_counts> out;
  out.reserve(services_.size());
  for (const service_state& s : services_) out.push_back(s.counts);
  return out;
}

std::size_t store::size() const {
  const std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace logwire
