// One comparison cell in its own Node process (clean thread pools, and a peak memory of its own):
//   node bench/compare/node-peer.mjs --peer attnkit-wasm|ort-node|ort-web|tfjs-wasm|plain-js --config C2 --threads 1
//        [--quick] [--ref-out FILE] [--ref-in FILE] [--tokens N]
// --ref-out writes this peer's output (float32, raw) so later cells can be checked against it; --ref-in
// checks this peer's output against such a file before timing (relative error ≤ 1e-4, else no timing).
// Prints one JSON line: { peer, config, threads, median_ms, min_ms, runs, rel_error, max_rss_mb, ... }.
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { config, makeStateDict, makeInput, relativeError } from './configs.mjs';
import { measure, budget } from './timing.mjs';
import { attnkitPeer, ortPeer, tfjsPeer, plainJsPeer } from './peers.mjs';

export const TOLERANCE = 1e-4;

function parseArgs(argv) {
  const a = { quick: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (k === '--quick') a.quick = true;
    else if (k.startsWith('--')) a[k.slice(2)] = argv[++i];
  }
  return a;
}

async function makePeer(name, c, sd, x, threads) {
  switch (name) {
    case 'attnkit-wasm': {
      const { load } = await import('attnkit');
      const ak = await load({ threads: threads > 1 });
      const p = attnkitPeer(ak, c, sd, x, threads);
      return { ...p, info: { simd: ak.simd, multithreaded: ak.multithreaded }, close: () => ak.terminate() };
    }
    case 'ort-node': {
      const ort = (await import('onnxruntime-node')).default;
      const { buildMultiHeadAttentionModel } = await import('../../web/src/onnx-graph.js');
      const p = await ortPeer(ort, buildMultiHeadAttentionModel(c, sd), c, x, threads);
      return { ...p, info: { version: ort.env.versions?.node } };
    }
    case 'ort-web': {
      const ort = await import('onnxruntime-web');
      ort.env.wasm.numThreads = threads;
      ort.env.wasm.simd = true;
      const { buildMultiHeadAttentionModel } = await import('../../web/src/onnx-graph.js');
      const p = await ortPeer(ort, buildMultiHeadAttentionModel(c, sd), c, x, threads, {
        executionProviders: ['wasm'],
      });
      return { ...p, info: { version: ort.env.versions?.web } };
    }
    case 'tfjs-wasm': {
      const tf = await import('@tensorflow/tfjs-core');
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      const require = createRequire(import.meta.url);
      wasm.setWasmPaths(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + '/');
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', threads > 1);
      if (threads > 1) wasm.setThreadsCount(threads);
      await tf.setBackend('wasm');
      await tf.ready();
      const p = tfjsPeer(tf, c, sd, x);
      return {
        ...p,
        info: {
          version: tf.version_core,
          simd: tf.env().getBool('WASM_HAS_SIMD_SUPPORT'),
          wasm_threads: wasm.getThreadsCount?.(),
        },
      };
    }
    case 'plain-js':
      return plainJsPeer(c, sd, x);
    default:
      throw new Error(`unknown peer '${name}'; expected attnkit-wasm, ort-node, ort-web, tfjs-wasm or plain-js`);
  }
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  // --tokens N: the config's shape at N tokens (bench/scaling.py's sweep), e.g. C5 at 2048.
  const c = a.tokens ? { ...config(a.config), tokens: Number(a.tokens) } : config(a.config);
  const threads = Number(a.threads || 1);
  const sd = makeStateDict(c),
    x = makeInput(c);
  const result = { peer: a.peer, config: c.name, threads };
  const peer = await makePeer(a.peer, c, sd, x, threads);
  Object.assign(result, peer.info);
  const y = Float32Array.from(await peer.run());
  if (a['ref-out']) writeFileSync(a['ref-out'], new Uint8Array(y.buffer));
  if (a['ref-in'] && !existsSync(a['ref-in']))
    result.unchecked = 'no attnkit reference output (attnkit-wasm did not run for this config)';
  if (a['ref-in'] && existsSync(a['ref-in'])) {
    const buf = readFileSync(a['ref-in']);
    const ref = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    result.rel_error = ref.length === y.length ? relativeError(y, ref) : Infinity;
    if (!(result.rel_error <= TOLERANCE)) {
      result.error = `output differs from attnkit's (relative error ${result.rel_error}); not timed`;
    }
  }
  if (!result.error) Object.assign(result, await measure(peer.run, { isAsync: peer.isAsync, ...budget(c, a.quick) }));
  peer.dispose();
  peer.close?.();
  result.max_rss_mb = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(0);
}

main().catch((e) => {
  process.stdout.write(
    JSON.stringify({ error: String(e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : e) }) + '\n',
  );
  process.exit(1);
});
