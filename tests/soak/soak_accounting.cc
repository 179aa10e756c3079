#include "soak/soak_accounting.h"

#include <algorithm>
#include <cstdio>

namespace logwire::testing {
namespace {

std::uint64_t count_of(const nlohmann::json& object, const char* key) {
  const auto found = object.find(key);
  return found != object.end() && found->is_number_unsigned() ? found->get<std::uint64_t>() : 0;
}

service_tally tally_of(const nlohmann::json& counts) {
  return {.stored = count_of(counts, "stored"),
          .evicted = count_of(counts, "evicted"),
          .expired = count_of(counts, "expired"),
          .deduplicated = count_of(counts, "deduplicated"),
          .rate_limited = count_of(counts, "rateLimited"),
          .dropped = count_of(counts, "dropped")};
}

}  // namespace

std::optional<std::map<std::string, service_tally>> read_counts(const nlohmann::json& result,
                                                                std::string& why) {
  const auto counts = result.find("counts");
  if (counts == result.end()) {
    why = "the observe result has no counts";
    return std::nullopt;
  }
  std::map<std::string, service_tally> out;
  if (counts->is_object()) {
    for (const auto& [service, value] : counts->items()) {
      if (!value.is_object()) {
        why = "counts." + service + " is not an object: " + value.dump();
        return std::nullopt;
      }
      out[service] = tally_of(value);
    }
    return out;
  }
  if (counts->is_array()) {
    for (const auto& value : *counts) {
      const auto service = value.is_object() ? value.find("service") : value.end();
      if (!value.is_object() || service == value.end() || !service->is_string()) {
        why = "an entry of counts without a service: " + value.dump();
        return std::nullopt;
      }
      out[service->get<std::string>()] = tally_of(value);
    }
    return out;
  }
  why = "counts is neither an object nor an array: " + counts->dump();
  return std::nullopt;
}

std::optional<producer_summary> read_producer_summary(const std::string& first_line,
                                                      const std::string& second_line,
                                                      const std::string& third_line) {
  // "logwire load: N records from T threads in S s (R/s), F refused"
  // "logwire load: delivered; D dropped" (or "not all delivered; D dropped")
  // "logwire load: P records repeat the thread's record before (retry loops)"
  producer_summary out;
  unsigned long long written = 0, refused = 0, dropped = 0, repeats = 0;
  unsigned threads = 0;
  double seconds = 0, rate = 0;
  if (std::sscanf(first_line.c_str(),
                  "logwire load: %llu records from %u threads in %lf s (%lf/s), %llu refused",
                  &written, &threads, &seconds, &rate, &refused) != 5) {
    return std::nullopt;
  }
  const auto semicolon = second_line.find("; ");
  if (second_line.rfind("logwire load: ", 0) != 0 || semicolon == std::string::npos ||
      std::sscanf(second_line.c_str() + semicolon, "; %llu dropped", &dropped) != 1) {
    return std::nullopt;
  }
  if (std::sscanf(third_line.c_str(), "logwire load: %llu records repeat", &repeats) != 1) {
    return std::nullopt;
  }
  out.written = written;
  out.repeats = repeats;
  out.refused = refused;
  out.dropped = dropped;
  out.delivered = second_line.compare(0, semicolon, "logwire load: delivered") == 0;
  return out;
}

std::string describe(const service_tally& t) {
  return "stored " + std::to_string(t.stored) + " + evicted " + std::to_string(t.evicted) +
         " + expired " + std::to_string(t.expired) + " + deduplicated " +
         std::to_string(t.deduplicated) + " + rateLimited " + std::to_string(t.rate_limited) +
         " + dropped " + std::to_string(t.dropped) + " = " + std::to_string(t.accounted());
}

std::vector<soak_check> check_service(const std::string& service, const service_tally& tally,
                                      const producer_summary& producer,
                                      const service_expectation& expected) {
  std::vector<soak_check> checks;
  const auto n = [](auto value) { return std::to_string(value); };
  const std::uint64_t accounted = tally.accounted();
  const std::uint64_t least = expected.logged + expected.notes_per_producer;
  // Notes beyond connect and close, only where the broker counts notes at all.
  std::uint64_t extra_notes = 0;
  if (expected.notes_per_producer > 0) {
    const auto reports = static_cast<std::uint64_t>(expected.longest_seconds) + 3;
    extra_notes = tally.dropped + std::min<std::uint64_t>(tally.rate_limited, reports);
  }
  if (extra_notes == 0) {
    checks.push_back({accounted == least, service + ": logged " + n(expected.logged) + " + " +
                                              n(expected.notes_per_producer) +
                                              " notes = " + describe(tally)});
  } else {
    checks.push_back({accounted >= least && accounted <= least + extra_notes,
                      service + ": logged " + n(expected.logged) + " + " +
                          n(expected.notes_per_producer) + " notes <= " + describe(tally) +
                          " <= that + " + n(extra_notes) + " drop and rate-limit notes at most"});
  }
  checks.push_back({tally.dropped == producer.dropped,
                    service + ": dropped as the broker counts it (" + n(tally.dropped) +
                        ") = as the producer counts it (" + n(producer.dropped) + ")"});
  checks.push_back({producer.written + producer.refused == expected.logged,
                    service + ": the producer wrote " + n(producer.written) + " + refused " +
                        n(producer.refused) + " = " + n(expected.logged)});
  if (expected.rate_limit > 0) {
    // The bucket starts full (burst_seconds of the rate) and refills at the rate while the
    // producer logs faster; what it takes beyond that is notes.
    const double most = expected.rate_limit * (expected.longest_seconds + expected.burst_seconds) +
                        static_cast<double>(extra_notes + expected.notes_per_producer);
    const double fewest = 0.95 * expected.rate_limit * expected.seconds;
    const auto taken = static_cast<double>(tally.taken());
    checks.push_back({tally.rate_limited > 0 && taken >= fewest && taken <= most,
                      service + " over its limit of " + n(static_cast<long>(expected.rate_limit)) +
                          "/s: " + n(tally.rate_limited) + " rate-limited, " + n(tally.taken()) +
                          " taken, within [" + n(static_cast<long>(fewest)) + ", " +
                          n(static_cast<long>(most)) + "]"});
    // A repeat whose record was rate-limited is not folded: it meets the limit itself.
    checks.push_back({tally.deduplicated <= producer.repeats,
                      service + ": deduplicated " + n(tally.deduplicated) + " <= repeats logged " +
                          n(producer.repeats)});
  } else {
    // A repeat is folded unless it or the record it repeats was dropped on the way; with
    // no drops, every one is.
    const std::uint64_t fewest =
        producer.repeats > producer.dropped ? producer.repeats - producer.dropped : 0;
    checks.push_back({tally.deduplicated >= fewest && tally.deduplicated <= producer.repeats,
                      service + ": the repeats of retry loops folded: deduplicated " +
                          n(tally.deduplicated) + " within [" + n(fewest) + ", " +
                          n(producer.repeats) + "] (repeats logged - dropped, repeats)"});
  }
  return checks;
}

}  // namespace logwire::testing
