// mcp_bench: observe as an agent measures it, over MCP on stdio through a real
// logwire-mcp and a real broker holding 1,000,000 records of the realistic mix. Each time
// runs from writing the tools/call line to reading the whole reply line: bridge, broker,
// store and JSON together (issue 6's budgets: backend-logs newest 100 of a service and
// level p99 <= 20 ms; services and summary p99 <= 50 ms).
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "support/broker_ready.h"
#include "support/child_process.h"
#include "support/temp_runtime_dir.h"

namespace {

using namespace std::chrono_literals;
using logwire::testing::binary_path;
using logwire::testing::child_process;
using nlohmann::json;
using clock_type = std::chrono::steady_clock;

constexpr int k_services = 10;
constexpr std::uint64_t k_records = 1'000'000;
constexpr int k_calls = 400;

std::string service_name(int i) {
  return "svc-" + std::to_string(i);
}

double percentile(std::vector<double> samples, double p) {
  std::sort(samples.begin(), samples.end());
  const auto rank = static_cast<std::size_t>(p / 100 * static_cast<double>(samples.size()));
  return samples[std::min(rank, samples.size() - 1)];
}

class bridge_session {
 public:
  explicit bridge_session(const std::string& runtime, const std::string& log)
      : process_({binary_path("logwire-mcp"), "--runtime-dir", runtime, "--no-start-broker"},
                 {.pipe_stdin = true, .pipe_stdout = true, .stderr_file = log}) {
    call("initialize", {{"protocolVersion", "2025-11-25"},
                        {"capabilities", json::object()},
                        {"clientInfo", {{"name", "mcp_bench"}, {"version", "1"}}}});
    process_.write_line(R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
  }

  // The reply, and how long it took in ms.
  std::pair<json, double> call(const std::string& method, const json& params) {
    const json message = {
        {"jsonrpc", "2.0"}, {"id", ++id_}, {"method", method}, {"params", params}};
    const std::string line = message.dump();
    const auto start = clock_type::now();
    process_.write_line(line);
    const auto reply = process_.read_line(30s);
    const double ms = std::chrono::duration<double, std::milli>(clock_type::now() - start).count();
    return {reply ? json::parse(*reply, nullptr, false) : json(), ms};
  }

 private:
  child_process process_;
  int id_ = 0;
};

struct figure {
  const char* name;
  double budget_ms;
  std::vector<double> ms;
  std::size_t bytes = 0;
  std::string error;
};

void time_calls(bridge_session& bridge, figure& f, const std::function<json(int)>& arguments) {
  for (int i = 0; i < k_calls + 20; ++i) {
    const auto [reply, ms] =
        bridge.call("tools/call", {{"name", "observe"}, {"arguments", arguments(i)}});
    const json& result = reply.contains("result") ? reply["result"] : json();
    if (!result.is_object() || result.value("isError", true)) {
      f.error = reply.dump().substr(0, 300);
      return;
    }
    if (i < 20) continue;  // warm-up
    f.ms.push_back(ms);
    f.bytes = std::max(f.bytes, result["content"][0]["text"].get<std::string>().size());
  }
}

}  // namespace

int main() {
  logwire::testing::temp_runtime_dir runtime;
  child_process broker({binary_path("logwire-broker"), "--runtime-dir", runtime.string(),
                        "--listen", "none", "--rate-limit", "0", "--memory-cap", "2GiB"},
                       {.stderr_file = runtime.log_file("broker").string()});
  if (!logwire::testing::broker_answers(runtime.path(), 10s)) {
    std::fprintf(stderr, "mcp_bench: the broker did not start\n");
    return 1;
  }
  std::printf(
      "mcp_bench: filling the store with %llu records of the realistic mix from %d services\n",
      static_cast<unsigned long long>(k_records), k_services);
  const auto fill_start = clock_type::now();
  std::vector<std::unique_ptr<child_process>> loads;
  for (int s = 0; s < k_services; ++s) {
    loads.push_back(std::make_unique<child_process>(
        std::vector<std::string>{binary_path("logwire"), "--runtime-dir", runtime.string(), "load",
                                 "--service", service_name(s), "--count",
                                 std::to_string(k_records / k_services), "--rate", "60000", "--mix",
                                 "realistic"},
        child_process::options{.pipe_stdout = true,
                               .stderr_file = runtime.log_file("load").string()}));
  }
  for (auto& load : loads) load->wait(300s);

  bridge_session bridge(runtime.string(), runtime.log_file("bridge").string());
  // Wait until the broker holds what was logged (folded repeats aside).
  std::uint64_t stored = 0;
  for (int tries = 0; tries < 600; ++tries) {
    const auto [reply, ms] =
        bridge.call("tools/call",
                    {{"name", "observe"}, {"arguments", {{"what", "backend-logs"}, {"limit", 1}}}});
    std::uint64_t total = 0;
    for (const auto& [service, c] : reply["result"]["structuredContent"]["counts"].items())
      total += c.value("stored", 0ull) + c.value("deduplicated", 0ull);
    if (total >= k_records) {
      stored = reply["result"]["structuredContent"].value("totalCount", 0ull);
      break;
    }
    std::this_thread::sleep_for(100ms);
  }
  std::printf("mcp_bench: %llu entries stored in %.1f s\n", static_cast<unsigned long long>(stored),
              std::chrono::duration<double>(clock_type::now() - fill_start).count());

  constexpr std::array<const char*, 3> k_levels = {"INFO", "WARN", "ERROR"};
  figure newest{"backend-logs, a service >= level, newest 100", 20, {}};
  time_calls(bridge, newest, [&](int i) {
    return json{{"what", "backend-logs"},
                {"service", service_name(i % k_services)},
                {"level", k_levels[(i / k_services) % k_levels.size()]},
                {"limit", 100}};
  });
  figure services{"services", 50, {}};
  time_calls(bridge, services, [](int) { return json{{"what", "services"}}; });
  figure summary{"summary, whole store", 50, {}};
  time_calls(bridge, summary, [](int) { return json{{"what", "summary"}}; });
  figure summary_window{"summary, last 10 s", 50, {}};
  time_calls(bridge, summary_window, [](int) {
    return json{{"what", "summary"}, {"since", "10s"}};
  });

  for (const figure* f : {&newest, &services, &summary, &summary_window}) {
    if (!f->error.empty() || f->ms.empty()) {
      std::printf("  %-46s not measured: %s\n", f->name, f->error.c_str());
      continue;
    }
    const double p99 = percentile(f->ms, 99);
    std::printf(
        "  %-46s p50 %6.2f ms  p99 %6.2f ms  max %6.2f ms  (reply up to %zu bytes)  goal p99 <= "
        "%.0f ms: %s\n",
        f->name, percentile(f->ms, 50), p99, *std::max_element(f->ms.begin(), f->ms.end()),
        f->bytes, f->budget_ms, p99 <= f->budget_ms ? "met" : "MISSED");
  }
  return 0;
}
