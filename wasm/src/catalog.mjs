// attnkit — the core's facts as frozen JS values: ak.mechanisms (the traits table, core/include/attnkit/traits.hpp)
// and ak.benchConfigs (core/include/attnkit/bench_configs.hpp, with the FLOP count of each). Nothing here is
// written down in JS: names, defaults, the options that apply, the configurations and the FLOP formula all
// come from the core.

// 'context_length' → 'contextLength': the core's option names as create() takes them
const camelCase = (name) => name.replace(/_([a-z])/g, (_, c) => c.toUpperCase());

export function mechanismsOf(m) {
  return Object.freeze(
    Array.from(m.mechanismTraits(), (t) =>
      Object.freeze({
        name: t.name,
        bookClass: t.book_class,
        description: t.description,
        defaultCausal: t.default_causal,
        hasParameters: t.has_parameters,
        options: Object.freeze(Array.from(t.options, camelCase)),
        // the stateDict formats create({ weightsFormat }) loads and stateDict({ format }) writes
        weightsFormats: Object.freeze(Array.from(t.weights_formats)),
      }),
    ),
  );
}

export function benchConfigsOf(m) {
  return Object.freeze(
    Array.from(m.benchConfigs(), (c) =>
      Object.freeze({
        name: c.name,
        batch: c.batch,
        tokens: c.tokens,
        dIn: c.d_in,
        dOut: c.d_out,
        numHeads: c.heads,
        causal: c.causal,
        description: c.description,
        flops: c.flops,
      }),
    ),
  );
}
