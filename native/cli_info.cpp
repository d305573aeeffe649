// attnkit CLI — `attnkit info`: what this build runs on.
#include <ostream>

#include "cli.hpp"
#include "json_io.hpp"

namespace attnkit::cli {

void command_info(Format format, std::ostream& out) {
  std::string s;
  if (format == Format::json) {
    s = "{\"version\": \"" + std::string(version()) + "\", \"simd\": \"" + simd_instruction_set() +
        "\", \"hardware_threads\": " + std::to_string(hardware_threads()) +
        ", \"default_threads\": " + std::to_string(default_num_threads()) + ", \"mechanisms\": [";
    for (std::size_t i = 0; i < all_mechanisms().size(); ++i) {
      if (i) s += ", ";
      append_string(s, mechanism_name(all_mechanisms()[i]));
    }
    s += "]}\n";
  } else {
    s = std::string("attnkit ") + version() + "\nSIMD instruction set: " + simd_instruction_set() +
        "\nhardware threads: " + std::to_string(hardware_threads()) +
        "\ndefault threads: " + std::to_string(default_num_threads()) + "\nmechanisms:";
    for (Mechanism m : all_mechanisms()) s += std::string(" ") + mechanism_name(m);
    s += "\n";
  }
  out << s << std::flush;
}

}  // namespace attnkit::cli
