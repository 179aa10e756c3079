#include "logwire/store.h"

#include <algorithm>
#include <cstring>

#include "logwire/logwire_generated.h"

namespace logwire {

std::uint32_t store::intern_service(std::string_view service) {
  const auto found = service_ids_.find(std::string(service));
  if (found != service_ids_.end()) return found->second;
  const auto id = static_cast<std::uint32_t>(services_.size());
  services_.emplace_back(service);
  service_ids_.emplace(std::string(service), id);
  return id;
}

void store::insert(std::span<const std::byte> record, const record_source& source) {
  const auto* root = flatbuffers::GetRoot<wire::Record>(record.data());
  std::string_view service = root->service() != nullptr ? root->service()->string_view() : "";
  if (service.empty()) service = source.producer_service;

  auto bytes = std::make_unique<std::byte[]>(record.size());
  std::memcpy(bytes.get(), record.data(), record.size());

  const std::lock_guard lock(mutex_);
  entries_.push_back(entry{.timestamp_ns = root->timestamp_ns(),
                           .receive_ns = source.receive_ns,
                           .service_id = intern_service(service),
                           .severity = level_from_wire(static_cast<std::uint8_t>(root->level())),
                           .bytes = std::move(bytes),
                           .size = static_cast<std::uint32_t>(record.size())});
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
    const entry& e = *matches[i];
    log_record record = decode_record({e.bytes.get(), e.size}, services_[e.service_id]);
    record.receive_ns = e.receive_ns;
    result.logs.push_back(std::move(record));
  }
  return result;
}

std::size_t store::size() const {
  const std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace logwire
