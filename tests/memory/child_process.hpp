// Runs a measurement in a fresh child process (fork), so the kernels' per-thread buffers and the thread pool start
// empty, as on a first call, and reads its trivially copyable answer back through a pipe.
#pragma once
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <functional>
#include <optional>
#include <type_traits>

namespace attnkit_memory {

// The child's answer, or nullopt when it threw, crashed or wrote nothing.
template <class T>
std::optional<T> in_child(const std::function<T()>& measure) {
  static_assert(std::is_trivially_copyable_v<T>);
  int fds[2];
  if (pipe(fds) != 0) return std::nullopt;
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    int code = 1;
    try {
      const T answer = measure();
      code = write(fds[1], &answer, sizeof answer) == sizeof answer ? 0 : 1;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "the child threw: %s\n", e.what());
    } catch (...) {
      std::fprintf(stderr, "the child threw a non-std exception\n");
    }
    _exit(code);
  }
  close(fds[1]);
  T answer{};
  const ssize_t got = read(fds[0], &answer, sizeof answer);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (got != sizeof answer || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return std::nullopt;
  return answer;
}

}  // namespace attnkit_memory
