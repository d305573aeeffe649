// attnkit — load(): picks the build, starts the WebAssembly module, and caches the instance.
import { normaliseLoadOptions } from './options.mjs';
import { describe } from './values.mjs';
import { Attnkit } from './instance.mjs';

const isNode = typeof process === 'object' && process !== null && !!(process.versions && process.versions.node);
const cache = new Map(); // 'st' | 'mt' → Promise<Attnkit>, for loads without wasmBinary/locateFile

// What went wrong while the module started, as one line that says what to fix.
function startError(cause, options, located) {
  let reason = String(cause && cause.message !== undefined ? cause.message : cause);
  reason = reason.replace(/\. Build with -s ASSERTIONS=1 for more info\.$/, '').replace(/^Aborted\((.*)\)$/s, '$1');
  reason = reason.replace(/\s+/g, ' ').trim();
  const files = 'dist/attnkit.wasm (threads: false) or dist/attnkit-mt.wasm (threads: true)';
  if (options.wasmBinary) {
    return new Error(
      `load could not start the module from load option wasmBinary: ${reason}; expected the bytes of ${files}`,
    );
  }
  if (located) {
    return new Error(
      `load could not start the module from '${located.url}' (what locateFile returned for '${located.path}'): ${reason}; expected locateFile to give the path or URL of ${located.path}`,
    );
  }
  return new Error(`load could not start attnkit's WebAssembly module: ${reason}`);
}

// The .wasm beside the glue (dist/), read from where locateFile says (a path, or a file: URL).
function readLocated(locateFile, threaded) {
  const { readFileSync } = process.getBuiltinModule('fs');
  const { fileURLToPath } = process.getBuiltinModule('url');
  // vite-ignore: Node only; a bundler has no file to emit for a directory URL (and would warn on `npm start`).
  const dist = fileURLToPath(new URL(/* @vite-ignore */ '../../dist/', import.meta.url));
  const where = locateFile(threaded ? 'attnkit-mt.wasm' : 'attnkit.wasm', dist);
  return readFileSync(where.startsWith('file:') ? new URL(where) : where);
}

async function instantiate(threaded, options) {
  const factory = threaded
    ? (await import('../../dist/attnkit-mt.mjs')).default
    : (await import('../../dist/attnkit.mjs')).default;
  // While the module starts, what it prints (e.g. "Aborted(CompileError: …)") goes into the error instead of
  // onto stderr; afterwards it is printed as usual.
  let starting = true;
  const moduleOptions = {
    printErr: (text) => {
      if (!starting) console.warn(text);
    },
  };
  if (options.wasmBinary) moduleOptions.wasmBinary = options.wasmBinary;
  let located = null;
  if (options.locateFile) {
    moduleOptions.locateFile = (path, prefix) => {
      const url = options.locateFile(path, prefix);
      if (typeof url !== 'string' && !(url instanceof URL)) {
        throw new Error(
          `load option locateFile returned ${describe(url)} for '${path}'; expected its path or URL (a string)`,
        );
      }
      if (/\.wasm$/.test(path)) located = { path, url: String(url) };
      return String(url);
    };
  }
  let m;
  try {
    // Node: the glue would fetch() a path, which Node's fetch refuses, so read the file locateFile names here
    if (isNode && options.locateFile && !options.wasmBinary)
      moduleOptions.wasmBinary = readLocated(moduleOptions.locateFile, threaded);
    m = await factory(moduleOptions);
  } catch (cause) {
    // the pthreads build starts its worker pool before the module: stop it, or Node would never exit
    try {
      moduleOptions.PThread?.terminateAllThreads();
    } catch {
      /* not started */
    }
    throw startError(cause, options, located);
  } finally {
    starting = false;
  }
  if (threaded && isNode && m.PThread) {
    // Let Node exit while the pool's workers idle (they keep the event loop alive otherwise).
    for (const w of [...(m.PThread.unusedWorkers || []), ...(m.PThread.runningWorkers || [])]) {
      if (w && typeof w.unref === 'function') w.unref();
    }
  }
  m.setDefaultThreads(0); // the hardware's threads, capped at the worker pool (wasm/bindings.cpp)
  return m;
}

/**
 * Loads the WebAssembly module. `threads`: 'auto' (default) uses the multithreaded build where
 * SharedArrayBuffer is usable (Node, or a cross-origin-isolated page) and the single-thread build elsewhere;
 * true or false forces one. Repeated calls with the same choice return the same instance; a failed load is
 * not cached, so a later load() tries again.
 */
export async function load(options) {
  const o = normaliseLoadOptions(options);
  const canThread = typeof SharedArrayBuffer === 'function' && (isNode || globalThis.crossOriginIsolated === true);
  const threaded = o.mode === 'auto' ? canThread : o.mode;
  if (threaded && !canThread) {
    throw new Error(
      'load({ threads: true }) needs SharedArrayBuffer: serve the page cross-origin isolated ' +
        '(Cross-Origin-Opener-Policy: same-origin, Cross-Origin-Embedder-Policy: require-corp), or use load({ threads: false })',
    );
  }
  const custom = o.wasmBinary !== undefined || o.locateFile !== undefined;
  const key = threaded ? 'mt' : 'st';
  // 'auto' falls back to the single-thread build if the pthreads build is missing or fails to start.
  const start = (onTerminate) =>
    (o.mode === 'auto' && threaded
      ? instantiate(true, o).catch(() => instantiate(false, o))
      : instantiate(threaded, o)
    ).then((m) => new Attnkit(m, onTerminate));
  if (custom) return start(() => {});
  if (!cache.has(key)) {
    const p = start((ak) => {
      if (cache.get(key) === p) cache.delete(key);
    }); // the next load() starts a fresh instance
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  return cache.get(key);
}
