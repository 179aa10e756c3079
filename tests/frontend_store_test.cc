// The browser's events in the store (frontend_store.h): exactly once by page and
// sequence, the memory cap, retention, the indexes, the counters and the frontend query.
#include "logwire/frontend_store.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "logwire/shm_segment.h"
#include "logwire/store.h"
#include "support/temp_runtime_dir.h"

namespace logwire {
namespace {

constexpr std::int64_t k_base = 1769854523LL * 1'000'000'000;  // 2026-01-31T10:15:23Z
constexpr std::int64_t k_ms = 1'000'000;
constexpr std::int64_t k_s = 1'000'000'000;
constexpr std::int64_t k_hour = 3600 * k_s;
constexpr std::string_view k_traceparent =
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

frontend_event request(std::string request_id, int status = 200, std::int64_t at = k_base) {
  frontend_event e;
  e.kind = frontend_kind::request;
  e.timestamp_ns = at;
  e.method = "POST";
  e.url = "http://localhost:3000/api/payments/process?x=1";
  e.status = status;
  e.duration_ms = 35.5;
  e.request_id = std::move(request_id);
  return e;
}

frontend_event console(std::string message, std::int64_t at = k_base) {
  frontend_event e;
  e.kind = frontend_kind::console;
  e.timestamp_ns = at;
  e.level = "error";
  e.message = std::move(message);
  return e;
}

// A batch of `events` from `page`, numbered from `first`.
frontend_batch batch(std::vector<frontend_event> events, std::uint64_t first = 0,
                     std::string page = "pg-1", std::int64_t received = k_base) {
  frontend_batch b;
  b.page_id = page;
  b.first_sequence = first;
  std::uint64_t sequence = first;
  for (frontend_event& e : events) {
    e.page_id = page;
    e.page_url = "http://localhost:3000/checkout";
    e.sequence = sequence++;
    e.receive_ns = received;
  }
  b.events = std::move(events);
  return b;
}

class frontend_store_test : public ::testing::Test {
 protected:
  frontend_store store_{32ull << 20, k_hour, k_base};

  frontend_result ask(const frontend_query& q) {
    auto r = store_.query(q);
    EXPECT_TRUE(r) << r.error().message;
    return r ? std::move(*r) : frontend_result{};
  }
};

TEST_F(frontend_store_test, stores_a_batch_and_counts_it) {
  const auto r = store_.insert(batch({request("a"), console("x")}), k_base);
  EXPECT_EQ(r.stored, 2u);
  EXPECT_EQ(r.duplicate, 0u);
  EXPECT_EQ(store_.size(), 2u);
  EXPECT_EQ(store_.counts().stored, 2u);
  EXPECT_EQ(store_.counts().taken, 2u);
  EXPECT_EQ(store_.counts().pages, 1u);
}

TEST_F(frontend_store_test, a_batch_sent_again_is_stored_once) {
  store_.insert(batch({request("a"), console("x")}), k_base);
  const auto again = store_.insert(batch({request("a"), console("x")}), k_base);
  EXPECT_EQ(again.stored, 0u);
  EXPECT_EQ(again.duplicate, 2u);
  EXPECT_EQ(store_.size(), 2u);
  EXPECT_EQ(store_.counts().duplicates, 2u);
}

TEST_F(frontend_store_test, an_overlapping_batch_stores_only_the_new_events) {
  store_.insert(batch({console("0"), console("1"), console("2")}, 0), k_base);
  const auto r = store_.insert(batch({console("2"), console("3")}, 2), k_base);
  EXPECT_EQ(r.stored, 1u);
  EXPECT_EQ(r.duplicate, 1u);
  EXPECT_EQ(store_.size(), 4u);
}

TEST_F(frontend_store_test, a_batch_that_arrives_before_an_earlier_one_loses_neither) {
  store_.insert(batch({console("5"), console("6")}, 5), k_base);
  const auto earlier = store_.insert(batch({console("0"), console("1")}, 0), k_base);
  EXPECT_EQ(earlier.stored, 2u);
  const auto gap = store_.insert(batch({console("2"), console("3"), console("4")}, 2), k_base);
  EXPECT_EQ(gap.stored, 3u);
  EXPECT_EQ(store_.insert(batch({console("0")}, 0), k_base).duplicate, 1u);
  EXPECT_EQ(store_.insert(batch({console("4")}, 4), k_base).duplicate, 1u);
  EXPECT_EQ(store_.insert(batch({console("6")}, 6), k_base).duplicate, 1u);
  EXPECT_EQ(store_.size(), 7u);
}

TEST_F(frontend_store_test, sequences_are_per_page) {
  store_.insert(batch({console("a")}, 0, "pg-1"), k_base);
  const auto other = store_.insert(batch({console("a")}, 0, "pg-2"), k_base);
  EXPECT_EQ(other.stored, 1u);
  EXPECT_EQ(store_.counts().pages, 2u);
}

TEST_F(frontend_store_test, counts_the_refused_events_of_a_batch_as_bad_event) {
  frontend_batch b = batch({console("a")});
  b.refused_events = 3;
  store_.insert(std::move(b), k_base);
  EXPECT_EQ(store_.counts().refused[static_cast<std::size_t>(frontend_refusal::bad_event)], 3u);
}

TEST_F(frontend_store_test, counts_each_refusal_by_its_reason) {
  store_.count_refusal(frontend_refusal::bad_host);
  store_.count_refusal(frontend_refusal::bad_origin);
  store_.count_refusal(frontend_refusal::bad_origin);
  store_.count_refusal(frontend_refusal::malformed_json);
  const auto c = store_.counts();
  EXPECT_EQ(c.refused[static_cast<std::size_t>(frontend_refusal::bad_host)], 1u);
  EXPECT_EQ(c.refused[static_cast<std::size_t>(frontend_refusal::bad_origin)], 2u);
  EXPECT_EQ(c.refused[static_cast<std::size_t>(frontend_refusal::malformed_json)], 1u);
  EXPECT_EQ(c.refused[static_cast<std::size_t>(frontend_refusal::too_large)], 0u);
  EXPECT_EQ(frontend_refusal_name(frontend_refusal::malformed_json), "malformedJson");
}

TEST_F(frontend_store_test, expires_events_past_retention_by_receive_time) {
  store_.insert(batch({console("old")}, 0, "pg-1", k_base), k_base);
  store_.insert(batch({console("new")}, 1, "pg-1", k_base + k_hour), k_base + k_hour);
  EXPECT_EQ(store_.size(), 2u);
  store_.maintain(k_base + k_hour + 1);
  EXPECT_EQ(store_.size(), 1u);
  EXPECT_EQ(store_.counts().expired, 1u);
  EXPECT_TRUE(store_.with_request_id("x").empty());
}

TEST_F(frontend_store_test, forgets_a_page_quiet_past_retention_and_its_events_with_it) {
  store_.insert(batch({console("a")}), k_base);
  store_.maintain(k_base + k_hour + 1);
  EXPECT_EQ(store_.counts().pages, 0u);
  EXPECT_EQ(store_.size(), 0u);
}

TEST(frontend_store_cap, evicts_the_oldest_under_the_memory_cap_and_keeps_the_indexes_right) {
  frontend_store small(64 * 1024, k_hour, k_base);
  for (int i = 0; i < 400; ++i) {
    frontend_event e = request("req-" + std::to_string(i));
    e.traceparent = k_traceparent;
    e.message = std::string(200, 'm');
    small.insert(batch({e}, static_cast<std::uint64_t>(i)), k_base + i);
  }
  EXPECT_LE(small.memory_bytes(), 64u * 1024);
  EXPECT_LT(small.size(), 400u);
  EXPECT_GT(small.size(), 10u);
  EXPECT_EQ(small.counts().evicted + small.size(), 400u);
  EXPECT_TRUE(small.with_request_id("req-0").empty());
  EXPECT_EQ(small.with_request_id("req-399").size(), 1u);
  // Every retained event of the trace, and none evicted.
  EXPECT_EQ(small.with_trace_id("4bf92f3577b34da6a3ce929d0e0e4736").size(), small.size());
}

TEST_F(frontend_store_test, finds_events_by_request_id_and_trace_id_in_time_order) {
  frontend_event later = request("req-1", 500, k_base + 10 * k_ms);
  later.traceparent = k_traceparent;
  frontend_event earlier = request("req-1", 0, k_base);
  store_.insert(batch({later, earlier, request("req-2")}), k_base);
  const auto found = store_.with_request_id("req-1");
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].timestamp_ns, k_base);
  EXPECT_EQ(found[1].status, 500);
  EXPECT_EQ(store_.with_trace_id("4bf92f3577b34da6a3ce929d0e0e4736").size(), 1u);
  EXPECT_TRUE(store_.with_trace_id("00000000000000000000000000000000").empty());
}

TEST_F(frontend_store_test, an_invalid_traceparent_is_kept_but_not_indexed) {
  frontend_event e = request("req-1");
  e.traceparent = "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01";  // upper case
  store_.insert(batch({e}), k_base);
  EXPECT_TRUE(store_.with_trace_id("4bf92f3577b34da6a3ce929d0e0e4736").empty());
  EXPECT_EQ(store_.with_request_id("req-1").at(0).traceparent, e.traceparent);
}

TEST_F(frontend_store_test, gives_back_every_field_it_took) {
  frontend_event e = request("req-1", 503);
  e.traceparent = k_traceparent;
  e.initiator = "xhr";
  e.error = "";
  frontend_event a;
  a.kind = frontend_kind::action;
  a.timestamp_ns = k_base - k_ms;
  a.action = "click";
  a.selector = "button#pay";
  a.text = "Submit Payment";
  frontend_event x;
  x.kind = frontend_kind::exception;
  x.timestamp_ns = k_base + k_ms;
  x.message = "TypeError: x is undefined";
  x.stack = "at pay (app.js:12:5)";
  x.source = "http://localhost:3000/app.js:12:5";
  store_.insert(batch({e, a, x}, 40), k_base);
  const auto all = store_.between(k_base - k_s, k_base + k_s);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].selector, "button#pay");
  EXPECT_EQ(all[0].text, "Submit Payment");
  EXPECT_EQ(all[0].sequence, 41u);
  EXPECT_EQ(all[1].url, e.url);
  EXPECT_EQ(all[1].status, 503);
  EXPECT_EQ(all[1].traceparent, k_traceparent);
  EXPECT_EQ(all[1].initiator, "xhr");
  EXPECT_DOUBLE_EQ(all[1].duration_ms, 35.5);
  EXPECT_EQ(all[1].page_url, "http://localhost:3000/checkout");
  EXPECT_EQ(all[2].stack, x.stack);
  EXPECT_EQ(all[2].source, x.source);
}

TEST_F(frontend_store_test, query_filters_by_kind_url_and_min_status) {
  frontend_event failed = request("req-3", 0);
  failed.error = "network error";
  frontend_event other_url = request("req-4", 404);
  other_url.url = "http://localhost:3000/api/cart";
  store_.insert(
      batch({request("req-1", 200), request("req-2", 500), failed, other_url, console("boom")}),
      k_base);
  EXPECT_EQ(ask({.kinds = 1u << static_cast<unsigned>(frontend_kind::console)}).total_count, 1u);
  EXPECT_EQ(ask({.url_text = "PAYMENTS"}).total_count, 3u);
  // At least 400, or no answer at all.
  const auto failures = ask({.min_status = 400});
  EXPECT_EQ(failures.total_count, 3u);
  EXPECT_EQ(ask({.min_status = 500}).total_count, 2u);
  EXPECT_EQ(ask({.request_id = "req-2"}).events.at(0).status, 500);
}

TEST_F(frontend_store_test, query_filters_by_time) {
  store_.insert(
      batch({console("a", k_base), console("b", k_base + k_s), console("c", k_base + 2 * k_s)}),
      k_base);
  const auto r = ask({.since_ns = k_base + k_s, .until_ns = k_base + 2 * k_s});
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].message, "b");
}

TEST_F(frontend_store_test, query_pages_from_the_newest_with_a_cursor) {
  std::vector<frontend_event> events;
  for (int i = 0; i < 5; ++i) events.push_back(console(std::to_string(i), k_base + i * k_ms));
  store_.insert(batch(events), k_base);
  const auto first = ask({.limit = 2});
  EXPECT_EQ(first.total_count, 5u);
  ASSERT_EQ(first.events.size(), 2u);
  EXPECT_EQ(first.events[0].message, "3");
  EXPECT_EQ(first.events[1].message, "4");
  ASSERT_TRUE(first.next);
  const auto second =
      ask({.limit = 2, .cursor = parse_frontend_cursor(format_frontend_cursor(*first.next))});
  ASSERT_EQ(second.events.size(), 2u);
  EXPECT_EQ(second.events[0].message, "1");
  const auto third = ask({.limit = 2, .cursor = second.next});
  ASSERT_EQ(third.events.size(), 1u);
  EXPECT_EQ(third.events[0].message, "0");
  EXPECT_FALSE(third.next);
}

TEST_F(frontend_store_test, a_cursor_of_another_store_has_expired) {
  frontend_cursor other{.store_id = 1, .timestamp_ns = k_base, .ordinal = 0};
  const auto r = store_.query({.cursor = other});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "cursor_expired");
}

TEST(frontend_cursor_text, refuses_what_it_did_not_write) {
  for (const std::string_view text :
       {"", "f1", "f1-", "f1-1-2", "f1-1-2-3-4", "f1-x-2-3", "c1-o-1-2-3-4", "f1-1-2-3 "}) {
    EXPECT_FALSE(parse_frontend_cursor(text)) << text;
  }
  const frontend_cursor c{.store_id = 7, .timestamp_ns = k_base, .ordinal = 12};
  const auto back = parse_frontend_cursor(format_frontend_cursor(c));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->ordinal, 12u);
  EXPECT_EQ(back->timestamp_ns, k_base);
}

TEST_F(frontend_store_test, browser_requests_names_the_newest_request_with_the_records_id) {
  frontend_event failed = request("req-9", 0);
  failed.error = "TypeError: Failed to fetch";
  store_.insert(batch({request("req-1", 500), failed, console("x")}), k_base);
  std::vector<log_record> records(4);
  records[0].request_id = "req-1";
  records[1].fields.emplace_back("requestId", std::string("req-9"));
  records[2].request_id = "req-unknown";
  const auto lines = store_.browser_requests(records);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0], "POST /api/payments/process?x=1 → 500");
  EXPECT_EQ(lines[1], "POST /api/payments/process?x=1 → failed: TypeError: Failed to fetch");
  EXPECT_EQ(lines[2], "");
  EXPECT_EQ(lines[3], "");
}

TEST_F(frontend_store_test, takes_batches_from_many_threads_each_event_once) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([this] {
      for (std::uint64_t i = 0; i < 200; ++i) store_.insert(batch({console("m")}, i), k_base);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(store_.size(), 200u);
  EXPECT_EQ(store_.counts().duplicates, 600u);
}

TEST(frontend_in_store, the_store_owns_it_and_maintain_expires_it) {
  testing::temp_runtime_dir temp;
  const runtime_dir dir = runtime_dir::open(temp.path()).value();
  auto records = store::open(dir, {.memory_cap_bytes = 8 << 20}, k_base).value();
  records->frontend().insert(batch({console("a")}), k_base);
  EXPECT_EQ(records->frontend().size(), 1u);
  records->maintain(k_base + records->options().retention_ns + 1);
  EXPECT_EQ(records->frontend().size(), 0u);
  EXPECT_EQ(records->frontend().counts().expired, 1u);
  records.reset();
  shm_segment::remove(dir.store_segment());
}

}  // namespace
}  // namespace logwire
