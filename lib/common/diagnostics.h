// Diagnostics: errors and warnings about user input, each tied to FILE:LINE:COL.
// Printed as `FILE:LINE:COL: error: MESSAGE`, the format of docs/design.md's exit code 1.
// Loaders collect every diagnostic instead of stopping at the first, so one run
// shows the operator all that is wrong.
#pragma once

#include <string>
#include <vector>

#include "common/shared_name.h"

namespace svcnft {

// Where a thing came from: 1-based line and column, as editors count.
struct SourceLocation {
  SharedName file;  // every object of a file names it: stored once
  int line = 0;
  int column = 0;
  bool operator==(const SourceLocation&) const = default;
};

enum class Severity { kError, kWarning };

struct Diagnostic {
  Severity severity = Severity::kError;
  SourceLocation where;
  std::string message;

  std::string format() const;
};

class Diagnostics {
 public:
  void error(SourceLocation where, std::string message);
  void warning(SourceLocation where, std::string message);

  bool hasErrors() const { return errors_ > 0; }
  int errorCount() const { return errors_; }
  const std::vector<Diagnostic>& all() const { return items_; }

 private:
  std::vector<Diagnostic> items_;
  int errors_ = 0;
};

}  // namespace svcnft
