#include "logwire/ring.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace logwire {
namespace {

constexpr std::uint64_t k_capacity = k_ring_min_capacity;

struct free_deleter {
  void operator()(std::byte* p) const { std::free(p); }
};

// A ring over ordinary memory: the ring code does not care where its bytes live.
class ring_fixture : public ::testing::Test {
 protected:
  void SetUp() override {
    memory_.reset(static_cast<std::byte*>(std::aligned_alloc(64, ring_segment_size(k_capacity))));
    segment_ = {memory_.get(), ring_segment_size(k_capacity)};
    std::memset(memory_.get(), 0, segment_.size());  // as a new shared-memory segment is
    auto ring = format_ring(segment_, {.owner_pid = 42, .created_ns = 1});
    ASSERT_TRUE(ring) << ring.error().message;
    ring_ = *ring;
  }

  static std::span<const std::byte> bytes(const std::string& text) {
    return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
  }

  std::vector<std::string> drain_all(ring_reader& reader, std::size_t max = 1'000'000) {
    std::vector<std::string> out;
    reader.drain(
        [&out](std::span<const std::byte> payload, std::uint64_t) {
          out.emplace_back(reinterpret_cast<const char*>(payload.data()), payload.size());
        },
        max);
    return out;
  }

  // Starts `threads` writers, each writing payload(t, i) for i below `per_thread` and
  // retrying while the ring is full; `done` counts the writers that have finished.
  std::vector<std::thread> start_writers(int threads, int per_thread,
                                         std::function<std::string(int, int)> payload,
                                         std::atomic<int>& done) {
    std::vector<std::thread> writers;
    for (int t = 0; t < threads; ++t) {
      writers.emplace_back([this, t, per_thread, payload, &done] {
        ring_writer writer(ring_);
        for (int i = 0; i < per_thread; ++i) {
          const std::string text = payload(t, i);
          while (writer.write(bytes(text), 1) != write_status::written) std::this_thread::yield();
        }
        done.fetch_add(1);
      });
    }
    return writers;
  }

  std::unique_ptr<std::byte, free_deleter> memory_;
  std::span<std::byte> segment_;
  ring_view ring_;
};

TEST_F(ring_fixture, empty_ring_delivers_nothing) {
  ring_reader reader(ring_);
  EXPECT_TRUE(drain_all(reader).empty());
  EXPECT_EQ(reader.backlog(), 0u);
}

TEST_F(ring_fixture, delivers_records_in_order_with_payload_intact) {
  ring_writer writer(ring_);
  ASSERT_EQ(writer.write(bytes("first"), 1), write_status::written);
  ASSERT_EQ(writer.write(bytes("second record"), 2), write_status::written);
  ring_reader reader(ring_);
  EXPECT_EQ(drain_all(reader), (std::vector<std::string>{"first", "second record"}));
  EXPECT_EQ(reader.backlog(), 0u);
}

TEST_F(ring_fixture, drain_stops_at_max_records_and_resumes) {
  ring_writer writer(ring_);
  for (int i = 0; i < 5; ++i) writer.write(bytes(std::to_string(i)), 1);
  ring_reader reader(ring_);
  EXPECT_EQ(drain_all(reader, 2), (std::vector<std::string>{"0", "1"}));
  EXPECT_EQ(drain_all(reader), (std::vector<std::string>{"2", "3", "4"}));
}

TEST_F(ring_fixture, should_wrap_and_pad_when_a_record_would_cross_the_end) {
  ring_writer writer(ring_);
  ring_reader reader(ring_);
  const std::string chunk(1000, 'x');  // frames of 1008 bytes: 65536 is not a multiple
  std::vector<std::string> expected;
  for (int round = 0; round < 200; ++round) {
    const std::string payload = std::to_string(round) + chunk;
    ASSERT_EQ(writer.write(bytes(payload), 1), write_status::written) << round;
    expected.push_back(payload);
    if (round % 7 == 6) {
      EXPECT_EQ(drain_all(reader), expected);
      expected.clear();
    }
  }
  EXPECT_EQ(drain_all(reader), expected);
  EXPECT_GT(ring_.header->tail.load(), k_capacity) << "the test must have wrapped";
}

TEST_F(ring_fixture, refuses_and_counts_records_once_exactly_full) {
  ring_writer writer(ring_);
  const std::string payload(56, 'a');  // 64-byte frames divide the ring exactly
  std::size_t written = 0;
  while (writer.write(bytes(payload), 7) == write_status::written) ++written;
  EXPECT_EQ(written, k_capacity / 64);
  EXPECT_EQ(ring_.header->dropped.load(), 1u);
  EXPECT_EQ(ring_.header->drop_first_ns.load(), 7u);
  EXPECT_EQ(writer.write(bytes(payload), 9), write_status::full);
  EXPECT_EQ(ring_.header->dropped.load(), 2u);
  EXPECT_EQ(ring_.header->drop_last_ns.load(), 9u);

  ring_reader reader(ring_);
  EXPECT_EQ(drain_all(reader).size(), written);
  EXPECT_EQ(writer.write(bytes(payload), 10), write_status::written) << "space was handed back";
}

TEST_F(ring_fixture, rejects_and_counts_a_record_larger_than_a_quarter_of_the_ring) {
  ring_writer writer(ring_);
  const std::string huge(writer.max_payload() + 1, 'h');
  EXPECT_EQ(writer.write(bytes(huge), 1), write_status::too_large);
  EXPECT_EQ(ring_.header->dropped.load(), 1u);
  const std::string largest(writer.max_payload(), 'l');
  EXPECT_EQ(writer.write(bytes(largest), 1), write_status::written);
}

TEST_F(ring_fixture, reader_completes_a_hand_back_interrupted_by_a_crash) {
  ring_writer writer(ring_);
  writer.write(bytes("consumed"), 1);
  writer.write(bytes("next"), 1);
  // A reader died after recording its intent and zeroing the first frame, before
  // advancing head.
  const std::uint64_t first_frame = 16;
  std::memset(ring_.data, 0, first_frame);
  ring_.header->head_intent.store(first_frame);
  ring_reader reader(ring_);
  EXPECT_EQ(ring_.header->head.load(), first_frame);
  EXPECT_EQ(drain_all(reader), (std::vector<std::string>{"next"}));
}

TEST_F(ring_fixture, reader_skips_past_a_corrupt_frame_counts_it_and_reads_on) {
  ring_writer writer(ring_);
  writer.write(bytes("good"), 1);
  writer.write(bytes("victim"), 1);
  writer.write(bytes("lost with it"), 1);
  const std::int32_t impossible = 3;  // shorter than a frame header
  std::memcpy(ring_.data + 16, &impossible, sizeof impossible);
  ring_reader reader(ring_);
  EXPECT_EQ(drain_all(reader), (std::vector<std::string>{"good"}));
  EXPECT_EQ(reader.corrupt_frames(), 1u);
  EXPECT_EQ(reader.backlog(), 0u) << "skipped to the tail";
  writer.write(bytes("next"), 1);
  EXPECT_EQ(drain_all(reader), (std::vector<std::string>{"next"}));
}

TEST_F(ring_fixture, reader_skips_a_frame_that_would_run_past_the_end) {
  const std::int32_t too_long = static_cast<std::int32_t>(k_capacity) + 8;
  std::memcpy(ring_.data, &too_long, sizeof too_long);
  ring_.header->tail.store(64);
  ring_reader reader(ring_);
  EXPECT_TRUE(drain_all(reader).empty());
  EXPECT_EQ(reader.corrupt_frames(), 1u);
  EXPECT_EQ(ring_.header->head.load(), 64u);
}

TEST_F(ring_fixture, garbage_anywhere_in_the_header_words_never_hangs_or_crashes_the_reader) {
  ring_writer writer(ring_);
  for (int i = 0; i < 50; ++i) writer.write(bytes("record " + std::to_string(i)), 1);
  std::uint32_t state = 12345;
  for (int round = 0; round < 200; ++round) {
    state = state * 1664525u + 1013904223u;
    const std::size_t offset = (state % (k_capacity / 8)) * 8;
    std::memcpy(ring_.data + offset, &state, sizeof state);
    ring_reader reader(ring_);
    drain_all(reader);  // must return
  }
  SUCCEED();
}

TEST_F(ring_fixture, skip_abandoned_steps_over_a_marked_frame) {
  ring_.header->tail.store(32);
  const std::int32_t marked = -20;  // claimed for a 12-byte payload, never committed
  std::memcpy(ring_.data, &marked, sizeof marked);
  ring_writer writer(ring_);
  writer.write(bytes("after"), 1);
  ring_reader reader(ring_);
  EXPECT_TRUE(drain_all(reader).empty()) << "waits: the writer may be alive";
  EXPECT_TRUE(reader.skip_abandoned());
  EXPECT_EQ(ring_.header->head.load(), 24u);
  EXPECT_EQ(drain_all(reader).size(), 0u) << "a claimed hole of zeros follows the marked frame";
  EXPECT_TRUE(reader.skip_abandoned());
  EXPECT_EQ(drain_all(reader), (std::vector<std::string>{"after"}));
}

TEST_F(ring_fixture, skip_abandoned_steps_over_zeros_to_the_next_frame) {
  ring_.header->tail.store(48);  // claimed, nothing written: the writer died at once
  ring_writer writer(ring_);
  writer.write(bytes("after"), 1);
  ring_reader reader(ring_);
  EXPECT_TRUE(reader.skip_abandoned());
  EXPECT_EQ(ring_.header->head.load(), 48u);
  EXPECT_EQ(drain_all(reader), (std::vector<std::string>{"after"}));
  EXPECT_FALSE(reader.skip_abandoned()) << "nothing left to skip";
}

TEST_F(ring_fixture, attach_accepts_a_formatted_ring) {
  auto attached = attach_ring(segment_);
  ASSERT_TRUE(attached) << attached.error().message;
  EXPECT_EQ(attached->capacity, k_capacity);
}

TEST_F(ring_fixture, attach_rejects_a_bad_magic) {
  ring_.header->magic.store(0);
  EXPECT_FALSE(attach_ring(segment_));
}

TEST_F(ring_fixture, attach_rejects_another_version) {
  ring_.header->version = k_ring_version + 1;
  const auto attached = attach_ring(segment_);
  ASSERT_FALSE(attached);
  EXPECT_EQ(attached.error().code, errc::incompatible);
}

TEST_F(ring_fixture, attach_rejects_a_capacity_larger_than_the_segment) {
  ring_.header->capacity = k_capacity * 2;
  EXPECT_FALSE(attach_ring(segment_));
  ring_.header->capacity = k_capacity - 8;
  EXPECT_FALSE(attach_ring(segment_));
}

TEST_F(ring_fixture, attach_rejects_inconsistent_positions) {
  ring_.header->tail.store(k_capacity + 64);
  EXPECT_FALSE(attach_ring(segment_));
}

TEST_F(ring_fixture, attach_rejects_a_truncated_segment) {
  EXPECT_FALSE(attach_ring(segment_.first(100)));
  EXPECT_FALSE(attach_ring(segment_.first(k_ring_header_size + 1024)));
}

TEST_F(ring_fixture, many_threads_write_while_one_reads_and_nothing_is_lost_or_reordered) {
  constexpr int k_threads = 4;
#if defined(__SANITIZE_THREAD__)
  constexpr int k_per_thread = 2'000;  // ThreadSanitizer runs this an order of magnitude slower
#else
  constexpr int k_per_thread = 20'000;
#endif
  std::atomic<int> writers_done{0};
  auto writers = start_writers(
      k_threads, k_per_thread,
      [](int t, int i) { return std::to_string(t) + ":" + std::to_string(i); }, writers_done);
  std::vector<int> next(k_threads, 0);
  ring_reader reader(ring_);
  int received = 0;
  bool in_order = true;
  const auto take = [&](std::span<const std::byte> payload, std::uint64_t) {
    const std::string text(reinterpret_cast<const char*>(payload.data()), payload.size());
    const int t = std::stoi(text.substr(0, text.find(':')));
    const int i = std::stoi(text.substr(text.find(':') + 1));
    in_order = in_order && i == next[static_cast<std::size_t>(t)];
    next[static_cast<std::size_t>(t)] = i + 1;
    ++received;
  };
  while (writers_done.load() < k_threads || reader.backlog() != 0) {
    if (reader.drain(take, 1024) == 0) std::this_thread::yield();
  }
  for (auto& w : writers) w.join();
  reader.drain(take, 1'000'000);
  EXPECT_TRUE(in_order);
  EXPECT_EQ(received, k_threads * k_per_thread);
}

TEST_F(ring_fixture, more_writers_than_cores_against_a_slow_reader_never_overwrite_unread_records) {
  // A stale head once made a writer believe a full ring had room; a slow reader and
  // more threads than cores is what exposes that.
  constexpr int k_threads = 8;
#if defined(__SANITIZE_THREAD__)
  constexpr int k_per_thread = 2'000;
#else
  constexpr int k_per_thread = 60'000;
#endif
  std::atomic<int> writers_done{0};
  // Varying lengths move the wrap point; the payload checks itself.
  auto writers = start_writers(
      k_threads, k_per_thread,
      [](int t, int i) {
        const std::string body(static_cast<std::size_t>((i * 37 + t * 11) % 300),
                               static_cast<char>('a' + t));
        return std::to_string(t) + ":" + std::to_string(i) + ":" + body;
      },
      writers_done);
  ring_reader reader(ring_);
  std::vector<int> next(k_threads, 0);
  int received = 0;
  int damaged = 0;
  const auto take = [&](std::span<const std::byte> payload, std::uint64_t) {
    const std::string text(reinterpret_cast<const char*>(payload.data()), payload.size());
    const auto first = text.find(':');
    const auto second = text.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) {
      ++damaged;
      return;
    }
    const int t = std::stoi(text.substr(0, first));
    const int i = std::stoi(text.substr(first + 1, second - first - 1));
    const std::string body = text.substr(second + 1);
    if (t < 0 || t >= k_threads || i != next[static_cast<std::size_t>(t)] ||
        body != std::string(static_cast<std::size_t>((i * 37 + t * 11) % 300),
                            static_cast<char>('a' + t))) {
      ++damaged;
      return;
    }
    next[static_cast<std::size_t>(t)] = i + 1;
    ++received;
  };
  while (writers_done.load() < k_threads || reader.backlog() != 0) {
    reader.drain(take, 64);
    std::this_thread::sleep_for(std::chrono::microseconds(50));  // slow: the ring stays full
  }
  for (auto& w : writers) w.join();
  reader.drain(take, 1'000'000);
  EXPECT_EQ(damaged, 0);
  EXPECT_EQ(reader.corrupt_frames(), 0u);
  EXPECT_EQ(received, k_threads * k_per_thread);
}

}  // namespace
}  // namespace logwire
