// First-packet latency: how long TCP connect() takes to each ADDRESS:PORT, COUNT
// times each, the addresses taken in turn (so drift of the machine over the run
// touches every address alike; each connection is a new conntrack entry, so each
// first packet goes through the nat rules). Prints "p50_us p99_us failures", one
// line per address. Bounded by COUNT and a 2 s timeout per connection.
// Usage: connect_latency PORT COUNT ADDRESS...
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

// One connect() to `to`: its time in microseconds, or a negative number on failure.
double connectOnce(const sockaddr_in& to) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  // RST on close: no TIME_WAIT pile-up on either side over thousands of connections.
  linger lg{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  const auto t0 = std::chrono::steady_clock::now();
  int rc = connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to);
  if (rc < 0 && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    rc = poll(&p, 1, 2000) == 1 ? 0 : -1;
    int err = 0;
    socklen_t len = sizeof err;
    if (rc == 0) getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) rc = -1;
  }
  const auto t1 = std::chrono::steady_clock::now();
  close(fd);
  return rc == 0 ? std::chrono::duration<double, std::micro>(t1 - t0).count() : -1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: connect_latency PORT COUNT ADDRESS...\n");
    return 2;
  }
  const uint16_t port = static_cast<uint16_t>(std::atoi(argv[1]));
  const int count = std::atoi(argv[2]);
  std::vector<sockaddr_in> targets;
  for (int i = 3; i < argc; ++i) {
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    if (inet_pton(AF_INET, argv[i], &to.sin_addr) != 1) return 2;
    targets.push_back(to);
  }
  std::vector<std::vector<double>> us(targets.size());
  std::vector<int> failures(targets.size());
  for (int i = 0; i < count; ++i) {
    for (std::size_t t = 0; t < targets.size(); ++t) {
      const double x = connectOnce(targets[t]);
      if (x < 0) {
        ++failures[t];
      } else {
        us[t].push_back(x);
      }
    }
  }
  int rc = 0;
  for (std::size_t t = 0; t < targets.size(); ++t) {
    if (us[t].empty()) {
      std::printf("- - %d\n", failures[t]);
      rc = 1;
      continue;
    }
    std::sort(us[t].begin(), us[t].end());
    auto pct = [&](double p) {
      return us[t][std::min(us[t].size() - 1, static_cast<std::size_t>(p * us[t].size()))];
    };
    std::printf("%.1f %.1f %d\n", pct(0.50), pct(0.99), failures[t]);
    if (failures[t]) rc = 1;
  }
  return rc;
}
