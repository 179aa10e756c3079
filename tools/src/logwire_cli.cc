// logwire: the command line. `send` logs one record through the producer library, as a
// backend would; `load` logs many, for tests and benchmarks; `query` asks the broker what
// an agent's observe call would see.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <utility>
#include <variant>
#include <vector>

#include "field_argument.h"
#include "load_generator.h"
#include "logwire/broker_client.h"
#include "logwire/producer.h"
#include "logwire/runtime_dir.h"
#include "logwire/version.h"

namespace {

constexpr int k_exit_failure = 1;
constexpr int k_exit_usage = 2;
// One record needs little room; the ring is sized for it, not for a backend.
constexpr std::size_t k_send_ring_bytes = 256 * 1024;

struct send_options {
  std::string service;
  std::string level = "INFO";
  std::string request_id;
  std::string traceparent;
  std::string span_id;
  std::string stack_trace;
  std::vector<std::string> fields;
  std::string message;
};

struct query_options {
  std::string what = "backend-logs";
  std::string id;
  std::size_t max_bytes = 0;  // 0: the broker's default
  std::vector<std::string> services;
  std::string level;
  int limit = 100;
  std::string since;
  std::string until;
  std::string request_id;
  std::string trace_id;
  std::string span_id;
  std::string session_id;
  std::string user_id;
  std::string text;
  std::vector<std::string> fields;
  std::string cursor;
};

int run_send(const std::filesystem::path& runtime_path, const send_options& options) {
  const auto severity = logwire::parse_level(options.level);
  if (!severity) {
    std::cerr << "logwire send: '" << options.level
              << "' is not a level; accepted: " << logwire::k_level_names << "\n";
    return k_exit_usage;
  }
  std::vector<logwire::field_argument> arguments;
  for (const std::string& text : options.fields) {
    auto parsed = logwire::parse_field_argument(text);
    if (!parsed) {
      std::cerr << "logwire send: " << parsed.error().message << "\n";
      return k_exit_usage;
    }
    arguments.push_back(std::move(*parsed));
  }
  std::vector<logwire::field> fields;
  for (const auto& argument : arguments) fields.push_back(argument.as_field());

  auto dir = logwire::runtime_dir::open(runtime_path);
  if (!dir) {
    std::cerr << "logwire send: " << dir.error().message << "\n";
    return k_exit_failure;
  }
  auto producer = logwire::producer::open(
      {.service = options.service, .runtime_dir = dir->path(), .ring_bytes = k_send_ring_bytes});
  if (!producer) {
    std::cerr << "logwire send: " << producer.error().message << "\n";
    return k_exit_failure;
  }
  const bool written = producer->write({.severity = *severity,
                                        .message = options.message,
                                        .context = {.request_id = options.request_id,
                                                    .traceparent = options.traceparent,
                                                    .span_id = options.span_id,
                                                    .stack_trace = options.stack_trace},
                                        .fields = fields});
  if (!written) {
    std::cerr << "logwire send: the record was refused (larger than the ring allows)\n";
    return k_exit_failure;
  }
  if (!std::filesystem::exists(dir->path() / "query.sock")) {
    std::cerr << "logwire send: note: no broker is running for " << dir->path().string()
              << "; the record waits in shared memory until one starts\n";
  }
  return 0;
}

int run_clear(const std::filesystem::path& runtime_path) {
  auto dir = logwire::runtime_dir::open(runtime_path);
  if (!dir) {
    std::cerr << "logwire clear: " << dir.error().message << "\n";
    return k_exit_failure;
  }
  // The broker's lock is free only while no broker runs; holding it keeps one from
  // starting half-way through.
  const int lock = ::open(dir->lock_file().c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock < 0 || ::flock(lock, LOCK_EX | LOCK_NB) != 0) {
    std::cerr << "logwire clear: a broker is running for " << dir->path().string()
              << "; stop it first\n";
    if (lock >= 0) ::close(lock);
    return k_exit_failure;
  }
  const std::size_t removed = dir->remove_shared_memory();
  ::close(lock);
  std::cout << "logwire clear: removed " << removed << " shared-memory segments of "
            << dir->path().string() << "\n";
  return 0;
}

int run_query(const std::filesystem::path& runtime_path, const query_options& options) {
  auto dir = logwire::runtime_dir::open(runtime_path);
  if (!dir) {
    std::cerr << "logwire query: " << dir.error().message << "\n";
    return k_exit_failure;
  }
  nlohmann::json arguments = {{"what", options.what}};
  // The modes and an id take only their own arguments: limit (which has a default here)
  // goes only where it applies, the rest as given, for the broker to judge.
  std::string mode = options.what;
  std::replace(mode.begin(), mode.end(), '_', '-');
  if (mode == "backend-logs" && options.id.empty()) arguments["limit"] = options.limit;
  if (!options.id.empty()) arguments["id"] = options.id;
  if (options.max_bytes != 0) arguments["maxBytes"] = options.max_bytes;
  if (options.services.size() == 1) arguments["service"] = options.services.front();
  if (options.services.size() > 1) arguments["service"] = options.services;
  if (!options.level.empty()) arguments["level"] = options.level;
  const std::pair<const char*, const std::string*> texts[] = {
      {"since", &options.since},          {"until", &options.until},
      {"requestId", &options.request_id}, {"traceId", &options.trace_id},
      {"spanId", &options.span_id},       {"sessionId", &options.session_id},
      {"userId", &options.user_id},       {"text", &options.text},
      {"cursor", &options.cursor}};
  for (const auto& [name, value] : texts) {
    if (!value->empty()) arguments[name] = *value;
  }
  for (const std::string& text : options.fields) {
    const auto parsed = logwire::parse_field_argument(text);
    if (!parsed) {
      std::cerr << "logwire query: " << parsed.error().message << "\n";
      return k_exit_usage;
    }
    std::visit([&](const auto& value) { arguments["fields"][parsed->key] = value; }, parsed->value);
  }

  logwire::broker_client client(*dir);
  const auto reply = client.call("observe", arguments);
  if (!reply) {
    std::cerr << "logwire query: " << reply.error().code << ": " << reply.error().message << "\n";
    if (!reply.error().hint.empty()) std::cerr << "  " << reply.error().hint << "\n";
    return k_exit_failure;
  }
  std::cout << reply->dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"logwire: send a log record, or query what the broker holds"};
  app.require_subcommand(1);
  app.set_version_flag("--version", logwire::k_library_version);
  std::string runtime_path;
  app.add_option("--runtime-dir", runtime_path,
                 "Runtime directory (default $LOGWIRE_RUNTIME_DIR, $XDG_RUNTIME_DIR/logwire or "
                 "/tmp/logwire-$UID)");

  send_options send;
  CLI::App* send_command = app.add_subcommand("send", "Log one record, as a backend would");
  send_command->add_option("--service", send.service, "Service name")->required();
  send_command->add_option("--level", send.level, "TRACE, DEBUG, INFO, WARN, ERROR or FATAL")
      ->capture_default_str();
  send_command->add_option("--request-id", send.request_id, "Request ID (X-Request-ID)");
  send_command->add_option("--traceparent", send.traceparent, "W3C traceparent header value");
  send_command->add_option("--span-id", send.span_id, "Span ID");
  send_command->add_option("--stack-trace", send.stack_trace, "Stack trace text");
  send_command
      ->add_option("--field", send.fields,
                   "key=value; integers, floats and true/false keep their type")
      ->allow_extra_args(false);
  send_command->add_option("message", send.message, "The log message")->required();

  query_options query;
  CLI::App* query_command = app.add_subcommand("query", "Print what an observe call would return");
  query_command
      ->add_option("--what", query.what,
                   "backend-logs (records), services (every service seen) or summary (counts, "
                   "repeated messages and newest errors of a window)")
      ->capture_default_str();
  query_command->add_option("--id", query.id,
                            "One record, whole: the id of a record in an earlier answer");
  query_command->add_option("--max-bytes", query.max_bytes,
                            "Keep the answer's JSON under this many bytes, 1000 to 1048576 "
                            "(default 262144); longer texts are cut with a marker");
  query_command->add_option("--service", query.services, "Only this service (repeatable)")
      ->allow_extra_args(false);
  query_command->add_option("--level", query.level, "Minimum severity");
  query_command->add_option("--limit", query.limit, "Newest N matches, 1 to 1000")
      ->capture_default_str();
  query_command->add_option("--since", query.since, "RFC 3339 time or a duration ago (5m, 1h)");
  query_command->add_option("--until", query.until, "Before this time (same forms as --since)");
  query_command->add_option("--request-id", query.request_id, "Only this request's records");
  query_command->add_option("--trace-id", query.trace_id,
                            "Only this W3C trace (32 hex digits or a traceparent)");
  query_command->add_option("--span-id", query.span_id,
                            "Only this span (the record's, or its traceparent's parent)");
  query_command->add_option("--session-id", query.session_id, "Only this session_id field");
  query_command->add_option("--user-id", query.user_id, "Only this user_id field");
  query_command->add_option("--text", query.text,
                            "Message or stack trace contains this (case-insensitive)");
  query_command
      ->add_option("--field", query.fields, "key=value: only records with this field value")
      ->allow_extra_args(false);
  query_command->add_option("--cursor", query.cursor,
                            "nextCursor (older matches) or newerCursor (arrived since) of an "
                            "earlier answer");

  logwire::load_options load;
  CLI::App* load_command =
      app.add_subcommand("load", "Log records as fast as asked, for tests and benchmarks");
  load_command->add_option("--service", load.service, "Service name")->required();
  load_command->add_option("--count", load.count, "Records per thread (fields seq, thread)")
      ->capture_default_str();
  load_command->add_option("--rate", load.rate, "Records per second over all threads (0: no limit)")
      ->check(CLI::NonNegativeNumber);
  load_command->add_option("--threads", load.threads, "Logging threads")
      ->check(CLI::Range(1u, 256u))
      ->capture_default_str();
  load_command->add_option("--ring-bytes", load.ring_bytes,
                           "Ring size (default $LOGWIRE_RING_BYTES or 64 MiB)");
  load_command->add_option("--message-bytes", load.message_bytes, "Message length (plain mix)")
      ->capture_default_str();
  std::string load_mix = "plain";
  load_command
      ->add_option("--mix", load_mix,
                   "plain: one INFO line with seq and thread; realistic: a web backend's levels, "
                   "request IDs, traceparents, fields, messages and retry bursts (seq and thread "
                   "kept)")
      ->check(CLI::IsMember({"plain", "realistic"}))
      ->capture_default_str();
  load_command->add_option("--endpoint", load.endpoint,
                           "shm, or a broker's ZeroMQ endpoint (tcp://host:7717); default "
                           "$LOGWIRE_ENDPOINT, else shm");
  load_command->add_option("--spool-dir", load.spool_dir,
                           "ZeroMQ: spool unacknowledged records in this directory");
  load_command->add_option("--queue-bytes", load.queue_bytes,
                           "ZeroMQ: unacknowledged records kept (default 64 MiB)");
  load_command
      ->add_option("--reconnect-max", load.reconnect_max_seconds,
                   "ZeroMQ: longest reconnect backoff, seconds")
      ->capture_default_str()
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  load_command
      ->add_option("--flush-seconds", load.flush_seconds,
                   "How long to wait at the end for the broker to take everything")
      ->capture_default_str()
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);

  CLI::App* clear_command = app.add_subcommand(
      "clear", "Forget every stored record and ring of the runtime directory (no broker may run)");

  CLI11_PARSE(app, argc, argv);
  if (clear_command->parsed()) return run_clear(runtime_path);
  if (send_command->parsed()) return run_send(runtime_path, send);
  if (load_command->parsed()) {
    load.runtime_dir = runtime_path;
    load.mix = load_mix == "realistic" ? logwire::load_mix::realistic : logwire::load_mix::plain;
    return logwire::run_load(load);
  }
  return run_query(runtime_path, query);
}
