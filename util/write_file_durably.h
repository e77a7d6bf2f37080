// WriteFileDurably: replace a small file atomically and durably.
//
// Writes `text` to "<path>.tmp", fsyncs and closes it, renames it over
// `path`, then opens and fsyncs the directory holding `path` so that the
// rename itself survives a crash. Afterwards `path` holds either its old
// content or all of `text`, never a mix; once OK is returned, `text` is on
// stable storage.
//
// Every failed step is reported — a failed directory fsync too, since without
// it the rename may be lost — as a FileStatus whose message names the step,
// the file and errno's text: "fsync /data/n1: Input/output error". On failure
// "<path>.tmp" may be left behind; the next call truncates it.
//
// Thread safety: concurrent calls for the same path race on "<path>.tmp".
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>

#include "util/status.h"

namespace phalanx::util {

struct FileStatusTag {};
// OK, or one line naming the failed file operation.
using FileStatus = MessageStatus<FileStatusTag>;

inline FileStatus WriteFileDurably(const std::filesystem::path& path, std::string_view text) {
  auto failed = [](const char* step, const std::filesystem::path& p, int err) {
    return FileStatus::Error(std::string(step) + " " + p.string() + ": " + std::strerror(err));
  };
  const std::filesystem::path tmp = std::filesystem::path(path) += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return failed("create", tmp, errno);
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : EIO;
      ::close(fd);
      return failed("write", tmp, err);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    return failed("fsync", tmp, err);
  }
  if (::close(fd) != 0) return failed("close", tmp, errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return failed("rename", tmp, errno);

  std::filesystem::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return failed("open", dir, errno);
  int r = ::fsync(dfd);
  int err = errno;
  ::close(dfd);
  if (r != 0) return failed("fsync", dir, err);
  return FileStatus::Ok();
}

}  // namespace phalanx::util
