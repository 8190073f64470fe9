#include "common/diagnostics.h"

namespace svcnft {

std::string Diagnostic::format() const {
  std::string out = where.file.str();
  if (where.line > 0) {
    out += ":" + std::to_string(where.line) + ":" + std::to_string(where.column);
  }
  out += severity == Severity::kError ? ": error: " : ": warning: ";
  out += message;
  return out;
}

void Diagnostics::error(SourceLocation where, std::string message) {
  items_.push_back({Severity::kError, std::move(where), std::move(message)});
  ++errors_;
}

void Diagnostics::warning(SourceLocation where, std::string message) {
  items_.push_back({Severity::kWarning, std::move(where), std::move(message)});
}

}  // namespace svcnft
