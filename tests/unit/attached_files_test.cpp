// Attached files: which descriptors qualify, the ATTACH payload, and
// descriptors passed over a real socket pair.
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "common/attached_files.h"
#include "common/call_options.h"
#include "common/descriptor_passing.h"

using namespace viasock;

namespace {

UniqueFd temp_file(std::string* path) {
  char name[] = "/tmp/viasock-attach-XXXXXX";
  int fd = mkstemp(name);
  REQUIRE(fd >= 0);
  *path = name;
  return UniqueFd(fd);
}

bool same_file(int a, int b) {
  struct stat sa, sb;
  return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

}  // namespace

TEST_CASE("attach: only files nobody waits on qualify") {
  std::string path;
  UniqueFd file = temp_file(&path);
  std::string other;
  UniqueFd other_file = temp_file(&other);
  UniqueFd null(open("/dev/null", O_WRONLY | O_CLOEXEC));
  int pipe_fds[2];
  REQUIRE(pipe(pipe_fds) == 0);
  UniqueFd pipe_read(pipe_fds[0]), pipe_write(pipe_fds[1]);

  CHECK(attachable_input(file.get()));
  CHECK_FALSE(attachable_input(pipe_read.get()));
  CHECK_FALSE(attachable_input(null.get()));
  CHECK_FALSE(attachable_input(-1));

  CHECK(attachable_output(file.get(), other_file.get()));
  CHECK(attachable_output(null.get(), other_file.get()));
  CHECK_FALSE(attachable_output(pipe_write.get(), other_file.get()));
  SECTION("not when stderr writes to the same file") {
    UniqueFd again(open(path.c_str(), O_WRONLY | O_CLOEXEC));
    CHECK_FALSE(attachable_output(file.get(), again.get()));
    CHECK(attachable_output(null.get(), null.get()));  // /dev/null holds no order
  }
  unlink(path.c_str());
  unlink(other.c_str());
}

TEST_CASE("attach: payload and run request") {
  for (bool in : {false, true}) {
    for (bool out : {false, true}) {
      AttachedStreams streams{in, out};
      AttachedStreams back = decode_attach(encode_attach(streams));
      CHECK(back.input == in);
      CHECK(back.output == out);
    }
  }
  CHECK_FALSE(decode_attach("out in").any());
  CHECK_FALSE(decode_attach("in  out").any());
  CHECK_FALSE(decode_attach(std::string("in\0", 3)).any());

  CallOptions call;
  call.attach = true;
  CallOptions back;
  REQUIRE(decode_run_request(encode_run_request(call), &back));
  CHECK(back.attach);
  REQUIRE(decode_run_request("run instances=2", &back));
  CHECK_FALSE(back.attach);
}

TEST_CASE("descriptors travel with the bytes they were sent with") {
  int pair[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0);
  UniqueFd a(pair[0]), b(pair[1]);
  std::string path;
  UniqueFd file = temp_file(&path);
  REQUIRE(write(file.get(), "hello", 5) == 5);
  UniqueFd null(open("/dev/null", O_WRONLY | O_CLOEXEC));

  REQUIRE(send_with_descriptors(a.get(), "frame", {file.get(), null.get()}) == 5);
  REQUIRE(send_with_descriptors(a.get(), "plain", {}) == 5);

  char buffer[16];
  iovec part{buffer, sizeof buffer};
  std::vector<UniqueFd> fds;
  bool truncated = false;
  ssize_t n = receive_with_descriptors(b.get(), &part, 1, &fds, &truncated);
  // A message with descriptors is not merged with the next one.
  REQUIRE(n == 5);
  CHECK(std::string(buffer, 5) == "frame");
  CHECK_FALSE(truncated);
  REQUIRE(fds.size() == 2);
  CHECK(same_file(fds[0].get(), file.get()));
  CHECK(same_file(fds[1].get(), null.get()));
  CHECK((fcntl(fds[0].get(), F_GETFD) & FD_CLOEXEC) != 0);
  // One open file description: the offset is shared, as with the client's stdin.
  CHECK(lseek(fds[0].get(), 0, SEEK_CUR) == 5);

  n = receive_with_descriptors(b.get(), &part, 1, &fds, &truncated);
  REQUIRE(n == 5);
  CHECK(std::string(buffer, 5) == "plain");
  CHECK(fds.size() == 2);  // nothing new came
  unlink(path.c_str());
}

TEST_CASE("more descriptors than accepted are closed, not kept") {
  int pair[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0);
  UniqueFd a(pair[0]), b(pair[1]);
  UniqueFd null(open("/dev/null", O_WRONLY | O_CLOEXEC));
  std::vector<UniqueFd> fds;
  fds.emplace_back(open("/dev/null", O_RDONLY | O_CLOEXEC));  // already holds one
  int before = dup(0);
  close(before);
  REQUIRE(send_with_descriptors(a.get(), "x", {null.get(), null.get()}) == 1);
  char c;
  iovec part{&c, 1};
  bool truncated = false;
  REQUIRE(receive_with_descriptors(b.get(), &part, 1, &fds, &truncated) == 1);
  CHECK(fds.size() == kMaxPassedDescriptors);
  // The one beyond the limit was closed: the lowest free number is free again.
  int after = dup(0);
  close(after);
  CHECK(after == before + 1);
}
