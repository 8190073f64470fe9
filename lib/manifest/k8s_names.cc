#include "manifest/k8s_names.h"

#include <algorithm>

namespace svcnft::manifest {

namespace {

bool lowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool alnum(char c) { return lowerAlnum(c) || (c >= 'A' && c <= 'Z'); }

std::string quoted(std::string_view name) {
  // Names in messages are cut: a hostile one may be megabytes long.
  constexpr std::size_t kShown = 80;
  if (name.size() <= kShown) return "\"" + std::string(name) + "\"";
  std::size_t cut = kShown;  // on a character boundary, never inside a UTF-8 sequence
  while (cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xC0) == 0x80) --cut;
  return "\"" + std::string(name.substr(0, cut)) + "...\" (" + std::to_string(name.size()) +
         " bytes)";
}

bool isLabel(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  if (!lowerAlnum(s.front()) || !lowerAlnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return lowerAlnum(c) || c == '-'; });
}

}  // namespace

std::optional<std::string> dns1123LabelProblem(std::string_view name) {
  if (isLabel(name)) return std::nullopt;
  return quoted(name) +
         " is not a DNS-1123 label (at most 63 characters of a-z, 0-9 and '-', starting and "
         "ending with a letter or digit)";
}

std::optional<std::string> dns1035LabelProblem(std::string_view name) {
  if (isLabel(name) && name.front() >= 'a' && name.front() <= 'z') return std::nullopt;
  return quoted(name) +
         " is not a DNS-1035 label (at most 63 characters of a-z, 0-9 and '-', starting with a "
         "letter and ending with a letter or digit)";
}

std::optional<std::string> dns1123SubdomainProblem(std::string_view name) {
  bool ok = !name.empty() && name.size() <= 253;
  for (std::size_t start = 0; ok && start <= name.size();) {
    std::size_t dot = name.find('.', start);
    if (dot == std::string_view::npos) dot = name.size();
    std::string_view part = name.substr(start, dot - start);
    // Kubernetes limits only the whole to 253 characters, not each part to 63.
    ok = !part.empty() && lowerAlnum(part.front()) && lowerAlnum(part.back()) &&
         std::all_of(part.begin(), part.end(), [](char c) { return lowerAlnum(c) || c == '-'; });
    start = dot + 1;
  }
  if (ok) return std::nullopt;
  return quoted(name) +
         " is not a DNS-1123 subdomain (at most 253 characters of a-z, 0-9, '-' and '.', each "
         "dot-separated part starting and ending with a letter or digit)";
}

std::optional<std::string> labelValueProblem(std::string_view value) {
  if (value.empty()) return std::nullopt;
  const bool ok = value.size() <= 63 && alnum(value.front()) && alnum(value.back()) &&
                  std::all_of(value.begin(), value.end(),
                              [](char c) { return alnum(c) || c == '-' || c == '_' || c == '.'; });
  if (ok) return std::nullopt;
  return quoted(value) +
         " is not a label value (at most 63 characters of letters, digits, '-', '_' and '.', "
         "starting and ending with a letter or digit)";
}

std::optional<std::string> ianaServiceNameProblem(std::string_view name) {
  const bool ok =
      !name.empty() && name.size() <= 15 && name.front() != '-' && name.back() != '-' &&
      name.find("--") == std::string_view::npos &&
      std::all_of(name.begin(), name.end(), [](char c) { return lowerAlnum(c) || c == '-'; }) &&
      std::any_of(name.begin(), name.end(), [](char c) { return c >= 'a' && c <= 'z'; });
  if (ok) return std::nullopt;
  return quoted(name) +
         " is not a port name (at most 15 characters of a-z, 0-9 and '-', with a letter, no '-' "
         "at either end and no \"--\")";
}

}  // namespace svcnft::manifest
