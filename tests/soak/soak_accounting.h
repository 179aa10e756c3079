// Where every record of the store soak went, from both ends: what each `logwire load`
// producer says it logged and dropped, and what the broker's observe `counts` say became
// of each service's records. Nothing may be lost silently:
//
//   logged + notes = stored + evicted + expired + deduplicated + rateLimited + dropped
//
// per service: `stored` is what the store holds now, `dropped` what producers reported
// dropping before the broker. `notes`: the broker counts its own entries about a service
// (producer connected, closed, records dropped, rate-limit reports) in stored, evicted
// and expired along with the records, and a note evicted cannot be told from a record
// afterwards. So a producer that logs nothing (the probe) measures what a producer's
// connect and close add; a service without drops or rate limiting must then come out
// exactly, and one with them within the notes those can add: one drop note per record
// dropped at most, one rate-limit report per second at most.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace logwire::testing {

struct service_tally {
  std::uint64_t stored = 0;
  std::uint64_t evicted = 0;
  std::uint64_t expired = 0;
  std::uint64_t deduplicated = 0;
  std::uint64_t rate_limited = 0;
  std::uint64_t dropped = 0;

  std::uint64_t accounted() const noexcept {
    return stored + evicted + expired + deduplicated + rate_limited + dropped;
  }
  // Taken into the store at some point: still there, or gone since by the cap or the TTL.
  std::uint64_t taken() const noexcept { return stored + evicted + expired; }
};

// The `counts` of an observe result, by service: an object keyed by service or an array
// of objects with a "service" key. A count left out is 0. Empty, with `why`, when the
// result has no counts or they have another shape.
std::optional<std::map<std::string, service_tally>> read_counts(const nlohmann::json& result,
                                                                std::string& why);

// What a `logwire load` process printed at its end.
struct producer_summary {
  std::uint64_t written = 0;  // records that went into the ring
  std::uint64_t refused = 0;  // records the ring refused (full)
  std::uint64_t dropped = 0;  // the producer's drop count
  bool delivered = false;     // the broker drained everything before it exited
  std::uint64_t repeats = 0;  // records identical to the one before (realistic mix)
};

// Reads the summary lines of `logwire load --mix realistic` (tools/src/load_generator.cc).
std::optional<producer_summary> read_producer_summary(const std::string& first_line,
                                                      const std::string& second_line,
                                                      const std::string& third_line);

std::string describe(const service_tally& tally);

// What one service's records should come to.
struct service_expectation {
  std::uint64_t logged = 0;
  std::uint64_t notes_per_producer = 0;  // as the probe measured
  double seconds = 0;                    // how long the producer logged, by its pacing
  double longest_seconds = 0;            // from its start to its end, measured: a bound
  double rate_limit = 0;                 // 0: the service logs within its limit
  double burst_seconds = 2;              // the broker's --rate-burst
};

struct soak_check {
  bool ok = false;
  std::string what;
};

// The accounting of one service, each check said in words.
std::vector<soak_check> check_service(const std::string& service, const service_tally& tally,
                                      const producer_summary& producer,
                                      const service_expectation& expected);

}  // namespace logwire::testing
