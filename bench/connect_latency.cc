// First-packet latency: how long TCP connect() takes to ADDRESS:PORT, COUNT times,
// one connection after another (each a new conntrack entry, so each first packet
// goes through the nat rules). Prints "p50_us p99_us failures". Bounded by COUNT
// and a 2 s timeout per connection.
// Usage: connect_latency ADDRESS PORT COUNT
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

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: connect_latency ADDRESS PORT COUNT\n");
    return 2;
  }
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(std::atoi(argv[2])));
  if (inet_pton(AF_INET, argv[1], &to.sin_addr) != 1) return 2;
  const int count = std::atoi(argv[3]);
  std::vector<double> us;
  int failures = 0;
  for (int i = 0; i < count; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    // RST on close: no TIME_WAIT pile-up on either side over thousands of connections.
    linger lg{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    const auto t0 = std::chrono::steady_clock::now();
    int rc = connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to);
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
    if (rc != 0) {
      ++failures;
      continue;
    }
    us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  if (us.empty()) {
    std::printf("- - %d\n", failures);
    return 1;
  }
  std::sort(us.begin(), us.end());
  auto pct = [&](double p) { return us[std::min(us.size() - 1, static_cast<std::size_t>(p * us.size()))]; };
  std::printf("%.1f %.1f %d\n", pct(0.50), pct(0.99), failures);
  return failures ? 1 : 0;
}
