#include "logwire/runtime_dir.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "support/temp_runtime_dir.h"

namespace logwire {
namespace {

mode_t mode_of(const std::filesystem::path& path) {
  struct stat st {};
  ::stat(path.c_str(), &st);
  return st.st_mode & 0777;
}

TEST(runtime_dir, creates_a_private_directory_with_a_private_ring_registry) {
  testing::temp_runtime_dir temp;
  const auto dir = runtime_dir::open(temp.path());
  ASSERT_TRUE(dir) << dir.error().message;
  EXPECT_EQ(mode_of(temp.path()), 0700u);
  EXPECT_EQ(mode_of(dir->rings_dir()), 0700u);
  EXPECT_EQ(dir->query_endpoint(), "ipc://" + temp.string() + "/query.sock");
}

TEST(runtime_dir, refuses_a_directory_other_users_can_read) {
  testing::temp_runtime_dir temp;
  std::filesystem::create_directories(temp.path());
  ::chmod(temp.path().c_str(), 0755);
  const auto dir = runtime_dir::open(temp.path());
  ASSERT_FALSE(dir);
  EXPECT_NE(dir.error().message.find("chmod 700"), std::string::npos) << dir.error().message;
}

TEST(runtime_dir, refuses_a_path_too_long_for_a_socket) {
  testing::temp_runtime_dir temp;
  const auto deep = temp.path() / std::string(120, 'd');
  const auto dir = runtime_dir::open(deep);
  ASSERT_FALSE(dir);
  EXPECT_NE(dir.error().message.find("too long"), std::string::npos) << dir.error().message;
}

TEST(runtime_dir, different_directories_get_different_shared_memory_prefixes) {
  testing::temp_runtime_dir a;
  testing::temp_runtime_dir b;
  EXPECT_NE(runtime_dir::open(a.path())->shm_prefix(), runtime_dir::open(b.path())->shm_prefix());
  EXPECT_EQ(runtime_dir::open(a.path())->shm_prefix(), runtime_dir::open(a.path())->shm_prefix());
}

TEST(runtime_dir, default_prefers_the_logwire_variable_then_xdg) {
  const char* saved_logwire = std::getenv("LOGWIRE_RUNTIME_DIR");
  const char* saved_xdg = std::getenv("XDG_RUNTIME_DIR");
  const std::string keep_logwire = saved_logwire ? saved_logwire : "";
  const std::string keep_xdg = saved_xdg ? saved_xdg : "";

  ::setenv("LOGWIRE_RUNTIME_DIR", "/tmp/explicit", 1);
  ::setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
  EXPECT_EQ(runtime_dir::default_path(), "/tmp/explicit");
  ::unsetenv("LOGWIRE_RUNTIME_DIR");
  EXPECT_EQ(runtime_dir::default_path(), "/run/user/1000/logwire");
  ::unsetenv("XDG_RUNTIME_DIR");
  EXPECT_EQ(runtime_dir::default_path(), "/tmp/logwire-" + std::to_string(::geteuid()));

  if (saved_logwire) ::setenv("LOGWIRE_RUNTIME_DIR", keep_logwire.c_str(), 1);
  if (saved_xdg) ::setenv("XDG_RUNTIME_DIR", keep_xdg.c_str(), 1);
}

}  // namespace
}  // namespace logwire
