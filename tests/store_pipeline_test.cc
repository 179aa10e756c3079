// The store's ingest pipeline step by step (exactly once, burst dedup, rate limit,
// retention, memory cap, correlation indexes) and its query: each filter, the cursors,
// and a store reopened after a crash. The clock is the test's: receive times on insert,
// `now` on maintain().
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "logwire/observe_query.h"
#include "logwire/record_encoder.h"
#include "logwire/record_log.h"
#include "logwire/shm_segment.h"
#include "logwire/store.h"
#include "logwire/timestamp.h"
#include "support/temp_runtime_dir.h"

namespace logwire {
namespace {

constexpr std::int64_t k_base = 1769854523LL * 1'000'000'000;  // 2026-01-31T10:15:23Z
constexpr std::int64_t k_ms = 1'000'000;
constexpr std::int64_t k_s = 1'000'000'000;

constexpr std::string_view k_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr std::string_view k_parent = "00f067aa0ba902b7";
constexpr std::string_view k_traceparent =
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

std::string hex(std::uint64_t value, int digits) {
  char text[40];
  std::snprintf(text, sizeof text, "%0*llx", digits, static_cast<unsigned long long>(value));
  return text;
}

// One record as a producer sends it, and how the broker takes it.
struct sent {
  std::string_view service = "api";
  level severity = level::info;
  std::string_view message = "m";
  log_context context = {};
  std::vector<field> fields = {};
  std::int64_t timestamp_ns = k_base;
  std::optional<std::int64_t> receive_ns = {};  // default: the timestamp
  std::string_view record_service = {};         // the record's own service
  instance_id instance = {7, 7};
  std::optional<std::uint64_t> sequence = {};  // default: the next one
  entry_kind kind = entry_kind::record;
};

class store_pipeline : public ::testing::Test {
 protected:
  static store_options small_options() { return {.memory_cap_bytes = 8 << 20}; }

  store& open(store_options options = small_options(), std::int64_t created_ns = k_base) {
    records_.reset();
    records_ = store::open(dir_, std::move(options), created_ns).value();
    return *records_;
  }

  insert_status send(const sent& r) {
    const auto bytes = encoder_.encode({.severity = r.severity,
                                        .message = r.message,
                                        .context = r.context,
                                        .fields = r.fields,
                                        .service = r.record_service},
                                       r.timestamp_ns);
    EXPECT_TRUE(verify_record(bytes));
    return records_->insert(bytes, {.service = r.service,
                                    .receive_ns = r.receive_ns.value_or(r.timestamp_ns),
                                    .instance = r.instance,
                                    .sequence = r.sequence ? *r.sequence : ++sequence_,
                                    .kind = r.kind});
  }

  // A record carrying every kind of correlation ID, numbered `i`: request "req-<i>", a
  // trace and parent ID made of i + 1, span "span-<i>", and session and user shared by
  // each ten records.
  insert_status send_indexed(std::uint64_t i, std::int64_t at, std::string_view service = "api") {
    const std::string message = "indexed " + std::to_string(i);
    const std::string request = "req-" + std::to_string(i);
    const std::string traceparent = "00-" + hex(i + 1, 32) + "-" + hex(i + 1, 16) + "-01";
    const std::string span = "span-" + std::to_string(i);
    const std::string session = "sess-" + std::to_string(i / 10);
    return send({.service = service,
                 .message = message,
                 .context = {.request_id = request, .traceparent = traceparent, .span_id = span},
                 .fields = {{"session_id", session},
                            {"user_id", static_cast<std::int64_t>(i / 10)},
                            {"padding", std::string_view(padding_)}},
                 .timestamp_ns = at});
  }

  store_result ask(const store_query& query) {
    auto result = records_->query(query);
    EXPECT_TRUE(result) << result.error().code << ": " << result.error().message;
    return result ? std::move(*result) : store_result{};
  }

  std::size_t count(const store_query& query) { return ask(query).total_count; }

  service_counts counts_of(std::string_view service) {
    for (const service_counts& c : records_->counts()) {
      if (c.service == service) return c;
    }
    return {.service = std::string(service)};
  }

  static std::vector<std::string> messages(const store_result& result) {
    std::vector<std::string> out;
    for (const auto& r : result.logs) out.push_back(r.message);
    return out;
  }

  static const field_value* field_of(const log_record& record, std::string_view name) {
    for (const auto& [key, value] : record.fields) {
      if (key == name) return &value;
    }
    return nullptr;
  }

  // The rate limiter's markers in the store, oldest first.
  std::vector<log_record> markers(std::string_view service = {}) {
    store_query query{.fields = {{"event", std::string("rate_limited")}}, .limit = 1000};
    if (!service.empty()) query.services.emplace_back(service);
    return ask(query).logs;
  }

  static std::int64_t dropped_in(const std::vector<log_record>& markers) {
    std::int64_t sum = 0;
    for (const log_record& m : markers) sum += std::get<std::int64_t>(*field_of(m, "dropped"));
    return sum;
  }

  testing::temp_runtime_dir temp_;
  runtime_dir dir_ = runtime_dir::open(temp_.path()).value();
  std::unique_ptr<store> records_;
  record_encoder encoder_;
  std::uint64_t sequence_ = 0;
  std::string padding_;
};

// ---------------------------------------------------------------------------------------
// 1. Exactly once

class exactly_once : public store_pipeline {
 protected:
  void SetUp() override { open(); }
};

TEST_F(exactly_once, refuses_a_replay_of_a_sequence_already_taken) {
  EXPECT_EQ(send({.message = "a", .sequence = 5}), insert_status::stored);
  EXPECT_EQ(send({.message = "a", .sequence = 5}), insert_status::duplicate);
  EXPECT_EQ(send({.message = "older", .sequence = 4}), insert_status::duplicate);
  EXPECT_EQ(send({.message = "b", .sequence = 6}), insert_status::stored);
  EXPECT_EQ(records_->size(), 2u);
  EXPECT_EQ(records_->last_sequence({7, 7}, entry_kind::record), 6u);
}

TEST_F(exactly_once, takes_the_first_sequence_of_an_instance_even_when_it_is_zero) {
  EXPECT_EQ(send({.sequence = 0}), insert_status::stored);
  EXPECT_EQ(send({.message = "again", .sequence = 0}), insert_status::duplicate);
  EXPECT_EQ(records_->last_sequence({7, 7}, entry_kind::record), 0u);
}

TEST_F(exactly_once, counts_sequences_per_instance) {
  EXPECT_EQ(send({.message = "a", .instance = {1, 1}, .sequence = 5}), insert_status::stored);
  EXPECT_EQ(send({.message = "b", .instance = {2, 2}, .sequence = 1}), insert_status::stored);
  EXPECT_EQ(send({.message = "c", .instance = {1, 2}, .sequence = 1}), insert_status::stored)
      << "instances differing in one half are different instances";
  EXPECT_EQ(send({.message = "d", .instance = {1, 1}, .sequence = 1}), insert_status::duplicate);
  EXPECT_EQ(records_->size(), 3u);
}

TEST_F(exactly_once, counts_sequences_per_kind) {
  EXPECT_EQ(send({.sequence = 5}), insert_status::stored);
  EXPECT_EQ(send({.message = "connected", .sequence = 1, .kind = entry_kind::connected}),
            insert_status::stored);
  EXPECT_EQ(send({.message = "dropped",
                  .fields = {{"dropped", 1}},
                  .sequence = 1,
                  .kind = entry_kind::dropped}),
            insert_status::stored);
  EXPECT_EQ(send({.message = "connected", .sequence = 1, .kind = entry_kind::connected}),
            insert_status::duplicate);
  EXPECT_EQ(send({.sequence = 5}), insert_status::duplicate);
  EXPECT_EQ(records_->last_sequence({7, 7}, entry_kind::connected), 1u);
  EXPECT_EQ(records_->last_sequence({7, 7}, entry_kind::record), 5u);
  EXPECT_EQ(records_->last_sequence({7, 7}, entry_kind::crashed), std::nullopt);
}

TEST_F(exactly_once, takes_a_sequence_past_a_gap_and_refuses_what_falls_in_the_gap) {
  EXPECT_EQ(send({.message = "a", .sequence = 1}), insert_status::stored);
  EXPECT_EQ(send({.message = "b", .sequence = 100}), insert_status::stored);
  EXPECT_EQ(send({.message = "late", .sequence = 50}), insert_status::duplicate);
  EXPECT_EQ(records_->size(), 2u);
}

TEST_F(exactly_once, a_replayed_repeat_does_not_raise_the_repeat_count) {
  EXPECT_EQ(send({.message = "same", .sequence = 1}), insert_status::stored);
  EXPECT_EQ(send({.message = "same", .timestamp_ns = k_base + k_ms, .sequence = 2}),
            insert_status::deduplicated);
  EXPECT_EQ(send({.message = "same", .timestamp_ns = k_base + k_ms, .sequence = 2}),
            insert_status::duplicate);
  EXPECT_EQ(ask({}).logs.at(0).repeat_count, 2u);
  EXPECT_EQ(counts_of("api").deduplicated, 1u);
}

TEST_F(exactly_once, a_replay_of_a_rate_limited_record_is_not_counted_again) {
  open({.memory_cap_bytes = 8 << 20, .rate = {.per_second = 1, .burst_seconds = 1}});
  EXPECT_EQ(send({.message = "a", .sequence = 1}), insert_status::stored);
  EXPECT_EQ(send({.message = "b", .sequence = 2}), insert_status::rate_limited);
  EXPECT_EQ(send({.message = "b", .sequence = 2}), insert_status::duplicate);
  EXPECT_EQ(counts_of("api").rate_limited, 1u);
}

// ---------------------------------------------------------------------------------------
// 2. Burst dedup

class dedup : public store_pipeline {
 protected:
  void SetUp() override { open(); }
};

TEST_F(dedup, folds_an_identical_record_within_the_window_into_the_stored_one) {
  const sent error{.severity = level::error,
                   .message = "Payment gateway timeout",
                   .context = {.request_id = "req-1", .stack_trace = "at pay()"},
                   .fields = {{"gateway", "stripe"}, {"timeout_ms", 5000}}};
  EXPECT_EQ(send(error), insert_status::stored);
  sent again = error;
  again.timestamp_ns = k_base + 300 * k_ms;
  EXPECT_EQ(send(again), insert_status::deduplicated);
  again.timestamp_ns = k_base + 700 * k_ms;
  EXPECT_EQ(send(again), insert_status::deduplicated);

  const auto result = ask({});
  ASSERT_EQ(result.logs.size(), 1u);
  EXPECT_EQ(result.total_count, 1u);
  EXPECT_EQ(result.logs[0].timestamp_ns, k_base) << "the first one's time";
  EXPECT_EQ(result.logs[0].repeat_count, 3u);
  EXPECT_EQ(result.logs[0].last_timestamp_ns, k_base + 700 * k_ms);
}

TEST_F(dedup, repeat_count_and_last_timestamp_reach_the_observe_json) {
  send({.message = "flaky"});
  send({.message = "flaky", .timestamp_ns = k_base + 250 * k_ms});
  send({.message = "flaky", .timestamp_ns = k_base + 1500 * k_ms});
  const auto json = to_observe_json(ask({}));
  ASSERT_EQ(json["logs"].size(), 1u);
  EXPECT_EQ(json["logs"][0]["repeatCount"], 3);
  EXPECT_EQ(json["logs"][0]["lastTimestamp"], "2026-01-31T10:15:24.500Z");
  EXPECT_EQ(json["logs"][0]["timestamp"], "2026-01-31T10:15:23.000Z");
}

TEST_F(dedup, a_record_seen_once_has_no_repeat_count_in_the_observe_json) {
  send({.message = "once"});
  const auto json = to_observe_json(ask({}));
  EXPECT_FALSE(json["logs"][0].contains("repeatCount"));
  EXPECT_FALSE(json["logs"][0].contains("lastTimestamp"));
}

TEST_F(dedup, last_timestamp_is_the_latest_repeat_even_when_a_repeat_is_older) {
  send({.message = "m", .timestamp_ns = k_base + k_s});
  EXPECT_EQ(send({.message = "m", .timestamp_ns = k_base}), insert_status::deduplicated);
  const auto record = ask({}).logs.at(0);
  EXPECT_EQ(record.repeat_count, 2u);
  EXPECT_EQ(record.last_timestamp_ns, k_base + k_s)
      << "a repeat that happened earlier does not make lastTimestamp precede timestamp";
}

// A record that differs from the first in one part of its content (anything but the
// timestamp) is a different record.
struct content_change {
  const char* name;
  sent record;
};

class dedup_content : public dedup, public ::testing::WithParamInterface<content_change> {};

TEST_P(dedup_content, a_record_differing_in_it_is_stored_not_folded) {
  EXPECT_EQ(send({.message = "m",
                  .context = {.request_id = "req-1",
                              .traceparent = k_traceparent,
                              .span_id = "span-1",
                              .stack_trace = "at f()"},
                  .fields = {{"n", 1}, {"s", "x"}}}),
            insert_status::stored);
  sent other = GetParam().record;
  other.timestamp_ns = k_base + k_ms;
  EXPECT_EQ(send(other), insert_status::stored);
  EXPECT_EQ(records_->size(), 2u);
  EXPECT_EQ(counts_of("api").deduplicated, 0u);
}

constexpr log_context k_full_context = {.request_id = "req-1",
                                        .traceparent = k_traceparent,
                                        .span_id = "span-1",
                                        .stack_trace = "at f()"};

content_change changed(const char* name, sent record) {
  return {name, std::move(record)};
}

INSTANTIATE_TEST_SUITE_P(
    store_pipeline, dedup_content,
    ::testing::Values(
        changed("request_id", {.context = {.request_id = "req-2",
                                           .traceparent = k_traceparent,
                                           .span_id = "span-1",
                                           .stack_trace = "at f()"},
                               .fields = {{"n", 1}, {"s", "x"}}}),
        changed(
            "traceparent",
            {.context = {.request_id = "req-1",
                         .traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b8-01",
                         .span_id = "span-1",
                         .stack_trace = "at f()"},
             .fields = {{"n", 1}, {"s", "x"}}}),
        changed("span_id", {.context = {.request_id = "req-1",
                                        .traceparent = k_traceparent,
                                        .span_id = "span-2",
                                        .stack_trace = "at f()"},
                            .fields = {{"n", 1}, {"s", "x"}}}),
        changed("stack_trace", {.context = {.request_id = "req-1",
                                            .traceparent = k_traceparent,
                                            .span_id = "span-1",
                                            .stack_trace = "at g()"},
                                .fields = {{"n", 1}, {"s", "x"}}}),
        changed("message",
                {.message = "M", .context = k_full_context, .fields = {{"n", 1}, {"s", "x"}}}),
        changed("level", {.severity = level::warn,
                          .context = k_full_context,
                          .fields = {{"n", 1}, {"s", "x"}}}),
        changed("int_value", {.context = k_full_context, .fields = {{"n", 2}, {"s", "x"}}}),
        changed("string_value", {.context = k_full_context, .fields = {{"n", 1}, {"s", "y"}}}),
        changed("field_kind", {.context = k_full_context, .fields = {{"n", 1.0}, {"s", "x"}}}),
        changed("field_key", {.context = k_full_context, .fields = {{"N", 1}, {"s", "x"}}}),
        changed("field_order", {.context = k_full_context, .fields = {{"s", "x"}, {"n", 1}}}),
        changed("extra_field",
                {.context = k_full_context, .fields = {{"n", 1}, {"s", "x"}, {"b", true}}}),
        changed("missing_field", {.context = k_full_context, .fields = {{"n", 1}}})),
    [](const ::testing::TestParamInfo<content_change>& info) { return info.param.name; });

TEST_F(dedup, the_same_content_from_another_service_is_not_folded) {
  EXPECT_EQ(send({.service = "api", .message = "same"}), insert_status::stored);
  EXPECT_EQ(send({.service = "worker", .message = "same"}), insert_status::stored);
  EXPECT_EQ(send({.service = "api", .message = "same", .record_service = "billing"}),
            insert_status::stored)
      << "a record that names its own service is that service's";
  EXPECT_EQ(records_->size(), 3u);
  EXPECT_EQ(send({.service = "worker", .message = "same", .timestamp_ns = k_base + 1}),
            insert_status::deduplicated);
  EXPECT_EQ(ask({.services = {"api"}}).logs.at(0).repeat_count, 1u);
  EXPECT_EQ(ask({.services = {"worker"}}).logs.at(0).repeat_count, 2u);
}

TEST_F(dedup, exactly_the_window_apart_is_folded_in_either_direction) {
  const std::int64_t window = small_options().dedup_window_ns;
  send({.message = "m"});
  EXPECT_EQ(send({.message = "m", .timestamp_ns = k_base + window}), insert_status::deduplicated);
  EXPECT_EQ(send({.message = "m", .timestamp_ns = k_base - window}), insert_status::deduplicated);
  EXPECT_EQ(records_->size(), 1u);
}

TEST_F(dedup, one_nanosecond_past_the_window_is_a_new_record_in_either_direction) {
  const std::int64_t window = small_options().dedup_window_ns;
  send({.message = "m"});
  EXPECT_EQ(send({.message = "m", .timestamp_ns = k_base + window + 1}), insert_status::stored);
  send({.message = "n"});
  EXPECT_EQ(send({.message = "n", .timestamp_ns = k_base - window - 1}), insert_status::stored);
}

TEST_F(dedup, the_window_is_measured_on_backend_timestamps_not_on_arrival) {
  // Same backend time, arriving 3 s apart (a window is 2 s): one event delivered late.
  send({.message = "late", .receive_ns = k_base});
  records_->maintain(k_base + 3 * k_s);
  EXPECT_EQ(send({.message = "late", .receive_ns = k_base + 3 * k_s}), insert_status::deduplicated);
  // Backend times 3 s apart, arriving together: two events.
  send({.message = "apart", .timestamp_ns = k_base, .receive_ns = k_base + 4 * k_s});
  EXPECT_EQ(
      send({.message = "apart", .timestamp_ns = k_base + 3 * k_s, .receive_ns = k_base + 4 * k_s}),
      insert_status::stored);
}

TEST_F(dedup, a_broker_that_falls_behind_still_folds_the_repeats_logged_within_the_window) {
  // The broker stalls for 6 s, three windows, right after storing "stalled"; then it
  // drains what the backend logged meanwhile, each record 6 s after it was logged.
  send({.message = "stalled"});
  records_->maintain(k_base + 6 * k_s);
  for (int i = 1; i <= 3; ++i) {
    send({.message = "tick " + std::to_string(i),
          .timestamp_ns = k_base + i * k_s / 2,
          .receive_ns = k_base + 6 * k_s + i});
  }
  EXPECT_EQ(send({.message = "stalled",
                  .timestamp_ns = k_base + 2 * k_s,
                  .receive_ns = k_base + 6 * k_s + 10}),
            insert_status::deduplicated);
  EXPECT_EQ(counts_of("api").deduplicated, 1u);
}

TEST_F(dedup, forgets_once_the_backends_time_and_the_brokers_have_both_moved_two_windows_on) {
  send({.message = "old"});
  // The broker's clock has moved on; the backends' time has not.
  records_->maintain(k_base + 5 * k_s);
  send({.message = "other", .timestamp_ns = k_base + 3 * k_s, .receive_ns = k_base + 5 * k_s});
  EXPECT_EQ(send({.message = "old", .timestamp_ns = k_base + k_s, .receive_ns = k_base + 5 * k_s}),
            insert_status::deduplicated);
  // Now the backends' time has too: a repeat that arrives this late is a new record, as it
  // would be had it arrived in time (the window, not memory, decides).
  send({.message = "later", .timestamp_ns = k_base + 5 * k_s, .receive_ns = k_base + 5 * k_s + 1});
  EXPECT_EQ(
      send(
          {.message = "old", .timestamp_ns = k_base + 2 * k_s, .receive_ns = k_base + 5 * k_s + 2}),
      insert_status::stored);
}

TEST_F(dedup, a_backend_clock_far_ahead_neither_holds_nor_rushes_what_is_remembered) {
  // An hour ahead: it counts as its receive time, so the broker's clock ages it as usual.
  send({.service = "ahead",
        .message = "m",
        .timestamp_ns = k_base + 3600 * k_s,
        .receive_ns = k_base});
  send({.service = "api", .message = "a", .timestamp_ns = k_base, .receive_ns = k_base});
  EXPECT_EQ(send({.service = "api",
                  .message = "a",
                  .timestamp_ns = k_base + k_s,
                  .receive_ns = k_base + k_s}),
            insert_status::deduplicated)
      << "the frontier did not leap an hour";
  send({.service = "api",
        .message = "b",
        .timestamp_ns = k_base + 5 * k_s,
        .receive_ns = k_base + 5 * k_s});
  EXPECT_EQ(send({.service = "ahead",
                  .message = "m",
                  .timestamp_ns = k_base + 3601 * k_s,
                  .receive_ns = k_base + 5 * k_s + 1}),
            insert_status::stored)
      << "forgotten once both clocks moved two windows on, though within the window";
}

TEST_F(dedup, a_frozen_backend_clock_is_forgotten_after_the_lag_allowance) {
  // Every record with the same timestamp: the frontier never moves.
  const std::int64_t allowance = dedup_window::k_lag_allowance_ns;
  send({.message = "frozen"});
  records_->maintain(k_base + 4 * k_s + allowance);
  EXPECT_EQ(send({.message = "frozen", .receive_ns = k_base + 4 * k_s + allowance}),
            insert_status::deduplicated);
  records_->maintain(k_base + 4 * k_s + allowance + 1);
  EXPECT_EQ(send({.message = "frozen", .receive_ns = k_base + 4 * k_s + allowance + 2}),
            insert_status::stored);
}

TEST_F(dedup, repeats_are_measured_against_the_stored_record_not_the_last_repeat) {
  send({.message = "tick"});
  EXPECT_EQ(send({.message = "tick", .timestamp_ns = k_base + k_s}), insert_status::deduplicated);
  EXPECT_EQ(send({.message = "tick", .timestamp_ns = k_base + 2 * k_s}),
            insert_status::deduplicated);
  EXPECT_EQ(send({.message = "tick", .timestamp_ns = k_base + 3 * k_s}), insert_status::stored);
  EXPECT_EQ(send({.message = "tick", .timestamp_ns = k_base + 4 * k_s}),
            insert_status::deduplicated)
      << "folded into the newest stored one";
  const auto result = ask({});
  ASSERT_EQ(result.logs.size(), 2u);
  EXPECT_EQ(result.logs[0].repeat_count, 3u);
  EXPECT_EQ(result.logs[1].repeat_count, 2u);
  EXPECT_EQ(result.logs[1].last_timestamp_ns, k_base + 4 * k_s);
}

TEST_F(dedup, is_counted_per_service) {
  for (int i = 0; i < 3; ++i) send({.service = "api", .message = "a", .timestamp_ns = k_base + i});
  for (int i = 0; i < 2; ++i)
    send({.service = "worker", .message = "w", .timestamp_ns = k_base + i});
  EXPECT_EQ(counts_of("api").deduplicated, 2u);
  EXPECT_EQ(counts_of("worker").deduplicated, 1u);
  EXPECT_EQ(counts_of("api").stored, 1u);
  const auto json = to_observe_json(ask({}));
  EXPECT_EQ(json["counts"]["api"]["deduplicated"], 2);
}

TEST_F(dedup, a_zero_window_turns_it_off) {
  open({.memory_cap_bytes = 8 << 20, .dedup_window_ns = 0});
  EXPECT_EQ(send({.message = "m"}), insert_status::stored);
  EXPECT_EQ(send({.message = "m"}), insert_status::stored);
  EXPECT_EQ(records_->size(), 2u);
}

TEST_F(dedup, a_repeat_of_an_expired_record_is_stored_afresh) {
  open({.memory_cap_bytes = 8 << 20, .retention_ns = 10 * k_s});
  send({.message = "m"});
  send({.message = "m", .timestamp_ns = k_base + 1});
  send({.message = "m", .timestamp_ns = k_base + 2});
  // Delivered late: the backend's time is within the window, the stored one has expired.
  EXPECT_EQ(send({.message = "m", .timestamp_ns = k_base + 3, .receive_ns = k_base + 11 * k_s}),
            insert_status::stored);
  const auto result = ask({});
  ASSERT_EQ(result.logs.size(), 1u);
  EXPECT_EQ(result.logs[0].repeat_count, 1u) << "not folded into the expired one";
  EXPECT_EQ(result.logs[0].timestamp_ns, k_base + 3);
  EXPECT_EQ(counts_of("api").deduplicated, 2u);
  EXPECT_EQ(counts_of("api").expired, 1u);
}

TEST_F(dedup, a_repeat_of_a_record_evicted_by_the_memory_cap_is_stored_afresh) {
  open({.memory_cap_bytes = k_log_min_capacity, .rate = {.per_second = 0}});
  send({.message = "repeated"});
  EXPECT_EQ(send({.message = "repeated", .timestamp_ns = k_base + 1}), insert_status::deduplicated);
  const std::string filler(2000, 'f');
  for (int i = 0; counts_of("api").evicted == 0; ++i) {
    ASSERT_LT(i, 10'000);
    send({.message = filler + std::to_string(i), .timestamp_ns = k_base + 2});
  }
  EXPECT_EQ(send({.message = "repeated", .timestamp_ns = k_base + 3}), insert_status::stored);
  const auto result = ask({.text = "repeated"});
  ASSERT_EQ(result.logs.size(), 1u);
  EXPECT_EQ(result.logs[0].repeat_count, 1u);
  EXPECT_EQ(result.logs[0].timestamp_ns, k_base + 3);
}

// ---------------------------------------------------------------------------------------
// 3. Rate limit

class rate_limit : public store_pipeline {};

TEST_F(rate_limit, a_burst_of_exactly_the_bucket_is_taken_whole) {
  open({.memory_cap_bytes = 8 << 20, .rate = {.per_second = 10, .burst_seconds = 2}});
  for (int i = 0; i < 20; ++i)
    EXPECT_EQ(send({.message = std::to_string(i)}), insert_status::stored) << i;
  EXPECT_EQ(counts_of("api").rate_limited, 0u);
}

TEST_F(rate_limit, one_record_past_the_bucket_is_dropped_and_counted) {
  open({.memory_cap_bytes = 8 << 20, .rate = {.per_second = 10, .burst_seconds = 2}});
  for (int i = 0; i < 20; ++i) send({.message = std::to_string(i)});
  EXPECT_EQ(send({.message = "one too many"}), insert_status::rate_limited);
  EXPECT_EQ(counts_of("api").rate_limited, 1u);
  EXPECT_EQ(counts_of("api").stored, 20u);
  EXPECT_EQ(count({.text = "one too many"}), 0u);
}

TEST_F(rate_limit, a_steady_rate_of_exactly_the_limit_is_never_dropped) {
  open({.memory_cap_bytes = 8 << 20, .rate = {.per_second = 10, .burst_seconds = 1}});
  for (int i = 0; i < 10; ++i) send({.message = "burst " + std::to_string(i)});  // empties it
  // Then one record each 100 ms for 30 s: each arrives as its token does.
  std::int64_t at = k_base;
  for (int i = 0; i < 300; ++i) {
    at += 100 * k_ms;
    EXPECT_EQ(send({.message = "steady " + std::to_string(i), .timestamp_ns = at}),
              insert_status::stored)
        << i;
  }
  EXPECT_EQ(send({.message = "over", .timestamp_ns = at}), insert_status::rate_limited)
      << "one more at the same instant is over the limit";
}

TEST_F(rate_limit, a_steady_rate_over_the_limit_keeps_to_the_limit) {
  open({.memory_cap_bytes = 8 << 20, .rate = {.per_second = 100, .burst_seconds = 1}});
  std::size_t stored = 0;
  std::size_t limited = 0;
  // 300 records per second for 10 s.
  for (int i = 0; i < 3000; ++i) {
    const auto status =
        send({.message = std::to_string(i), .timestamp_ns = k_base + i * k_s / 300});
    ++(status == insert_status::stored ? stored : limited);
  }
  // The burst (100) plus 100 per second for the 10 s.
  EXPECT_NEAR(static_cast<double>(stored), 1100.0, 2.0);
  EXPECT_EQ(stored + limited, 3000u);
  EXPECT_EQ(counts_of("api").rate_limited, limited);
}

TEST_F(rate_limit, the_default_is_ten_thousand_per_second_with_a_two_second_burst) {
  open(store_options{});
  std::size_t stored = 0;
  for (int i = 0; i < 20'000; ++i)
    stored += send({.message = std::to_string(i)}) == insert_status::stored;
  EXPECT_EQ(stored, 20'000u);
  EXPECT_EQ(send({.message = "past the burst"}), insert_status::rate_limited);
  stored = 0;
  for (int i = 0; i < 10'000; ++i)
    stored += send({.message = "next second " + std::to_string(i), .timestamp_ns = k_base + k_s}) ==
              insert_status::stored;
  EXPECT_EQ(stored, 10'000u) << "a second refills 10,000";
  EXPECT_EQ(send({.message = "past the rate", .timestamp_ns = k_base + k_s}),
            insert_status::rate_limited);
}

TEST_F(rate_limit, a_per_service_limit_overrides_the_default) {
  open({.memory_cap_bytes = 8 << 20,
        .rate = {.per_second = 10, .burst_seconds = 1, .per_service = {{"chatty", 3}}}});
  std::map<std::string, std::size_t> stored;
  for (const char* service : {"chatty", "api"}) {
    for (int i = 0; i < 20; ++i)
      stored[service] +=
          send({.service = service, .message = std::to_string(i)}) == insert_status::stored;
  }
  EXPECT_EQ(stored["chatty"], 3u);
  EXPECT_EQ(stored["api"], 10u);
  EXPECT_EQ(counts_of("chatty").rate_limited, 17u);
  EXPECT_EQ(counts_of("api").rate_limited, 10u);
}

TEST_F(rate_limit, a_zero_limit_is_unlimited) {
  open({.memory_cap_bytes = 16 << 20, .rate = {.per_second = 0}});
  for (int i = 0; i < 30'000; ++i)
    ASSERT_EQ(send({.message = std::to_string(i)}), insert_status::stored) << i;
  EXPECT_EQ(counts_of("api").rate_limited, 0u);
}

TEST_F(rate_limit, a_zero_per_service_limit_is_unlimited_for_that_service_only) {
  open({.memory_cap_bytes = 8 << 20,
        .rate = {.per_second = 5, .burst_seconds = 1, .per_service = {{"trusted", 0}}}});
  for (int i = 0; i < 1000; ++i)
    ASSERT_EQ(send({.service = "trusted", .message = std::to_string(i)}), insert_status::stored);
  for (int i = 0; i < 5; ++i) send({.service = "api", .message = std::to_string(i)});
  EXPECT_EQ(send({.service = "api", .message = "over"}), insert_status::rate_limited);
}

TEST_F(rate_limit, drops_are_stated_by_a_marker_that_maintain_writes_once_the_interval_is_over) {
  open({.memory_cap_bytes = 8 << 20, .rate = {.per_second = 10, .burst_seconds = 1}});
  for (int i = 0; i < 15; ++i) send({.message = std::to_string(i)});
  records_->maintain(k_base + k_s - 1);
  EXPECT_TRUE(markers().empty()) << "not before its second is over";
  records_->maintain(k_base + k_s);
  const auto written = markers();
  ASSERT_EQ(written.size(), 1u);
  const log_record& marker = written[0];
  EXPECT_EQ(marker.severity, level::warn);
  EXPECT_EQ(marker.service, "api");
  EXPECT_EQ(std::get<std::int64_t>(*field_of(marker, "dropped")), 5);
  EXPECT_EQ(std::get<std::string>(*field_of(marker, "from")), "2026-01-31T10:15:23.000Z");
  EXPECT_EQ(std::get<std::string>(*field_of(marker, "to")), "2026-01-31T10:15:23.000Z");
  EXPECT_EQ(std::get<std::int64_t>(*field_of(marker, "limit")), 10);
  EXPECT_NE(marker.message.find("5 records of api dropped"), std::string::npos) << marker.message;
  EXPECT_EQ(counts_of("api").rate_limited, 5u);
  records_->maintain(k_base + 5 * k_s);
  EXPECT_EQ(markers().size(), 1u) << "drops are stated once";
}

TEST_F(rate_limit, the_next_insert_of_the_service_writes_the_marker_once_the_interval_is_over) {
  open({.memory_cap_bytes = 8 << 20, .rate = {.per_second = 10, .burst_seconds = 1}});
  for (int i = 0; i < 12; ++i) send({.message = std::to_string(i)});
  send({.message = "before", .timestamp_ns = k_base + k_s - 1});
  EXPECT_TRUE(markers().empty());
  EXPECT_EQ(send({.message = "after", .timestamp_ns = k_base + k_s}), insert_status::stored);
  const auto written = markers();
  ASSERT_EQ(written.size(), 1u);
  EXPECT_EQ(std::get<std::int64_t>(*field_of(written[0], "dropped")), 2);
  EXPECT_EQ(written[0].receive_ns, k_base + k_s);
}

TEST_F(rate_limit, writes_at_most_one_marker_per_service_per_second) {
  open({.memory_cap_bytes = 8 << 20, .rate = {.per_second = 10, .burst_seconds = 1}});
  // 30 records per second for 5 s, the broker's maintenance every 100 ms.
  for (int i = 0; i < 150; ++i) {
    const std::int64_t at = k_base + i * k_s / 30;
    send({.message = std::to_string(i), .timestamp_ns = at});
    if (i % 3 == 0) records_->maintain(at);
  }
  records_->maintain(k_base + 10 * k_s);
  const auto written = markers();
  ASSERT_GE(written.size(), 4u);
  ASSERT_LE(written.size(), 6u);
  for (std::size_t i = 1; i < written.size(); ++i) {
    EXPECT_GE(written[i].receive_ns - written[i - 1].receive_ns, k_s) << i;
  }
  for (const log_record& m : written) {
    const auto from = parse_time(std::get<std::string>(*field_of(m, "from")), 0).value();
    const auto to = parse_time(std::get<std::string>(*field_of(m, "to")), 0).value();
    EXPECT_LT(to - from, k_s) << "a marker states one second's drops";
  }
  EXPECT_EQ(dropped_in(written), static_cast<std::int64_t>(counts_of("api").rate_limited));
  EXPECT_EQ(counts_of("api").rate_limited, 150u - (10 + 50 - 1)) << "burst + 5 s of the rate";
}

TEST_F(rate_limit, two_services_hammering_at_once_are_limited_each_by_its_own_bucket) {
  open({.memory_cap_bytes = 16 << 20, .rate = {.per_second = 1000, .burst_seconds = 1}});
  // Each thread sends 3,000 records per second for 2 s, at its own pace, concurrently.
  std::map<std::string, std::size_t> stored;
  std::map<std::string, std::size_t> limited;
  auto hammer = [this](std::string service, std::size_t& kept, std::size_t& dropped) {
    record_encoder encoder;
    for (int i = 0; i < 6000; ++i) {
      const std::int64_t at = k_base + i * k_s / 3000;
      const std::string message = service + " " + std::to_string(i);
      const auto bytes = encoder.encode({.message = message}, at);
      const auto status = records_->insert(bytes, {.service = service,
                                                   .receive_ns = at,
                                                   .instance = {service.size(), 1},
                                                   .sequence = static_cast<std::uint64_t>(i) + 1});
      ++(status == insert_status::stored ? kept : dropped);
    }
  };
  std::thread a(hammer, "alpha", std::ref(stored["alpha"]), std::ref(limited["alpha"]));
  std::thread b(hammer, "beta-service", std::ref(stored["beta-service"]),
                std::ref(limited["beta-service"]));
  a.join();
  b.join();
  records_->maintain(k_base + 5 * k_s);
  for (const std::string service : {"alpha", "beta-service"}) {
    // The burst (1,000) and 2 s of the rate (2,000), whatever the other did.
    EXPECT_NEAR(static_cast<double>(stored[service]), 3000.0, 2.0) << service;
    EXPECT_EQ(stored[service] + limited[service], 6000u) << service;
    EXPECT_EQ(counts_of(service).rate_limited, limited[service]) << service;
    EXPECT_EQ(dropped_in(markers(service)), static_cast<std::int64_t>(limited[service])) << service;
  }
}

TEST_F(rate_limit, a_flooding_service_does_not_starve_a_quiet_one) {
  open({.memory_cap_bytes = 32 << 20, .rate = {.per_second = 100, .burst_seconds = 2}});
  // The flood: 100 times the limit for 3 s; the quiet one: half the limit.
  std::size_t quiet_stored = 0;
  for (int i = 0; i < 30'000; ++i) {
    const std::int64_t at = k_base + i * (3 * k_s) / 30'000;
    send({.service = "flood", .message = std::to_string(i), .timestamp_ns = at});
    if (i % 200 == 0) {
      quiet_stored +=
          send({.service = "quiet", .message = std::to_string(i), .timestamp_ns = at}) ==
          insert_status::stored;
      records_->maintain(at);
    }
  }
  EXPECT_EQ(quiet_stored, 150u);
  EXPECT_EQ(counts_of("quiet").rate_limited, 0u);
  EXPECT_GT(counts_of("flood").rate_limited, 29'000u);
}

TEST_F(rate_limit, a_burst_of_50000_in_one_second_at_the_default_limit_is_kept_or_counted) {
  open(store_options{});
  std::size_t stored = 0;
  std::size_t limited = 0;
  std::vector<bool> kept(50'000);
  for (int i = 0; i < 50'000; ++i) {
    const std::int64_t at = k_base + i * (k_s / 50'000);
    const auto status = send({.message = "burst " + std::to_string(i), .timestamp_ns = at});
    ASSERT_TRUE(status == insert_status::stored || status == insert_status::rate_limited) << i;
    kept[i] = status == insert_status::stored;
    ++(kept[i] ? stored : limited);
  }
  records_->maintain(k_base + 3 * k_s);

  EXPECT_EQ(stored + limited, 50'000u) << "never silently lost";
  // 20,000 of burst and 10,000 refilled over the second.
  EXPECT_NEAR(static_cast<double>(stored), 30'000.0, 5.0);
  EXPECT_EQ(counts_of("api").rate_limited, limited);
  EXPECT_EQ(dropped_in(markers("api")), static_cast<std::int64_t>(limited))
      << "the markers state every drop";
  EXPECT_EQ(count({.text = "burst "}), stored);
  EXPECT_EQ(counts_of("api").stored, stored) << "the markers are the broker's notes, not records";
  // Every record said to be kept is there.
  std::size_t found = 0;
  store_query page{.text = "burst ", .limit = 1000};
  for (;;) {
    const auto result = ask(page);
    for (const log_record& r : result.logs) {
      const int i = std::stoi(r.message.substr(6));
      EXPECT_TRUE(kept[i]) << i;
      ++found;
    }
    if (!result.next) break;
    page.cursor = result.next;
  }
  EXPECT_EQ(found, stored);
}

TEST_F(rate_limit, the_brokers_notes_skip_the_rate_limit_and_the_dedup) {
  open({.memory_cap_bytes = 8 << 20, .rate = {.per_second = 1, .burst_seconds = 1}});
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(send({.message = "producer connected", .kind = entry_kind::connected}),
              insert_status::stored);
  }
  EXPECT_EQ(records_->size(), 5u);
  EXPECT_EQ(counts_of("api").rate_limited, 0u);
  EXPECT_EQ(counts_of("api").deduplicated, 0u);
}

// ---------------------------------------------------------------------------------------
// 4. Retention: time to live

class retention : public store_pipeline {
 protected:
  void SetUp() override { open({.memory_cap_bytes = 8 << 20, .retention_ns = 60 * k_s}); }
};

TEST_F(retention, a_record_exactly_retention_old_is_kept_and_one_ns_older_expires) {
  send({.message = "old"});
  send({.message = "new", .timestamp_ns = k_base + k_s});
  records_->maintain(k_base + 60 * k_s);
  EXPECT_EQ(records_->size(), 2u);
  records_->maintain(k_base + 60 * k_s + 1);
  EXPECT_EQ(messages(ask({})), std::vector<std::string>{"new"});
}

TEST_F(retention, insert_expires_what_is_past_retention_without_maintain) {
  send({.message = "old"});
  send({.message = "new", .timestamp_ns = k_base + 61 * k_s});
  EXPECT_EQ(messages(ask({})), std::vector<std::string>{"new"});
}

TEST_F(retention, counts_expired_records_per_service_and_level) {
  send({.service = "api", .severity = level::error, .message = "a"});
  send({.service = "api", .message = "b"});
  send({.service = "worker", .message = "w"});
  send({.service = "api", .message = "kept", .timestamp_ns = k_base + 30 * k_s});
  records_->maintain(k_base + 61 * k_s);
  const auto api = counts_of("api");
  EXPECT_EQ(api.expired, 2u);
  EXPECT_EQ(api.evicted, 0u);
  EXPECT_EQ(api.stored, 1u);
  EXPECT_EQ(api.by_level[static_cast<std::size_t>(level::error)], 0u);
  EXPECT_EQ(api.by_level[static_cast<std::size_t>(level::info)], 1u);
  EXPECT_EQ(counts_of("worker").expired, 1u);
  EXPECT_EQ(counts_of("worker").stored, 0u);
  EXPECT_EQ(to_observe_json(ask({}))["counts"]["api"]["expired"], 2);
}

TEST_F(retention, goes_by_receive_time_not_by_the_backends_timestamp) {
  send({.message = "old clock", .timestamp_ns = k_base - 3600 * k_s, .receive_ns = k_base});
  records_->maintain(k_base + 59 * k_s);
  EXPECT_EQ(records_->size(), 1u);
  records_->maintain(k_base + 61 * k_s);
  EXPECT_EQ(records_->size(), 0u);
}

TEST_F(retention, an_expired_record_is_never_returned_by_any_index) {
  for (std::uint64_t i = 0; i < 40; ++i)
    send_indexed(i, k_base + static_cast<std::int64_t>(i) * k_s);
  records_->maintain(k_base + 60 * k_s + 15 * k_s + 1);  // 0..15 expire
  for (std::uint64_t i = 0; i < 40; ++i) {
    const std::size_t want = i > 15 ? 1 : 0;
    EXPECT_EQ(count({.request_id = "req-" + std::to_string(i)}), want) << i;
    EXPECT_EQ(count({.trace_id = hex(i + 1, 32)}), want) << i;
    EXPECT_EQ(count({.span_id = hex(i + 1, 16)}), want) << i;
    EXPECT_EQ(count({.span_id = "span-" + std::to_string(i)}), want) << i;
  }
  EXPECT_EQ(count({.session_id = "sess-1"}), 4u) << "16..19 of 10..19";
  EXPECT_EQ(count({.user_id = "1"}), 4u);
  EXPECT_EQ(count({.session_id = "sess-0"}), 0u);
}

// ---------------------------------------------------------------------------------------
// 5. Memory cap

class memory_cap : public store_pipeline {};

TEST_F(memory_cap, memory_stays_within_the_cap_while_the_oldest_are_evicted) {
  constexpr std::uint64_t cap = 2 << 20;
  open({.memory_cap_bytes = cap, .rate = {.per_second = 0}});
  padding_.assign(100, 'p');
  for (std::uint64_t i = 0; i < 40'000; ++i) {
    const std::int64_t at = k_base + static_cast<std::int64_t>(i) * k_ms;
    ASSERT_EQ(send_indexed(i, at), insert_status::stored) << i;
    ASSERT_LE(records_->memory_bytes(), cap) << "after record " << i;
    if (i % 100 == 0) records_->maintain(at);  // as the broker does, a few times a second
  }
  EXPECT_GT(counts_of("api").evicted, 0u);
  EXPECT_GT(records_->size(), 2000u) << "the cap holds records, not only indexes";
}

TEST_F(memory_cap, memory_stays_within_the_cap_while_a_burst_grows_the_dedup_window) {
  // Every record of the last two windows is a dedup candidate: a burst grows that table
  // (through several doublings) while the store is already at its cap.
  constexpr std::uint64_t cap = 2 << 20;
  open({.memory_cap_bytes = cap, .rate = {.per_second = 0}});
  for (int i = 0; i < 60'000; ++i) {
    const std::int64_t at = k_base + i * 20 * k_s / 60'000;
    ASSERT_EQ(send({.message = "burst " + std::to_string(i), .timestamp_ns = at}),
              insert_status::stored);
    ASSERT_LE(records_->memory_bytes(), cap) << "after record " << i;
    if (i % 300 == 0) records_->maintain(at);
  }
  EXPECT_GT(counts_of("api").evicted, 0u);
}

TEST_F(memory_cap, evicts_the_oldest_first_and_counts_them_per_service) {
  open({.memory_cap_bytes = k_log_min_capacity, .rate = {.per_second = 0}});
  const std::string filler(500, 'x');
  constexpr int sent_count = 10'000;
  for (int i = 0; i < sent_count; ++i) {
    send({.service = i % 2 == 0 ? "even" : "odd",
          .message = std::to_string(i) + filler,
          .timestamp_ns = k_base + i * k_ms});
    if (i % 100 == 0) records_->maintain(k_base + i * k_ms);
  }
  const std::size_t kept = records_->size();
  ASSERT_LT(kept, static_cast<std::size_t>(sent_count));
  const auto all = ask({.limit = 1});
  EXPECT_EQ(all.total_count, kept);
  EXPECT_EQ(all.oldest_ns, k_base + static_cast<std::int64_t>(sent_count - kept) * k_ms)
      << "the newest run is kept, whole";
  const auto even = counts_of("even");
  const auto odd = counts_of("odd");
  EXPECT_EQ(even.evicted + odd.evicted, sent_count - kept);
  EXPECT_EQ(even.stored + odd.stored, kept);
  EXPECT_EQ(even.evicted + even.stored, sent_count / 2u);
  EXPECT_EQ(odd.evicted + odd.stored, sent_count / 2u);
  EXPECT_EQ(even.expired + odd.expired, 0u);
  EXPECT_LE(records_->memory_bytes(), k_log_min_capacity);
}

TEST_F(memory_cap, an_evicted_record_is_never_returned_by_any_index) {
  open({.memory_cap_bytes = 2 << 20, .rate = {.per_second = 0}});
  constexpr std::uint64_t sent_count = 20'000;
  for (std::uint64_t i = 0; i < sent_count; ++i) {
    const std::int64_t at = k_base + static_cast<std::int64_t>(i) * k_ms;
    send_indexed(i, at);
    if (i % 100 == 0) records_->maintain(at);
  }
  const std::uint64_t kept = records_->size();
  ASSERT_LT(kept, sent_count);
  ASSERT_GT(kept, 100u);
  const std::uint64_t first_kept = sent_count - kept;
  for (std::uint64_t i = 0; i < sent_count; ++i) {
    const std::size_t want = i >= first_kept ? 1 : 0;
    ASSERT_EQ(count({.request_id = "req-" + std::to_string(i)}), want) << i;
    ASSERT_EQ(count({.trace_id = hex(i + 1, 32)}), want) << i;
    ASSERT_EQ(count({.span_id = hex(i + 1, 16)}), want) << i;
    ASSERT_EQ(count({.span_id = "span-" + std::to_string(i)}), want) << i;
  }
  for (std::uint64_t group = 0; group < sent_count / 10; ++group) {
    std::size_t want = 0;
    for (std::uint64_t i = group * 10; i < group * 10 + 10; ++i) want += i >= first_kept;
    ASSERT_EQ(count({.session_id = "sess-" + std::to_string(group)}), want) << group;
    ASSERT_EQ(count({.user_id = std::to_string(group)}), want) << group;
  }
}

TEST_F(memory_cap, refuses_a_record_that_could_never_fit) {
  open({.memory_cap_bytes = k_log_min_capacity});
  const std::string huge(k_log_min_capacity / 4, 'h');
  EXPECT_EQ(send({.message = huge}), insert_status::too_large);
  EXPECT_EQ(records_->size(), 0u);
}

// ---------------------------------------------------------------------------------------
// 6. Correlation IDs

class correlation : public store_pipeline {
 protected:
  void SetUp() override { open(); }
};

struct usual_name {
  const char* field_name;
  key_kind kind;
};

class correlation_field : public correlation, public ::testing::WithParamInterface<usual_name> {};

TEST_P(correlation_field, a_field_with_a_usual_name_is_indexed) {
  const usual_name& c = GetParam();
  const std::string value = c.kind == key_kind::trace         ? std::string(k_trace)
                            : c.kind == key_kind::parent_span ? std::string(k_traceparent)
                                                              : std::string("id-42");
  send({.message = "with", .fields = {{"other", "x"}, {c.field_name, value}}});
  send({.message = "without", .fields = {{"other", value}}});
  store_query query;
  switch (c.kind) {
    case key_kind::request:
      query.request_id = value;
      break;
    case key_kind::trace:
      query.trace_id = value;
      break;
    case key_kind::span:
      query.span_id = value;
      break;
    case key_kind::session:
      query.session_id = value;
      break;
    case key_kind::user:
      query.user_id = value;
      break;
    case key_kind::parent_span:  // a traceparent field: its trace and its parent ID
      query.trace_id = k_trace;
      EXPECT_EQ(messages(ask(query)), std::vector<std::string>{"with"});
      query = {.span_id = std::string(k_parent)};
      break;
  }
  EXPECT_EQ(messages(ask(query)), std::vector<std::string>{"with"});
}

INSTANTIATE_TEST_SUITE_P(
    store_pipeline, correlation_field,
    ::testing::Values(
        usual_name{"request_id", key_kind::request}, usual_name{"requestId", key_kind::request},
        usual_name{"x-request-id", key_kind::request}, usual_name{"req_id", key_kind::request},
        usual_name{"reqId", key_kind::request}, usual_name{"traceparent", key_kind::parent_span},
        usual_name{"trace_id", key_kind::trace}, usual_name{"traceId", key_kind::trace},
        usual_name{"span_id", key_kind::span}, usual_name{"spanId", key_kind::span},
        usual_name{"session_id", key_kind::session}, usual_name{"sessionId", key_kind::session},
        usual_name{"user_id", key_kind::user}, usual_name{"userId", key_kind::user}),
    [](const ::testing::TestParamInfo<usual_name>& info) {
      std::string name = info.param.field_name;
      std::replace(name.begin(), name.end(), '-', '_');
      return name;
    });

TEST_F(correlation, an_int_id_field_counts_as_its_decimal_text) {
  send({.message = "user", .fields = {{"user_id", 987}}});
  send({.message = "negative", .fields = {{"request_id", -5}}});
  send({.message = "session", .fields = {{"sessionId", std::int64_t{9'007'199'254'740'993}}}});
  EXPECT_EQ(messages(ask({.user_id = "987"})), std::vector<std::string>{"user"});
  EXPECT_EQ(messages(ask({.request_id = "-5"})), std::vector<std::string>{"negative"});
  EXPECT_EQ(messages(ask({.session_id = "9007199254740993"})), std::vector<std::string>{"session"});
  const auto parsed = parse_observe_arguments({{"what", "backend-logs"}, {"userId", 987}}, k_base);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(messages(ask(*parsed)), std::vector<std::string>{"user"});
}

TEST_F(correlation, an_id_field_of_another_kind_is_not_indexed) {
  send({.fields = {{"user_id", 1.5}, {"request_id", true}}});
  EXPECT_EQ(count({.user_id = "1.5"}), 0u);
  EXPECT_EQ(count({.request_id = "true"}), 0u);
  EXPECT_EQ(count({.request_id = "1"}), 0u);
}

TEST_F(correlation, the_records_own_id_wins_over_a_field) {
  send({.context = {.request_id = "req-own", .span_id = "span-own"},
        .fields = {{"request_id", "req-field"}, {"span_id", "span-field"}}});
  EXPECT_EQ(count({.request_id = "req-own"}), 1u);
  EXPECT_EQ(count({.request_id = "req-field"}), 0u);
  EXPECT_EQ(count({.span_id = "span-own"}), 1u);
  EXPECT_EQ(count({.span_id = "span-field"}), 0u);
}

TEST_F(correlation, the_first_of_two_fields_naming_an_id_wins) {
  send({.fields = {{"reqId", "first"}, {"request_id", "second"}}});
  EXPECT_EQ(count({.request_id = "first"}), 1u);
  EXPECT_EQ(count({.request_id = "second"}), 0u);
}

TEST_F(correlation, a_valid_traceparent_gives_the_trace_and_the_parent_span) {
  send({.message = "traced", .context = {.traceparent = k_traceparent, .span_id = "span-own"}});
  send({.message = "other"});
  EXPECT_EQ(messages(ask({.trace_id = std::string(k_trace)})), std::vector<std::string>{"traced"});
  EXPECT_EQ(messages(ask({.span_id = std::string(k_parent)})), std::vector<std::string>{"traced"});
  EXPECT_EQ(messages(ask({.span_id = "span-own"})), std::vector<std::string>{"traced"});
}

TEST_F(correlation, a_traceparent_of_a_later_version_with_more_parts_is_indexed) {
  send(
      {.context = {.traceparent = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-more"}});
  EXPECT_EQ(count({.trace_id = std::string(k_trace)}), 1u);
}

TEST_F(correlation, a_valid_traceparent_wins_over_a_trace_id_field) {
  send({.context = {.traceparent = k_traceparent},
        .fields = {{"trace_id", "11111111111111111111111111111111"}}});
  EXPECT_EQ(count({.trace_id = std::string(k_trace)}), 1u);
  EXPECT_EQ(count({.trace_id = "11111111111111111111111111111111"}), 0u);
}

TEST_F(correlation, a_valid_traceparent_field_stands_in_for_an_invalid_own_one) {
  send({.context = {.traceparent = "not-a-traceparent"},
        .fields = {{"traceparent", k_traceparent}}});
  EXPECT_EQ(count({.trace_id = std::string(k_trace)}), 1u);
  EXPECT_EQ(count({.span_id = std::string(k_parent)}), 1u);
}

class correlation_invalid_traceparent : public correlation,
                                        public ::testing::WithParamInterface<const char*> {};

TEST_P(correlation_invalid_traceparent, is_kept_as_text_and_not_indexed) {
  send({.message = "own", .context = {.traceparent = GetParam()}});
  send({.message = "field", .fields = {{"traceparent", GetParam()}}});
  EXPECT_EQ(count({.trace_id = std::string(k_trace)}), 0u);
  EXPECT_EQ(count({.span_id = std::string(k_parent)}), 0u);
  const auto json = to_observe_json(ask({.text = "own"}));
  ASSERT_EQ(json["logs"].size(), 1u);
  EXPECT_EQ(json["logs"][0]["traceparent"], GetParam());
  EXPECT_FALSE(json["logs"][0].contains("traceId"));
}

INSTANTIATE_TEST_SUITE_P(
    store_pipeline, correlation_invalid_traceparent,
    ::testing::Values("00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",
                      "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                      "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                      "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-more",
                      "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
                      "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
                      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
                      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-010"),
    [](const ::testing::TestParamInfo<const char*>& info) {
      return "case_" + std::to_string(info.index);
    });

// ---------------------------------------------------------------------------------------
// 7. Query filters

class query_filter : public store_pipeline {
 protected:
  void SetUp() override { open(); }
};

TEST_F(query_filter, by_a_list_of_services) {
  send({.service = "api", .message = "a"});
  send({.service = "worker", .message = "w", .timestamp_ns = k_base + 1});
  send({.service = "billing", .message = "b", .timestamp_ns = k_base + 2});
  EXPECT_EQ(messages(ask({.services = {"api", "billing"}})), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(messages(ask({.services = {"worker", "nobody"}})), std::vector<std::string>{"w"});
  const auto counts = ask({.services = {"api", "nobody"}}).counts;
  ASSERT_EQ(counts.size(), 2u);
  EXPECT_EQ(counts[0].service, "api");
  EXPECT_EQ(counts[1].service, "nobody");
  EXPECT_EQ(counts[1].stored, 0u);
}

TEST_F(query_filter, by_minimum_level) {
  const level levels[] = {level::trace, level::debug, level::info,
                          level::warn,  level::error, level::fatal};
  for (int i = 0; i < 6; ++i)
    send({.severity = levels[i],
          .message = std::string(level_name(levels[i])),
          .timestamp_ns = k_base + i});
  EXPECT_EQ(count({.min_level = level::trace}), 6u);
  EXPECT_EQ(messages(ask({.min_level = level::warn})),
            (std::vector<std::string>{"WARN", "ERROR", "FATAL"}));
  EXPECT_EQ(messages(ask({.min_level = level::fatal})), std::vector<std::string>{"FATAL"});
}

TEST_F(query_filter, since_is_inclusive_and_until_exclusive) {
  for (int i = 0; i < 5; ++i) send({.message = std::to_string(i), .timestamp_ns = k_base + i});
  EXPECT_EQ(messages(ask({.since_ns = k_base + 1, .until_ns = k_base + 3})),
            (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(messages(ask({.since_ns = k_base + 4})), std::vector<std::string>{"4"});
  EXPECT_EQ(count({.until_ns = k_base}), 0u);
  EXPECT_EQ(count({.since_ns = k_base + 5}), 0u);
}

TEST_F(query_filter, an_id_filter_combines_with_the_other_filters) {
  send({.service = "api", .message = "a info", .context = {.request_id = "r"}});
  send({.service = "api",
        .severity = level::error,
        .message = "a error",
        .context = {.request_id = "r"},
        .timestamp_ns = k_base + 1});
  send({.service = "worker",
        .severity = level::error,
        .message = "w error",
        .context = {.request_id = "r"},
        .timestamp_ns = k_base + 2});
  send({.service = "api",
        .severity = level::error,
        .message = "other",
        .context = {.request_id = "s"},
        .timestamp_ns = k_base + 3});
  EXPECT_EQ(count({.request_id = "r"}), 3u);
  EXPECT_EQ(messages(ask({.services = {"api"}, .min_level = level::error, .request_id = "r"})),
            std::vector<std::string>{"a error"});
  EXPECT_EQ(messages(ask({.since_ns = k_base + 2, .request_id = "r"})),
            std::vector<std::string>{"w error"});
  EXPECT_EQ(messages(ask({.request_id = "r", .text = "W ERR"})),
            std::vector<std::string>{"w error"});
}

TEST_F(query_filter, two_id_filters_must_both_match) {
  send({.message = "both", .context = {.request_id = "r"}, .fields = {{"user_id", 1}}});
  send({.message = "request only", .context = {.request_id = "r"}, .fields = {{"user_id", 2}}});
  EXPECT_EQ(messages(ask({.request_id = "r", .user_id = "1"})), std::vector<std::string>{"both"});
}

TEST_F(query_filter, text_is_a_case_insensitive_substring_of_the_message_or_stack_trace) {
  send({.message = "Payment Gateway TIMEOUT"});
  send({.message = "ok",
        .context = {.stack_trace = "at gateway.charge()\nat main()"},
        .timestamp_ns = k_base + 1});
  send({.message = "unrelated", .timestamp_ns = k_base + 2});
  EXPECT_EQ(messages(ask({.text = "gateway"})),
            (std::vector<std::string>{"Payment Gateway TIMEOUT", "ok"}));
  EXPECT_EQ(messages(ask({.text = "timeout"})),
            std::vector<std::string>{"Payment Gateway TIMEOUT"});
  EXPECT_EQ(messages(ask({.text = "P"})), std::vector<std::string>{"Payment Gateway TIMEOUT"});
  EXPECT_EQ(messages(ask({.text = "MAIN()"})), std::vector<std::string>{"ok"});
  EXPECT_EQ(count({.text = "Payment Gateway TIMEOUT!"}), 0u) << "longer than the message";
}

TEST_F(query_filter, text_is_not_searched_in_fields_ids_or_the_service) {
  send({.service = "needle-svc",
        .message = "m",
        .context = {.request_id = "needle-req"},
        .fields = {{"k", "needle-field"}}});
  EXPECT_EQ(count({.text = "needle"}), 0u);
}

TEST_F(query_filter, text_search_agrees_with_a_plain_case_insensitive_search) {
  open({.memory_cap_bytes = 8 << 20, .dedup_window_ns = 0});  // short texts repeat
  std::mt19937 random(5);
  const char alphabet[] = "aAbB-";
  std::vector<std::string> texts;
  for (int i = 0; i < 300; ++i) {
    std::string text(random() % 12, ' ');
    for (char& c : text) c = alphabet[random() % 5];
    texts.push_back(text);
    send({.message = texts.back(), .timestamp_ns = k_base + i});
  }
  auto lower = [](std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  for (int n = 0; n < 200; ++n) {
    std::string needle(1 + random() % 4, ' ');
    for (char& c : needle) c = alphabet[random() % 5];
    const std::size_t expected = static_cast<std::size_t>(std::count_if(
        texts.begin(), texts.end(),
        [&](const std::string& t) { return lower(t).find(lower(needle)) != std::string::npos; }));
    EXPECT_EQ(count({.text = needle}), expected) << "'" << needle << "'";
  }
}

TEST_F(query_filter, fields_must_be_equal_in_value_and_kind) {
  send({.message = "typed",
        .fields = {{"s", "x"}, {"i", 5}, {"d", 5.0}, {"b", true}, {"half", 0.5}}});
  using q = std::vector<std::pair<std::string, field_value>>;
  EXPECT_EQ(count({.fields = q{{"s", std::string("x")}}}), 1u);
  EXPECT_EQ(count({.fields = q{{"s", std::string("X")}}}), 0u) << "values compare exactly";
  EXPECT_EQ(count({.fields = q{{"i", std::int64_t{5}}}}), 1u);
  EXPECT_EQ(count({.fields = q{{"i", 5.0}}}), 1u) << "a number is a number";
  EXPECT_EQ(count({.fields = q{{"i", std::int64_t{6}}}}), 0u);
  EXPECT_EQ(count({.fields = q{{"i", std::string("5")}}}), 0u);
  EXPECT_EQ(count({.fields = q{{"d", 5.0}}}), 1u);
  EXPECT_EQ(count({.fields = q{{"d", std::int64_t{5}}}}), 1u);
  EXPECT_EQ(count({.fields = q{{"half", 0.5}}}), 1u);
  EXPECT_EQ(count({.fields = q{{"b", true}}}), 1u);
  EXPECT_EQ(count({.fields = q{{"b", false}}}), 0u);
  EXPECT_EQ(count({.fields = q{{"b", std::int64_t{1}}}}), 0u);
  EXPECT_EQ(count({.fields = q{{"missing", std::string("x")}}}), 0u);
  EXPECT_EQ(count({.fields = q{{"s", std::string("x")}, {"i", std::int64_t{5}}}}), 1u);
  EXPECT_EQ(count({.fields = q{{"s", std::string("x")}, {"i", std::int64_t{4}}}}), 0u)
      << "every field must match";
}

TEST_F(query_filter, limit_keeps_the_newest_in_time_order_and_counts_every_match) {
  for (int i = 0; i < 10; ++i)
    send({.message = std::to_string(9 - i), .timestamp_ns = k_base + (9 - i) * k_ms});
  const auto result = ask({.limit = 3});
  EXPECT_EQ(messages(result), (std::vector<std::string>{"7", "8", "9"}));
  EXPECT_EQ(result.total_count, 10u);
  EXPECT_EQ(result.oldest_ns, k_base);
  EXPECT_TRUE(result.next);
  const auto whole = ask({.limit = 10});
  EXPECT_EQ(whole.logs.size(), 10u);
  EXPECT_FALSE(whole.next) << "nothing older remains";
}

TEST_F(query_filter, oldest_timestamp_is_the_oldest_match_of_the_filters) {
  send({.severity = level::debug, .message = "debug", .timestamp_ns = k_base});
  send({.severity = level::error, .message = "e1", .timestamp_ns = k_base + 5 * k_ms});
  send({.severity = level::error, .message = "e2", .timestamp_ns = k_base + 9 * k_ms});
  const auto result = ask({.min_level = level::error, .limit = 1});
  EXPECT_EQ(result.oldest_ns, k_base + 5 * k_ms);
  EXPECT_EQ(to_observe_json(result)["oldestTimestamp"], "2026-01-31T10:15:23.005Z");
  EXPECT_FALSE(ask({.min_level = level::fatal}).oldest_ns);
}

// ---------------------------------------------------------------------------------------
// 8. Cursors

class cursor : public store_pipeline {
 protected:
  void SetUp() override { open({.memory_cap_bytes = 8 << 20, .retention_ns = 3600 * k_s}); }

  // 1,000 records whose timestamps arrive out of order and in pairs (equal times).
  void send_walk(int n = 1000) {
    for (int i = 0; i < n; ++i) {
      send({.message = "walk " + std::to_string(i),
            .fields = {{"session_id", "s"}},
            .timestamp_ns = k_base + ((i * 7919) % (n / 2)) * k_ms,
            .receive_ns = k_base + i * k_ms});
    }
  }

  // Pages older from `query` to the end; checks each page, returns every message seen.
  std::vector<std::string> walk_older(store_query query, std::size_t total) {
    std::vector<std::string> seen;
    std::optional<std::pair<std::int64_t, std::uint64_t>> previous_oldest;
    for (int pages = 0;; ++pages) {
      if (pages > 2000) {
        ADD_FAILURE() << "no end";
        break;
      }
      const auto result = ask(query);
      EXPECT_EQ(result.total_count, total) << "every match, cursor aside";
      EXPECT_LE(result.logs.size(), query.limit);
      for (std::size_t i = 0; i < result.logs.size(); ++i) {
        const auto& r = result.logs[i];
        seen.push_back(r.message);
        if (i > 0) {
          const auto& p = result.logs[i - 1];
          EXPECT_LT(std::pair(p.timestamp_ns, p.position), std::pair(r.timestamp_ns, r.position))
              << "a page is in time order";
        }
      }
      if (!result.logs.empty() && previous_oldest) {
        const auto& newest = result.logs.back();
        EXPECT_LT(std::pair(newest.timestamp_ns, newest.position), *previous_oldest)
            << "a page is older than the one before";
      }
      if (!result.logs.empty())
        previous_oldest = std::pair(result.logs.front().timestamp_ns, result.logs.front().position);
      if (!result.next) break;
      EXPECT_EQ(result.logs.size(), query.limit) << "only a full page says more remain";
      query.cursor = result.next;
    }
    return seen;
  }

  static void expect_each_once(std::vector<std::string> seen, int n) {
    std::sort(seen.begin(), seen.end());
    std::vector<std::string> all;
    for (int i = 0; i < n; ++i) all.push_back("walk " + std::to_string(i));
    std::sort(all.begin(), all.end());
    EXPECT_EQ(seen, all);
  }
};

struct walk_case {
  const char* name;
  store_query query;
};

class cursor_walk : public cursor, public ::testing::WithParamInterface<walk_case> {};

TEST_P(cursor_walk, pages_older_through_every_match_exactly_once) {
  send_walk();
  store_query query = GetParam().query;
  query.limit = 7;
  expect_each_once(walk_older(query, 1000), 1000);
}

INSTANTIATE_TEST_SUITE_P(
    store_pipeline, cursor_walk,
    ::testing::Values(walk_case{"by_service_and_level", {}}, walk_case{"by_text", {.text = "WALK"}},
                      walk_case{"by_time", {.since_ns = k_base}},
                      walk_case{"by_correlation_id", {.session_id = "s"}},
                      walk_case{"by_field", {.fields = {{"session_id", std::string("s")}}}}),
    [](const ::testing::TestParamInfo<walk_case>& info) { return info.param.name; });

// Service and level queries follow the (service, level) chains; with a time filter that
// everything passes, the same query reads every block instead. Both must give the same
// answer, page by page, over late arrivals, rare levels and evictions.
TEST_F(cursor, service_and_level_chains_answer_as_reading_every_block_does) {
  open({.memory_cap_bytes = 4 << 20, .dedup_window_ns = 0, .rate = {.per_second = 0}});
  padding_.assign(60, 'p');
  constexpr std::array<std::string_view, 3> k_services = {"api", "db", "web"};
  std::mt19937 random(17);
  constexpr int k_records = 40'000;
  for (int i = 0; i < k_records; ++i) {
    // Mostly INFO and DEBUG; a few in a hundred WARN or ERROR; a FATAL now and then.
    const unsigned roll = random() % 1000;
    const level severity = roll < 5     ? level::fatal
                           : roll < 25  ? level::error
                           : roll < 60  ? level::warn
                           : roll < 600 ? level::info
                           : roll < 950 ? level::debug
                                        : level::trace;
    // Up to 3 s late, and an old replay now and then.
    const std::int64_t late = random() % 50 == 0 ? 600 * k_s : (random() % 3000) * k_ms;
    send({.service = k_services[random() % k_services.size()],
          .severity = severity,
          .message = "chain " + std::to_string(i),
          .fields = {{"padding", std::string_view(padding_)}},
          .timestamp_ns = k_base + i * k_ms - late,
          .receive_ns = k_base + i * k_ms});
  }
  ASSERT_GT(counts_of("api").evicted, 0u) << "the cap evicted the oldest";

  const std::vector<std::vector<std::string>> service_sets = {{"api"}, {"db", "web"}, {}};
  for (const auto& services : service_sets) {
    for (std::size_t l = 0; l < k_levels; ++l) {
      store_query chained{.min_level = static_cast<level>(l), .limit = 40};
      for (const auto& s : services) chained.services.push_back(s);
      store_query scanned = chained;
      scanned.since_ns = k_base - 3600 * k_s;
      const std::string asked = "services " + std::to_string(services.size()) + ", level " +
                                std::string(level_name(static_cast<level>(l)));
      for (int page = 0; page < 4; ++page) {
        const store_result a = ask(chained);
        const store_result b = ask(scanned);
        ASSERT_EQ(messages(a), messages(b)) << asked << ", page " << page;
        EXPECT_EQ(a.total_count, b.total_count) << asked;
        EXPECT_EQ(a.oldest_ns, b.oldest_ns) << asked;
        ASSERT_EQ(a.next.has_value(), b.next.has_value()) << asked;
        if (!a.next) break;
        chained.cursor = a.next;
        scanned.cursor = b.next;
      }
    }
  }
}

TEST_F(cursor, paging_older_leaves_out_what_arrived_after_the_first_page) {
  send_walk();
  store_query query{.limit = 7};
  const auto first = ask(query);
  for (int i = 0; i < 10; ++i) {
    send({.message = "new " + std::to_string(i),
          .timestamp_ns = k_base + (i % 2 == 0 ? -k_s : 10 * k_s),
          .receive_ns = k_base + 2 * k_s});
  }
  query.cursor = first.next;
  std::vector<std::string> seen = messages(first);
  const auto rest = walk_older(query, 1010);
  seen.insert(seen.end(), rest.begin(), rest.end());
  expect_each_once(seen, 1000);
}

TEST_F(cursor, a_newer_cursor_returns_only_what_arrived_after_even_with_an_old_timestamp) {
  send_walk(20);
  const auto first = ask({.limit = 5});
  EXPECT_FALSE(first.newer_page);
  send({.message = "late, from long ago",
        .timestamp_ns = k_base - 600 * k_s,
        .receive_ns = k_base + k_s});
  send({.message = "new", .timestamp_ns = k_base + k_s});
  const auto newer = ask({.limit = 5, .cursor = first.newer});
  EXPECT_TRUE(newer.newer_page);
  EXPECT_EQ(messages(newer), (std::vector<std::string>{"late, from long ago", "new"}))
      << "in time order";
  EXPECT_EQ(newer.total_count, 22u);
  EXPECT_FALSE(newer.next);
  const auto nothing = ask({.limit = 5, .cursor = newer.newer});
  EXPECT_TRUE(nothing.logs.empty());
  send({.message = "later", .timestamp_ns = k_base + 2 * k_s});
  EXPECT_EQ(messages(ask({.limit = 5, .cursor = nothing.newer})),
            std::vector<std::string>{"later"});
}

TEST_F(cursor, a_newer_cursor_keeps_the_filters_it_is_asked_with) {
  send({.message = "first"});
  const auto first = ask({});
  send({.service = "worker", .message = "worker", .timestamp_ns = k_base + 1});
  send({.service = "api", .message = "api", .timestamp_ns = k_base + 2});
  EXPECT_EQ(messages(ask({.services = {"api"}, .cursor = first.newer})),
            std::vector<std::string>{"api"});
}

class cursor_newer_walk : public cursor, public ::testing::WithParamInterface<walk_case> {};

TEST_P(cursor_newer_walk, pages_through_new_arrivals_without_gaps_or_repeats) {
  send({.message = "before", .fields = {{"session_id", "s"}}});
  store_query query = GetParam().query;
  query.limit = 7;
  query.cursor = ask(query).newer;
  send_walk(100);
  std::vector<std::string> seen;
  for (int pages = 0; pages < 100; ++pages) {
    const auto result = ask(query);
    EXPECT_LE(result.logs.size(), 7u);
    for (const auto& r : result.logs) seen.push_back(r.message);
    query.cursor = result.newer;
    if (result.logs.empty()) break;
  }
  expect_each_once(seen, 100);
}

INSTANTIATE_TEST_SUITE_P(store_pipeline, cursor_newer_walk,
                         ::testing::Values(walk_case{"by_service_and_level", {}},
                                           walk_case{"by_text", {.text = "WALK"}},
                                           walk_case{"by_correlation_id", {.session_id = "s"}}),
                         [](const ::testing::TestParamInfo<walk_case>& info) {
                           return info.param.name;
                         });

TEST_F(cursor, an_older_cursor_pages_on_through_what_is_still_kept_after_older_ones_expire) {
  open({.memory_cap_bytes = 8 << 20, .retention_ns = 10 * k_s});
  for (int i = 0; i < 100; ++i)
    send({.message = std::to_string(i), .timestamp_ns = k_base + i * k_ms});
  const auto first = ask({.limit = 7});               // 93..99
  records_->maintain(k_base + 50 * k_ms + 10 * k_s);  // 0..49 expire
  store_query query{.limit = 7, .cursor = first.next};
  std::set<int> seen;
  for (int pages = 0; pages < 100; ++pages) {
    const auto result = ask(query);
    for (const auto& r : result.logs) EXPECT_TRUE(seen.insert(std::stoi(r.message)).second);
    if (!result.next) break;
    query.cursor = result.next;
  }
  EXPECT_EQ(seen.size(), 43u);
  EXPECT_EQ(*seen.begin(), 50);
  EXPECT_EQ(*seen.rbegin(), 92);
}

TEST_F(cursor, an_older_cursor_whose_position_was_evicted_has_expired) {
  open({.memory_cap_bytes = 8 << 20, .retention_ns = 10 * k_s});
  for (int i = 0; i < 100; ++i)
    send({.message = std::to_string(i), .timestamp_ns = k_base + i * k_ms});
  const auto first = ask({.limit = 7});
  ASSERT_EQ(first.logs.front().message, "93");
  records_->maintain(k_base + 93 * k_ms + 10 * k_s);
  EXPECT_TRUE(records_->query({.limit = 7, .cursor = first.next})) << "93 is still kept";
  records_->maintain(k_base + 93 * k_ms + 10 * k_s + 1);
  const auto gone = records_->query({.limit = 7, .cursor = first.next});
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, "cursor_expired");
  EXPECT_NE(gone.error().hint.find("without a cursor"), std::string::npos) << gone.error().hint;
  EXPECT_NE(gone.error().hint.find("2026-01-31T10:15:23.094Z"), std::string::npos)
      << "names the oldest record kept: " << gone.error().hint;
}

TEST_F(cursor, an_older_cursor_whose_position_was_evicted_by_the_memory_cap_has_expired) {
  open({.memory_cap_bytes = k_log_min_capacity, .rate = {.per_second = 0}});
  for (int i = 0; i < 100; ++i) send({.message = std::to_string(i), .timestamp_ns = k_base + i});
  const auto first = ask({.limit = 7});
  const std::string filler(1000, 'f');
  for (int i = 0; counts_of("api").evicted < 100; ++i) {
    ASSERT_LT(i, 100'000);
    send({.message = filler + std::to_string(i), .timestamp_ns = k_base + k_s + i});
  }
  const auto gone = records_->query({.limit = 7, .cursor = first.next});
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, "cursor_expired");
  EXPECT_FALSE(gone.error().hint.empty());
}

TEST_F(cursor, a_newer_cursor_has_expired_when_what_arrived_after_it_was_evicted_unread) {
  open({.memory_cap_bytes = 8 << 20, .retention_ns = 10 * k_s});
  send({.message = "seen"});
  const auto first = ask({});
  send({.message = "unread", .timestamp_ns = k_base + k_s});
  records_->maintain(k_base + 12 * k_s);
  const auto gone = records_->query({.cursor = first.newer});
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, "cursor_expired");
  EXPECT_FALSE(gone.error().hint.empty());
}

TEST_F(cursor, a_newer_cursor_survives_the_eviction_of_what_it_had_already_seen) {
  open({.memory_cap_bytes = 8 << 20, .retention_ns = 10 * k_s});
  send({.message = "seen"});
  const auto first = ask({});
  records_->maintain(k_base + 12 * k_s);
  EXPECT_EQ(records_->size(), 0u);
  const auto after = records_->query({.cursor = first.newer});
  ASSERT_TRUE(after) << after.error().message;
  EXPECT_TRUE(after->logs.empty());
  send({.message = "new", .timestamp_ns = k_base + 13 * k_s});
  EXPECT_EQ(messages(ask({.cursor = after->newer})), std::vector<std::string>{"new"});
}

TEST_F(cursor, a_cursor_from_a_store_made_afresh_has_expired) {
  send({.message = "a"});
  send({.message = "b", .timestamp_ns = k_base + 1});
  const auto first = ask({.limit = 1});
  ASSERT_TRUE(first.next);
  records_.reset();
  shm_segment::remove(dir_.store_segment());
  open(small_options(), k_base + k_s);
  EXPECT_FALSE(records_->recovered());
  send({.message = "a"});
  send({.message = "b", .timestamp_ns = k_base + 1});
  for (const store_cursor& old : {*first.next, first.newer}) {
    const auto gone = records_->query({.limit = 1, .cursor = old});
    ASSERT_FALSE(gone);
    EXPECT_EQ(gone.error().code, "cursor_expired");
    EXPECT_NE(gone.error().message.find("store"), std::string::npos) << gone.error().message;
    EXPECT_FALSE(gone.error().hint.empty());
  }
}

TEST_F(cursor, a_cursor_survives_a_broker_restart) {
  send({.message = "a"});
  send({.message = "b", .timestamp_ns = k_base + 1});
  const auto first = ask({.limit = 1});
  records_.reset();
  open(small_options(), k_base + k_s);
  ASSERT_TRUE(records_->recovered());
  EXPECT_EQ(messages(ask({.limit = 1, .cursor = first.next})), std::vector<std::string>{"a"});
  send({.message = "c", .timestamp_ns = k_base + 2});
  EXPECT_EQ(messages(ask({.limit = 1, .cursor = first.newer})), std::vector<std::string>{"c"});
}

TEST(cursor_text, round_trips_through_format_and_parse) {
  const store_cursor cursors[] = {
      {store_cursor::direction::older, 1, 2, 3, 4},
      {store_cursor::direction::newer, 0, 0, 0, 0},
      {store_cursor::direction::older, ~0ull, ~0ull, std::numeric_limits<std::int64_t>::max(),
       ~0ull},
      {store_cursor::direction::older, 17, 9, -5, 12},
      {store_cursor::direction::newer, 1769854523000000000ull, 123456, k_base, 99}};
  for (const store_cursor& c : cursors) {
    const std::string text = format_cursor(c);
    const auto parsed = parse_cursor(text);
    ASSERT_TRUE(parsed) << text;
    EXPECT_EQ(parsed->way, c.way) << text;
    EXPECT_EQ(parsed->store_id, c.store_id) << text;
    EXPECT_EQ(parsed->watermark, c.watermark) << text;
    EXPECT_EQ(parsed->timestamp_ns, c.timestamp_ns) << text;
    EXPECT_EQ(parsed->position, c.position) << text;
  }
}

TEST(cursor_text, parse_rejects_garbage) {
  const std::string too_long_number = "c1-o-" + std::string(17, 'f') + "-1-2-3";
  const char* garbage[] = {"",
                           "c1",
                           "c1-o",
                           "c1-o-",
                           "c1-o-1-2-3",
                           "c1-o-1-2-3-4-5",
                           "c1-o-1-2-3-",
                           "c1-o-1--3-4",
                           "c1-x-1-2-3-4",
                           "c2-o-1-2-3-4",
                           "C1-o-1-2-3-4",
                           "c1o-1-2-3-4",
                           "c1-o-1-2-3-4 ",
                           " c1-o-1-2-3-4",
                           "c1-o-g-2-3-4",
                           "c1-o-+1-2-3-4",
                           "c1-o--1-2-3-4",
                           "c1-o-0x1-2-3-4",
                           "c1-oo-1-2-3-4",
                           too_long_number.c_str()};
  for (const char* text : garbage) EXPECT_FALSE(parse_cursor(text)) << "'" << text << "'";
  EXPECT_FALSE(parse_cursor(std::string_view("c1-o-1-2-3-4\0", 13)));
}

// ---------------------------------------------------------------------------------------
// 9. The observe arguments

constexpr std::int64_t k_now = k_base + 3600 * k_s;

store_query parsed(const nlohmann::json& arguments) {
  nlohmann::json with_what = arguments;
  with_what["what"] = "backend-logs";
  auto query = parse_observe_arguments(with_what, k_now);
  EXPECT_TRUE(query) << query.error().message;
  return query ? *query : store_query{};
}

TEST(observe_arguments, parse_until_and_relative_times) {
  const auto query =
      parsed({{"since", "2026-01-31T10:15:23Z"}, {"until", "2026-01-31T10:15:24.5Z"}});
  EXPECT_EQ(query.since_ns, k_base);
  EXPECT_EQ(query.until_ns, k_base + 1500 * k_ms);
  const auto relative = parsed({{"since", "5m"}, {"until", "30s"}});
  EXPECT_EQ(relative.since_ns, k_now - 300 * k_s);
  EXPECT_EQ(relative.until_ns, k_now - 30 * k_s);
  EXPECT_EQ(parsed({}).until_ns, std::numeric_limits<std::int64_t>::max());
}

TEST(observe_arguments, parse_the_id_filters) {
  const auto query = parsed({{"requestId", "req-1"},
                             {"traceId", std::string(k_trace)},
                             {"spanId", "span-1"},
                             {"sessionId", "sess-1"},
                             {"userId", "u-1"}});
  EXPECT_EQ(query.request_id, "req-1");
  EXPECT_EQ(query.trace_id, k_trace);
  EXPECT_EQ(query.span_id, "span-1");
  EXPECT_EQ(query.session_id, "sess-1");
  EXPECT_EQ(query.user_id, "u-1");
}

TEST(observe_arguments, an_id_given_as_a_whole_number_is_its_decimal_text) {
  EXPECT_EQ(parsed({{"userId", 987}}).user_id, "987");
  EXPECT_EQ(parsed({{"sessionId", -3}}).session_id, "-3");
  EXPECT_EQ(parsed({{"requestId", 12.0}}).request_id, "12");
}

TEST(observe_arguments, a_trace_id_may_be_a_whole_traceparent_or_upper_case) {
  EXPECT_EQ(parsed({{"traceId", std::string(k_traceparent)}}).trace_id, k_trace);
  EXPECT_EQ(parsed({{"traceId", "4BF92F3577B34DA6A3CE929D0E0E4736"}}).trace_id, k_trace);
}

TEST(observe_arguments, parse_text_and_typed_fields) {
  const auto query =
      parsed({{"text", "Timeout"},
              {"fields", {{"s", "x"}, {"i", 5}, {"d", 0.5}, {"b", true}, {"whole", 2.0}}}});
  EXPECT_EQ(query.text, "Timeout");
  std::map<std::string, field_value> fields(query.fields.begin(), query.fields.end());
  ASSERT_EQ(fields.size(), 5u);
  EXPECT_EQ(fields["s"], field_value(std::string("x")));
  EXPECT_EQ(fields["i"], field_value(std::int64_t{5}));
  EXPECT_EQ(fields["d"], field_value(0.5));
  EXPECT_EQ(fields["b"], field_value(true));
  EXPECT_EQ(fields["whole"], field_value(2.0)) << "a JSON float stays a double";
}

TEST(observe_arguments, parse_a_cursor_the_broker_gave) {
  const store_cursor given{store_cursor::direction::newer, 5, 6, 7, 8};
  const auto query = parsed({{"cursor", format_cursor(given)}});
  ASSERT_TRUE(query.cursor);
  EXPECT_EQ(query.cursor->way, store_cursor::direction::newer);
  EXPECT_EQ(query.cursor->watermark, 6u);
  EXPECT_EQ(query.cursor->position, 8u);
  EXPECT_FALSE(parsed({{"cursor", nullptr}}).cursor) << "null is left out";
}

struct bad_argument {
  const char* arguments;  // besides what: "backend-logs"
  const char* names;      // the parameter the message must name
};

class observe_argument_rejected : public ::testing::TestWithParam<bad_argument> {};

TEST_P(observe_argument_rejected, as_invalid_param_naming_the_parameter) {
  nlohmann::json arguments = nlohmann::json::parse(GetParam().arguments);
  arguments["what"] = "backend-logs";
  const auto query = parse_observe_arguments(arguments, k_now);
  ASSERT_FALSE(query) << GetParam().arguments;
  EXPECT_EQ(query.error().code, "invalid_param");
  EXPECT_NE(query.error().message.find(GetParam().names), std::string::npos)
      << query.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    store_pipeline, observe_argument_rejected,
    ::testing::Values(
        bad_argument{R"({"until": "soon"})", "until"}, bad_argument{R"({"until": 5})", "until"},
        bad_argument{R"({"since": "2026-01-31T10:15:24Z", "until": "2026-01-31T10:15:23Z"})",
                     "since"},
        bad_argument{R"({"since": "2026-01-31T10:15:23Z", "until": "2026-01-31T10:15:23Z"})",
                     "until"},
        bad_argument{R"({"requestId": ""})", "requestId"},
        bad_argument{R"({"requestId": true})", "requestId"},
        bad_argument{R"({"requestId": 1.5})", "requestId"},
        bad_argument{R"({"traceId": "xyz"})", "traceId"},
        bad_argument{R"({"traceId": "4bf92f3577b34da6a3ce929d0e0e473"})", "traceId"},
        bad_argument{R"({"traceId": "4bf92f3577b34da6a3ce929d0e0e473g"})", "traceId"},
        bad_argument{R"({"traceId": 12})", "traceId"}, bad_argument{R"({"spanId": []})", "spanId"},
        bad_argument{R"({"sessionId": {}})", "sessionId"},
        bad_argument{R"({"userId": true})", "userId"}, bad_argument{R"({"userId": 2.5})", "userId"},
        bad_argument{R"({"userId": 18446744073709551615})", "userId"},
        bad_argument{R"({"text": ""})", "text"}, bad_argument{R"({"text": 5})", "text"},
        bad_argument{R"({"fields": "x"})", "fields"}, bad_argument{R"({"fields": [1]})", "fields"},
        bad_argument{R"({"fields": {"a": [1]}})", "fields.a"},
        bad_argument{R"({"fields": {"a": {"b": 1}}})", "fields.a"},
        bad_argument{R"({"fields": {"a": null}})", "fields.a"},
        bad_argument{R"({"fields": {"a": 18446744073709551615}})", "fields.a"},
        bad_argument{R"({"cursor": "garbage"})", "cursor"},
        bad_argument{R"({"cursor": 5})", "cursor"}, bad_argument{R"({"cursor": ""})", "cursor"}),
    [](const ::testing::TestParamInfo<bad_argument>& info) {
      return "case_" + std::to_string(info.index);
    });

TEST(observe_arguments, reject_a_filter_longer_than_1024_characters) {
  for (const char* name : {"requestId", "spanId", "sessionId", "userId", "text"}) {
    const auto query =
        parse_observe_arguments({{"what", "backend-logs"}, {name, std::string(1025, 'x')}}, k_now);
    ASSERT_FALSE(query) << name;
    EXPECT_EQ(query.error().code, "invalid_param");
    EXPECT_NE(query.error().message.find(name), std::string::npos) << query.error().message;
    EXPECT_TRUE(
        parse_observe_arguments({{"what", "backend-logs"}, {name, std::string(1024, 'x')}}, k_now))
        << name;
  }
}

// ---------------------------------------------------------------------------------------
// 10. A store reopened after a crash

class reopen : public store_pipeline {};

TEST_F(reopen, a_store_reopened_after_a_crash_rebuilds_its_indexes_and_counts) {
  open();
  for (std::uint64_t i = 0; i < 100; ++i)
    send_indexed(i, k_base + static_cast<std::int64_t>(i) * k_ms);
  send({.service = "worker", .severity = level::error, .message = "boom"});
  send({.service = "worker",
        .severity = level::error,
        .message = "boom",
        .timestamp_ns = k_base + 1});
  send({.service = "worker",
        .message = "7 records dropped",
        .fields = {{"dropped", 7}},
        .instance = {9, 9},
        .sequence = 7,
        .kind = entry_kind::dropped});
  const std::size_t size_before = records_->size();
  const auto api_before = counts_of("api");
  const auto worker_before = counts_of("worker");

  records_.reset();  // the broker dies; its records stay in the runtime directory
  open(small_options(), k_base + 3600 * k_s);
  ASSERT_TRUE(records_->recovered());

  EXPECT_EQ(records_->size(), size_before);
  for (const auto& [before, after] :
       {std::pair(api_before, counts_of("api")), std::pair(worker_before, counts_of("worker"))}) {
    EXPECT_EQ(after.stored, before.stored) << before.service;
    EXPECT_EQ(after.by_level, before.by_level) << before.service;
    EXPECT_EQ(after.dropped, before.dropped) << before.service;
  }
  EXPECT_EQ(counts_of("worker").dropped, 7u);
  EXPECT_EQ(messages(ask({.request_id = "req-42"})), std::vector<std::string>{"indexed 42"});
  EXPECT_EQ(messages(ask({.trace_id = hex(43, 32)})), std::vector<std::string>{"indexed 42"});
  EXPECT_EQ(messages(ask({.span_id = hex(43, 16)})), std::vector<std::string>{"indexed 42"});
  EXPECT_EQ(count({.session_id = "sess-4"}), 10u);
  EXPECT_EQ(count({.user_id = "4"}), 10u);
  EXPECT_EQ(ask({.text = "boom"}).logs.at(0).repeat_count, 2u) << "the repeat count is kept";
  EXPECT_EQ(records_->last_sequence({9, 9}, entry_kind::dropped), 7u);

  // And it goes on: new records are indexed after the recovered ones, old ones expire.
  EXPECT_EQ(
      send({.message = "after", .context = {.request_id = "req-42"}, .timestamp_ns = k_base + k_s}),
      insert_status::stored);
  EXPECT_EQ(count({.request_id = "req-42"}), 2u);
  records_->maintain(k_base + 3600 * k_s + 50 * k_ms);
  EXPECT_EQ(counts_of("api").expired, 50u) << "0..49 by receive time";
  EXPECT_EQ(count({.request_id = "req-42"}), 1u);
}

TEST_F(reopen, a_replay_of_a_folded_repeat_is_refused_after_a_restart) {
  open();
  send({.message = "same", .sequence = 1});
  EXPECT_EQ(send({.message = "same", .timestamp_ns = k_base + 1, .sequence = 2}),
            insert_status::deduplicated);
  records_.reset();
  open();
  EXPECT_EQ(records_->last_sequence({7, 7}, entry_kind::record), 2u);
  EXPECT_EQ(send({.message = "same", .timestamp_ns = k_base + 1, .sequence = 2}),
            insert_status::duplicate)
      << "the repeat is already in the stored one's repeat count";
  EXPECT_EQ(records_->size(), 1u);
  EXPECT_EQ(ask({}).logs.at(0).repeat_count, 2u);
}

}  // namespace
}  // namespace logwire
