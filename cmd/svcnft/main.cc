// svcnft command line: flags → library calls → exit codes (SPEC.md):
// 0 success; 1 invalid input (diagnostics on stderr); 2 usage; 3 kernel failure.
#include <CLI/CLI.hpp>
#include <chrono>
#include <iostream>
#include <string>
#include <vector>

#include "compile/compiler.h"
#include "compile/render_nft.h"
#include "spec/loader.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitInvalidInput = 1;
constexpr int kExitUsage = 2;

using Clock = std::chrono::steady_clock;

double millisSince(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

void printDiagnostics(const svcnft::Diagnostics& diags) {
  for (const auto& d : diags.all()) std::cerr << d.format() << "\n";
}

int runCompile(const std::vector<std::string>& paths, const std::string& nodeConfig, bool stats) {
  const auto t0 = Clock::now();
  svcnft::Diagnostics diags;
  svcnft::Inputs inputs = svcnft::spec::loadInputs(paths, nodeConfig, diags);
  const double parseMs = millisSince(t0);
  if (diags.hasErrors()) {
    printDiagnostics(diags);
    std::cerr << "svcnft: " << diags.errorCount() << " error(s); nothing compiled\n";
    return kExitInvalidInput;
  }
  const auto t1 = Clock::now();
  svcnft::ir::Ruleset rs = svcnft::compileRuleset(inputs, diags);
  const double compileMs = millisSince(t1);
  printDiagnostics(diags);
  if (diags.hasErrors()) {
    std::cerr << "svcnft: " << diags.errorCount() << " error(s); nothing compiled\n";
    return kExitInvalidInput;
  }
  const auto t2 = Clock::now();
  std::ios::sync_with_stdio(false);
  svcnft::renderNft(rs, std::cout);
  std::cout.flush();
  if (stats) {
    std::cerr << "services " << inputs.services.size() << ", endpoint slices "
              << inputs.slices.size() << "\n"
              << "sets " << rs.sets.size() << ", chains " << rs.chains.size() << ", rules "
              << rs.ruleCount() << ", elements " << rs.elementCount() << "\n"
              << "parse " << parseMs << " ms, compile " << compileMs << " ms, render "
              << millisSince(t2) << " ms\n";
  }
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"svcnft: Kubernetes Services as nftables maps"};
  app.require_subcommand(1);

  std::vector<std::string> paths;
  std::string nodeConfig;
  bool stats = false;
  CLI::App* compile = app.add_subcommand(
      "compile", "print the complete ruleset as an nft script (the dry-run dump)");
  compile->add_option("-f,--filename", paths, "manifest file or directory (repeatable)")
      ->required();
  compile->add_option("--node-config", nodeConfig, "node config YAML");
  compile->add_flag("--stats", stats, "print object counts and timings on stderr");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }
  if (compile->parsed()) return runCompile(paths, nodeConfig, stats);
  return kExitUsage;
}
