// attnkit CLI — a port of torch/_tensor_str.py (_Formatter, _vector_str, _tensor_str_with_formatter)
// for float32 tensors with the default print options.
#include "text_format.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <vector>

namespace attnkit::cli {
namespace {

constexpr int kPrecision = 4;
constexpr std::size_t kThreshold = 1000;  // more elements than this: summarise
constexpr std::size_t kEdgeItems = 3;
constexpr std::size_t kLineWidth = 80;

std::string print(const char* format, int precision, double v) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, precision, v);
  return buffer;
}
std::string fixed(double v, int decimals) { return print("%.*f", decimals, v); }  // "{:.4f}"
std::string scientific(double v) { return print("%.*e", kPrecision, v); }         // "{:.4e}"

// Python formats non-finite floats as "nan", "inf", "-inf" (C may write "-nan").
std::string non_finite(double v) { return std::isnan(v) ? "nan" : (v < 0 ? "-inf" : "inf"); }

// Chooses integer, fixed or scientific notation and one width from the values shown, as torch does.
class Formatter {
 public:
  explicit Formatter(const std::vector<double>& values) {
    std::vector<double> nonzero_finite;
    for (double v : values) {
      if (std::isfinite(v) && v != 0) nonzero_finite.push_back(v);
    }
    if (nonzero_finite.empty()) return;
    double min_abs = INFINITY, max_abs = 0;
    for (double v : nonzero_finite) {
      min_abs = std::min(min_abs, std::fabs(v));
      max_abs = std::max(max_abs, std::fabs(v));
      if (v != std::ceil(v)) int_mode_ = false;
    }
    const bool wide_range = max_abs / min_abs > 1000.0 || max_abs > 1.0e8;
    sci_mode_ = int_mode_ ? wide_range : (wide_range || min_abs < 1.0e-4);
    for (double v : nonzero_finite) max_width_ = std::max(max_width_, text(v).size());
  }

  std::size_t width() const { return max_width_; }

  // Right-aligned to the common width.
  std::string format(double v) const {
    std::string s = std::isfinite(v) ? text(v) : non_finite(v);
    if (s.size() < max_width_) s.insert(0, max_width_ - s.size(), ' ');
    return s;
  }

 private:
  bool int_mode_ = true, sci_mode_ = false;
  std::size_t max_width_ = 1;

  // Integer mode appends "." to say the tensor holds floats: tensor([1., 0.]).
  std::string text(double v) const {
    return sci_mode_ ? scientific(v) : int_mode_ ? fixed(v, 0) + "." : fixed(v, kPrecision);
  }
};

class Printer {
 public:
  explicit Printer(const Tensor& t) : t_(t), summarize_(t.numel() > kThreshold) {
    strides_.assign(t.rank(), 1);
    for (std::size_t d = t.rank(); d-- > 1;) strides_[d - 1] = strides_[d] * t.shape[d];
  }

  std::string print(std::size_t indent) {
    std::vector<double> shown;
    collect(0, 0, shown);
    formatter_ = std::make_unique<Formatter>(shown);
    return block(0, 0, indent);
  }

 private:
  const Tensor& t_;
  bool summarize_;
  std::vector<std::size_t> strides_;
  std::unique_ptr<Formatter> formatter_;

  // Rows printed along one dimension: all, or the first and last kEdgeItems with a gap (npos) between.
  std::vector<std::size_t> rows(std::size_t dim) const {
    const std::size_t n = t_.shape[dim];
    std::vector<std::size_t> r;
    if (summarize_ && n > 2 * kEdgeItems) {
      for (std::size_t i = 0; i < kEdgeItems; ++i) r.push_back(i);
      r.push_back(std::string::npos);
      for (std::size_t i = n - kEdgeItems; i < n; ++i) r.push_back(i);
    } else {
      for (std::size_t i = 0; i < n; ++i) r.push_back(i);
    }
    return r;
  }

  // The values the formatter sees (torch's get_summarized_data).
  void collect(std::size_t dim, std::size_t offset, std::vector<double>& out) const {
    for (std::size_t i : rows(dim)) {
      if (i == std::string::npos) continue;
      if (dim + 1 == t_.rank()) out.push_back(t_.data[offset + i]);
      else collect(dim + 1, offset + i * strides_[dim], out);
    }
  }

  std::string vector(std::size_t offset, std::size_t indent) const {
    const std::size_t element_length = formatter_->width() + 2;
    const std::size_t per_line = std::max<std::size_t>(1, (kLineWidth - std::min(kLineWidth, indent)) / element_length);
    std::vector<std::string> items;
    for (std::size_t i : rows(t_.rank() - 1)) {
      items.push_back(i == std::string::npos ? " ..." : formatter_->format(t_.data[offset + i]));
    }
    std::string s = "[";
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (i) s += (i % per_line == 0) ? ",\n" + std::string(indent + 1, ' ') : ", ";
      s += items[i];
    }
    return s + "]";
  }

  std::string block(std::size_t dim, std::size_t offset, std::size_t indent) const {
    if (dim + 1 == t_.rank()) return vector(offset, indent);
    const std::string separator = "," + std::string(t_.rank() - dim - 1, '\n') + std::string(indent + 1, ' ');
    std::string s = "[";
    bool first = true;
    for (std::size_t i : rows(dim)) {
      if (!first) s += separator;
      first = false;
      s += i == std::string::npos ? "..." : block(dim + 1, offset + i * strides_[dim], indent + 1);
    }
    return s + "]";
  }
};

}  // namespace

std::string format_tensor(const Tensor& tensor) {
  const std::string prefix = "tensor(";
  if (tensor.rank() == 0) {
    if (tensor.data.empty()) return prefix + "[])";
    return prefix + Formatter({tensor.data[0]}).format(tensor.data[0]) + ")";
  }
  if (tensor.numel() == 0) {
    if (tensor.rank() == 1) return prefix + "[])";
    std::string size;
    for (std::size_t i = 0; i < tensor.rank(); ++i) size += (i ? ", " : "") + std::to_string(tensor.shape[i]);
    return prefix + "[], size=(" + size + "))";
  }
  return prefix + Printer(tensor).print(prefix.size()) + ")";
}

std::string format_size(const Shape& shape) {
  std::string s = "torch.Size([";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "])";
}

}  // namespace attnkit::cli
