#include <cstdio>
#include "attnkit/attnkit.hpp"
using namespace attnkit;
int main() {
  StateDict sd{{"W_query.weight", Tensor({1,1},{1.0f})}, {"W_key.weight", Tensor({1,1},{1.0f})}, {"W_value.weight", Tensor({1,1},{1.0f})}};
  Tensor x({3,1},{1.5f, 1.0f, 88.5f});
  ForwardOptions o; o.return_weights = true;
  for (auto route : {CausalRoute::renormalise, CausalRoute::neg_inf}) {
    Config c; c.mechanism = Mechanism::causal; c.d_in = 1; c.d_out = 1; c.causal_route = route;
    Module m(c, sd);
    auto r = m.forward(x, o);
    std::printf("%s row 1 weights: %g %g %g\n", route == CausalRoute::renormalise ? "renormalise" : "neg_inf    ",
                r.weights.data[3], r.weights.data[4], r.weights.data[5]);
  }
}
