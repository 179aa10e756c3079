#include "soak/soak_queries.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <string_view>
#include <thread>
#include <zmq.hpp>

#include "logwire/query_protocol.h"

namespace logwire::testing {
namespace {

using clock_type = std::chrono::steady_clock;

constexpr std::size_t k_request_pool = 4096;
constexpr std::size_t k_problems_kept = 5;
// Words of the realistic mix (tools/src/realistic_mix.cc) in other cases than it writes
// them, since text search ignores ASCII case, and one it never writes.
constexpr std::array<std::string_view, 4> k_text_words = {"DEADLOCK", "paymentgatewaytimeout",
                                                          "Retrying connection", "qzx-absent-7d1f"};
constexpr std::string_view k_absent_word = "qzx-absent-7d1f";
// Present words are expected in the store once this much of the load has gone by.
constexpr auto k_text_warm_up = std::chrono::seconds(5);
constexpr std::array<std::string_view, 3> k_levels = {"INFO", "WARN", "ERROR"};
constexpr std::array<std::string_view, 6> k_level_order = {"TRACE", "DEBUG", "INFO",
                                                           "WARN",  "ERROR", "FATAL"};

int level_rank(std::string_view name) {
  const auto found = std::find(k_level_order.begin(), k_level_order.end(), name);
  return found == k_level_order.end() ? -1 : static_cast<int>(found - k_level_order.begin());
}

bool contains_ignoring_case(std::string_view haystack, std::string_view needle) {
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(),
                     [](char a, char b) {
                       return std::tolower(static_cast<unsigned char>(a)) ==
                              std::tolower(static_cast<unsigned char>(b));
                     }) != haystack.end();
}

std::string text_member(const nlohmann::json& object, const char* key) {
  const auto found = object.find(key);
  return found != object.end() && found->is_string() ? found->get<std::string>() : std::string();
}

std::size_t count_member(const nlohmann::json& object, const char* key) {
  const auto found = object.find(key);
  return found != object.end() && found->is_number_unsigned() ? found->get<std::size_t>() : 0;
}

}  // namespace

struct timed_query_client::connection {
  zmq::context_t context{1};
  std::unique_ptr<zmq::socket_t> socket;
};

timed_query_client::timed_query_client(std::string endpoint)
    : endpoint_(std::move(endpoint)), connection_(std::make_unique<connection>()) {}

timed_query_client::~timed_query_client() = default;

std::optional<timed_query_client::reply> timed_query_client::observe(
    const nlohmann::json& params, std::chrono::milliseconds timeout) {
  if (!connection_->socket) {
    connection_->socket =
        std::make_unique<zmq::socket_t>(connection_->context, zmq::socket_type::req);
    connection_->socket->set(zmq::sockopt::linger, 0);
    connection_->socket->set(zmq::sockopt::maxmsgsize,
                             static_cast<std::int64_t>(k_max_query_reply));
    connection_->socket->connect(endpoint_);
  }
  zmq::socket_t& socket = *connection_->socket;
  const nlohmann::json request = {
      {"v", k_query_protocol_version}, {"method", "observe"}, {"params", params}};
  const std::string payload = request.dump();

  const auto start = clock_type::now();
  socket.send(zmq::buffer(payload), zmq::send_flags::none);
  zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
  zmq::poll(&item, 1, timeout);
  zmq::message_t message;
  if ((item.revents & ZMQ_POLLIN) == 0 || !socket.recv(message, zmq::recv_flags::none)) {
    connection_->socket.reset();  // a REQ socket that got no reply cannot send again
    return std::nullopt;
  }
  const auto end = clock_type::now();
  reply out;
  out.ms = std::chrono::duration<double, std::milli>(end - start).count();
  out.bytes = message.size();
  out.body = nlohmann::json::parse(message.to_string_view(), nullptr, false);
  if (out.body.is_object()) {
    const auto timing = out.body.find("timing");
    if (timing != out.body.end() && timing->is_object())
      out.store_ms = timing->value("storeMs", -1.0);
  }
  return out;
}

query_loop::query_loop(std::string endpoint, query_loop_options options)
    : client_(std::move(endpoint)), options_(std::move(options)) {}

std::array<query_kind_report, k_query_kinds> query_loop::report() const {
  std::lock_guard lock(mutex_);
  return reports_;
}

void query_loop::problem(query_kind kind, bool error, std::string text) {
  std::lock_guard lock(mutex_);
  query_kind_report& report = reports_[static_cast<int>(kind)];
  ++(error ? report.errors : report.mismatch);
  if (report.problems.size() < k_problems_kept) report.problems.push_back(std::move(text));
}

const nlohmann::json* query_loop::result_of(query_kind kind,
                                            const std::optional<timed_query_client::reply>& r,
                                            const nlohmann::json& params) {
  if (!r) {
    problem(
        kind, true,
        "no reply within " + std::to_string(options_.timeout.count()) + " ms to " + params.dump());
    return nullptr;
  }
  if (r->body.is_discarded() || !r->body.is_object()) {
    problem(kind, true, "a reply that is not a JSON object, to " + params.dump());
    return nullptr;
  }
  if (const auto error = r->body.find("error"); error != r->body.end()) {
    problem(kind, true, error->dump() + " to " + params.dump());
    return nullptr;
  }
  const auto result = r->body.find("result");
  if (result == r->body.end() || !result->is_object() || !result->contains("logs") ||
      !(*result)["logs"].is_array()) {
    problem(kind, true, "a reply without result.logs to " + params.dump());
    return nullptr;
  }
  if (r->store_ms < 0) {
    problem(kind, true, "a reply without timing.storeMs to " + params.dump());
    return nullptr;
  }
  std::lock_guard lock(mutex_);
  reports_[static_cast<int>(kind)].latency.add(r->ms);
  reports_[static_cast<int>(kind)].store_latency.add(r->store_ms);
  return &*result;
}

void query_loop::run() {
  try {
    ask_until_stopped();
  } catch (const std::exception& e) {
    // A failure here must not end the process with the broker and producers still up.
    problem(query_kind::service, true, std::string("the query loop stopped: ") + e.what());
  }
}

void query_loop::ask_until_stopped() {
  started_ = clock_type::now();
  const auto tick = std::chrono::duration_cast<clock_type::duration>(
      std::chrono::duration<double>(1.0 / options_.fast_per_second));
  const auto text_every = static_cast<std::uint64_t>(
      std::max(1.0, std::round(options_.fast_per_second / options_.text_per_second)));
  auto next = clock_type::now();
  for (std::uint64_t round = 0; !stop_.load(); ++round) {
    std::this_thread::sleep_until(next);
    if (stop_.load()) break;
    ask_service(round);
    ask_request(round);
    if (options_.text_per_second > 0 && round % text_every == 0) ask_text(round / text_every);
    // Behind schedule (a slow answer): go on from now rather than ask in a burst.
    next = std::max(next + tick, clock_type::now());
  }
}

void query_loop::ask_service(std::uint64_t round) {
  const std::string& service = options_.services[round % options_.services.size()];
  const std::string_view level = k_levels[(round / options_.services.size()) % k_levels.size()];
  const nlohmann::json params = {
      {"what", "backend-logs"}, {"service", service}, {"level", level}, {"limit", 100}};
  // The reply outlives every use of its result.
  const auto reply = client_.observe(params, options_.timeout);
  const nlohmann::json* result = result_of(query_kind::service, reply, params);
  if (result == nullptr) return;
  const nlohmann::json& logs = (*result)["logs"];
  const std::size_t total = count_member(*result, "totalCount");
  const std::size_t omitted = count_member(*result, "omittedCount");
  if (logs.size() > 100 || total < logs.size() || (total >= 100 && logs.size() + omitted != 100)) {
    problem(query_kind::service, false,
            std::to_string(logs.size()) + " logs (" + std::to_string(omitted) +
                " omitted) of totalCount " + std::to_string(total) + " for " + params.dump());
  }
  std::string newest;
  for (const auto& log : logs) {
    const std::string got_service = text_member(log, "service");
    const std::string got_level = text_member(log, "level");
    if (got_service != service || level_rank(got_level) < level_rank(level)) {
      problem(
          query_kind::service, false,
          "a " + got_level + " record of '" + got_service + "' in the answer to " + params.dump());
      return;
    }
    const std::string id = text_member(log, "requestId");
    if (id.empty()) continue;
    newest = id;
    if (request_pool_.size() < k_request_pool) {
      request_pool_.push_back(id);
    } else {
      request_pool_[pool_next_++ % k_request_pool] = id;
    }
  }
  if (!newest.empty()) fresh_request_id_ = newest;
}

void query_loop::ask_request(std::uint64_t round) {
  // Every other lookup is of a request that was just answered, so it must be found; the
  // rest are of requests seen earlier, some of them evicted since.
  const bool fresh = round % 2 == 0;
  if (fresh ? fresh_request_id_.empty() : request_pool_.empty()) return;
  const std::string id =
      fresh ? fresh_request_id_ : request_pool_[random_() % request_pool_.size()];
  if (fresh) fresh_request_id_.clear();
  const nlohmann::json params = {{"what", "backend-logs"}, {"requestId", id}};
  // The reply outlives every use of its result.
  const auto reply = client_.observe(params, options_.timeout);
  const nlohmann::json* result = result_of(query_kind::request, reply, params);
  if (result == nullptr) return;
  const nlohmann::json& logs = (*result)["logs"];
  if (fresh && logs.empty()) {
    problem(query_kind::request, false,
            "no record of a request the store just answered with, for " + params.dump());
  }
  for (const auto& log : logs) {
    if (text_member(log, "requestId") != id) {
      problem(query_kind::request, false,
              "a record of request '" + text_member(log, "requestId") + "' in the answer to " +
                  params.dump());
      return;
    }
  }
}

void query_loop::ask_text(std::uint64_t round) {
  const std::string_view word = k_text_words[round % k_text_words.size()];
  const nlohmann::json params = {{"what", "backend-logs"}, {"text", word}, {"limit", 100}};
  // The reply outlives every use of its result.
  const auto reply = client_.observe(params, options_.timeout);
  const nlohmann::json* result = result_of(query_kind::text, reply, params);
  if (result == nullptr) return;
  const std::size_t total = count_member(*result, "totalCount");
  if (word == k_absent_word ? total != 0
                            : total == 0 && clock_type::now() - started_ > k_text_warm_up) {
    problem(query_kind::text, false,
            "totalCount " + std::to_string(total) + " for " + params.dump());
  }
  for (const auto& log : (*result)["logs"]) {
    if (!contains_ignoring_case(text_member(log, "message"), word) &&
        !contains_ignoring_case(text_member(log, "stackTrace"), word)) {
      problem(query_kind::text, false,
              "a record without the text: '" + text_member(log, "message") + "' in the answer to " +
                  params.dump());
      return;
    }
  }
}

void report_queries(const std::string& when, const query_reports& reports, soak_verdict& outcome) {
  for (int k = 0; k < k_query_kinds; ++k) {
    const query_kind_report& r = reports[k];
    std::printf(
        "store_soak: %-7s queries %s: %zu (budget %.0f ms); in the store p50 %.3f ms, p99 %.3f "
        "ms, max %.3f ms; round trip p50 %.3f ms, p99 %.3f ms, max %.3f ms; %llu errors, %llu "
        "answers that do not fit\n",
        k_query_kind_names[k], when.c_str(), r.latency.count(), k_budget_ms[k],
        r.store_latency.percentile(50), r.store_latency.percentile(99), r.store_latency.max(),
        r.latency.percentile(50), r.latency.percentile(99), r.latency.max(),
        static_cast<unsigned long long>(r.errors), static_cast<unsigned long long>(r.mismatch));
    for (const auto& problem : r.problems) std::printf("store_soak:   %s\n", problem.c_str());
    outcome.check(
        r.latency.count() > 0 && r.errors == 0 && r.mismatch == 0,
        std::string(k_query_kind_names[k]) + " queries " + when + " asked, each answered as asked");
  }
}

void check_latency(bool strict, const query_reports& loaded, const query_reports& quiet,
                   soak_verdict& outcome) {
  for (int k = 0; k < k_query_kinds; ++k) {
    const std::string name = k_query_kind_names[k];
    const double budget = k_budget_ms[k];
    const double allowed = budget + k_scheduler_allowance_ms;
    const double store_bound = strict ? budget : allowed;
    const std::string store_rule =
        strict ? " (the budget)" : " (the budget + one scheduling period)";
    const double percentile = strict ? 99 : 95;
    const std::string p_name = strict ? "p99" : "p95";
    for (const auto& [when, reports] :
         {std::pair<std::string, const query_reports*>{"under load", &loaded},
          std::pair<std::string, const query_reports*>{"after the load, store full", &quiet}}) {
      const double in_store = (*reports)[k].store_latency.percentile(percentile);
      const double trip = (*reports)[k].latency.percentile(percentile);
      outcome.check(in_store <= store_bound,
                    name + " query " + p_name + " in the store " + when + " " + fixed(in_store, 3) +
                        " ms <= " + fixed(store_bound, 0) + " ms" + store_rule);
      outcome.check(trip <= allowed, name + " query " + p_name + " round trip " + when + " " +
                                         fixed(trip, 3) + " ms <= " + fixed(allowed, 0) +
                                         " ms (the budget + one scheduling period)");
    }
  }
}

}  // namespace logwire::testing
