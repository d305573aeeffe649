// attnkit tests — a table of bad inputs: each row runs one call that must throw attnkit::Error of the row's kind,
// one line long, containing each of the row's parts (the problem and the expected value).
#pragma once
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "attnkit/errors.hpp"

namespace attnkit {

struct BadCase {
  const char* name;
  std::function<void()> run;
  ErrorKind kind;
  std::vector<std::string> parts;  // each must appear in what()
};

inline void expect_bad_inputs(const std::vector<BadCase>& cases) {
  for (const BadCase& c : cases) {
    try {
      c.run();
      ADD_FAILURE() << c.name << ": no error";
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_EQ(e.kind(), c.kind) << c.name << ": " << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << c.name << ": one line";
      for (const auto& part : c.parts)
        EXPECT_NE(what.find(part), std::string::npos) << c.name << ": '" << what << "' lacks '" << part << "'";
    } catch (const std::exception& e) {
      ADD_FAILURE() << c.name << ": not an attnkit::Error: " << e.what();
    }
  }
}

}  // namespace attnkit
