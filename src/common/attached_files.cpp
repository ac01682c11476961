#include "common/attached_files.h"

#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>

namespace viasock {
namespace {

// Local file systems, whose reads and writes finish without waiting on a
// network or on a user-space server (NFS, SMB, sshfs and other FUSE file
// systems can hang for as long as their server does, and the daemon's one
// thread with them).
bool on_local_file_system(int fd) {
  struct statfs fs;
  if (fstatfs(fd, &fs) != 0) return false;
  switch (static_cast<unsigned long>(fs.f_type)) {
    case EXT4_SUPER_MAGIC:  // also ext2 and ext3
    case XFS_SUPER_MAGIC:
    case BTRFS_SUPER_MAGIC:
    case TMPFS_MAGIC:
    case OVERLAYFS_SUPER_MAGIC:
    case RAMFS_MAGIC:
    case F2FS_SUPER_MAGIC:
    case 0x2fc12fc1:  // ZFS
      return true;
    default: return false;
  }
}

bool is_dev_null(const struct stat& st) {
  struct stat null_st;
  return S_ISCHR(st.st_mode) && stat("/dev/null", &null_st) == 0 && S_ISCHR(null_st.st_mode) &&
         st.st_rdev == null_st.st_rdev;
}

}  // namespace

bool attachable_input(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && on_local_file_system(fd);
}

bool attachable_output(int fd, int stderr_fd) {
  struct stat st, err;
  if (fstat(fd, &st) != 0) return false;
  if (is_dev_null(st)) return true;
  if (!S_ISREG(st.st_mode) || !on_local_file_system(fd)) return false;
  bool shared = fstat(stderr_fd, &err) == 0 && err.st_dev == st.st_dev && err.st_ino == st.st_ino;
  return !shared;
}

std::string encode_attach(const AttachedStreams& streams) {
  std::string payload;
  if (streams.input) payload = "in";
  if (streams.output) payload += payload.empty() ? "out" : " out";
  return payload;
}

AttachedStreams decode_attach(std::string_view payload) {
  AttachedStreams streams;
  if (payload == "in" || payload == "in out") streams.input = true;
  if (payload == "out" || payload == "in out") streams.output = true;
  return streams;
}

}  // namespace viasock
