// The page's side of the worker protocol (see worker.js): promises, progress callbacks, cancel.
export class ComputeError extends Error {
  constructor({ name, message }) {
    super(message);
    this.name = name || 'Error';
  }
}

export class Compute {
  constructor() {
    this.seq = 0;
    this.spawn();
  }

  spawn() {
    this.pending = new Map();
    this.worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    this.worker.onmessage = (e) => {
      const { id, progress, ok, result, error } = e.data;
      const p = this.pending.get(id);
      if (!p) return;
      if (progress) return p.onProgress?.(progress);
      this.pending.delete(id);
      ok ? p.resolve(result) : p.reject(new ComputeError(error));
    };
    this.worker.onerror = (e) => {
      const err = new ComputeError({ name: 'Error', message: e.message || 'the compute worker failed' });
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
  }

  call(type, payload = {}, { onProgress, transfer = [] } = {}) {
    const id = ++this.seq;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onProgress });
      this.worker.postMessage({ id, type, ...payload }, transfer);
    });
  }

  /** Stop the worker for good (pending calls are rejected). */
  terminate() {
    this.worker.terminate();
    const err = new ComputeError({ name: 'AbortError', message: 'terminated' });
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  /** Stop whatever runs (terminate the worker) and start a fresh one. */
  cancel() {
    this.worker.terminate();
    const err = new ComputeError({ name: 'AbortError', message: 'cancelled' });
    for (const p of this.pending.values()) p.reject(err);
    this.spawn();
  }
}

/** Run fn with the latest arguments only: calls made while one runs collapse into one follow-up. */
export function latestOnly(fn) {
  let running = false,
    queued = null;
  const run = async (args) => {
    running = true;
    try {
      await fn(...args);
    } finally {
      running = false;
      if (queued) {
        const next = queued;
        queued = null;
        run(next);
      }
    }
  };
  return (...args) => {
    if (running) queued = args;
    else run(args);
  };
}
