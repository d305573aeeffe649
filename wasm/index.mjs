// attnkit — the npm package entry (ESM). Loads the WebAssembly module and wraps the Embind layer in a
// small, validated API:
//
//   import { load } from 'attnkit';
//   const ak = await load();
//   const layer = ak.create('multihead', { dIn: 3, dOut: 2, numHeads: 2, contextLength: 6 });
//   const out = layer.forward(x /* Float32Array */, [2, 6, 3], { returnWeights: true });
//   layer.dispose();
//
// Errors are thrown as Error (malformed or inconsistent input) or RangeError (a number out of range), with
// the native CLI's messages for everything the core checks, and JS-specific messages for wrong JS types.
// The code is in wasm/src/: values.mjs, tensors.mjs, state-dict.mjs and options.mjs copy and check the
// arguments; heap.mjs holds the views on wasm memory; layer.mjs, instance.mjs and load.mjs are the API.
export { load, load as default } from './src/load.mjs';
