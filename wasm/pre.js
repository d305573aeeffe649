// attnkit — --pre-js shim for Emscripten 3.1.6's EXPORT_ES6 glue under Node (docs/architecture.md, "Toolchain notes").
// The 3.1.6 glue's Node branch uses CommonJS `require`/`__dirname` (absent in an ES module) and then
// tries to fetch("file://…"). In Node only, give it a `require` and `__dirname` derived from the module's
// own URL (`_scriptDir`, the wrapper's import.meta.url) and hand it the .wasm bytes that sit beside the
// glue. Browsers and bundlers take the normal path (new URL('x.wasm', import.meta.url)).
// No `import.meta` in here: 3.1.6's terser crashes on it inside a pre-js.
if (
  typeof process == 'object' &&
  process.versions &&
  process.versions.node &&
  typeof process.getBuiltinModule == 'function' &&
  typeof _scriptDir == 'string' &&
  _scriptDir.indexOf('file:') == 0
) {
  var require = process.getBuiltinModule('module').createRequire(_scriptDir);
  var __dirname = require('path').dirname(require('url').fileURLToPath(_scriptDir));
  if (!Module['wasmBinary'] && !Module['locateFile'] && !Module['wasmMemory']) {
    Module['wasmBinary'] = require('fs').readFileSync(
      require('url')
        .fileURLToPath(_scriptDir)
        .replace(/\.m?js$/, '.wasm'),
    );
  }
}
