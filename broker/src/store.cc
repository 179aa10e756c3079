#include "logwire/store.h"

#include <algorithm>

#include "logwire/logwire_generated.h"

namespace logwire {

store::store(record_log log) : log_(std::move(log)), recovered_(log_.recovered()) {
  log_.for_each([this](const log_entry& stored) {
    // The segment is the user's own, but a crash or a stray write may have damaged it.
    if (verify_record(stored.record)) index(stored);
  });
}

result<std::unique_ptr<store>> store::open(const runtime_dir& dir, store_options options,
                                           std::int64_t now_ns) {
  auto log = record_log::open(dir.store_segment(), options.capacity_bytes, now_ns);
  if (!log) return log.error();
  return std::unique_ptr<store>(new store(std::move(*log)));
}

std::uint32_t store::intern_service(std::string_view service) {
  const auto found = service_ids_.find(std::string(service));
  if (found != service_ids_.end()) return found->second;
  const auto id = static_cast<std::uint32_t>(services_.size());
  services_.emplace_back(service);
  service_ids_.emplace(std::string(service), id);
  return id;
}

void store::index(const log_entry& stored) {
  const auto* root = flatbuffers::GetRoot<wire::Record>(stored.record.data());
  entries_.push_back(entry{.position = stored.position,
                           .timestamp_ns = root->timestamp_ns(),
                           .service_id = intern_service(stored.service),
                           .severity = level_from_wire(static_cast<std::uint8_t>(root->level()))});
  auto& last = last_sequence_[sequence_key{stored.instance(), stored.kind()}];
  last = std::max(last, stored.header->sequence);
}

insert_status store::insert(std::span<const std::byte> record, const entry_meta& given) {
  entry_meta meta = given;
  const auto* root = flatbuffers::GetRoot<wire::Record>(record.data());
  if (root->service() != nullptr && root->service()->size() != 0) {
    meta.service = root->service()->string_view();  // a record may speak for another service
  }
  const std::lock_guard lock(mutex_);
  const sequence_key key{meta.instance, meta.kind};
  if (const auto last = last_sequence_.find(key);
      last != last_sequence_.end() && meta.sequence <= last->second) {
    return insert_status::duplicate;
  }
  const auto position = log_.append(meta, record, [this](const log_entry& evicted) {
    // Evictions go oldest first, and so does entries_.
    if (!entries_.empty() && entries_.front().position == evicted.position) entries_.pop_front();
  });
  if (!position) return insert_status::too_large;
  index(log_.at(*position));
  return insert_status::stored;
}

std::optional<std::uint64_t> store::last_sequence(instance_id instance, entry_kind kind) const {
  const std::lock_guard lock(mutex_);
  const auto found = last_sequence_.find(sequence_key{instance, kind});
  if (found == last_sequence_.end()) return std::nullopt;
  return found->second;
}

store_result store::query(const store_query& query) const {
  const std::lock_guard lock(mutex_);

  std::vector<bool> wanted_service(services_.size(), query.services.empty());
  for (const std::string& name : query.services) {
    if (const auto found = service_ids_.find(name); found != service_ids_.end()) {
      wanted_service[found->second] = true;
    }
  }

  std::vector<const entry*> matches;
  for (const entry& e : entries_) {
    if (wanted_service[e.service_id] && e.severity >= query.min_level &&
        e.timestamp_ns >= query.since_ns) {
      matches.push_back(&e);
    }
  }
  // Time order by the backend's clock; arrival order breaks ties and keeps one
  // producer's records in the order it wrote them.
  std::stable_sort(matches.begin(), matches.end(), [](const entry* a, const entry* b) {
    return a->timestamp_ns < b->timestamp_ns;
  });

  store_result result;
  result.total_count = matches.size();
  if (!matches.empty()) result.oldest_ns = matches.front()->timestamp_ns;
  const std::size_t first = matches.size() > query.limit ? matches.size() - query.limit : 0;
  result.logs.reserve(matches.size() - first);
  for (std::size_t i = first; i < matches.size(); ++i) {
    const log_entry stored = log_.at(matches[i]->position);
    log_record record = decode_record(stored.record, services_[matches[i]->service_id]);
    record.receive_ns = stored.header->receive_ns;
    result.logs.push_back(std::move(record));
  }
  return result;
}

std::size_t store::size() const {
  const std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace logwire
