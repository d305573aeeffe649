// attnkit CLI — `attnkit grad`: `attnkit run`'s forward in gradient mode, then Module::backward of the loss
// Σ context ⊙ grad_output (grad_output from --grad-output, default all ones), printed as
// {"context", "grad_input", "grad_kv"?, "grads": {state_dict name: gradient}} or as PyTorch prints tensors.
#include <ostream>
#include <string>

#include "cli.hpp"
#include "json_io.hpp"
#include "prepared_run.hpp"
#include "text_format.hpp"

namespace attnkit::cli {

Tensor read_grad_output(const std::optional<std::string>& path, std::istream& in, const Shape& shape, const char* of) {
  if (!path) return Tensor(shape, std::vector<float>(checked_numel(shape), 1.0f));
  const Json document = parse_json(read_source(*path, in, "--grad-output"), "--grad-output");
  if (!document.is_array())
    throw Error(std::string("--grad-output must hold a nested list of numbers; expected the ") + of + "'s shape " +
                shape_to_string(shape));
  Tensor t = tensor_from_json(document, "grad_output");
  if (t.shape != shape)
    throw Error("grad_output has shape " + shape_to_string(t.shape) + "; expected the " + of + "'s shape " +
                shape_to_string(shape));
  return t;
}

namespace {

void append_text(std::string& s, const std::string& name, const Tensor& t) {
  if (!s.empty()) s += "\n";
  s += name + ":\n" + format_tensor(t) + "\n" + name + ".shape: " + format_size(t.shape) + "\n";
}

}  // namespace

void command_grad(const RunOptions& o, std::istream& in, std::ostream& out) {
  if (o.decode) throw Error("grad runs the whole forward; expected no --decode with grad");
  if (o.dry_run) throw Error("--dry-run estimates attnkit run's memory; expected no --dry-run with grad");
  if (o.intermediates) throw Error("grad prints the context and the gradients; expected no --intermediates with grad");
  const bool stdin_taken = o.input == "-" || (o.weights && *o.weights == "-");
  if (o.grad_output && *o.grad_output == "-" && stdin_taken)
    throw Error("--grad-output and --input or --weights cannot both read standard input (-); expected a file");
  PreparedRun p = prepare_run(o, in);
  const Tensor& x = p.inputs.x;

  ForwardOptions options;
  options.train = o.train;
  options.threads = o.threads;
  options.grad = true;
  const ForwardResult forward = p.module->forward(x, p.extra(), options);
  const Tensor grad_output = read_grad_output(o.grad_output, in, forward.context.shape, "context");
  const ModuleGrad grad = p.module->backward(grad_output);

  std::string s;
  if (o.format == Format::json) {
    s = "{\n  \"mechanism\": ";
    append_string(s, mechanism_name(p.config.mechanism));
    s += ",\n  \"context_shape\": ";
    append_shape(s, forward.context.shape);
    s += ",\n  \"context\": ";
    append_tensor(s, forward.context);
    s += ",\n  \"grad_input\": ";
    append_tensor(s, grad.input);
    if (!grad.kv.empty()) {
      s += ",\n  \"grad_kv\": ";
      append_tensor(s, grad.kv);
    }
    s += ",\n  \"grads\": {";
    for (std::size_t i = 0; i < grad.params.size(); ++i) {
      s += i ? ",\n    " : "\n    ";
      append_string(s, grad.params[i].first);
      s += ": ";
      append_tensor(s, grad.params[i].second);
    }
    s += grad.params.empty() ? "}" : "\n  }";
    s += "\n}\n";
  } else {
    append_text(s, "context", forward.context);
    append_text(s, "grad_input", grad.input);
    if (!grad.kv.empty()) append_text(s, "grad_kv", grad.kv);
    for (const auto& [name, t] : grad.params) append_text(s, "grad " + name, t);
  }
  out << s << std::flush;
}

}  // namespace attnkit::cli
