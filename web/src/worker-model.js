// The worker's calls beyond forward and bench: token by token through the KV cache (the playground's
// generation view) and the #learn section's model. Everything here runs in the worker.
import { copy } from './owned.js';

/** Token by token through layer.decoder: each step's context against the full causal forward's row. */
export function decode(ak, msg) {
  const { mechanism, options, x, shape } = msg;
  const [b, n, d] = shape;
  const layer = ak.create(mechanism, { ...options, causal: true, contextLength: n });
  try {
    const full = layer.forward(x, shape).context;
    const width = full.length / (b * n);
    const dec = layer.decoder({ maxTokens: n, batch: b });
    const lengths = [];
    let maxDiff = 0;
    for (let t = 0; t < n; t++) {
      const step = new Float32Array(b * d);
      for (let k = 0; k < b; k++) step.set(x.subarray((k * n + t) * d, (k * n + t + 1) * d), k * d);
      const ctx = dec.step(step, [b, 1, d]).context;
      lengths.push(dec.length);
      for (let k = 0; k < b; k++)
        for (let c = 0; c < width; c++)
          maxDiff = Math.max(maxDiff, Math.abs(ctx[k * width + c] - full[(k * n + t) * width + c]));
    }
    dec.dispose();
    return { lengths, maxDiff, headDim: layer.headDim };
  } finally {
    layer.dispose();
  }
}

// The #learn section's model: one per worker (the section has a worker of its own).
let model = null;
const probeOf = (m) => {
  const w = m.weights();
  return {
    data: copy(w.data),
    shape: Array.from(w.shape),
    inputs: Array.from(w.inputs),
    expectedKey: Array.from(w.expectedKey),
  };
};
export function learnCreate(ak, { options }) {
  model?.dispose();
  model = ak.createModel(options);
  return { config: { ...model.config }, probe: probeOf(model), eval: model.evaluate() };
}
export function learnTrain({ steps, evaluate = true }) {
  if (!model) throw new Error('no model: create one first');
  const losses = [],
    accuracies = [];
  const t0 = performance.now();
  for (let k = 0; k < steps; k++) {
    const r = model.trainStep();
    losses.push(r.loss);
    accuracies.push(r.accuracy);
  }
  const trainMs = performance.now() - t0;
  // The evaluation set (256 sequences) costs many steps: the page asks for it a few times a second only.
  return {
    step: model.steps,
    losses,
    accuracies,
    trainMs,
    probe: probeOf(model),
    eval: evaluate ? model.evaluate() : null,
  };
}
