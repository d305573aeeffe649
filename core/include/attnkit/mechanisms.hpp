// attnkit — the seed's six attention mechanisms behind one Module type (what each has: attnkit/traits.hpp).
//
//   simplified         scores = x·xᵀ, weights = softmax(scores), context = weights·x    (no parameters)
//   self-v1            q, k, v = x·W (W: d_in×d_out), softmax(q·kᵀ/√d_k)·v            SelfAttention_v1
//   self               same with nn.Linear (W: d_out×d_in, y = x·Wᵀ + b)              SelfAttention_v2
//   causal             self + causal mask + dropout on the weights, batched             CausalAttention
//   multihead-wrapper  num_heads independent causal heads of d_out each, concatenated   MultiHeadAttentionWrapper
//   multihead          one projection split into heads of d_out/num_heads + out_proj    MultiHeadAttention
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "attnkit/attention.hpp"
#include "attnkit/parameters.hpp"
#include "attnkit/random.hpp"
#include "attnkit/tensor.hpp"

namespace attnkit {

enum class WeightsFormat : int;  // attnkit/weight_formats.hpp

enum class Mechanism { simplified, self_v1, self, causal, multihead_wrapper, multihead };

const std::vector<Mechanism>& all_mechanisms();
const char* mechanism_name(Mechanism m);  // "multihead-wrapper"
// Throws Error listing the valid names: "unknown mechanism 'foo'; expected one of simplified, self-v1, ...".
Mechanism parse_mechanism(std::string_view name);

// The seed's two routes to causal weights; both give the same weights.
enum class CausalRoute {
  neg_inf,      // scores above the diagonal set to −inf, then softmax (the classes' route)
  renormalise,  // softmax, zero the future, divide each row by its sum
};

struct Config {
  Mechanism mechanism = Mechanism::multihead;
  std::size_t d_in = 0;       // simplified: 0 takes it from the input
  std::size_t d_out = 0;      // per head for multihead-wrapper, total for multihead; ignored by simplified
  std::size_t num_heads = 1;  // multihead and multihead-wrapper only
  std::size_t kv_heads =
      0;  // multihead: heads of W_key/W_value (grouped-query projections, N·head_dim rows); 0: num_heads
  std::size_t k_dim = 0,
              v_dim = 0;  // multihead/self/causal: features of the key and value inputs (cross-attention); 0: d_in
  std::size_t context_length = 0;  // mask buffer size; more tokens than this is an error. 0: no limit
  std::optional<bool> causal;      // default: traits(mechanism).default_causal (causal, multihead-wrapper, multihead)
  bool qkv_bias = false;           // nn.Linear bias on W_query, W_key, W_value (self, causal, wrapper, multihead)
  double dropout = 0.0;      // on the attention weights, in [0, 1); training mode only (double, as PyTorch keeps p)
  std::uint64_t seed = 123;  // torch.manual_seed(seed) before construction
  CausalRoute causal_route = CausalRoute::neg_inf;
};

struct ForwardOptions {
  bool train = false;            // dropout is applied only in training mode
  bool return_weights = false;   // fill ForwardResult::weights (before dropout)
  bool intermediates = false;    // fill ForwardResult::intermediates with every step
  bool average_weights = false;  // with return_weights: weights (b, n_q, n_k), the mean over heads
  // Keep what Module::backward needs (the inputs, projections, the op's AttentionForwardState with its dropout
  // generator state); the forward then takes the op's route (core/src/forward_inputs.cpp), same numbers.
  // forward_bytes does not count that state (about the inputs, queries, keys and values once more).
  bool grad = false;
  std::size_t threads = 0;  // 0: default_num_threads()
};

// Module::backward's result: gradients of Σ grad_context ⊙ context. Shapes are those of the forward's inputs
// (unbatched when x was); kv and value_input are empty unless those inputs were given.
struct ModuleGrad {
  Tensor input;        // like x
  Tensor kv;           // like ForwardInputs::kv (and the value input when no value_input was given)
  Tensor value_input;  // like ForwardInputs::value_input
  StateDict params;    // every parameter's gradient under its state_dict name, in state_dict() order and shapes
};

// Module::forward's other inputs, with torch.nn.MultiheadAttention's conventions (batch_first). Their boolean masks
// use nn.MultiheadAttention's sense, 1 (true) = may NOT attend, the opposite of attention()'s AttentionMask; float
// masks are added to the scores (−inf allowed). A query row left with no key gives zeros (PyTorch gives NaN).
struct ForwardInputs {
  const Tensor* kv = nullptr;  // (b, n_k, k_dim): the input of W_key, and of W_value unless value_input. Default x
  const Tensor* value_input = nullptr;              // (b, n_k, v_dim): the input of W_value. Default kv
  const AttentionMask* key_padding_mask = nullptr;  // (b, n_k), (n_k) unbatched: true = padding (ignored)
  const AttentionMask* attn_mask =
      nullptr;  // (n_q, n_k) or (b·h, n_q, n_k), (h, n_q, n_k) unbatched: true = not allowed
};

// The op's mask (boolean 1 = may attend; shape broadcastable to (b, h, n_q, n_k)) equivalent to
// nn.MultiheadAttention's key_padding_mask and attn_mask: both boolean → a key is allowed when neither forbids it;
// otherwise additive, a boolean one giving −inf where true. Either may be null; nullopt when both are.
// batched: x is (b, n_q, ·); otherwise b is 1 and the masks drop their batch dimension as in PyTorch.
// Throws Error naming the wrong shape, rank or value and the expected one.
std::optional<AttentionMask> module_attention_mask(const AttentionMask* key_padding_mask,
                                                   const AttentionMask* attn_mask, std::size_t batch, std::size_t heads,
                                                   std::size_t n_q, std::size_t n_k, bool batched = true);

struct ForwardResult {
  Tensor context;  // (b, n, d_out_total), or (n, d_out_total) for unbatched input
  Tensor weights;  // (b, h, n_q, n_k) before dropout ((b, n_q, n_k) averaged), batch dropped unbatched; empty unless
                   // requested
  // Every step in the order computed, when requested. Names and shapes (batch dim dropped for unbatched input):
  //   queries, keys, values             (b, h, n, head_dim)
  //   scores                            (b, h, n, n)   q·kᵀ
  //   scaled_scores                     (b, h, n, n)   scores / √head_dim (simplified: not scaled)
  //   masked_scores                     (b, h, n, n)   −inf above the diagonal       [causal, neg_inf route]
  //   unmasked_weights                  (b, h, n, n)   softmax before masking       [causal, renormalise route]
  //   weights                           (b, h, n, n)
  //   weights_after_dropout             (b, h, n, n)                                 [train and dropout > 0]
  //   context_before_out_proj           (b, n, d_out)                                [multihead]
  //   context                           (b, n, d_out_total)
  std::vector<std::pair<std::string, Tensor>> intermediates;

  const Tensor* intermediate(const std::string& name) const;
};

class Decoder;        // a KV-cache decoding session on a Module (attnkit/decoder.hpp)
struct DecodeMemory;  // an encoder's output for cross-attention decoding (attnkit/decoder.hpp)

class Module {
 public:
  // Parameters drawn from config.seed exactly as PyTorch draws them.
  explicit Module(const Config& config);
  // Parameters loaded from a state_dict (names and shapes checked; extra or missing keys are errors).
  Module(const Config& config, const StateDict& state_dict);
  // multihead parameters from a state_dict in any format of attnkit/weight_formats.hpp (automatic: from the key
  // names), the keys under `prefix` ("h.0.attn."): weights_to_book, then the constructor above.
  static Module from_state_dict(const Config& config, const StateDict& state_dict, WeightsFormat format,
                                const std::string& prefix = "");

  const Config& config() const noexcept { return config_; }
  bool causal() const noexcept { return causal_; }
  std::size_t num_heads() const noexcept { return num_heads_; }
  std::size_t head_dim() const noexcept { return head_dim_; }
  std::size_t d_out_total() const noexcept { return num_heads_ * head_dim_; }  // width of the context
  std::size_t kv_heads() const noexcept { return config_.kv_heads ? config_.kv_heads : num_heads_; }
  std::size_t key_dim() const noexcept { return config_.k_dim ? config_.k_dim : config_.d_in; }  // kv's width
  std::size_t value_dim() const noexcept {
    return config_.v_dim ? config_.v_dim : config_.d_in;
  }  // value input's width

  StateDict state_dict() const { return params_; }
  // The same written in `format` (not automatic), each key prefixed: weights_from_book on this module's config.
  StateDict state_dict(WeightsFormat format, const std::string& prefix = "") const;
  // The shapes this module's state_dict must have, in PyTorch's order (attnkit::parameter_shapes(config())).
  std::vector<std::pair<std::string, Shape>> parameter_shapes() const;

  // x: (b, n, d_in) or (n, d_in). Dropout draws continue the generator that drew the parameters,
  // as in PyTorch after torch.manual_seed(seed); construct with a state_dict and it starts at seed.
  ForwardResult forward(const Tensor& x, const ForwardOptions& options = {});
  // The same with keys and values from other inputs and masks (ForwardInputs; nn.MultiheadAttention's
  // conventions). x gives the queries: (b, n_q, d_in) or (n_q, d_in); results have n_q query rows and n_k keys.
  ForwardResult forward(const Tensor& x, const ForwardInputs& inputs, const ForwardOptions& options = {});
  // forward(x, options)'s context for a small call, with no heap allocation and nothing thrown: x holds (b, n, d_in)
  // (or (n, d_in) with b = 1), `out` receives the (b, n, d_out_total) context. Returns false, out unspecified, when
  // the call needs forward() instead, which then gives the same bits or the error: options beyond train and threads
  // (or dropout in training), separate projections, a shape forward refuses, values that are not finite, a
  // projection or context that left float32, a problem that needs more than the per-thread reused buffers or kernel
  // scratch, or a thread on which no forward has run yet (core/src/forward_small.cpp).
  bool forward_small(const float* x, std::size_t b, std::size_t n, std::size_t d_in, const ForwardOptions& options,
                     float* out);

  // The gradients of Σ grad_context ⊙ context for the last forward, which must have had ForwardOptions::grad; once
  // per such forward (the saved state is released). Threads as that forward's; the same bits for any count.
  // Errors (attnkit::Error) name the problem and the expected value: no such forward, grad_context of the wrong
  // shape or not finite.
  ModuleGrad backward(const Tensor& grad_context);

  // Replaces the parameters in place (names and shapes checked as the constructor checks them; on error nothing
  // changes) and repacks them for the kernels: what an optimizer calls after a step. The dropout generator
  // continues; a forward's saved gradient state is dropped.
  void load_state_dict(const StateDict& state_dict);

  // A decoding session with a KV cache of max_tokens tokens per sequence (attnkit/decoder.hpp). The module must
  // outlive it.
  Decoder begin_decode(std::size_t max_tokens, std::size_t batch = 1, std::size_t threads = 0) const;
  // A cross-attention decoding session over memory's keys and values, projected once (a non-causal module).
  Decoder begin_decode(std::size_t max_tokens, const DecodeMemory& memory, std::size_t threads = 0) const;

  // Memory, from the shapes alone, so a caller can refuse what would not fit before allocating it. Counts are
  // bytes of heap (malloc'd) memory, saturating at SIZE_MAX instead of wrapping; they throw what the constructor
  // or forward would throw for a bad config or shape (rank, d_in).
  //
  // forward_bytes: the peak one forward(x, options) call allocates: the q|k|v projection, the context, the (b, h, n, n)
  // weights and steps when the explain path runs (return_weights, intermediates, dropout), the result, and the
  // kernels' per-thread scratch on each thread the call uses (present after a thread's first call at that size, so
  // later calls allocate less). At least the measured peak and at most 1.5× it (tests/memory). x is the input's
  // shape, (b, n, d_in) or (n, d_in); x itself is not counted.
  std::size_t forward_bytes(const Shape& x, const ForwardOptions& options = {}) const;
  static std::size_t forward_bytes(const Config& config, const Shape& x, const ForwardOptions& options = {});
  // The same for forward(x, inputs, options): kv's tokens and widths (k_dim, v_dim), grouped-query heads, the masks
  // and the (b, h, n_q, n_k) weights. Only the inputs' shapes are read.
  std::size_t forward_bytes(const Shape& x, const ForwardInputs& inputs, const ForwardOptions& options = {}) const;
  static std::size_t forward_bytes(const Config& config, const Shape& x, const ForwardInputs& inputs,
                                   const ForwardOptions& options = {});
  // parameter_bytes: the peak while constructing a Module with this config: the parameters (as drawn, or copied
  // from the state_dict), the stacked q|k|v weight and both projections packed for the kernels, and for a moment
  // the list of names and shapes and a name index. kept (optional): what the Module holds once built.
  static std::size_t parameter_bytes(const Config& config, std::size_t* kept = nullptr);

 private:
  struct PackedWeights;  // the parameters in the kernels' layout (defined in core/src)
  struct GradTape;       // what a forward with grad keeps for backward (core/src/module_grad.hpp)

  Config config_;
  bool causal_ = false;
  std::size_t num_heads_ = 1, head_dim_ = 0;
  StateDict params_;                             // PyTorch names and layouts, as given or drawn
  std::vector<float> qkv_weight_, qkv_bias_;     // (3·d_out_total, d_in): W_query; W_key; W_value stacked, per head
  std::shared_ptr<const PackedWeights> packed_;  // the same weights in the gemm kernel's layout
  std::size_t out_proj_weight_ = 0, out_proj_bias_ = 0;  // their indexes in params_ (multihead)
  Generator generator_;
  std::shared_ptr<GradTape> tape_;  // set by a forward with grad, released by backward

  friend class Decoder;  // reads the packed projections

  // W_query, W_key, W_value all (D, d_in): one GEMM projects x into all three (not so for kv_heads, k_dim, v_dim).
  bool stacked_projections() const noexcept {
    return kv_heads() == num_heads_ && key_dim() == config_.d_in && value_dim() == config_.d_in;
  }
  ForwardResult forward_general(const Tensor& x, const ForwardInputs& inputs, const ForwardOptions& options);
  bool small_route(const ForwardOptions& options) const noexcept;  // options forward_small may take
  // The one-GEMM path; key_lengths (per batch item: keys attended, the rest padding) or nullptr (core/src/forward.cpp).
  ForwardResult forward_stacked(const Tensor& x, const ForwardOptions& options, const std::size_t* key_lengths);
  void validate_config();
  void draw_parameters();
  void load_parameters(const StateDict& sd);
  void pack_parameters();
};

// Version string and the SIMD instruction set the kernels run on ("avx512bw", "fma3+avx2", "sse2", "wasm-simd128").
const char* version();
const char* simd_instruction_set();

}  // namespace attnkit
