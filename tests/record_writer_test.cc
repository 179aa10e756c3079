// The fast path's hand-laid FlatBuffers must be what the schema's own builder would
// make: the Verifier accepts it, and it decodes to the same record.
#include "record_writer.h"

#include <gtest/gtest.h>

#include <random>

#include "logwire/logwire_generated.h"
#include "logwire/record_encoder.h"

namespace logwire {
namespace {

std::vector<std::byte> write_fast(const record_view& record, std::int64_t timestamp) {
  const record_writer writer(record, timestamp);
  std::vector<std::byte> out(writer.size() + 8);
  // Where the ring puts it: 8-aligned.
  auto* aligned = reinterpret_cast<std::byte*>((reinterpret_cast<std::uintptr_t>(out.data()) + 7) &
                                               ~std::uintptr_t{7});
  writer.write(aligned);
  return {aligned, aligned + writer.size()};
}

bool verifies(const std::vector<std::byte>& bytes) {
  flatbuffers::Verifier verifier(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  return verifier.VerifyBuffer<wire::Record>(nullptr);
}

std::string str(const flatbuffers::String* s) {
  return s != nullptr ? s->str() : "";
}

// Every decoded value of two Record buffers, compared one by one.
void expect_same_record(const std::vector<std::byte>& fast, std::span<const std::byte> reference) {
  const auto* a = flatbuffers::GetRoot<wire::Record>(fast.data());
  const auto* b = flatbuffers::GetRoot<wire::Record>(reference.data());
  EXPECT_EQ(a->timestamp_ns(), b->timestamp_ns());
  EXPECT_EQ(a->level(), b->level());
  EXPECT_EQ(str(a->service()), str(b->service()));
  EXPECT_EQ(str(a->message()), str(b->message()));
  EXPECT_EQ(str(a->request_id()), str(b->request_id()));
  EXPECT_EQ(str(a->traceparent()), str(b->traceparent()));
  EXPECT_EQ(str(a->span_id()), str(b->span_id()));
  EXPECT_EQ(str(a->stack_trace()), str(b->stack_trace()));
  const auto count = [](const wire::Record* r) {
    return r->fields() != nullptr ? r->fields()->size() : 0u;
  };
  ASSERT_EQ(count(a), count(b));
  for (std::uint32_t i = 0; i < count(a); ++i) {
    const auto* fa = a->fields()->Get(i);
    const auto* fb = b->fields()->Get(i);
    EXPECT_EQ(str(fa->key()), str(fb->key()));
    EXPECT_EQ(fa->kind(), fb->kind());
    EXPECT_EQ(str(fa->string_value()), str(fb->string_value()));
    EXPECT_EQ(fa->int_value(), fb->int_value());
    EXPECT_EQ(fa->double_value(), fb->double_value());
    EXPECT_EQ(fa->bool_value(), fb->bool_value());
  }
}

TEST(record_writer, a_full_record_verifies_and_matches_the_builders) {
  const field fields[] = {
      {"userId", 987}, {"paymentId", "pay-99"}, {"amount", 49.99}, {"retry", true}};
  const record_view record{
      .severity = level::error,
      .message = "Payment gateway timeout",
      .context = {.request_id = "req-12345",
                  .traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                  .span_id = "span-789",
                  .stack_trace = "at charge()"},
      .fields = fields,
      .service = "api-server"};
  const auto fast = write_fast(record, 1'769'854'523'456'000'000);
  ASSERT_TRUE(verifies(fast));
  record_encoder reference;
  expect_same_record(fast, reference.encode(record, 1'769'854'523'456'000'000));
}

TEST(record_writer, an_empty_record_verifies_and_matches_the_builders) {
  const auto fast = write_fast({}, 0);
  ASSERT_TRUE(verifies(fast));
  record_encoder reference;
  expect_same_record(fast, reference.encode({}, 0));
}

TEST(record_writer, size_is_exactly_what_write_fills) {
  const field fields[] = {{"k", "v"}};
  const record_writer writer({.message = "abc", .fields = fields}, 1);
  std::vector<std::byte> out(writer.size() + 64, std::byte{0x5a});
  writer.write(out.data());
  for (std::size_t i = writer.size(); i < out.size(); ++i) ASSERT_EQ(out[i], std::byte{0x5a}) << i;
}

TEST(record_writer, random_records_all_verify_and_match_the_builders) {
  std::mt19937 random(20261124);
  const auto text = [&](std::size_t max) {
    std::string s(random() % (max + 1), ' ');
    for (char& c : s) c = static_cast<char>(random() % 256);  // any bytes, NUL included
    return s;
  };
  record_encoder reference;
  for (int round = 0; round < 500; ++round) {
    std::vector<std::string> keys, values;
    for (int i = 0; i < 8; ++i) {
      keys.push_back(text(12));
      values.push_back(text(40));
    }
    std::vector<field> fields;
    const std::size_t count = random() % 8;
    for (std::size_t i = 0; i < count; ++i) {
      switch (random() % 4) {
        case 0:
          fields.emplace_back(keys[i], values[i]);
          break;
        case 1:
          fields.emplace_back(keys[i], static_cast<std::int64_t>(random()) - 2'000'000'000LL);
          break;
        case 2:
          fields.emplace_back(keys[i], static_cast<double>(random()) / 7.0);
          break;
        default:
          fields.emplace_back(keys[i], random() % 2 == 0);
          break;
      }
    }
    const std::string message = text(200), request = text(20), parent = text(60), span = text(20),
                      stack = text(300), service = text(10);
    const record_view record{.severity = static_cast<level>(random() % 6),
                             .message = message,
                             .context = {.request_id = request,
                                         .traceparent = parent,
                                         .span_id = span,
                                         .stack_trace = stack},
                             .fields = fields,
                             .service = service};
    const std::int64_t timestamp = static_cast<std::int64_t>(random()) * 1'000'003;
    const auto fast = write_fast(record, timestamp);
    ASSERT_TRUE(verifies(fast)) << "round " << round;
    expect_same_record(fast, reference.encode(record, timestamp));
  }
}

}  // namespace
}  // namespace logwire
