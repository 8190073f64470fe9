// Durations as Kubernetes writes them (Go's time.Duration text: "30s", "1m30s",
// "1.5h", "500ms", "0"), as in KubeProxyConfiguration's periods and timeouts.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace svcnft::manifest {

// Nanoseconds; nullopt for anything Go's time.ParseDuration would refuse, or
// beyond what int64 nanoseconds hold (about 292 years).
std::optional<int64_t> parseGoDuration(std::string_view text);

}  // namespace svcnft::manifest
