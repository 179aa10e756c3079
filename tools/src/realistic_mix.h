// The records of `logwire load --mix realistic`: what a web backend's logs look like to
// the broker, so that a load exercises the burst dedup, the correlation indexes and text
// search the way real logs would, where the plain mix logs one INFO message over and
// over.
//
// A thread serves one request after another. A request has 5 to 20 consecutive records
// sharing its request ID (a UUID) and W3C traceparent (one trace, the caller's span as
// the parent), each with one of the request's 1 to 3 span IDs; its user's `user_id`
// (integer) and `session_id`; a few fields of its own (route, status, duration_ms, rows,
// cache_hit, table). Levels: about 40 % DEBUG, 50 % INFO, 8 % WARN, 2.5 % ERROR; one
// request in seven fails and ends in "Returning 500 to client", and a third of the
// failures carry a stack trace. Messages come from a vocabulary of some 50 lines, a few
// with a number in them. About 1 % of records are the repeats of a retry loop: the same
// "Retrying connection to db-primary" record 3 to 7 times in a row, identical, so the
// broker folds them.
//
// Every record carries `seq` and `thread`: `seq` numbers the thread's distinct records
// from 0; the repeats of a retry loop are whole copies, `seq` included. The sequence of
// records depends only on the service name and thread number.
#pragma once

#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "logwire/producer.h"

namespace logwire {

// Thread-safety: one thread per object.
class realistic_mix {
 public:
  realistic_mix(std::string_view service, unsigned thread);
  realistic_mix(const realistic_mix&) = delete;
  realistic_mix& operator=(const realistic_mix&) = delete;

  // The next record to log; it and what it points to stay valid until the next call.
  const record_view& next();
  // How many of the records handed out so far repeat the one before (a retry loop's).
  std::uint64_t repeats() const noexcept { return repeats_; }

 private:
  struct request_state {
    std::string request_id;
    std::string traceparent;
    std::array<std::string, 3> spans;
    unsigned span_count = 1;
    std::int64_t user_id = 0;
    std::string session_id;
    unsigned route = 0;
    unsigned records_left = 0;
    unsigned made = 0;  // records of the request so far
    bool failed = false;
  };

  void start_request();
  void make_record();
  std::string hex(unsigned digits);
  unsigned below(unsigned bound) { return static_cast<unsigned>(random_() % bound); }

  std::mt19937_64 random_;
  unsigned thread_;
  std::uint64_t seq_ = 0;
  unsigned repeats_left_ = 0;
  std::uint64_t repeats_ = 0;
  request_state request_;

  // The record handed out and the storage its views point into.
  record_view record_;
  std::string message_;
  std::string table_;
  std::vector<field> fields_;
};

}  // namespace logwire
