// ak.createModel refuses a model that cannot train and evaluate in wasm32's 4 GiB (attnkit::Model::memory_bytes,
// the estimate `attnkit train` uses too) before building it, naming the bytes; one that fits is built.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { load } from '../../wasm/index.mjs';

for (const threads of [false, true]) {
  const ak = await load({ threads });
  const build = threads ? 'pthreads' : 'single-thread';

  test(`${build}: createModel too large for wasm memory is a RangeError naming the bytes`, () => {
    const before = ak.memory().wasmBytes;
    const started = Date.now();
    assert.throws(
      () => ak.createModel({ task: 'copy-previous', tokens: 1024, dModel: 4096, batch: 4096 }),
      (e) => {
        assert.ok(e instanceof RangeError, `${e}`);
        assert.match(
          e.message,
          /^a model of dModel 4096 with batch 4096 needs (about \d+|more than 4294967295) bytes of wasm memory to train and evaluate; expected at most 4294967296 bytes \(the wasm32 limit\): use a smaller batch, tokens or dModel$/,
        );
        // size_t is 32 bits in wasm32: a count past it saturates and is said as "more than"
        const bytes = Number(/needs (?:about|more than) (\d+)/.exec(e.message)[1]);
        assert.ok(bytes >= 2 ** 32 - 1, `${bytes} should reach 4 GiB`);
        return true;
      },
    );
    assert.ok(Date.now() - started < 5000, 'refused before drawing any parameter');
    assert.equal(ak.memory().wasmBytes, before, 'nothing was allocated');
    // a model that fits is still built and trains afterwards
    const model = ak.createModel({ task: 'copy-previous', batch: 4, dModel: 16, heads: 2 });
    assert.ok(Number.isFinite(model.trainStep().loss));
    model.dispose();
  });
}
