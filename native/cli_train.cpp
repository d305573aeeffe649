// attnkit CLI — `attnkit train`: trains the tiny model (attnkit/model.hpp) on a built-in task with AdamW or SGD
// (attnkit/optim.hpp); a progress bar on stderr when it is a terminal, then the result, and --save writes the
// trained state_dict as JSON.
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <ostream>

#include <CLI/CLI.hpp>

#include "cli.hpp"
#include "json_io.hpp"

namespace attnkit::cli {
namespace {

double parse_lr(const std::string& text) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || std::isspace(static_cast<unsigned char>(text[0])) ||
      !std::isfinite(v) || errno == ERANGE || v < 0.0)
    throw Error("--lr must be a finite number >= 0, got '" + text + "'", ErrorKind::range);
  return v;
}

std::string number(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.6g", v);
  return buffer;
}

// "\r[########            ] 120/300  loss 0.4123", redrawn at most every 50 ms and at the end.
class Progress {
 public:
  Progress(std::ostream* err, std::size_t total) : err_(err), total_(total) {}
  void update(std::size_t done, double loss) {
    if (!err_) return;
    const auto now = std::chrono::steady_clock::now();
    if (done < total_ && now - last_ < std::chrono::milliseconds(50)) return;
    last_ = now;
    constexpr std::size_t kWidth = 30;
    const std::size_t filled = done * kWidth / total_;
    *err_ << "\r[" << std::string(filled, '#') << std::string(kWidth - filled, ' ') << "] " << done << "/" << total_
          << "  loss " << number(loss) << std::flush;
  }
  void finish() {
    if (err_) *err_ << "\r\033[K" << std::flush;  // the bar leaves no line behind
  }

 private:
  std::ostream* err_;
  std::size_t total_;
  std::chrono::steady_clock::time_point last_{};
};

std::string state_dict_json(const StateDict& sd) {
  std::string s = "{";
  for (std::size_t i = 0; i < sd.size(); ++i) {
    s += i ? ",\n " : "";
    append_string(s, sd[i].first);
    s += ": ";
    append_tensor(s, sd[i].second);
  }
  return s + "}\n";
}

}  // namespace

void command_train(const TrainOptions& o, std::ostream& out, std::ostream* progress) {
  ModelConfig config;
  config.task = parse_task(o.task);
  if (o.tokens) config.tokens = *o.tokens;
  if (o.batch) config.batch = *o.batch;
  if (o.heads) config.heads = *o.heads;
  if (o.d_model) config.d_model = *o.d_model;
  config.seed = o.seed;
  // Refuse what would not fit before allocating it (the resolved config throws its own errors first).
  const std::size_t peak = Model::memory_bytes(config) + kProcessBytes;
  if (o.dry_run) {
    out << "{\"peak_bytes\": " << peak << ", \"task\": \"" << task_spec(config.task).name << "\"}\n";
    return;
  }
  const double memory = physical_memory_bytes();
  if (memory > 0 && double(peak) > memory)
    throw Error("this training run needs about " + std::to_string(peak) +
                    " bytes (the model, AdamW's state, a step over --batch sequences and the 256-sequence evaluation), "
                    "more than this machine's memory (" +
                    std::to_string(static_cast<unsigned long long>(memory)) +
                    " bytes); expected a smaller --batch, --tokens or --d-model",
                ErrorKind::range);
  Model model(config);
  const std::unique_ptr<Optimizer> optimizer = model.make_optimizer(o.optimizer, o.lr);
  const std::size_t steps = o.steps ? *o.steps : task_spec(config.task).goal_steps;
  if (o.save) {  // refuse an unwritable file before training, not after; a failed run leaves no file behind
    if (*o.save == "-")
      throw Error("--save - would mix the state_dict into the result on standard output; expected a file path");
    const bool existed = access(o.save->c_str(), F_OK) == 0;
    if (!std::ofstream(*o.save, std::ios::app))
      throw Error("--save: cannot write '" + *o.save + "'; expected a writable file path");
    if (!existed) std::remove(o.save->c_str());
  }
  Progress bar(progress, steps);
  double first = 0.0, last = 0.0;
  for (std::size_t i = 0; i < steps; ++i) {
    last = model.train_step(*optimizer).loss;
    if (i == 0) first = last;
    bar.update(i + 1, last);
  }
  bar.finish();
  const LossAccuracy eval = model.evaluate();
  if (o.save) {
    std::ofstream file(*o.save, std::ios::trunc);
    file << state_dict_json(model.state_dict());
    if (!file.flush()) throw Error("--save: cannot write '" + *o.save + "'; expected a writable file path");
  }
  const std::string task = task_spec(config.task).name;
  if (o.format == Format::json) {
    out << "{\"task\": \"" << task << "\", \"steps\": " << steps << ", \"loss_first\": " << number(first)
        << ", \"loss_last\": " << number(last) << ", \"accuracy\": " << number(eval.accuracy) << "}\n";
  } else {
    out << task << ": " << steps << " steps of " << optimizer->name() << " (lr " << number(optimizer->lr())
        << "), training loss " << number(first) << " -> " << number(last) << ", accuracy "
        << number(100.0 * eval.accuracy) << " % on " << model.evaluation_set().batch << " sequences (loss "
        << number(eval.loss) << ")\n";
  }
}

TrainCommand::TrainCommand(CLI::App& app) {
  command_ = app.add_subcommand("train",
                                "Train a tiny model (embeddings, one multihead attention layer, a read-out) "
                                "on a toy sequence task and report the loss and accuracy");
  std::string tasks;
  for (const TaskSpec& s : task_specs())
    tasks += std::string("\n  ") + s.name + ": " + s.what + "; " + std::to_string(s.tokens) + " tokens, goal " +
             number(100.0 * s.goal_accuracy) + " % in " + std::to_string(s.goal_steps) + " steps";
  const std::pair<const char*, const char*> options[] = {
      {"--task", "copy-previous, reverse, sort or induction (see Tasks below)"},
      {"--steps", "training steps (default: the task's goal steps)"},
      {"--optimizer", "adamw (default) or sgd (momentum 0.9)"},
      {"--lr", "learning rate (default 0.01 for adamw, 0.1 for sgd)"},
      {"--batch", "sequences per step (default 32)"},
      {"--tokens", "sequence length (default: the task's)"},
      {"--heads", "attention heads, dividing --d-model (default 4)"},
      {"--d-model", "embedding and attention width (default 64)"},
      {"--seed", "torch.manual_seed for the parameters; seed+1 draws the batches, seed+2 the test set (default 123)"},
      {"--save", "write the trained state_dict as JSON {name: nested list}"},
      {"--format",
       "text (default) or json: one line {\"task\", \"steps\", \"loss_first\", \"loss_last\", "
       "\"accuracy\"}"}};
  command_->add_flag("--dry-run", dry_run_,
                     "print {\"peak_bytes\": N, \"task\": …}, the memory the run would need, without training");
  for (const auto& [name, help] : options) command_->add_option(name, values_[name], help);
  command_->footer("Tasks:" + tasks +
                   "\n\nThe accuracy is measured on 256 test sequences after training.\n\nExample:\n  attnkit train "
                   "--task induction --format json");
}

bool TrainCommand::parsed() const { return command_->parsed(); }

void TrainCommand::run(std::ostream& out, std::ostream& err) const {
  const auto given = [&](const char* name) { return command_->get_option(name)->count() > 0; };
  const auto value = [&](const char* name) -> const std::string& { return values_.at(name); };
  for (const auto& [name, text] : values_)  // an empty value is an error, never the default
    if (given(name.c_str()) && text.empty())
      throw Error(name + " is empty; expected a value (see attnkit train --help)");
  if (!given("--task")) throw Error("--task is required; expected copy-previous, reverse, sort or induction");
  TrainOptions o;
  o.task = value("--task");
  parse_task(o.task);
  if (given("--steps")) o.steps = parse_count("--steps", value("--steps"), 1, 10000000);
  if (given("--optimizer")) {
    o.optimizer = value("--optimizer");
    if (o.optimizer != "adamw" && o.optimizer != "sgd")
      throw Error("unknown --optimizer '" + o.optimizer + "'; expected adamw or sgd");
  }
  if (given("--lr")) o.lr = parse_lr(value("--lr"));
  if (given("--batch")) o.batch = parse_count("--batch", value("--batch"), 1, kModelMaxBatch);
  if (given("--tokens")) o.tokens = parse_count("--tokens", value("--tokens"), 2, kModelMaxTokens);
  if (given("--heads")) o.heads = parse_count("--heads", value("--heads"), 1, kModelMaxHeads);
  if (given("--d-model")) o.d_model = parse_count("--d-model", value("--d-model"), 1, kModelMaxDModel);
  if (given("--seed")) o.seed = parse_seed(value("--seed"));
  if (given("--save")) o.save = value("--save");
  if (given("--format")) o.format = parse_format(value("--format"));
  o.dry_run = dry_run_;
  const bool terminal = &err == &std::cerr && isatty(STDERR_FILENO);
  command_train(o, out, terminal ? &err : nullptr);
}

}  // namespace attnkit::cli
