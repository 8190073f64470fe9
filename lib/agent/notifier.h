// How the agent tells its supervisor how it is doing: systemd's sd_notify protocol
// (READY=1 after the first sync, WATCHDOG=1 while alive, STATUS= with the last
// sync). Behind an interface so tests can watch the messages.
#pragma once

#include <chrono>
#include <string>

namespace svcnft::agent {

class Notifier {
 public:
  virtual ~Notifier() = default;
  virtual void ready(const std::string& status) = 0;
  virtual void status(const std::string& status) = 0;
  virtual void watchdog() = 0;
  // How often watchdog() must be called; zero when no watchdog is set.
  virtual std::chrono::microseconds watchdogInterval() const = 0;
};

// sd_notify to $NOTIFY_SOCKET (a no-op when not run by systemd).
class SystemdNotifier : public Notifier {
 public:
  void ready(const std::string& status) override;
  void status(const std::string& status) override;
  void watchdog() override;
  std::chrono::microseconds watchdogInterval() const override;
};

}  // namespace svcnft::agent
