// attnkit — what SGD and AdamW share (attnkit/optim.hpp): the names they were given, the checks before a step, and
// the lookup by name.
#include <unordered_map>
#include <utility>

#include "attnkit/errors.hpp"
#include "attnkit/optim.hpp"

namespace attnkit {
namespace {

std::string quoted(const std::string& s) { return "'" + s + "'"; }

// "a, b, c" or "a, b, c, … (12 names)" for messages.
std::string some_names(const std::vector<std::string>& names) {
  std::string s;
  for (std::size_t i = 0; i < names.size() && i < 6; ++i) s += (i ? ", " : "") + names[i];
  if (names.size() > 6) s += ", … (" + std::to_string(names.size()) + " names)";
  return s.empty() ? "none" : s;
}

}  // namespace

Optimizer::Optimizer(const char* name, double lr, const StateDict& parameters) : lr_(lr), name_(name) {
  std::unordered_map<std::string, std::size_t> seen;
  for (const auto& [pname, tensor] : parameters) {
    if (!seen.emplace(pname, slots_.size()).second)
      throw Error(std::string(name) + ": parameter " + quoted(pname) + " is given twice; expected each name once");
    slots_.push_back({pname, tensor.shape, {}});
  }
}

const OptimizerState* Optimizer::state(const std::string& parameter) const {
  for (const Slot& s : slots_)
    if (s.name == parameter) return &s.state;
  return nullptr;
}

void Optimizer::step(StateDict& parameters, const StateDict& gradients) {
  std::vector<std::string> names;
  std::unordered_map<std::string, std::size_t> slot_of;
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    names.push_back(slots_[i].name);
    slot_of.emplace(slots_[i].name, i);
  }
  const std::string prefix = std::string(name_) + ": ";
  // parameter_of[slot] = its index in `parameters`.
  std::vector<std::size_t> parameter_of(slots_.size(), parameters.size());
  for (std::size_t i = 0; i < parameters.size(); ++i) {
    const auto& [pname, tensor] = parameters[i];
    const auto it = slot_of.find(pname);
    if (it == slot_of.end())
      throw Error(prefix + "unknown parameter " + quoted(pname) + "; expected one of " + some_names(names));
    if (parameter_of[it->second] != parameters.size())
      throw Error(prefix + "parameter " + quoted(pname) + " is given twice; expected each name once");
    if (tensor.shape != slots_[it->second].shape)
      throw Error(prefix + "parameter " + quoted(pname) + " has shape " + shape_to_string(tensor.shape) +
                  "; expected " + shape_to_string(slots_[it->second].shape) +
                  " (its shape when the optimizer was made)");
    parameter_of[it->second] = i;
  }
  for (std::size_t s = 0; s < slots_.size(); ++s)
    if (parameter_of[s] == parameters.size())
      throw Error(prefix + "parameter " + quoted(slots_[s].name) +
                  " is missing; expected every parameter the optimizer was made with");
  // gradient_of[slot] = its index in `gradients`, or gradients.size() for none (skipped, as torch skips grad None).
  std::vector<std::size_t> gradient_of(slots_.size(), gradients.size());
  for (std::size_t i = 0; i < gradients.size(); ++i) {
    const auto& [gname, tensor] = gradients[i];
    const auto it = slot_of.find(gname);
    if (it == slot_of.end())
      throw Error(prefix + "gradient of unknown parameter " + quoted(gname) + "; expected one of " + some_names(names));
    if (gradient_of[it->second] != gradients.size())
      throw Error(prefix + "gradient of " + quoted(gname) + " is given twice; expected each name once");
    if (tensor.shape != slots_[it->second].shape)
      throw Error(prefix + "gradient of " + quoted(gname) + " has shape " + shape_to_string(tensor.shape) +
                  "; expected " + shape_to_string(slots_[it->second].shape) + " (the parameter's shape)");
    check_finite(tensor, prefix + "gradient of " + quoted(gname));
    gradient_of[it->second] = i;
  }
  // Each update goes into a copy (scratch_, kept between steps so a training loop allocates nothing), swapped in
  // only when every updated parameter is finite: a step that leaves float32 (an lr too large for these gradients)
  // is refused whole, with the parameters and the state as they were.
  scratch_.resize(slots_.size());
  for (std::size_t s = 0; s < slots_.size(); ++s) {
    if (gradient_of[s] == gradients.size()) continue;
    auto& [parameter, state] = scratch_[s];
    parameter = parameters[parameter_of[s]].second;
    state = slots_[s].state;
    update(parameter, gradients[gradient_of[s]].second, state);
    try {
      check_finite(parameter, "");
    } catch (const Error& e) {
      const std::string what = e.what();  // " contains -Inf at index [0, 0]; expected finite numbers"
      const std::size_t from = what.find("contains ") + 9;
      throw Error(prefix + "this step would make parameter " + quoted(slots_[s].name) + " non-finite (" +
                      what.substr(from, what.find(';') - from) + ") with lr " + format_number(lr_) +
                      "; expected a step that keeps every parameter a finite float32 (a smaller lr); nothing was "
                      "updated",
                  ErrorKind::range);
    }
  }
  for (std::size_t s = 0; s < slots_.size(); ++s) {
    if (gradient_of[s] == gradients.size()) continue;
    std::swap(parameters[parameter_of[s]].second, scratch_[s].first);
    std::swap(slots_[s].state, scratch_[s].second);
  }
  ++steps_;
}

std::unique_ptr<Optimizer> make_optimizer(std::string_view name, const StateDict& parameters,
                                          std::optional<double> lr) {
  if (name == "sgd") {
    SGDOptions o;
    o.lr = lr;
    return std::make_unique<SGD>(parameters, o);
  }
  if (name == "adamw") {
    AdamWOptions o;
    if (lr) o.lr = *lr;
    return std::make_unique<AdamW>(parameters, o);
  }
  throw Error("unknown optimizer '" + std::string(name) + "'; expected adamw or sgd");
}

}  // namespace attnkit
