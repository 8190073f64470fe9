#include "agent/notifier.h"

#include <systemd/sd-daemon.h>

#include <cstdint>

namespace svcnft::agent {

void SystemdNotifier::ready(const std::string& status) {
  sd_notify(0, ("READY=1\nSTATUS=" + status).c_str());
}

void SystemdNotifier::status(const std::string& status) {
  sd_notify(0, ("STATUS=" + status).c_str());
}

void SystemdNotifier::watchdog() { sd_notify(0, "WATCHDOG=1"); }

std::chrono::microseconds SystemdNotifier::watchdogInterval() const {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0) return std::chrono::microseconds(0);
  return std::chrono::microseconds(usec / 2);  // ping twice per period, as systemd advises
}

}  // namespace svcnft::agent
