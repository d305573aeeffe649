// The browser side of the comparison, loaded by the page browser.mjs serves:
//   /?peer=attnkit-wasm|attnkit-wasm-out|ort-web|tfjs-wasm|plain-js&threads=N&configs=C1,C2&quick=0|1
// Each cell: build the peer, check its output against attnkit's (the /ref/<config>.bin the Node run
// wrote) to 1e-4, then time it. Results go to window.__results; window.__done is set at the end.
import { config, makeStateDict, makeInput, relativeError } from './configs.mjs';
import { measure, budget } from './timing.mjs';
import { attnkitPeer, ortPeer, tfjsPeer, plainJsPeer } from './peers.mjs';

const TOLERANCE = 1e-4;
const params = new URLSearchParams(location.search);
const peerName = params.get('peer');
const threads = Number(params.get('threads') || 1);
const configs = (params.get('configs') || 'C1').split(',');
const quick = params.get('quick') === '1';
const results = [];
window.__results = results;
const log = (s) => {
  document.getElementById('log').textContent += s + '\n';
};

async function fetchBytes(url) {
  const r = await fetch(url);
  if (!r.ok) return null;
  return new Uint8Array(await r.arrayBuffer());
}

let lib = null;
async function library() {
  if (lib) return lib;
  if (peerName === 'attnkit-wasm' || peerName === 'attnkit-wasm-out') {
    const { load } = await import('attnkit');
    const ak = await load({ threads: threads > 1 });
    lib = { ak, info: { simd: ak.simd, multithreaded: ak.multithreaded } };
  } else if (peerName === 'ort-web') {
    const ort = await import('/ort/ort.wasm.min.mjs');
    ort.env.wasm.wasmPaths = '/ort/';
    ort.env.wasm.numThreads = threads;
    ort.env.wasm.simd = true;
    ort.env.wasm.proxy = false;
    lib = { ort, info: { version: ort.env.versions?.web } };
  } else if (peerName === 'tfjs-wasm') {
    const tf = window.tf; // classic scripts tf-core.min.js + tf-backend-wasm.min.js, loaded by the page
    tf.wasm.setWasmPaths('/tfjs-wasm/');
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', threads > 1);
    if (threads > 1) tf.wasm.setThreadsCount(threads);
    await tf.setBackend('wasm');
    await tf.ready();
    lib = {
      tf,
      info: {
        version: tf.version_core,
        simd: tf.env().getBool('WASM_HAS_SIMD_SUPPORT'),
        wasm_threads: tf.wasm.getThreadsCount?.(),
      },
    };
  } else if (peerName === 'plain-js') {
    lib = { info: {} };
  } else {
    throw new Error(`unknown peer '${peerName}'`);
  }
  return lib;
}

async function cell(name) {
  const c = config(name);
  const result = {
    peer: peerName,
    env: 'chromium',
    config: c.name,
    threads,
    crossOriginIsolated: self.crossOriginIsolated,
  };
  try {
    const l = await library();
    Object.assign(result, l.info);
    const sd = makeStateDict(c),
      x = makeInput(c);
    let peer;
    if (peerName === 'attnkit-wasm' || peerName === 'attnkit-wasm-out')
      peer = attnkitPeer(l.ak, c, sd, x, threads, peerName === 'attnkit-wasm-out');
    else if (peerName === 'ort-web')
      peer = await ortPeer(l.ort, await fetchBytes(`/model/${c.name}.onnx`), c, x, threads, {
        executionProviders: ['wasm'],
      });
    else if (peerName === 'plain-js') peer = plainJsPeer(c, sd, x);
    else peer = tfjsPeer(l.tf, c, sd, x);
    const y = Float32Array.from(await peer.run());
    const refBytes = await fetchBytes(`/ref/${c.name}.bin`);
    if (refBytes) {
      const ref = new Float32Array(refBytes.buffer, refBytes.byteOffset, refBytes.byteLength / 4);
      result.rel_error = ref.length === y.length ? relativeError(y, ref) : Infinity;
      if (!(result.rel_error <= TOLERANCE))
        result.error = `output differs from attnkit's (relative error ${result.rel_error}); not timed`;
    }
    if (!result.error) Object.assign(result, await measure(peer.run, { isAsync: peer.isAsync, ...budget(c, quick) }));
    peer.dispose();
  } catch (e) {
    result.error = String(e && e.message ? e.message : e);
  }
  log(JSON.stringify(result));
  results.push(result);
}

// ?peer=c1-steps: the per-step costs of a C1 call (c1-steps.mjs) instead of a cell.
async function c1StepsPage() {
  const result = { peer: peerName, env: 'chromium', config: 'C1', threads };
  try {
    const { load } = await import('attnkit');
    const ak = await load({ threads: threads > 1 });
    const internals = await import('/attnkit/wasm/src/layer.mjs'); // the package's own module (rawLayer)
    const { c1Steps } = await import('./c1-steps.mjs');
    Object.assign(result, { multithreaded: ak.multithreaded }, c1Steps(ak, internals));
  } catch (e) {
    result.error = String(e && e.message ? e.message : e);
  }
  log(JSON.stringify(result));
  results.push(result);
}

// ?peer=threads-pairs&pairs=N: two threads against one as same-run ratios (threads-pairs.mjs) instead of a cell.
async function threadsPairsPage() {
  try {
    const { load } = await import('attnkit');
    const single = await load({ threads: false }),
      pthreads = await load({ threads: true });
    const { threadsPairs } = await import('./threads-pairs.mjs');
    const pairs = Number(params.get('pairs') || 15);
    for (const r of threadsPairs(single, pthreads, configs, { pairs })) {
      const row = { peer: peerName, env: 'chromium', crossOriginIsolated: self.crossOriginIsolated, ...r };
      log(JSON.stringify(row));
      results.push(row);
    }
  } catch (e) {
    const row = { peer: peerName, env: 'chromium', error: String(e && e.message ? e.message : e) };
    log(JSON.stringify(row));
    results.push(row);
  }
}

if (peerName === 'c1-steps') await c1StepsPage();
else if (peerName === 'threads-pairs') await threadsPairsPage();
else for (const name of configs) await cell(name);
window.__done = true;
