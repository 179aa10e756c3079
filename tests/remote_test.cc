// The ZeroMQ transport (logwire/remote_protocol.h) in one process: the producer's send
// queue and spool, the broker's message checks and sessions over a real store, and a
// producer streaming to a listener over TCP on loopback.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "logwire/log_record.h"
#include "logwire/logwire_generated.h"
#include "logwire/producer.h"
#include "logwire/record_encoder.h"
#include "logwire/remote_message.h"
#include "logwire/remote_protocol.h"
#include "logwire/runtime_dir.h"
#include "logwire/store.h"
#include "record_writer.h"
#include "remote_listener.h"
#include "remote_sessions.h"
#include "remote_stream.h"
#include "send_queue.h"
#include "spool.h"
#include "support/temp_runtime_dir.h"
#include "support/wait_for.h"

namespace logwire {
namespace {

using namespace std::chrono_literals;

constexpr std::int64_t k_now = 1'769'854'523'000'000'000;  // 2026-01-31T10:15:23Z
constexpr std::int64_t k_second = 1'000'000'000;

std::span<const std::byte> as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

std::vector<std::byte> bytes_of(std::string_view text) {
  const auto view = as_bytes(text);
  return {view.begin(), view.end()};
}

std::vector<std::byte> filled(std::size_t size, char c) {
  return std::vector<std::byte>(size, static_cast<std::byte>(c));
}

std::string text_of(std::span<const std::byte> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// A Record FlatBuffer as a producer sends it, carrying its sequence in the field "seq".
std::vector<std::byte> encoded_record(std::uint64_t seq,
                                      std::string_view message = "order placed") {
  record_encoder encoder;
  const field fields[] = {{"seq", seq}};
  const auto bytes = encoder.encode({.message = message, .fields = fields},
                                    k_now + static_cast<std::int64_t>(seq));
  return {bytes.begin(), bytes.end()};
}

// --- FlatBuffers messages, built with the generated API ----------------------------------

const wire::InstanceId k_instance{0x1111'2222'3333'4444ull, 0x5555'6666'7777'8888ull};
const wire::InstanceId k_other_instance{0x9999ull, 0xaaaaull};

struct identity_spec {
  std::string service = "checkout";
  std::string host = "web-1";
  bool with_instance = true;
  wire::InstanceId instance = k_instance;
};

flatbuffers::Offset<wire::ProducerIdentity> build_identity(flatbuffers::FlatBufferBuilder& fbb,
                                                           const identity_spec& spec) {
  const auto service = fbb.CreateString(spec.service);
  const auto host = fbb.CreateString(spec.host);
  const auto language = fbb.CreateString("c++");
  const auto version = fbb.CreateString("0.1.0");
  return wire::CreateProducerIdentity(
      fbb, service, host, 4242, spec.with_instance ? &spec.instance : nullptr, language, version);
}

std::vector<std::byte> finished(const flatbuffers::FlatBufferBuilder& fbb) {
  const auto* data = reinterpret_cast<const std::byte*>(fbb.GetBufferPointer());
  return {data, data + fbb.GetSize()};
}

std::vector<std::byte> identity_body(const identity_spec& spec = {}) {
  flatbuffers::FlatBufferBuilder fbb;
  fbb.Finish(build_identity(fbb, spec));
  return finished(fbb);
}

std::vector<std::byte> hello_body(const identity_spec& spec = {}) {
  flatbuffers::FlatBufferBuilder fbb;
  fbb.Finish(wire::CreateHello(fbb, build_identity(fbb, spec)));
  return finished(fbb);
}

struct envelope_spec {
  std::uint64_t first_sequence = 0;
  std::vector<std::vector<std::byte>> records;
  std::uint64_t dropped = 0;
  std::int64_t last_drop_ns = 0;
  std::uint64_t acknowledged = 0;
  std::optional<identity_spec> producer;
  // Where each record's bytes start, modulo 8, in the finished envelope.
  std::size_t record_alignment = 0;
};

std::vector<std::byte> envelope_body(const envelope_spec& spec) {
  // A record's bytes sit at 0 or 4 modulo 8 (FlatBuffers aligns a vector to 4); a
  // 4-byte pad pushed before a vector flips which.
  for (const bool pad : {false, true}) {
    flatbuffers::FlatBufferBuilder fbb;
    // The buffer's size a multiple of 8, so that a position from its end is one from its
    // start too; the scalar is referenced by nothing.
    fbb.PushElement<std::uint64_t>(0);
    std::vector<flatbuffers::Offset<wire::RecordBuffer>> buffers;
    for (const auto& record : spec.records) {
      if (spec.record_alignment == 0) fbb.ForceVectorAlignment(record.size(), 1, 8);
      if (pad) fbb.PushElement<std::uint32_t>(0);
      const auto bytes =
          fbb.CreateVector(reinterpret_cast<const std::uint8_t*>(record.data()), record.size());
      buffers.push_back(wire::CreateRecordBuffer(fbb, bytes));
    }
    const auto producer = spec.producer ? build_identity(fbb, *spec.producer)
                                        : flatbuffers::Offset<wire::ProducerIdentity>();
    const auto records = fbb.CreateVector(buffers);
    wire::FinishEnvelopeBuffer(
        fbb, wire::CreateEnvelope(fbb, producer, spec.first_sequence, records, spec.dropped,
                                  spec.last_drop_ns, spec.acknowledged));
    auto body = finished(fbb);
    const auto* envelope = flatbuffers::GetRoot<wire::Envelope>(body.data());
    bool placed = true;
    for (const wire::RecordBuffer* r : *envelope->records()) {
      placed = placed && (reinterpret_cast<std::uintptr_t>(r->bytes()->data()) -
                          reinterpret_cast<std::uintptr_t>(body.data())) %
                                 8 ==
                             spec.record_alignment;
    }
    if (placed) return body;
  }
  ADD_FAILURE() << "cannot place records at " << spec.record_alignment << " modulo 8";
  return {};
}

// A message's frames (after the routing id), owning their bytes.
struct frames {
  std::vector<std::vector<std::byte>> parts;
  std::vector<std::span<const std::byte>> spans;

  explicit frames(std::vector<std::vector<std::byte>> p) : parts(std::move(p)) {
    for (const auto& part : parts) spans.emplace_back(part);
  }
  frames(std::string_view command, std::vector<std::byte> body,
         std::string_view protocol = remote::k_protocol)
      : frames(std::vector<std::vector<std::byte>>{bytes_of(protocol), bytes_of(command),
                                                   std::move(body)}) {}
  frames(const frames&) = delete;
  frames& operator=(const frames&) = delete;
};

std::string_view refusal_code(const remote_message& message) {
  const auto* refusal = std::get_if<remote_refusal>(&message);
  return refusal != nullptr ? refusal->code : std::string_view("accepted");
}

std::string refusal_message(const remote_message& message) {
  const auto* refusal = std::get_if<remote_refusal>(&message);
  return refusal != nullptr ? refusal->message : std::string();
}

// --- send_queue ---------------------------------------------------------------------------

std::vector<std::uint64_t> sequences(const send_queue& queue) {
  std::vector<std::uint64_t> out;
  for (std::size_t i = 0; i < queue.size(); ++i) out.push_back(queue.at(i).sequence);
  return out;
}

TEST(send_queue, numbers_records_from_zero) {
  send_queue queue(1024);
  EXPECT_EQ(queue.next_sequence(), 0u);
  EXPECT_EQ(queue.front_sequence(), 0u) << "empty: the next sequence";
  EXPECT_EQ(queue.push(bytes_of("a"), k_now), 0u);
  EXPECT_EQ(queue.push(bytes_of("b"), k_now), 1u);
  EXPECT_EQ(queue.push(bytes_of("c"), k_now), 2u);
  EXPECT_EQ(queue.next_sequence(), 3u);
  EXPECT_EQ(queue.front_sequence(), 0u);
  EXPECT_EQ(sequences(queue), (std::vector<std::uint64_t>{0, 1, 2}));
}

TEST(send_queue, numbers_records_from_a_given_first_sequence) {
  send_queue queue(1024, 500);
  EXPECT_EQ(queue.front_sequence(), 500u);
  EXPECT_EQ(queue.push(bytes_of("a"), k_now), 500u);
  EXPECT_EQ(queue.push(bytes_of("b"), k_now), 501u);
  EXPECT_EQ(queue.next_sequence(), 502u);
}

TEST(send_queue, keeps_records_that_exactly_fill_the_bound) {
  send_queue queue(90);
  for (int i = 0; i < 3; ++i) queue.push(filled(30, 'x'), k_now);
  EXPECT_EQ(queue.size(), 3u);
  EXPECT_EQ(queue.bytes(), 90u);
  EXPECT_EQ(queue.dropped(), 0u);
  EXPECT_EQ(queue.last_drop_ns(), 0);
}

TEST(send_queue, drops_the_oldest_past_the_bound_and_counts_each) {
  send_queue queue(100);
  for (int i = 0; i < 3; ++i) queue.push(filled(30, static_cast<char>('a' + i)), k_now);
  queue.push(filled(30, 'd'), k_now + 5);
  EXPECT_EQ(queue.dropped(), 1u);
  EXPECT_EQ(queue.last_drop_ns(), k_now + 5);
  EXPECT_EQ(sequences(queue), (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_EQ(text_of(queue.at(0).bytes), std::string(30, 'b'));

  queue.push(filled(60, 'e'), k_now + 9);  // needs two of the three to go
  EXPECT_EQ(queue.dropped(), 3u);
  EXPECT_EQ(queue.last_drop_ns(), k_now + 9);
  EXPECT_EQ(sequences(queue), (std::vector<std::uint64_t>{3, 4}));
  EXPECT_EQ(queue.bytes(), 90u);
}

TEST(send_queue, keeps_a_record_larger_than_the_bound_alone) {
  send_queue queue(100);
  for (int i = 0; i < 3; ++i) queue.push(filled(30, 'x'), k_now);
  const auto big = queue.push(filled(150, 'B'), k_now + 1);
  EXPECT_EQ(queue.dropped(), 3u);
  EXPECT_EQ(queue.size(), 1u);
  EXPECT_EQ(queue.bytes(), 150u);
  EXPECT_EQ(queue.at(0).sequence, big);
  EXPECT_EQ(text_of(queue.at(0).bytes), std::string(150, 'B'));

  queue.push(filled(10, 'y'), k_now + 2);  // and the big one goes for the next
  EXPECT_EQ(queue.dropped(), 4u);
  EXPECT_EQ(sequences(queue), (std::vector<std::uint64_t>{big + 1}));
}

TEST(send_queue, acknowledge_removes_every_record_below_the_sequence) {
  send_queue queue(1024);
  for (int i = 0; i < 5; ++i) queue.push(filled(10, 'x'), k_now);
  EXPECT_EQ(queue.acknowledge(3), 3u);
  EXPECT_EQ(sequences(queue), (std::vector<std::uint64_t>{3, 4}));
  EXPECT_EQ(queue.bytes(), 20u);
  EXPECT_EQ(queue.acknowledge(3), 0u) << "an acknowledgement repeated";
  EXPECT_EQ(queue.acknowledge(1), 0u) << "an older acknowledgement";
  EXPECT_EQ(queue.acknowledge(100), 2u);
  EXPECT_TRUE(queue.empty());
  EXPECT_EQ(queue.bytes(), 0u);
  EXPECT_EQ(queue.next_sequence(), 5u) << "acknowledging does not renumber";
  EXPECT_EQ(queue.front_sequence(), 5u);
  EXPECT_EQ(queue.dropped(), 0u) << "acknowledged is not dropped";
}

TEST(send_queue, finds_records_by_sequence_across_a_gap) {
  send_queue queue(1024);
  queue.push(5, filled(3, 'a'), k_now);
  queue.push(9, filled(7, 'b'), k_now);
  queue.push(10, filled(11, 'c'), k_now);
  EXPECT_EQ(queue.next_sequence(), 11u);
  EXPECT_EQ(queue.find(0), 0u);
  EXPECT_EQ(queue.find(5), 0u);
  EXPECT_EQ(queue.find(6), 1u) << "the first at or above";
  EXPECT_EQ(queue.find(9), 1u);
  EXPECT_EQ(queue.find(10), 2u);
  EXPECT_EQ(queue.find(11), 3u) << "none: size()";
  EXPECT_EQ(queue.at(1).sequence, 9u);
  EXPECT_EQ(text_of(queue.at(1).bytes), "bbbbbbb");
}

TEST(send_queue, counts_the_bytes_before_an_index) {
  send_queue queue(1024);
  queue.push(filled(3, 'a'), k_now);
  queue.push(filled(7, 'b'), k_now);
  queue.push(filled(11, 'c'), k_now);
  EXPECT_EQ(queue.bytes_before(0), 0u);
  EXPECT_EQ(queue.bytes_before(1), 3u) << "unpadded bytes";
  EXPECT_EQ(queue.bytes_before(2), 10u);
  EXPECT_EQ(queue.bytes_before(3), 21u);
  queue.acknowledge(1);
  EXPECT_EQ(queue.bytes_before(0), 0u);
  EXPECT_EQ(queue.bytes_before(1), 7u) << "counted from the oldest record still held";
  EXPECT_EQ(queue.bytes_before(2), 18u);
}

TEST(send_queue, keeps_every_record_8_byte_aligned) {
  send_queue queue(64 * 1024 * 1024);
  // Odd sizes, and enough of them to spill into further 1 MiB chunks.
  std::size_t total = 0;
  for (std::size_t i = 0; total < 3 * 1024 * 1024; ++i) {
    const std::size_t size = 1 + (i * 37) % 50'000;
    queue.push(filled(size, 'a'), k_now);
    total += size;
  }
  for (std::size_t i = 0; i < queue.size(); ++i) {
    ASSERT_EQ(reinterpret_cast<std::uintptr_t>(queue.at(i).bytes.data()) % 8, 0u) << "record " << i;
  }
}

TEST(send_queue, keeps_a_record_bigger_than_a_chunk_intact) {
  send_queue queue(64 * 1024 * 1024);
  queue.push(filled(100, 'a'), k_now);
  std::vector<std::byte> big(3 * 1024 * 1024 + 5);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::byte>(i * 7);
  queue.push(big, k_now);
  queue.push(filled(100, 'c'), k_now);
  ASSERT_EQ(queue.size(), 3u);
  const auto got = queue.at(1).bytes;
  EXPECT_TRUE(std::equal(got.begin(), got.end(), big.begin(), big.end()));
  EXPECT_EQ(text_of(queue.at(2).bytes), std::string(100, 'c'));
}

TEST(send_queue, reuses_its_memory_once_drained) {
  send_queue queue(1024 * 1024);
  queue.push(filled(100, 'a'), k_now);
  const std::byte* first = queue.at(0).bytes.data();
  queue.acknowledge(queue.next_sequence());
  queue.push(filled(100, 'b'), k_now);
  EXPECT_EQ(queue.at(0).bytes.data(), first) << "an emptied chunk is written from its start";
}

TEST(send_queue, holds_only_what_is_unacknowledged_over_many_cycles) {
  // 400 MiB through a queue that never holds more than two 100 KiB records: the counts stay
  // exact however many chunks have come and gone.
  send_queue queue(1024 * 1024);
  const auto record = filled(100 * 1024, 'r');
  for (int i = 0; i < 4096; ++i) {
    queue.push(record, k_now);
    ASSERT_LE(queue.size(), 2u);
    ASSERT_EQ(queue.bytes(), queue.size() * record.size());
    ASSERT_EQ(queue.bytes_before(queue.size()), queue.bytes());
    ASSERT_EQ(reinterpret_cast<std::uintptr_t>(queue.at(queue.size() - 1).bytes.data()) % 8, 0u);
    queue.acknowledge(queue.next_sequence() - 1);  // all but the newest
  }
  EXPECT_EQ(queue.dropped(), 0u);
  EXPECT_EQ(queue.acknowledge(queue.next_sequence()), 1u);
  EXPECT_EQ(queue.bytes(), 0u);
  EXPECT_EQ(queue.size(), 0u);
}

// --- spool_file -----------------------------------------------------------------------------

// A real ProducerIdentity: a spool whose identity does not verify is not claimed.
const std::vector<std::byte> k_identity = identity_body();
const std::size_t k_data_start = k_spool_header_size + ((k_identity.size() + 7) & ~std::size_t{7});
constexpr std::size_t k_record_size = 16;
constexpr std::size_t k_frame_size = k_spool_frame_header_size + k_record_size;

class spool_fixture : public ::testing::Test {
 protected:
  std::filesystem::path dir() const { return temp_.path() / "spool"; }

  spool_file create(std::string_view service = "checkout", std::uint64_t hi = 1,
                    std::uint64_t lo = 2) {
    return spool_file::create(dir(), service, hi, lo, k_identity).value();
  }

  // Records of k_record_size bytes under `first`, `first` + 1, ..., their bytes naming them.
  static send_queue records(std::uint64_t first, std::size_t count) {
    send_queue queue(1024 * 1024, first);
    for (std::size_t i = 0; i < count; ++i) {
      char text[k_record_size + 1];
      std::snprintf(text, sizeof text, "record-%09zu", static_cast<std::size_t>(first + i));
      queue.push(as_bytes({text, k_record_size}), k_now);
    }
    return queue;
  }

  static bool append_all(spool_file& spool, const send_queue& queue) {
    std::vector<send_queue::record> all;
    for (std::size_t i = 0; i < queue.size(); ++i) all.push_back(queue.at(i));
    return spool.append(all);
  }

  // A spool holding records `first`... whose producer is gone (its file closed).
  std::filesystem::path orphaned(std::uint64_t first, std::size_t count) {
    spool_file spool = create();
    EXPECT_TRUE(append_all(spool, records(first, count)));
    return spool.path();
  }

  static void corrupt(const std::filesystem::path& path, std::size_t offset) {
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(static_cast<std::streamoff>(offset));
    char c = 0;
    file.read(&c, 1);
    c = static_cast<char>(c ^ 0x01);
    file.seekp(static_cast<std::streamoff>(offset));
    file.write(&c, 1);
  }

  static std::vector<std::string> texts(const send_queue& queue) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < queue.size(); ++i) out.push_back(text_of(queue.at(i).bytes));
    return out;
  }

  testing::temp_runtime_dir temp_;
};

TEST_F(spool_fixture, creates_a_private_file_in_a_private_directory) {
  spool_file spool = create();
  struct stat info {};
  ASSERT_EQ(::stat(spool.path().c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(dir().c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0700u);
  EXPECT_EQ(spool.file_bytes(), k_data_start) << "header and identity, padded to 8";
  EXPECT_EQ(std::filesystem::file_size(spool.path()), k_data_start);
}

TEST_F(spool_fixture, names_the_file_for_its_service_and_instance) {
  spool_file spool = create("checkout", 0x1, 0xfedcba9876543210ull);
  EXPECT_EQ(spool.path(), dir() / "checkout-0000000000000001fedcba9876543210.spool");
}

TEST_F(spool_fixture, replaces_characters_unfit_for_a_file_name) {
  spool_file spool = create("../a b/c", 0, 0);
  EXPECT_EQ(spool.path(), dir() / ".._a_b_c-00000000000000000000000000000000.spool");
}

TEST_F(spool_fixture, hands_an_orphan_back_with_its_identity_sequences_and_bytes) {
  orphaned(10, 3);
  auto found = spool_file::claim_orphans(dir(), 1024 * 1024);
  ASSERT_EQ(found.size(), 1u);
  const auto& orphan = found[0];
  EXPECT_EQ(orphan.identity, k_identity);
  EXPECT_EQ(sequences(orphan.records), (std::vector<std::uint64_t>{10, 11, 12}));
  EXPECT_EQ(texts(orphan.records),
            (std::vector<std::string>{"record-000000010", "record-000000011", "record-000000012"}));
  EXPECT_EQ(orphan.records.next_sequence(), 13u);
  EXPECT_EQ(orphan.dropped, 0u);
  EXPECT_EQ(orphan.last_drop_ns, 0);
}

TEST_F(spool_fixture, leaves_a_spool_whose_identity_does_not_verify) {
  orphaned(10, 3);
  const auto path = std::filesystem::directory_iterator(dir())->path();
  corrupt(path, k_spool_header_size + 1);  // the identity's root offset, now out of bounds
  EXPECT_TRUE(spool_file::claim_orphans(dir(), 1024 * 1024).empty());
  EXPECT_TRUE(std::filesystem::exists(path)) << "left where it is";
}

TEST_F(spool_fixture, deletes_a_temporary_spool_left_by_a_crash_and_claims_nothing_of_it) {
  std::filesystem::create_directories(dir());
  const auto debris = dir() / "checkout-00000000000000010000000000000002.spool.tmp";
  std::FILE* file = std::fopen(debris.c_str(), "w");
  ASSERT_NE(file, nullptr);
  std::fputs("half a header", file);
  std::fclose(file);
  EXPECT_TRUE(spool_file::claim_orphans(dir(), 1024 * 1024).empty());
  EXPECT_FALSE(std::filesystem::exists(debris));
}

TEST_F(spool_fixture, hands_back_records_from_several_appends_in_order) {
  {
    spool_file spool = create();
    ASSERT_TRUE(append_all(spool, records(0, 2)));
    ASSERT_TRUE(append_all(spool, records(2, 3)));
    EXPECT_EQ(spool.file_bytes(), k_data_start + 5 * k_frame_size);
  }
  auto found = spool_file::claim_orphans(dir(), 1024 * 1024);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(sequences(found[0].records), (std::vector<std::uint64_t>{0, 1, 2, 3, 4}));
}

TEST_F(spool_fixture, reads_back_the_recorded_progress) {
  {
    spool_file spool = create();
    ASSERT_TRUE(append_all(spool, records(0, 42)));
    ASSERT_TRUE(spool.record_progress(3, k_now, 0));
    ASSERT_TRUE(spool.record_progress(7, k_now + 5, 40));  // rewritten in place
  }
  auto found = spool_file::claim_orphans(dir(), 1024 * 1024);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].dropped, 7u);
  EXPECT_EQ(found[0].last_drop_ns, k_now + 5);
  EXPECT_EQ(found[0].acknowledged, 40u);
  EXPECT_EQ(sequences(found[0].records), (std::vector<std::uint64_t>{40, 41}))
      << "records the broker acknowledged are not sent again";
}

TEST_F(spool_fixture, does_not_claim_a_spool_whose_producer_lives) {
  spool_file live = create();
  ASSERT_TRUE(append_all(live, records(0, 2)));
  EXPECT_TRUE(spool_file::claim_orphans(dir(), 1024 * 1024).empty());
  EXPECT_TRUE(std::filesystem::exists(live.path()));
}

TEST_F(spool_fixture, does_not_claim_a_spool_another_claimer_holds) {
  orphaned(0, 2);
  auto first = spool_file::claim_orphans(dir(), 1024 * 1024);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_TRUE(spool_file::claim_orphans(dir(), 1024 * 1024).empty());
  first.clear();  // the claimer is gone too
  EXPECT_EQ(spool_file::claim_orphans(dir(), 1024 * 1024).size(), 1u);
}

TEST_F(spool_fixture, ignores_a_torn_last_frame_and_keeps_the_earlier_ones) {
  const auto path = orphaned(0, 3);
  ASSERT_EQ(std::filesystem::file_size(path), k_data_start + 3 * k_frame_size);
  std::filesystem::resize_file(path, k_data_start + 3 * k_frame_size - 3);
  auto found = spool_file::claim_orphans(dir(), 1024 * 1024);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(sequences(found[0].records), (std::vector<std::uint64_t>{0, 1}));
}

TEST_F(spool_fixture, ignores_a_frame_cut_inside_its_header) {
  const auto path = orphaned(0, 3);
  std::filesystem::resize_file(path, k_data_start + 2 * k_frame_size + 10);
  auto found = spool_file::claim_orphans(dir(), 1024 * 1024);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(sequences(found[0].records), (std::vector<std::uint64_t>{0, 1}));
}

TEST_F(spool_fixture, ends_the_spool_at_a_frame_failing_its_crc) {
  const auto path = orphaned(0, 3);
  corrupt(path, k_data_start + k_frame_size + k_spool_frame_header_size + 5);  // record 1
  auto found = spool_file::claim_orphans(dir(), 1024 * 1024);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(sequences(found[0].records), (std::vector<std::uint64_t>{0}));
}

TEST_F(spool_fixture, ends_the_spool_at_a_frame_whose_sequence_is_damaged) {
  const auto path = orphaned(0, 3);
  corrupt(path, k_data_start + k_frame_size + 8);  // the crc covers the sequence too
  auto found = spool_file::claim_orphans(dir(), 1024 * 1024);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(sequences(found[0].records), (std::vector<std::uint64_t>{0}));
}

TEST_F(spool_fixture, ignores_files_that_are_not_spools) {
  const auto real = orphaned(0, 2);
  std::filesystem::copy_file(real, dir() / "copy.txt");
  std::filesystem::copy_file(real, dir() / "copy.spool.bak");
  std::filesystem::remove(real);
  { std::ofstream(dir() / "foreign.spool") << std::string(64, 'x'); }  // wrong magic
  { std::ofstream(dir() / "short.spool") << "LWSPOOL1"; }              // shorter than a header
  std::filesystem::create_directory(dir() / "directory.spool");

  EXPECT_TRUE(spool_file::claim_orphans(dir(), 1024 * 1024).empty());
  for (const char* name :
       {"copy.txt", "copy.spool.bak", "foreign.spool", "short.spool", "directory.spool"}) {
    EXPECT_TRUE(std::filesystem::exists(dir() / name)) << name << " is left where it is";
  }
}

TEST_F(spool_fixture, claims_nothing_from_a_missing_directory) {
  EXPECT_TRUE(spool_file::claim_orphans(temp_.path() / "nowhere", 1024 * 1024).empty());
}

TEST_F(spool_fixture, keeps_the_newest_records_within_the_claimers_bound) {
  orphaned(0, 5);
  auto found = spool_file::claim_orphans(dir(), 3 * k_record_size);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(sequences(found[0].records), (std::vector<std::uint64_t>{2, 3, 4}));
  EXPECT_EQ(found[0].records.dropped(), 2u);
  EXPECT_EQ(found[0].dropped, 0u) << "the gap in the sequences tells the broker, not `dropped`";
}

TEST_F(spool_fixture, compact_empties_the_file_when_the_queue_is_empty) {
  spool_file spool = create();
  ASSERT_TRUE(append_all(spool, records(0, 3)));
  ASSERT_TRUE(spool.compact(send_queue(1024), 1024));
  EXPECT_EQ(spool.file_bytes(), k_data_start);
  EXPECT_EQ(std::filesystem::file_size(spool.path()), k_data_start);
}

TEST_F(spool_fixture, compact_keeps_the_file_while_it_is_within_twice_the_bound) {
  spool_file spool = create();
  const send_queue held = records(0, 3);
  ASSERT_TRUE(append_all(spool, held));
  ASSERT_TRUE(spool.compact(held, 3 * k_frame_size));
  EXPECT_EQ(spool.file_bytes(), k_data_start + 3 * k_frame_size);
}

TEST_F(spool_fixture, compact_rewrites_a_file_past_twice_the_bound_from_the_queue) {
  const auto path = [&] {
    spool_file spool = create();
    EXPECT_TRUE(append_all(spool, records(0, 10)));
    const send_queue held = records(8, 2);
    EXPECT_TRUE(spool.compact(held, 2 * k_record_size));
    EXPECT_EQ(spool.file_bytes(), k_data_start + 2 * k_frame_size);
    return spool.path();
  }();
  EXPECT_EQ(std::filesystem::file_size(path), k_data_start + 2 * k_frame_size);
  auto found = spool_file::claim_orphans(dir(), 1024 * 1024);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(sequences(found[0].records), (std::vector<std::uint64_t>{8, 9}));
}

TEST_F(spool_fixture, appends_after_a_compaction_land_after_the_header) {
  {
    spool_file spool = create();
    ASSERT_TRUE(append_all(spool, records(0, 3)));
    ASSERT_TRUE(spool.compact(send_queue(1024), 1024));
    ASSERT_TRUE(append_all(spool, records(3, 1)));
  }
  auto found = spool_file::claim_orphans(dir(), 1024 * 1024);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(sequences(found[0].records), (std::vector<std::uint64_t>{3}));
}

TEST_F(spool_fixture, remove_deletes_the_file) {
  spool_file spool = create();
  ASSERT_TRUE(append_all(spool, records(0, 1)));
  const auto path = spool.path();
  spool.remove();
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(append_all(spool, records(1, 1))) << "a removed spool takes nothing more";
  EXPECT_TRUE(spool_file::claim_orphans(dir(), 1024 * 1024).empty());
}

// The live stream, broker away: nothing is acknowledged, the queue drops its oldest, and
// the spool should not outgrow what the queue holds by much (spool.h: rewritten "when it
// has grown past twice the queue's bound").
TEST_F(spool_fixture, stays_bounded_while_the_broker_is_away) {
  constexpr std::size_t bound = 4096;
  spool_file spool = create();
  const auto path = spool.path();
  zmq::context_t context;
  remote_stream stream(
      context, {.endpoint = "tcp://127.0.0.1:1", .reconnect_max = 100ms, .queue_bytes = bound},
      identity_body(), send_queue(bound), std::move(spool), 0, k_now);
  const auto record = encoded_record(1);
  for (int i = 0; i < 1000; ++i) {
    stream.push(record, k_now);
    stream.pump(k_now, stream.queue().dropped(), stream.queue().last_drop_ns());
  }
  ASSERT_GT(stream.queue().dropped(), 900u);
  EXPECT_LE(std::filesystem::file_size(path), k_data_start + 3 * bound)
      << "compact() runs only on an acknowledgement, so the spool of a producer whose broker is "
         "away grows without bound";
}

// --- parse_remote_message -------------------------------------------------------------------

TEST(parse_remote_message, refuses_a_message_without_three_frames) {
  for (const std::size_t count : {0, 1, 2, 4}) {
    std::vector<std::vector<std::byte>> parts{
        bytes_of(remote::k_protocol), bytes_of(remote::command::ping), {}, {}};
    parts.resize(count);
    const frames message(std::move(parts));
    const auto parsed = parse_remote_message(message.spans);
    EXPECT_EQ(refusal_code(parsed), remote::refusal::malformed) << count << " frames";
    EXPECT_NE(refusal_message(parsed).find(std::to_string(count)), std::string::npos);
  }
}

TEST(parse_remote_message, refuses_another_protocol_version) {
  const frames message(remote::command::hello, hello_body(), "LWP2");
  EXPECT_EQ(refusal_code(parse_remote_message(message.spans)),
            remote::refusal::unsupported_version);
}

TEST(parse_remote_message, refuses_an_unknown_command) {
  for (const std::string_view command : {"SHOUT", "hello", "", "DATAX"}) {
    const frames message(command, {});
    EXPECT_EQ(refusal_code(parse_remote_message(message.spans)), remote::refusal::unknown_command)
        << "'" << command << "'";
  }
}

TEST(parse_remote_message, refuses_a_message_over_the_size_cap) {
  const std::size_t heads = remote::k_protocol.size() + remote::command::data.size();
  const frames over(remote::command::data, filled(remote::k_max_message_bytes - heads + 1, '\0'));
  EXPECT_EQ(refusal_code(parse_remote_message(over.spans)), remote::refusal::too_large);
}

TEST(parse_remote_message, reads_a_message_of_exactly_the_size_cap) {
  const std::size_t heads = remote::k_protocol.size() + remote::command::data.size();
  const frames at_cap(remote::command::data, filled(remote::k_max_message_bytes - heads, '\0'));
  EXPECT_EQ(refusal_code(parse_remote_message(at_cap.spans)), remote::refusal::malformed)
      << "read and found to be no Envelope, not refused unread";
}

TEST(parse_remote_message, refuses_a_garbage_hello_body) {
  for (const auto& body : {std::vector<std::byte>{}, bytes_of("abc"),
                           bytes_of("not a flatbuffer at all"), filled(64, '\xFF')}) {
    const frames message(remote::command::hello, body);
    EXPECT_EQ(refusal_code(parse_remote_message(message.spans)), remote::refusal::malformed);
  }
}

TEST(parse_remote_message, refuses_a_garbage_data_body) {
  for (const auto& body : {std::vector<std::byte>{}, bytes_of("abc"),
                           bytes_of("not a flatbuffer at all"), filled(64, '\xFF')}) {
    const frames message(remote::command::data, body);
    EXPECT_EQ(refusal_code(parse_remote_message(message.spans)), remote::refusal::malformed);
  }
}

TEST(parse_remote_message, refuses_a_hello_without_an_instance_id) {
  const frames message(remote::command::hello, hello_body({.with_instance = false}));
  EXPECT_EQ(refusal_code(parse_remote_message(message.spans)), remote::refusal::malformed);
}

TEST(parse_remote_message, refuses_a_hello_with_an_empty_service) {
  const frames message(remote::command::hello, hello_body({.service = ""}));
  EXPECT_EQ(refusal_code(parse_remote_message(message.spans)), remote::refusal::malformed);
}

TEST(parse_remote_message, refuses_a_hello_whose_service_is_not_utf8) {
  const frames message(remote::command::hello, hello_body({.service = "check\xFFout"}));
  EXPECT_EQ(refusal_code(parse_remote_message(message.spans)), remote::refusal::malformed);
}

TEST(parse_remote_message, refuses_a_hello_with_an_overlong_host) {
  const frames message(remote::command::hello, hello_body({.host = std::string(257, 'h')}));
  EXPECT_EQ(refusal_code(parse_remote_message(message.spans)), remote::refusal::malformed);
}

TEST(parse_remote_message, accepts_a_hello) {
  const frames message(remote::command::hello, hello_body());
  const auto parsed = parse_remote_message(message.spans);
  const auto* hello = std::get_if<hello_message>(&parsed);
  ASSERT_NE(hello, nullptr) << refusal_message(parsed);
  EXPECT_EQ(hello->hello->producer()->service()->str(), "checkout");
  EXPECT_EQ(hello->hello->producer()->instance_id()->lo(), k_instance.lo());
}

TEST(parse_remote_message, accepts_a_data_envelope) {
  const frames message(
      remote::command::data,
      envelope_body(
          {.first_sequence = 7, .records = {encoded_record(7), encoded_record(8)}, .dropped = 2}));
  const auto parsed = parse_remote_message(message.spans);
  const auto* data = std::get_if<data_message>(&parsed);
  ASSERT_NE(data, nullptr) << refusal_message(parsed);
  EXPECT_EQ(data->envelope->first_sequence(), 7u);
  EXPECT_EQ(data->envelope->dropped(), 2u);
  ASSERT_EQ(data->envelope->records()->size(), 2u);
  EXPECT_EQ(text_of(record_bytes(*data->envelope->records()->Get(1))), text_of(encoded_record(8)));
}

TEST(parse_remote_message, accepts_an_envelope_without_records) {
  const frames message(remote::command::data, envelope_body({.dropped = 3}));
  EXPECT_EQ(refusal_code(parse_remote_message(message.spans)), "accepted");
}

TEST(parse_remote_message, accepts_ping_and_bye_with_empty_bodies) {
  const frames ping(remote::command::ping, {});
  EXPECT_TRUE(std::holds_alternative<ping_message>(parse_remote_message(ping.spans)));
  const frames bye(remote::command::bye, {});
  EXPECT_TRUE(std::holds_alternative<bye_message>(parse_remote_message(bye.spans)));
}

TEST(parse_remote_message, names_the_record_that_is_not_a_record) {
  const frames message(
      remote::command::data,
      envelope_body({.first_sequence = 10,
                     .records = {encoded_record(10), filled(24, '\xFF'), encoded_record(12)}}));
  const auto parsed = parse_remote_message(message.spans);
  EXPECT_EQ(refusal_code(parsed), remote::refusal::malformed);
  EXPECT_NE(refusal_message(parsed).find("record 1 (sequence 11)"), std::string::npos)
      << refusal_message(parsed);
}

TEST(parse_remote_message, refuses_an_envelope_whose_producer_identity_is_malformed) {
  const frames message(remote::command::data,
                       envelope_body({.records = {encoded_record(0)},
                                      .producer = identity_spec{.with_instance = false}}));
  EXPECT_EQ(refusal_code(parse_remote_message(message.spans)), remote::refusal::malformed);
}

// An envelope of `count` record buffers that all share one record's bytes.
std::vector<std::byte> envelope_of_many(std::size_t count) {
  const auto record = encoded_record(0);
  flatbuffers::FlatBufferBuilder fbb;
  fbb.ForceVectorAlignment(record.size(), 1, 8);
  const auto bytes =
      fbb.CreateVector(reinterpret_cast<const std::uint8_t*>(record.data()), record.size());
  std::vector<flatbuffers::Offset<wire::RecordBuffer>> buffers(count);
  for (auto& b : buffers) b = wire::CreateRecordBuffer(fbb, bytes);
  const auto records = fbb.CreateVector(buffers);
  wire::FinishEnvelopeBuffer(fbb, wire::CreateEnvelope(fbb, 0, 0, records));
  return finished(fbb);
}

TEST(parse_remote_message, refuses_an_envelope_over_the_record_count_cap) {
  const frames message(remote::command::data, envelope_of_many(remote::k_max_envelope_records + 1));
  EXPECT_EQ(refusal_code(parse_remote_message(message.spans)), remote::refusal::too_large);
}

TEST(parse_remote_message, accepts_an_envelope_of_exactly_the_record_count_cap) {
  const frames message(remote::command::data, envelope_of_many(remote::k_max_envelope_records));
  const auto parsed = parse_remote_message(message.spans);
  EXPECT_EQ(refusal_code(parsed), "accepted") << refusal_message(parsed);
}

TEST(parse_remote_message, verifies_a_record_that_is_not_8_byte_aligned) {
  const frames message(remote::command::data,
                       envelope_body({.records = {encoded_record(0)}, .record_alignment = 4}));
  const auto parsed = parse_remote_message(message.spans);
  const auto* data = std::get_if<data_message>(&parsed);
  ASSERT_NE(data, nullptr) << refusal_message(parsed);
  const auto bytes = record_bytes(*data->envelope->records()->Get(0));
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(bytes.data()) % 8, 4u);
}

// A message whose body starts at an odd address, as ZeroMQ may hand a frame over
// wherever it landed in its receive buffer.
struct odd_message {
  std::vector<std::byte> protocol = bytes_of(remote::k_protocol);
  std::vector<std::byte> command;
  std::vector<std::byte> shifted;
  std::array<std::span<const std::byte>, 3> spans;

  odd_message(std::string_view command_word, const std::vector<std::byte>& body)
      : command(bytes_of(command_word)), shifted(body.size() + 1) {
    std::copy(body.begin(), body.end(), shifted.begin() + 1);
    spans = {protocol, command, std::span<const std::byte>(shifted).subspan(1)};
  }
  const std::byte* body() const { return spans[2].data(); }
};

TEST(parse_remote_message, reads_a_hello_at_an_odd_address) {
  const odd_message message(remote::command::hello, hello_body());
  ASSERT_EQ(reinterpret_cast<std::uintptr_t>(message.body()) % 2, 1u);
  const auto parsed = parse_remote_message(message.spans);
  const auto* hello = std::get_if<hello_message>(&parsed);
  ASSERT_NE(hello, nullptr) << refusal_message(parsed);
  EXPECT_EQ(hello->hello->producer()->service()->str(), "checkout");
}

TEST(parse_remote_message, verifies_a_record_at_an_odd_address) {
  const odd_message message(remote::command::data,
                            envelope_body({.first_sequence = 3, .records = {encoded_record(3)}}));
  const auto parsed = parse_remote_message(message.spans);
  const auto* data = std::get_if<data_message>(&parsed);
  ASSERT_NE(data, nullptr) << refusal_message(parsed);
  EXPECT_EQ(data->envelope->first_sequence(), 3u);
  EXPECT_EQ(text_of(record_bytes(*data->envelope->records()->Get(0))), text_of(encoded_record(3)));
}

TEST(parse_remote_message, verifies_a_misplaced_record_at_an_odd_address) {
  // Misplaced within the envelope as well: 4 modulo 8 from its start.
  const odd_message message(remote::command::data,
                            envelope_body({.records = {encoded_record(0)}, .record_alignment = 4}));
  const auto parsed = parse_remote_message(message.spans);
  const auto* data = std::get_if<data_message>(&parsed);
  ASSERT_NE(data, nullptr) << refusal_message(parsed);
  EXPECT_EQ(text_of(record_bytes(*data->envelope->records()->Get(0))), text_of(encoded_record(0)));
}

TEST(parse_remote_message, still_refuses_a_bad_record_at_an_odd_address) {
  const odd_message message(remote::command::data,
                            envelope_body({.records = {filled(24, '\xFF')}}));
  EXPECT_EQ(refusal_code(parse_remote_message(message.spans)), remote::refusal::malformed);
}

// --- remote_sessions ------------------------------------------------------------------------

const field_value* field_named(const log_record& record, std::string_view key) {
  for (const auto& [k, v] : record.fields) {
    if (k == key) return &v;
  }
  return nullptr;
}

std::string event_of(const log_record& record) {
  const auto* value = field_named(record, "event");
  return value != nullptr && std::holds_alternative<std::string>(*value)
             ? std::get<std::string>(*value)
             : std::string();
}

class sessions_fixture : public ::testing::Test {
 protected:
  struct answer {
    std::string command;
    std::vector<std::byte> body;

    std::uint64_t next_sequence() const {
      if (command == remote::command::welcome) {
        return flatbuffers::GetRoot<wire::Welcome>(body.data())->next_sequence();
      }
      if (command == remote::command::ack || command == remote::command::pong) {
        return flatbuffers::GetRoot<wire::Ack>(body.data())->next_sequence();
      }
      ADD_FAILURE() << "no next_sequence in " << command;
      return ~0ull;
    }
    std::string code() const {
      if (command != remote::command::error) return "(" + command + ")";
      return flatbuffers::GetRoot<wire::Refusal>(body.data())->code()->str();
    }
  };

  answer send(remote_sessions& sessions, std::string_view command, std::vector<std::byte> body,
              std::string_view peer = "peer-1", std::int64_t now = k_now) {
    const frames message(command, std::move(body));
    const auto reply = sessions.handle(peer, message.spans, "127.0.0.1:5555", now);
    return {std::string(reply.command), {reply.body.begin(), reply.body.end()}};
  }
  answer send(std::string_view command, std::vector<std::byte> body,
              std::string_view peer = "peer-1", std::int64_t now = k_now) {
    return send(*sessions_, command, std::move(body), peer, now);
  }
  answer hello(std::string_view peer = "peer-1", const identity_spec& spec = {},
               std::int64_t now = k_now) {
    return send(remote::command::hello, hello_body(spec), peer, now);
  }
  answer data(const envelope_spec& spec, std::string_view peer = "peer-1",
              std::int64_t now = k_now) {
    return send(remote::command::data, envelope_body(spec), peer, now);
  }
  // An envelope of records `first` to `first` + `count` - 1.
  static envelope_spec records(std::uint64_t first, std::size_t count) {
    envelope_spec spec{.first_sequence = first};
    for (std::size_t i = 0; i < count; ++i) spec.records.push_back(encoded_record(first + i));
    return spec;
  }

  std::vector<log_record> everything() const {
    return store_.query({.limit = 1'000'000}).value().logs;
  }
  // The "seq" of every record stored, in store order.
  std::vector<std::int64_t> stored_sequences() const {
    std::vector<std::int64_t> out;
    for (const auto& r : everything()) {
      if (const auto* seq = field_named(r, "seq")) out.push_back(std::get<std::int64_t>(*seq));
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  std::vector<log_record> notes(std::string_view event) const {
    std::vector<log_record> out;
    for (const auto& r : everything()) {
      if (event_of(r) == event) out.push_back(r);
    }
    return out;
  }

  testing::temp_runtime_dir temp_;
  runtime_dir dir_ = runtime_dir::open(temp_.path()).value();
  // Sessions are about exactly-once delivery: a restarted backend's first record may
  // repeat its predecessor's, which the burst dedup would fold.
  std::unique_ptr<store> opened_ =
      store::open(dir_, {.memory_cap_bytes = 4 << 20, .dedup_window_ns = 0}, 0).value();
  store& store_ = *opened_;
  std::unique_ptr<remote_sessions> sessions_ = std::make_unique<remote_sessions>(store_);
};

TEST_F(sessions_fixture, welcomes_a_new_instance_from_sequence_zero) {
  const auto welcome = hello();
  ASSERT_EQ(welcome.command, remote::command::welcome) << welcome.code();
  EXPECT_EQ(welcome.next_sequence(), 0u);
  const auto* body = flatbuffers::GetRoot<wire::Welcome>(welcome.body.data());
  EXPECT_EQ(body->max_message_bytes(), remote::k_max_message_bytes);
  EXPECT_EQ(body->heartbeat_interval_ms(), 1000u);
  EXPECT_EQ(sessions_->sessions(), 1u);
}

TEST_F(sessions_fixture, notes_a_connected_instance_once) {
  hello();
  hello();          // the same socket again
  hello("peer-2");  // the same instance on a new socket
  const auto connected = notes("connected");
  ASSERT_EQ(connected.size(), 1u);
  EXPECT_EQ(connected[0].service, "checkout");
  EXPECT_NE(connected[0].message.find("producer connected: checkout"), std::string::npos)
      << connected[0].message;
  EXPECT_NE(connected[0].message.find("127.0.0.1:5555"), std::string::npos);
}

TEST_F(sessions_fixture, stores_the_records_of_an_envelope_and_acknowledges_them) {
  hello();
  const auto ack = data(records(0, 5));
  ASSERT_EQ(ack.command, remote::command::ack) << ack.code();
  EXPECT_EQ(ack.next_sequence(), 5u);
  EXPECT_EQ(stored_sequences(), (std::vector<std::int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(
      store_.last_sequence({k_instance.hi(), k_instance.lo()}, entry_kind::record).value_or(~0ull),
      4u);
}

TEST_F(sessions_fixture, files_records_under_the_sessions_service) {
  hello();
  data(records(0, 1));
  const auto all = everything();
  ASSERT_FALSE(all.empty());
  for (const auto& r : all) EXPECT_EQ(r.service, "checkout");
}

TEST_F(sessions_fixture, stores_nothing_new_from_a_replayed_envelope) {
  hello();
  data(records(0, 3));
  const auto ack = data(records(0, 3));
  ASSERT_EQ(ack.command, remote::command::ack);
  EXPECT_EQ(ack.next_sequence(), 3u);
  EXPECT_EQ(stored_sequences(), (std::vector<std::int64_t>{0, 1, 2}));
}

TEST_F(sessions_fixture, stores_only_the_new_part_of_an_overlapping_envelope) {
  hello();
  data(records(0, 5));
  const auto ack = data(records(3, 5));  // 3..7
  EXPECT_EQ(ack.next_sequence(), 8u);
  EXPECT_EQ(stored_sequences(), (std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7}));
}

TEST_F(sessions_fixture, accepts_a_gap_in_the_sequences) {
  hello();
  data(records(0, 2));
  const auto ack = data(records(10, 2));
  EXPECT_EQ(ack.next_sequence(), 12u);
  EXPECT_EQ(stored_sequences(), (std::vector<std::int64_t>{0, 1, 10, 11}));
  data(records(5, 2));  // the gap is records dropped, so this cannot be them
  EXPECT_EQ(stored_sequences(), (std::vector<std::int64_t>{0, 1, 10, 11}));
}

TEST_F(sessions_fixture, notes_a_gap_as_records_lost_with_the_exact_count) {
  hello();
  data(records(0, 2));
  data(records(10, 2));
  const auto lost = notes("dropped");
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_EQ(std::get<std::int64_t>(*field_named(lost[0], "dropped")), 8);
  EXPECT_NE(lost[0].message.find("sequences 2 to 9"), std::string::npos) << lost[0].message;
}

TEST_F(sessions_fixture, notes_a_gap_at_the_start_of_a_session) {
  hello();
  data(records(3, 1));
  const auto lost = notes("dropped");
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_EQ(std::get<std::int64_t>(*field_named(lost[0], "dropped")), 3);
}

TEST_F(sessions_fixture, notes_a_gap_once_when_its_envelope_is_replayed) {
  hello();
  data(records(0, 2));
  data(records(10, 2));
  data(records(10, 2));
  remote_sessions restarted(store_);
  send(restarted, remote::command::hello, hello_body());
  send(restarted, remote::command::data, envelope_body(records(10, 2)));
  EXPECT_EQ(notes("dropped").size(), 1u);
}

TEST_F(sessions_fixture, counts_no_loss_below_what_the_producer_had_acknowledged) {
  hello();
  auto spec = records(10, 2);
  spec.acknowledged = 10;  // a broker before this one stored 0-9 and lost its store
  data(spec);
  EXPECT_TRUE(notes("dropped").empty());
}

TEST_F(sessions_fixture, counts_as_lost_only_the_part_of_a_gap_above_the_acknowledged) {
  hello();
  auto spec = records(10, 2);
  spec.acknowledged = 4;
  data(spec);
  const auto lost = notes("dropped");
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_EQ(std::get<std::int64_t>(*field_named(lost[0], "dropped")), 6);
}

TEST_F(sessions_fixture, notes_no_loss_for_an_envelope_without_records) {
  hello();
  data({.first_sequence = 50});
  EXPECT_TRUE(notes("dropped").empty());
}

TEST_F(sessions_fixture, stores_a_record_that_is_not_8_byte_aligned) {
  hello();
  auto spec = records(0, 1);
  spec.record_alignment = 4;
  EXPECT_EQ(data(spec).next_sequence(), 1u);
  EXPECT_EQ(stored_sequences(), (std::vector<std::int64_t>{0}));
}

TEST_F(sessions_fixture, stores_records_from_a_body_at_an_odd_address) {
  hello();
  const odd_message message(remote::command::data, envelope_body(records(0, 3)));
  const auto reply = sessions_->handle("peer-1", message.spans, "", k_now);
  ASSERT_EQ(reply.command, remote::command::ack);
  EXPECT_EQ(stored_sequences(), (std::vector<std::int64_t>{0, 1, 2}));
}

TEST_F(sessions_fixture, repairs_a_record_that_is_not_utf8_before_storing_it) {
  hello();
  data({.records = {encoded_record(0, "bad \xFF byte")}});
  const auto all = everything();
  const auto stored = std::find_if(all.begin(), all.end(),
                                   [](const log_record& r) { return field_named(r, "seq"); });
  ASSERT_NE(stored, all.end());
  EXPECT_EQ(stored->message, "bad \xEF\xBF\xBD byte");
}

TEST_F(sessions_fixture, notes_an_increase_in_drops_once_with_the_increase) {
  hello();
  data({.first_sequence = 0, .dropped = 3, .last_drop_ns = k_now - k_second});
  auto dropped = notes("dropped");
  ASSERT_EQ(dropped.size(), 1u);
  EXPECT_EQ(std::get<std::int64_t>(*field_named(dropped[0], "dropped")), 3);
  EXPECT_EQ(dropped[0].severity, level::warn);

  data({.first_sequence = 0, .dropped = 5, .last_drop_ns = k_now});
  dropped = notes("dropped");
  ASSERT_EQ(dropped.size(), 2u);
  EXPECT_EQ(std::get<std::int64_t>(*field_named(dropped[1], "dropped")), 2) << "the increase";
}

TEST_F(sessions_fixture, notes_nothing_for_a_repeated_drop_count) {
  hello();
  data({.dropped = 3});
  data({.dropped = 3});
  data(records(0, 2));  // an envelope that says nothing of drops
  EXPECT_EQ(notes("dropped").size(), 1u);
}

TEST_F(sessions_fixture, notes_nothing_for_an_envelope_without_drops) {
  hello();
  data(records(0, 2));
  EXPECT_TRUE(notes("dropped").empty());
}

TEST_F(sessions_fixture, refuses_data_without_a_session) {
  EXPECT_EQ(data(records(0, 1)).code(), remote::refusal::no_session);
  EXPECT_TRUE(stored_sequences().empty());
}

TEST_F(sessions_fixture, refuses_a_ping_without_a_session) {
  EXPECT_EQ(send(remote::command::ping, {}).code(), remote::refusal::no_session);
}

TEST_F(sessions_fixture, refuses_data_from_another_socket_than_the_hellos) {
  hello("peer-1");
  EXPECT_EQ(data(records(0, 1), "peer-2").code(), remote::refusal::no_session);
}

TEST_F(sessions_fixture, answers_a_ping_with_the_next_sequence) {
  hello();
  data(records(0, 4));
  const auto pong = send(remote::command::ping, {});
  ASSERT_EQ(pong.command, remote::command::pong);
  EXPECT_EQ(pong.next_sequence(), 4u);
}

TEST_F(sessions_fixture, welcomes_after_a_broker_restart_from_the_last_stored_sequence) {
  hello();
  data(records(0, 7));
  remote_sessions restarted(store_);  // a new broker over the store the last one left
  EXPECT_EQ(send(restarted, remote::command::data, envelope_body(records(7, 1))).code(),
            remote::refusal::no_session);
  const auto welcome = send(restarted, remote::command::hello, hello_body());
  ASSERT_EQ(welcome.command, remote::command::welcome);
  EXPECT_EQ(welcome.next_sequence(), 7u);
  EXPECT_EQ(notes("connected").size(), 1u) << "a reconnect is no news";
}

TEST_F(sessions_fixture, refuses_an_envelope_naming_another_instance) {
  hello();
  auto spec = records(0, 2);
  spec.producer = identity_spec{.instance = k_other_instance};
  EXPECT_EQ(data(spec).code(), remote::refusal::wrong_instance);
  EXPECT_TRUE(stored_sequences().empty());
}

TEST_F(sessions_fixture, accepts_an_envelope_naming_its_own_instance) {
  hello();
  auto spec = records(0, 2);
  spec.producer = identity_spec{};
  EXPECT_EQ(data(spec).next_sequence(), 2u);
}

TEST_F(sessions_fixture, notes_a_bye_and_forgets_the_session) {
  hello();
  data(records(0, 2));
  const auto bye = send(remote::command::bye, {});
  ASSERT_EQ(bye.command, remote::command::ack);
  EXPECT_EQ(bye.next_sequence(), 2u);
  EXPECT_EQ(sessions_->sessions(), 0u);
  EXPECT_EQ(notes("disconnected").size(), 1u);
  EXPECT_EQ(data(records(2, 1)).code(), remote::refusal::no_session);
}

TEST_F(sessions_fixture, a_producer_gone_silent_is_noted_and_no_longer_shown_connected) {
  const std::int64_t timeout = std::chrono::nanoseconds(remote::k_session_timeout).count();
  const auto producers = [&] {
    const auto services = store_.services({"checkout"});
    return services.empty() ? ~0u : services[0].producers;
  };
  hello("peer-1", {}, k_now);
  ASSERT_EQ(producers(), 1u);
  sessions_->expire(k_now + timeout + 1);
  const auto silent = notes("silent");
  ASSERT_EQ(silent.size(), 1u);
  EXPECT_EQ(silent[0].severity, level::warn);
  EXPECT_NE(silent[0].message.find("producer went silent: checkout"), std::string::npos)
      << silent[0].message;
  EXPECT_EQ(producers(), 0u) << "a killed producer is not shown connected";

  // It speaks again (a network back after a minute): connected anew, and silent again.
  hello("peer-1", {}, k_now + 2 * timeout);
  EXPECT_EQ(notes("connected").size(), 2u);
  EXPECT_EQ(producers(), 1u);
  sessions_->expire(k_now + 3 * timeout + 1);
  EXPECT_EQ(notes("silent").size(), 2u);
  EXPECT_EQ(producers(), 0u);
}

TEST_F(sessions_fixture, names_the_transport_it_was_given_in_its_notes) {
  remote_sessions websocket(store_, "websocket");
  send(websocket, remote::command::hello, hello_body({}), "ws-1");
  const auto connected = notes("connected");
  ASSERT_EQ(connected.size(), 1u);
  EXPECT_NE(connected[0].message.find("websocket from 127.0.0.1:5555"), std::string::npos)
      << connected[0].message;
  const auto services = store_.services({"checkout"});
  ASSERT_EQ(services.size(), 1u);
  EXPECT_EQ(services[0].transport, "websocket");
}

TEST_F(sessions_fixture, expire_forgets_only_sessions_silent_past_the_timeout) {
  const std::int64_t timeout = std::chrono::nanoseconds(remote::k_session_timeout).count();
  hello("quiet", {}, k_now);
  hello("chatty", {.instance = k_other_instance}, k_now);
  send(remote::command::ping, {}, "chatty", k_now + timeout);
  sessions_->expire(k_now + timeout);
  EXPECT_EQ(sessions_->sessions(), 2u) << "silent for exactly the timeout: kept";
  sessions_->expire(k_now + timeout + 1);
  EXPECT_EQ(sessions_->sessions(), 1u);
  EXPECT_EQ(send(remote::command::ping, {}, "quiet", k_now + timeout + 2).code(),
            remote::refusal::no_session);
  EXPECT_EQ(send(remote::command::ping, {}, "chatty", k_now + timeout + 2).command,
            remote::command::pong);
}

TEST_F(sessions_fixture, a_hello_with_another_instance_replaces_the_session) {
  hello();
  data(records(0, 3));
  const auto welcome = hello("peer-1", {.instance = k_other_instance});  // a restarted backend
  EXPECT_EQ(welcome.next_sequence(), 0u) << "a new instance counts from 0";
  EXPECT_EQ(data(records(0, 1)).next_sequence(), 1u);
  EXPECT_EQ(sessions_->sessions(), 1u);
  EXPECT_EQ(store_.last_sequence({k_other_instance.hi(), k_other_instance.lo()}, entry_kind::record)
                .value_or(~0ull),
            0u);
  EXPECT_EQ(stored_sequences(), (std::vector<std::int64_t>{0, 0, 1, 2}));
}

TEST_F(sessions_fixture, forgets_the_longest_silent_session_past_the_session_cap) {
  const auto level = spdlog::get_level();
  spdlog::set_level(spdlog::level::warn);  // a line per HELLO otherwise
  std::size_t opened = 0;
  while (sessions_->sessions() == opened && opened < 100'000) {
    hello("peer-" + std::to_string(opened), {}, k_now + static_cast<std::int64_t>(opened));
    ++opened;
  }
  spdlog::set_level(level);
  ASSERT_LT(opened, 100'000u) << "no cap on sessions";
  EXPECT_EQ(sessions_->sessions(), opened - 1);
  EXPECT_EQ(send(remote::command::ping, {}, "peer-0").code(), remote::refusal::no_session);
  EXPECT_EQ(send(remote::command::ping, {}, "peer-1").command, remote::command::pong);
}

TEST_F(sessions_fixture, counts_messages_records_and_refusals) {
  hello();
  data(records(0, 3));
  data(records(1, 3));                                          // 1, 2 again; 3 is new
  send(remote::command::data, bytes_of("garbage"));             // malformed
  send(remote::command::ping, {}, "stranger");                  // no_session
  send(remote::command::hello, hello_body(), "peer-1", k_now);  // fine
  const remote_counters& counters = sessions_->counters();
  EXPECT_EQ(counters.messages, 6u);
  EXPECT_EQ(counters.records_stored, 4u);
  EXPECT_EQ(counters.records_duplicate, 2u);
  EXPECT_EQ(counters.refused, 2u);
  EXPECT_EQ(counters.refused_by_code, (std::map<std::string, std::uint64_t, std::less<>>{
                                          {"malformed", 1}, {"no_session", 1}}));
}

// --- a producer over ZeroMQ, in process -----------------------------------------------------

// A port nothing listens on.
int closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
  ::close(fd);
  return ntohs(address.sin_port);
}

class zeromq_fixture : public ::testing::Test {
 protected:
  void TearDown() override {
    stop_ = true;
    if (serving_.joinable()) serving_.join();
  }

  // A broker's listener on a free loopback port, answering in a thread of its own.
  std::string serve() {
    auto bound = remote_listener::bind("tcp://127.0.0.1:0", store_);
    EXPECT_TRUE(bound) << bound.error().message;
    if (!bound) return {};
    listener_.emplace(std::move(*bound));
    serving_ = std::thread([this] { listener_->serve(stop_); });
    return listener_->endpoint();
  }

  testing::temp_runtime_dir temp_;
  runtime_dir dir_ = runtime_dir::open(temp_.path()).value();
  std::unique_ptr<store> opened_ = store::open(dir_, {.memory_cap_bytes = 16 << 20}, 0).value();
  store& store_ = *opened_;
  std::optional<remote_listener> listener_;
  std::atomic<bool> stop_{false};
  std::thread serving_;
};

TEST_F(zeromq_fixture, delivers_every_record_exactly_once) {
  const std::string endpoint = serve();
  ASSERT_EQ(endpoint.rfind("tcp://127.0.0.1:", 0), 0u) << endpoint;
  auto opened = producer::open({.service = "checkout", .endpoint = endpoint});
  ASSERT_TRUE(opened) << opened.error().message;
  producer& logs = *opened;
  EXPECT_EQ(logs.transport(), "zeromq");
  constexpr int k_records = 10'000;
  for (int i = 0; i < k_records; ++i) {
    ASSERT_TRUE(logs.log(level::info, "order placed", {}, {{"seq", i}})) << i;
  }
  ASSERT_TRUE(logs.flush(10s));
  EXPECT_EQ(logs.unacknowledged(), 0u);
  EXPECT_EQ(logs.dropped(), 0u);

  std::vector<int> seen(k_records, 0);
  for (const auto& r : store_.query({.services = {"checkout"}, .limit = 1'000'000}).value().logs) {
    if (const auto* seq = field_named(r, "seq")) {
      const auto value = std::get<std::int64_t>(*seq);
      ASSERT_GE(value, 0);
      ASSERT_LT(value, k_records);
      ++seen[static_cast<std::size_t>(value)];
    }
  }
  for (int i = 0; i < k_records; ++i)
    ASSERT_EQ(seen[static_cast<std::size_t>(i)], 1) << "seq " << i;
}

TEST_F(zeromq_fixture, without_a_broker_keeps_what_fits_the_queue_and_counts_the_rest) {
  constexpr std::size_t k_queue_bytes = 64 * 1024;
  constexpr std::uint64_t k_records = 2000;
  auto opened = producer::open({.service = "checkout",
                                .endpoint = "tcp://127.0.0.1:" + std::to_string(closed_port()),
                                .queue_bytes = k_queue_bytes,
                                .flush_timeout = 100ms});
  ASSERT_TRUE(opened) << opened.error().message;
  producer& logs = *opened;
  for (std::uint64_t i = 0; i < k_records; ++i) {
    ASSERT_TRUE(logs.log(level::info, "order placed", {}, {{"seq", i}}));
  }
  // Every record is the same size: the int field's slot is fixed.
  const field fields[] = {{"seq", std::uint64_t{0}}};
  const std::size_t record_size =
      record_writer({.severity = level::info, .message = "order placed", .fields = fields}, k_now)
          .size();
  const std::uint64_t fits = k_queue_bytes / record_size;

  const auto started = std::chrono::steady_clock::now();
  EXPECT_FALSE(logs.flush(200ms));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1s);
  ASSERT_TRUE(
      testing::wait_for([&] { return logs.dropped() + logs.unacknowledged() == k_records; }, 5s))
      << logs.dropped() << " dropped, " << logs.unacknowledged() << " queued";
  EXPECT_EQ(logs.unacknowledged(), fits);
  EXPECT_EQ(logs.dropped(), k_records - fits);
}

TEST(producer_over_zeromq, refuses_an_endpoint_that_is_not_zeromq) {
  const auto opened = producer::open({.service = "checkout", .endpoint = "udp://x"});
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, errc::invalid_argument);
}

}  // namespace
}  // namespace logwire

namespace logwire {
namespace {

TEST(loopback_endpoint, tells_loopback_addresses_from_the_rest) {
  for (const char* loopback : {"tcp://127.0.0.1:7717", "tcp://127.1.2.3:1", "tcp://[::1]:7717",
                               "tcp://localhost:7717", "ipc:///run/logwire/producers.sock"}) {
    EXPECT_TRUE(loopback_endpoint(loopback)) << loopback;
  }
  for (const char* wider : {"tcp://0.0.0.0:7717", "tcp://*:7717", "tcp://10.0.0.1:7717",
                            "tcp://127.example.com:7717", "tcp://eth0:7717"}) {
    EXPECT_FALSE(loopback_endpoint(wider)) << wider;
  }
}

}  // namespace
}  // namespace logwire
