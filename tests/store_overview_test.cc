// observe's overview modes over the store (issue 6): services (lifecycle, counters, services
// known only from the past), summary (counts in a window, repeated messages, newest
// errors), records fetched by id, and answers held under maxBytes with cut markers and
// cursors that still reach every record. The clock is the test's.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "logwire/observe_json.h"
#include "logwire/observe_query.h"
#include "logwire/record_encoder.h"
#include "logwire/store.h"
#include "logwire/timestamp.h"
#include "support/temp_runtime_dir.h"

namespace logwire {
namespace {

constexpr std::int64_t k_base = 1769854523LL * 1'000'000'000;  // 2026-01-31T10:15:23Z
constexpr std::int64_t k_ms = 1'000'000;
constexpr std::int64_t k_s = 1'000'000'000;

struct sent {
  std::string_view service = "api";
  level severity = level::info;
  std::string_view message = "m";
  std::string_view request_id = {};
  std::vector<field> fields = {};
  std::int64_t timestamp_ns = k_base;
  instance_id instance = {7, 7};
  entry_kind kind = entry_kind::record;
  std::optional<std::uint64_t> sequence = {};
};

class overview : public ::testing::Test {
 protected:
  void SetUp() override { open(); }

  store& open(store_options options = {.memory_cap_bytes = 8 << 20, .dedup_window_ns = 0}) {
    records_.reset();
    records_ = store::open(dir_, std::move(options), k_base).value();
    return *records_;
  }

  // Received when it was logged.
  insert_status send(const sent& r) {
    const auto bytes = encoder_.encode({.severity = r.severity,
                                        .message = r.message,
                                        .context = {.request_id = r.request_id},
                                        .fields = r.fields},
                                       r.timestamp_ns);
    return records_->insert(bytes, {.service = r.service,
                                    .receive_ns = r.timestamp_ns,
                                    .instance = r.instance,
                                    .sequence = r.sequence ? *r.sequence : ++sequence_,
                                    .kind = r.kind});
  }

  // The connected note ring_drain writes for a producer of `service`.
  void connect(std::string_view service, instance_id instance, std::string_view transport,
               std::int64_t at) {
    const std::string message = "producer connected: " + std::string(service) +
                                " (pid 42 on devbox, c++ logwire 0.1.0, shared memory)";
    ASSERT_EQ(send({.service = service,
                    .message = message,
                    .fields = {{"event", "connected"},
                               {"pid", std::int64_t{42}},
                               {"host", "devbox"},
                               {"language", "c++"},
                               {"transport", transport}},
                    .timestamp_ns = at,
                    .instance = instance,
                    .kind = entry_kind::connected,
                    .sequence = 0}),
              insert_status::stored);
  }

  void end(std::string_view service, instance_id instance, entry_kind how, std::int64_t at) {
    ASSERT_EQ(send({.service = service,
                    .message = "producer disconnected",
                    .timestamp_ns = at,
                    .instance = instance,
                    .kind = how,
                    .sequence = 0}),
              insert_status::stored);
  }

  const service_overview* find(const std::vector<service_overview>& all, std::string_view name) {
    for (const service_overview& s : all) {
      if (s.counts.service == name) return &s;
    }
    return nullptr;
  }

  static ordered_json parse(const std::string& text) { return ordered_json::parse(text); }

  testing::temp_runtime_dir temp_;
  runtime_dir dir_ = runtime_dir::open(temp_.path()).value();
  std::unique_ptr<store> records_;
  record_encoder encoder_;
  std::uint64_t sequence_ = 0;
};

// ---------------------------------------------------------------------------------------
// services

TEST_F(overview, services_of_an_empty_store_is_an_empty_list) {
  EXPECT_TRUE(records_->services().empty());
  const auto json = parse(services_json_text(records_->services(), {}, k_default_max_bytes));
  EXPECT_EQ(json["type"], "services");
  EXPECT_EQ(json["services"], ordered_json::array());
  EXPECT_EQ(json["totalCount"], 0);
}

TEST_F(overview, a_connected_producer_gives_its_service_transport_host_and_versions) {
  connect("api", {1, 1}, "shared-memory", k_base);
  send({.message = "a", .timestamp_ns = k_base + 1 * k_s, .instance = {1, 1}});
  send({.severity = level::error,
        .message = "b",
        .timestamp_ns = k_base + 2 * k_s,
        .instance = {1, 1}});
  const auto all = records_->services();
  ASSERT_EQ(all.size(), 1u);
  const service_overview& api = all[0];
  EXPECT_EQ(api.producers, 1u);
  EXPECT_EQ(api.transport, "shared-memory");
  EXPECT_EQ(api.host, "devbox");
  EXPECT_EQ(api.language, "c++");
  EXPECT_EQ(api.library_version, "0.1.0");
  EXPECT_EQ(api.first_seen_ns, k_base);
  EXPECT_EQ(api.last_seen_ns, k_base + 2 * k_s);
  EXPECT_EQ(api.counts.stored, 2u);
  EXPECT_EQ(api.counts.by_level[static_cast<std::size_t>(level::info)], 2u) << "the note too";
  EXPECT_EQ(api.counts.by_level[static_cast<std::size_t>(level::error)], 1u);

  const auto json = parse(services_json_text(all, {}, k_default_max_bytes));
  const auto& s = json["services"][0];
  EXPECT_EQ(s["service"], "api");
  EXPECT_EQ(s["connected"], true);
  EXPECT_EQ(s["transport"], "shared-memory");
  EXPECT_EQ(s["libraryVersion"], "0.1.0");
  EXPECT_EQ(s["firstSeen"], "2026-01-31T10:15:23.000Z");
  EXPECT_EQ(s["lastSeen"], "2026-01-31T10:15:25.000Z");
  EXPECT_EQ(s["byLevel"], (ordered_json{{"INFO", 2}, {"ERROR", 1}}));
  EXPECT_EQ(s["stored"], 2);
  for (const char* counter : {"deduplicated", "rateLimited", "expired", "evicted", "dropped"})
    EXPECT_EQ(s[counter], 0) << counter;
}

TEST_F(overview, a_remote_producer_is_named_zeromq_and_is_not_connected_after_it_closed) {
  connect("worker", {2, 2}, "tcp", k_base);
  end("worker", {2, 2}, entry_kind::disconnected, k_base + k_s);
  const auto all = records_->services();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].producers, 0u);
  EXPECT_EQ(all[0].transport, "zeromq");
  const auto json = parse(services_json_text(all, {}, k_default_max_bytes));
  EXPECT_EQ(json["services"][0]["connected"], false);
  EXPECT_FALSE(json["services"][0].contains("producers"));
}

TEST_F(overview, a_crashed_producer_leaves_its_service_connected_only_through_the_others) {
  connect("api", {1, 1}, "shared-memory", k_base);
  connect("api", {1, 2}, "shared-memory", k_base + k_ms);
  end("api", {1, 1}, entry_kind::crashed, k_base + k_s);
  EXPECT_EQ(records_->services()[0].producers, 1u);
  end("api", {1, 2}, entry_kind::crashed, k_base + 2 * k_s);
  EXPECT_EQ(records_->services()[0].producers, 0u);
}

TEST_F(overview, a_service_without_lifecycle_notes_has_no_transport) {
  send({.service = "script"});
  const auto json = parse(services_json_text(records_->services(), {}, k_default_max_bytes));
  EXPECT_EQ(json["services"][0]["connected"], false);
  EXPECT_FALSE(json["services"][0].contains("transport"));
  EXPECT_FALSE(json["services"][0].contains("libraryVersion"));
}

TEST_F(overview, the_app_version_comes_from_the_first_record_of_each_producer_instance) {
  send({.message = "starting", .fields = {{"service.version", "1.4.2"}}, .instance = {1, 1}});
  send({.message = "other", .fields = {{"version_note", "x"}}, .instance = {1, 1}});
  EXPECT_EQ(records_->services()[0].app_version, "1.4.2");
  // After a deploy: a new instance.
  send({.message = "starting", .fields = {{"appVersion", "1.5.0"}}, .instance = {2, 2}});
  EXPECT_EQ(records_->services()[0].app_version, "1.5.0");
  const auto json = parse(services_json_text(records_->services(), {}, k_default_max_bytes));
  EXPECT_EQ(json["services"][0]["appVersion"], "1.5.0");
  open();
  EXPECT_EQ(records_->services()[0].app_version, "1.5.0") << "recovered";
}

TEST_F(overview, lists_the_most_recently_seen_service_first) {
  send({.service = "a", .timestamp_ns = k_base});
  send({.service = "b", .timestamp_ns = k_base + 2 * k_s});
  send({.service = "c", .timestamp_ns = k_base + 1 * k_s});
  const auto all = records_->services();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].counts.service, "b");
  EXPECT_EQ(all[1].counts.service, "c");
  EXPECT_EQ(all[2].counts.service, "a");
}

TEST_F(overview, a_service_whose_records_were_all_evicted_still_appears_with_its_counters) {
  open({.memory_cap_bytes = 2 << 20, .dedup_window_ns = 0});
  const std::string padding(2000, 'p');
  for (int i = 0; i < 10; ++i)
    send({.service = "old", .message = padding, .timestamp_ns = k_base + i});
  for (int i = 0; i < 3000; ++i)
    send({.service = "new", .message = padding, .timestamp_ns = k_base + k_s + i});
  const auto all = records_->services();
  const service_overview* old = find(all, "old");
  ASSERT_NE(old, nullptr);
  EXPECT_EQ(old->counts.stored, 0u);
  EXPECT_EQ(old->counts.evicted, 10u);
  EXPECT_EQ(old->first_seen_ns, k_base);
  EXPECT_EQ(old->last_seen_ns, k_base + 9);
  const auto json = parse(services_json_text(all, {}, k_default_max_bytes));
  EXPECT_EQ(json["services"][1]["service"], "old");
  EXPECT_EQ(json["services"][1]["byLevel"], ordered_json::object());
  EXPECT_EQ(json["services"][1]["evicted"], 10);
}

TEST_F(overview, services_asked_for_by_name_and_the_names_never_seen) {
  send({.service = "a"});
  send({.service = "b"});
  const std::vector<std::string> asked = {"b", "nope"};
  const auto only = records_->services(asked);
  ASSERT_EQ(only.size(), 1u);
  EXPECT_EQ(only[0].counts.service, "b");
  const auto json = parse(services_json_text(only, asked, k_default_max_bytes));
  EXPECT_EQ(json["notSeen"], ordered_json::array({"nope"}));
}

TEST_F(overview, services_past_max_bytes_leave_out_the_least_recently_seen) {
  for (int i = 0; i < 100; ++i)
    send({.service = "service-" + std::to_string(i), .timestamp_ns = k_base + i * k_ms});
  const std::string text = services_json_text(records_->services(), {}, 5000);
  EXPECT_LE(text.size(), 5000u);
  const auto json = parse(text);
  const std::size_t shown = json["services"].size();
  EXPECT_GT(shown, 0u);
  EXPECT_EQ(json["omittedCount"], 100 - shown);
  EXPECT_EQ(json["totalCount"], 100);
  EXPECT_EQ(json["services"][0]["service"], "service-99");
}

TEST_F(overview, a_reopened_store_remembers_which_producers_are_connected) {
  connect("api", {1, 1}, "shared-memory", k_base);
  connect("worker", {2, 2}, "tcp", k_base);
  end("worker", {2, 2}, entry_kind::disconnected, k_base + k_s);
  open();
  const auto all = records_->services();
  EXPECT_EQ(find(all, "api")->producers, 1u);
  EXPECT_EQ(find(all, "api")->library_version, "0.1.0");
  EXPECT_EQ(find(all, "worker")->producers, 0u);
  EXPECT_EQ(find(all, "worker")->transport, "zeromq");
}

// ---------------------------------------------------------------------------------------
// summary

TEST_F(overview, summary_of_an_empty_store_says_nothing_is_there) {
  const store_summary s = records_->summary({});
  EXPECT_EQ(s.total_count, 0u);
  EXPECT_FALSE(s.oldest_ns);
  const auto json = parse(summary_json_text(s, {}, k_default_max_bytes));
  EXPECT_EQ(json["type"], "summary");
  EXPECT_EQ(json["totalCount"], 0);
  EXPECT_EQ(json["byService"], ordered_json::object());
  EXPECT_EQ(json["repeatedMessages"], ordered_json::array());
  EXPECT_EQ(json["errorCount"], 0);
  EXPECT_EQ(json["newestErrors"], ordered_json::array());
}

TEST_F(overview, summary_counts_by_service_and_level_in_the_whole_store_and_in_a_window) {
  for (int i = 0; i < 600; ++i) {
    const level severity = i % 10 == 0 ? level::error : level::info;
    send({.service = i % 3 == 0 ? "api" : "db",
          .severity = severity,
          .message = "m" + std::to_string(i),
          .timestamp_ns = k_base + i * k_ms});
  }
  const store_summary all = records_->summary({});
  EXPECT_EQ(all.total_count, 600u);
  EXPECT_EQ(all.oldest_ns, k_base);
  EXPECT_EQ(all.newest_ns, k_base + 599 * k_ms);
  std::map<std::string, std::array<std::uint64_t, k_levels>> expected_all, expected_window;
  for (int i = 0; i < 600; ++i) {
    const std::string service = i % 3 == 0 ? "api" : "db";
    const std::size_t l = static_cast<std::size_t>(i % 10 == 0 ? level::error : level::info);
    ++expected_all[service][l];
    if (i >= 100 && i < 450) ++expected_window[service][l];
  }
  EXPECT_EQ((std::map(all.by_service.begin(), all.by_service.end())), expected_all);

  const summary_query window{.since_ns = k_base + 100 * k_ms, .until_ns = k_base + 450 * k_ms};
  const store_summary some = records_->summary(window);
  EXPECT_EQ(some.total_count, 350u);
  EXPECT_EQ(some.oldest_ns, k_base + 100 * k_ms);
  EXPECT_EQ(some.newest_ns, k_base + 449 * k_ms);
  EXPECT_EQ((std::map(some.by_service.begin(), some.by_service.end())), expected_window);
  EXPECT_EQ(some.error_count, 35u);

  const auto json = parse(summary_json_text(some, window, k_default_max_bytes));
  EXPECT_EQ(json["since"], "2026-01-31T10:15:23.100Z");
  EXPECT_EQ(json["until"], "2026-01-31T10:15:23.450Z");
  EXPECT_EQ(json["byService"]["db"]["INFO"], expected_window["db"][2]);
  EXPECT_EQ(json["byService"]["api"]["ERROR"], expected_window["api"][4]);
}

TEST_F(overview, summary_for_one_service_counts_only_it) {
  send({.service = "api", .timestamp_ns = k_base});
  send({.service = "db", .timestamp_ns = k_base + k_s});
  send({.service = "db", .severity = level::error, .timestamp_ns = k_base + 2 * k_s});
  const store_summary s = records_->summary({.services = {"api"}});
  EXPECT_EQ(s.total_count, 1u);
  ASSERT_EQ(s.by_service.size(), 1u);
  EXPECT_EQ(s.by_service[0].first, "api");
  EXPECT_EQ(s.newest_ns, k_base);
  EXPECT_EQ(s.error_count, 0u);
}

TEST_F(overview, summary_names_the_most_repeated_messages_with_a_sample) {
  for (int i = 0; i < 5; ++i) {
    send({.service = "payments",
          .severity = level::warn,
          .message = "card declined",
          .request_id = "req-" + std::to_string(i),
          .timestamp_ns = k_base + i * k_s});
  }
  for (int i = 0; i < 3; ++i)
    send({.service = "api", .message = "cache miss", .timestamp_ns = k_base + i * k_ms});
  send({.service = "api", .message = "said once", .timestamp_ns = k_base + 10 * k_s});
  const store_summary s = records_->summary({});
  ASSERT_EQ(s.repeated.size(), 2u) << "a message seen once is not repeated";
  EXPECT_EQ(s.repeated[0].count, 5u);
  EXPECT_EQ(s.repeated[0].sample.message, "card declined");
  EXPECT_EQ(s.repeated[0].sample.service, "payments");
  EXPECT_EQ(s.repeated[0].sample.request_id, "req-4") << "the newest";
  EXPECT_EQ(s.repeated[1].count, 3u);
  EXPECT_EQ(s.repeated[1].sample.message, "cache miss");

  const auto json = parse(summary_json_text(s, {}, k_default_max_bytes));
  const auto& first = json["repeatedMessages"][0];
  EXPECT_EQ(first["count"], 5);
  EXPECT_EQ(first["service"], "payments");
  EXPECT_EQ(first["level"], "WARN");
  EXPECT_EQ(first["message"], "card declined");
  EXPECT_EQ(first["requestId"], "req-4");
  EXPECT_EQ(first["timestamp"], "2026-01-31T10:15:27.000Z");
  EXPECT_EQ(first["id"], std::to_string(s.repeated[0].sample.position));
}

TEST_F(overview, the_same_message_at_two_levels_or_services_is_two_messages) {
  for (int i = 0; i < 2; ++i) {
    send({.service = "a", .message = "x", .timestamp_ns = k_base + i});
    send({.service = "b", .message = "x", .timestamp_ns = k_base + i});
    send({.service = "a", .severity = level::error, .message = "x", .timestamp_ns = k_base + i});
  }
  const store_summary s = records_->summary({});
  ASSERT_EQ(s.repeated.size(), 3u);
  for (const repeated_message& m : s.repeated) EXPECT_EQ(m.count, 2u);
}

TEST_F(overview, repeats_folded_by_the_dedup_count_as_repeats) {
  open({.memory_cap_bytes = 8 << 20});  // dedup on
  for (int i = 0; i < 4; ++i)
    EXPECT_NE(send({.message = "burst", .timestamp_ns = k_base + i * k_ms}),
              insert_status::refused);
  ASSERT_EQ(records_->size(), 1u);
  const store_summary s = records_->summary({});
  ASSERT_EQ(s.repeated.size(), 1u);
  EXPECT_EQ(s.repeated[0].count, 4u);
  EXPECT_EQ(s.repeated[0].sample.repeat_count, 4u);
}

// A message in a third of the records across many blocks, among messages said once: its
// count in a window that cuts blocks in two is the exact count.
TEST_F(overview, a_frequent_message_is_counted_exactly_across_blocks_and_window_edges) {
  constexpr int k_records = 3000;
  for (int i = 0; i < k_records; ++i) {
    send({.message = i % 3 == 0 ? std::string("hot path") : "cold " + std::to_string(i),
          .timestamp_ns = k_base + i * k_ms});
  }
  const auto hot_between = [](int from, int to) {
    int n = 0;
    for (int i = from; i < to; ++i) n += i % 3 == 0;
    return static_cast<std::uint64_t>(n);
  };
  const store_summary all = records_->summary({});
  ASSERT_FALSE(all.repeated.empty());
  EXPECT_EQ(all.repeated[0].sample.message, "hot path");
  EXPECT_EQ(all.repeated[0].count, hot_between(0, k_records));
  EXPECT_EQ(all.repeated.size(), 1u);

  const store_summary some =
      records_->summary({.since_ns = k_base + 700 * k_ms, .until_ns = k_base + 2111 * k_ms});
  ASSERT_FALSE(some.repeated.empty());
  EXPECT_EQ(some.repeated[0].count, hot_between(700, 2111));
  EXPECT_EQ(some.repeated[0].sample.timestamp_ns, k_base + 2109 * k_ms) << "the newest in it";
}

TEST_F(overview, summary_gives_the_newest_errors_newest_first_with_their_request_ids) {
  for (int i = 0; i < 15; ++i) {
    send({.service = i % 2 == 0 ? "api" : "db",
          .severity = i == 14 ? level::fatal : level::error,
          .message = "failed " + std::to_string(i),
          .request_id = "req-" + std::to_string(i),
          .timestamp_ns = k_base + i * k_s});
    send({.message = "fine " + std::to_string(i), .timestamp_ns = k_base + i * k_s + 1});
  }
  const store_summary s = records_->summary({});
  EXPECT_EQ(s.error_count, 15u);
  ASSERT_EQ(s.newest_errors.size(), 10u);
  EXPECT_EQ(s.newest_errors[0].message, "failed 14");
  EXPECT_EQ(s.newest_errors[9].message, "failed 5");

  const auto json = parse(summary_json_text(s, {}, k_default_max_bytes));
  const auto& newest = json["newestErrors"][0];
  EXPECT_EQ(newest["level"], "FATAL");
  EXPECT_EQ(newest["service"], "api");
  EXPECT_EQ(newest["requestId"], "req-14");
  EXPECT_EQ(newest["timestamp"], "2026-01-31T10:15:37.000Z");
  EXPECT_EQ(newest["id"], std::to_string(s.newest_errors[0].position));

  const store_summary windowed =
      records_->summary({.services = {"db"}, .until_ns = k_base + 6 * k_s});
  EXPECT_EQ(windowed.error_count, 3u);
  ASSERT_EQ(windowed.newest_errors.size(), 3u);
  EXPECT_EQ(windowed.newest_errors[0].message, "failed 5");
}

TEST_F(overview, the_newest_errors_are_newest_by_time_even_when_an_older_one_arrived_last) {
  send({.severity = level::error, .message = "late in time", .timestamp_ns = k_base + 10 * k_s});
  for (int i = 0; i < 600; ++i)
    send({.message = "filler " + std::to_string(i), .timestamp_ns = k_base + 5 * k_s + i});
  send({.severity = level::error, .message = "arrived last", .timestamp_ns = k_base + k_s});
  const store_summary s = records_->summary({.newest_errors = 1});
  EXPECT_EQ(s.error_count, 2u);
  ASSERT_EQ(s.newest_errors.size(), 1u);
  EXPECT_EQ(s.newest_errors[0].message, "late in time");
}

TEST_F(overview, summary_stays_under_max_bytes_and_cuts_long_messages_with_their_id) {
  const std::string long_text(5000, 'w');
  for (int i = 0; i < 30; ++i) {
    send({.severity = level::error,
          .message = long_text + std::to_string(i % 12),
          .timestamp_ns = k_base + i * k_ms});
  }
  const store_summary s = records_->summary({});
  const std::string text = summary_json_text(s, {}, 4000);
  EXPECT_LE(text.size(), 4000u);
  const auto json = parse(text);
  EXPECT_EQ(json["textCut"], true);
  EXPECT_GT(json["omittedCount"].get<int>(), 0);
  const std::string message = json["newestErrors"][0]["message"];
  EXPECT_NE(message.find("returns it whole]"), std::string::npos) << message;
  EXPECT_NE(message.find(json["newestErrors"][0]["id"].get<std::string>()), std::string::npos);
}

// ---------------------------------------------------------------------------------------
// ids

TEST_F(overview, every_record_of_an_answer_has_its_id_and_the_id_fetches_it_whole) {
  const std::string long_message(100'000, 'x');
  send({.message = "short"});
  send({.message = long_message,
        .fields = {{"body", std::string(50'000, 'b')}},
        .timestamp_ns = k_base + 1});
  const auto page = parse(observe_json_text(records_->query({}).value(), 20'000));
  ASSERT_EQ(page["logs"].size(), 2u);
  EXPECT_EQ(page["textCut"], true);
  const std::string id = page["logs"][1]["id"];
  EXPECT_NE(page["logs"][0]["id"], id);
  const std::string shown = page["logs"][1]["message"];
  EXPECT_LT(shown.size(), 2000u);
  EXPECT_NE(shown.find("observe {what: \"backend-logs\", id: \"" + id + "\"} returns it whole"),
            std::string::npos);

  const auto fetched = records_->record_by_id(std::stoull(id));
  ASSERT_TRUE(fetched) << fetched.error().message;
  const auto whole = parse(record_json_text(*fetched));
  EXPECT_EQ(whole["type"], "backend-logs");
  EXPECT_EQ(whole["totalCount"], 1);
  EXPECT_EQ(whole["logs"][0]["message"], long_message);
  EXPECT_EQ(whole["logs"][0]["fields"]["body"], std::string(50'000, 'b'));
  EXPECT_EQ(whole["logs"][0]["id"], id);
  EXPECT_FALSE(whole.contains("textCut"));
}

TEST_F(overview, a_record_too_long_even_alone_is_cut_to_a_mebibyte_and_says_so) {
  log_record record;
  record.position = 5;
  record.message = std::string(900'000, 'm');
  record.stack_trace = std::string(900'000, 's');
  const std::string text = record_json_text(record);
  EXPECT_LE(text.size(), k_max_whole_record_bytes);
  const auto json = parse(text);
  EXPECT_EQ(json["textCut"], true);
  const std::string message = json["logs"][0]["message"];
  EXPECT_NE(message.find("too long to show whole"), std::string::npos);
}

TEST_F(overview, an_id_never_given_or_evicted_is_not_found_with_a_hint) {
  open({.memory_cap_bytes = 2 << 20, .dedup_window_ns = 0});
  send({.message = "first"});
  const std::uint64_t first = records_->query({}).value().logs[0].position;
  const auto never = records_->record_by_id(first + 1'000'000);
  ASSERT_FALSE(never);
  EXPECT_EQ(never.error().code, "not_found");
  EXPECT_FALSE(never.error().hint.empty());
  const auto between = records_->record_by_id(first + 1);
  ASSERT_FALSE(between);
  EXPECT_EQ(between.error().code, "not_found");

  const std::string padding(2000, 'p');
  for (int i = 0; i < 3000; ++i) send({.message = padding, .timestamp_ns = k_base + i});
  const auto evicted = records_->record_by_id(first);
  ASSERT_FALSE(evicted);
  EXPECT_EQ(evicted.error().code, "not_found");
  EXPECT_NE(evicted.error().message.find("evicted"), std::string::npos) << evicted.error().message;
  EXPECT_NE(evicted.error().hint.find("oldest record kept now"), std::string::npos);
}

// ---------------------------------------------------------------------------------------
// arguments

TEST(observe_request, accepts_every_mode_in_either_spelling) {
  for (const auto& [what, mode] : {std::pair{"backend-logs", observe_mode::backend_logs},
                                   std::pair{"backend_logs", observe_mode::backend_logs},
                                   std::pair{"services", observe_mode::services},
                                   std::pair{"summary", observe_mode::summary}}) {
    const auto request = parse_observe_request({{"what", what}}, k_base);
    ASSERT_TRUE(request) << what;
    EXPECT_EQ(request->mode, mode);
    EXPECT_EQ(request->max_bytes, k_default_max_bytes);
  }
}

TEST(observe_request, an_unknown_mode_lists_the_known_ones) {
  const auto request = parse_observe_request({{"what", "frontend-logs"}}, k_base);
  ASSERT_FALSE(request);
  EXPECT_EQ(request.error().code, "unknown_mode");
  EXPECT_NE(request.error().message.find("backend-logs, services, summary"), std::string::npos);
  EXPECT_FALSE(request.error().hint.empty());
}

TEST(observe_request, a_mode_refuses_arguments_it_does_not_take) {
  const auto services = parse_observe_request({{"what", "services"}, {"level", "ERROR"}}, k_base);
  ASSERT_FALSE(services);
  EXPECT_EQ(services.error().code, "invalid_param");
  EXPECT_TRUE(services.error().message.starts_with("level ")) << services.error().message;
  const auto summary = parse_observe_request({{"what", "summary"}, {"requestId", "r"}}, k_base);
  ASSERT_FALSE(summary);
  EXPECT_TRUE(summary.error().message.starts_with("requestId ")) << summary.error().message;
}

TEST(observe_request, summary_takes_a_window_and_services) {
  const auto request = parse_observe_request(
      {{"what", "summary"}, {"service", "api"}, {"since", "5m"}, {"until", "1m"}}, k_base);
  ASSERT_TRUE(request) << request.error().message;
  EXPECT_EQ(request->query.services, std::vector<std::string>{"api"});
  EXPECT_EQ(request->query.since_ns, k_base - 300 * k_s);
  EXPECT_EQ(request->query.until_ns, k_base - 60 * k_s);
}

TEST(observe_request, max_bytes_must_be_within_its_range) {
  for (const auto& bad :
       {ordered_json(999), ordered_json(1'048'577), ordered_json("20000"), ordered_json(2000.5)}) {
    const auto request =
        parse_observe_request({{"what", "backend-logs"}, {"maxBytes", bad}}, k_base);
    ASSERT_FALSE(request) << bad.dump();
    EXPECT_EQ(request.error().code, "invalid_param");
    EXPECT_TRUE(request.error().message.starts_with("maxBytes")) << request.error().message;
  }
  const auto request =
      parse_observe_request({{"what", "backend-logs"}, {"maxBytes", 20'000}}, k_base);
  ASSERT_TRUE(request);
  EXPECT_EQ(request->max_bytes, 20'000u);
}

TEST(observe_request, an_id_is_digits_and_goes_alone) {
  const auto text = parse_observe_request({{"what", "backend-logs"}, {"id", "8812"}}, k_base);
  ASSERT_TRUE(text);
  EXPECT_EQ(text->id, 8812u);
  const auto number = parse_observe_request({{"what", "backend_logs"}, {"id", 8812}}, k_base);
  ASSERT_TRUE(number);
  EXPECT_EQ(number->id, 8812u);
  for (const auto& bad : {ordered_json("88a"), ordered_json(""), ordered_json(-1),
                          ordered_json("123456789012345678901")}) {
    const auto request = parse_observe_request({{"what", "backend-logs"}, {"id", bad}}, k_base);
    ASSERT_FALSE(request) << bad.dump();
    EXPECT_TRUE(request.error().message.starts_with("id ")) << request.error().message;
  }
  const auto with_filter =
      parse_observe_request({{"what", "backend-logs"}, {"id", "1"}, {"level", "ERROR"}}, k_base);
  ASSERT_FALSE(with_filter);
  EXPECT_EQ(with_filter.error().code, "invalid_param");
}

// ---------------------------------------------------------------------------------------
// pages under maxBytes

class bounded_pages : public overview {
 protected:
  // Every record of `query`, following nextCursor page after page under `max_bytes`.
  std::vector<std::string> follow_older(store_query query, std::size_t max_bytes) {
    std::vector<std::string> ids;
    for (int pages = 0; pages < 1000; ++pages) {
      const std::string text = observe_json_text(records_->query(query).value(), max_bytes);
      EXPECT_LE(text.size(), max_bytes);
      const auto json = parse(text);
      EXPECT_GT(json["logs"].size(), 0u);
      // Each page is oldest first; pages go back in time.
      std::vector<std::string> page;
      for (const auto& r : json["logs"]) page.push_back(r["id"]);
      ids.insert(ids.begin(), page.begin(), page.end());
      if (!json.contains("nextCursor")) break;
      query.cursor = parse_cursor(json["nextCursor"].get<std::string>());
    }
    return ids;
  }

  std::vector<std::string> all_ids() {
    std::vector<std::string> ids;
    for (const log_record& r : records_->query({.limit = 1000}).value().logs)
      ids.push_back(std::to_string(r.position));
    return ids;
  }
};

TEST_F(bounded_pages, a_page_cut_to_max_bytes_pages_on_to_every_record_without_gaps) {
  for (int i = 0; i < 300; ++i) {
    send({.message = "record " + std::to_string(i) + " " + std::string(150, 'r'),
          .timestamp_ns = k_base + i * k_ms});
  }
  const std::string first = observe_json_text(records_->query({.limit = 1000}).value(), 5000);
  const auto json = parse(first);
  EXPECT_LE(first.size(), 5000u);
  const std::size_t shown = json["logs"].size();
  EXPECT_EQ(json["omittedCount"], 300 - shown);
  EXPECT_EQ(json["totalCount"], 300);
  EXPECT_EQ(json["logs"][shown - 1]["message"].get<std::string>().substr(0, 10), "record 299");

  const auto ids = follow_older({.limit = 1000}, 5000);
  EXPECT_EQ(ids, all_ids());
}

TEST_F(bounded_pages, newer_pages_cut_to_max_bytes_reach_every_record_that_arrived) {
  send({.message = "before"});
  const auto start = parse(observe_json_text(records_->query({}).value(), 2000));
  std::string cursor = start["newerCursor"];
  for (int i = 0; i < 100; ++i) {
    send({.message = "arrived " + std::to_string(i) + " " + std::string(100, 'a'),
          .timestamp_ns = k_base + (i + 1) * k_ms});
  }
  std::vector<std::string> ids;
  for (int pages = 0; pages < 200; ++pages) {
    const std::string text = observe_json_text(
        records_->query({.limit = 1000, .cursor = parse_cursor(cursor)}).value(), 2000);
    EXPECT_LE(text.size(), 2000u);
    const auto json = parse(text);
    if (json["logs"].empty()) break;
    for (const auto& r : json["logs"]) ids.push_back(r["id"]);
    cursor = json["newerCursor"];
  }
  auto expected = all_ids();
  expected.erase(expected.begin());  // "before"
  EXPECT_EQ(ids, expected);
}

TEST_F(bounded_pages, the_newest_record_stays_even_when_it_alone_passes_max_bytes) {
  std::vector<std::string> keys;
  for (int i = 0; i < 40; ++i) keys.push_back("f" + std::to_string(i));
  const std::string value(300, 'v');
  std::vector<field> fields;
  for (const std::string& key : keys) fields.emplace_back(key, value);
  send({.message = "older"});
  send({.message = std::string(3000, 'n'), .fields = fields, .timestamp_ns = k_base + 1});
  const auto json = parse(observe_json_text(records_->query({}).value(), 1000));
  ASSERT_EQ(json["logs"].size(), 1u);
  EXPECT_EQ(json["omittedCount"], 1);
  EXPECT_TRUE(json.contains("nextCursor"));
  EXPECT_EQ(json["textCut"], true);
}

TEST_F(bounded_pages, counts_of_many_services_give_way_to_the_records) {
  for (int i = 0; i < 200; ++i)
    send({.service = "service-" + std::to_string(i), .timestamp_ns = k_base + i});
  const std::string text = observe_json_text(records_->query({.limit = 10}).value(), 4000);
  EXPECT_LE(text.size(), 4000u);
  const auto json = parse(text);
  EXPECT_EQ(json["logs"].size(), 10u);
  EXPECT_GT(json["countsOmitted"].get<int>(), 0);
  EXPECT_TRUE(json["counts"].contains("service-199")) << "the page's services come first";
}

}  // namespace
}  // namespace logwire
