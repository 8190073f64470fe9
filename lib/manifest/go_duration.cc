#include "manifest/go_duration.h"

#include <limits>

namespace svcnft::manifest {

namespace {

// Nanoseconds per unit; 0 for no unit at this point of `s`. Longest names first.
int64_t unitAt(std::string_view s, std::size_t& i) {
  static constexpr struct {
    std::string_view name;
    int64_t ns;
  } kUnits[] = {
      {"ns", 1},         {"us", 1'000},        {"\xc2\xb5s", 1'000},  {"\xce\xbcs", 1'000},
      {"ms", 1'000'000}, {"s", 1'000'000'000}, {"m", 60'000'000'000}, {"h", 3'600'000'000'000}};
  for (const auto& u : kUnits) {
    if (s.substr(i, u.name.size()) == u.name) {
      i += u.name.size();
      return u.ns;
    }
  }
  return 0;
}

}  // namespace

std::optional<int64_t> parseGoDuration(std::string_view s) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  bool negative = false;
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  if (s.substr(i) == "0") return 0;
  if (i == s.size()) return std::nullopt;
  int64_t total = 0;
  while (i < s.size()) {
    // [digits][.digits] unit
    int64_t whole = 0;
    bool digits = false;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (whole > (kMax - 9) / 10) return std::nullopt;
      whole = whole * 10 + (s[i++] - '0');
      digits = true;
    }
    int64_t frac = 0, scale = 1;
    if (i < s.size() && s[i] == '.') {
      ++i;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        if (scale < 1'000'000'000'000'000) {  // digits past nanosecond precision drop
          frac = frac * 10 + (s[i] - '0');
          scale *= 10;
        }
        ++i;
        digits = true;
      }
    }
    if (!digits) return std::nullopt;
    const int64_t unit = unitAt(s, i);
    if (unit == 0) return std::nullopt;
    if (whole > kMax / unit) return std::nullopt;
    int64_t part = whole * unit;
    // frac/scale of a unit, without overflow: unit <= 3.6e12 and scale <= 1e18.
    part += static_cast<int64_t>(static_cast<long double>(frac) * unit / scale);
    if (part < 0 || total > kMax - part) return std::nullopt;
    total += part;
  }
  return negative ? -total : total;
}

}  // namespace svcnft::manifest
