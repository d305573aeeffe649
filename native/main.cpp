// attnkit — the command-line tool. Everything lives in attnkit_cli (cli.hpp) so tests can run it in-process.
#include <iostream>
#include <string>
#include <vector>

#include "cli.hpp"

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  return attnkit::cli::main(std::vector<std::string>(argv, argv + argc), std::cin, std::cout, std::cerr);
}
