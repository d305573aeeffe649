// Every string the page shows, in one place (for review, wording changes and translation).
export const S = {
  title: 'attnkit — attention, step by step',
  brand: 'attnkit',
  tagline:
    'The attention mechanisms of chapter 3 of “Build a Large Language Model (From Scratch)”, computed live in your browser by a C++ core compiled to WebAssembly.',
  nav: { walkthrough: 'Walkthrough', playground: 'Playground', learn: 'Learn', performance: 'Performance' },
  skip: 'Skip to the walkthrough',
  hero: {
    label: 'Context vector of “shiny” in “Hello shiny sun!”',
    checks: (ok, all) => `${ok} of ${all} checks against the book’s printed numbers pass`,
    how: 'How it is computed',
    try: 'Try your own sentence',
  },
  loading: 'Loading the WebAssembly module…',
  loadFailed: 'The attention module could not be loaded: ',
  engine: (simd, threads, isolated, version) =>
    `attnkit ${version || ''} · SIMD: ${simd || 'none'} · ${threads} thread${threads === 1 ? '' : 's'}${isolated ? ' (cross-origin isolated)' : ''}`,

  // Matrix views
  showTable: 'Table',
  tableOf: (title) => ` of ${title}`,
  heatmapRole: 'heatmap',
  chartAria: (title, rows, cols) => `${title}: heatmap with ${rows} rows and ${cols} columns.`,
  chartKeys: (title, rows, cols) =>
    `${title}: heatmap, ${rows} × ${cols}. Arrow keys move between cells (Page Up/Down by a tenth, Home/End to a row's ends); the value is read out below the chart. The Table button lists the values.`,
  padding: 'padding (ignored)',
  cellReadout: (row, i, col, j, v) => `${row} (row ${i + 1}) → ${col} (column ${j + 1}): ${v}`,
  exportLabel: 'Export',
  exportOf: (title) => ` ${title}`,
  exportAs: { png: 'PNG', svg: 'SVG', csv: 'CSV', json: 'JSON' },
  cellTitle: (r, c, v) => `${r} → ${c}: ${v}`,
  masked: 'masked (−∞)',
  tableCut: (r, c, R, C) => `the first ${r} × ${c} of ${R} × ${C} values`,
  rowHeader: 'row',
  legendWeights: 'attention weight',
  legendValue: 'value',
  legendRow: 'value ÷ its row’s largest',
  linesAria: (title) =>
    `${title}: lines from each query token (left) to each key token (right); thicker and darker lines carry more weight.`,
  linesTooMany: (n) => `The lines view is shown for up to 40 tokens (this input has ${n}).`,

  // Book checks
  matchesBook: (d) => `✓ matches the book (|Δ| ${d})`,
  differsBook: (d) => `✗ differs from the book (|Δ| ${d})`,
  bookTolerance: (d, tol) =>
    `largest difference to the printed value ${d}; tolerance ${tol} (half a unit of the last printed decimal)`,

  // Walkthrough
  wt: {
    heading: 'Walkthrough: attention, one number at a time',
    intro:
      'Every number below is computed right now by the attnkit module running in a Web Worker; the page only formats it. Values are float32, shown to four decimals.',
    hello: {
      heading: '1. “Hello shiny sun!” — simplified self-attention',
      intro:
        'Each word is a 3-dimensional embedding. The goal is the context vector of “shiny”: a mix of all three embeddings, weighted by how similar each one is to “shiny”.',
      embeddings: 'The embeddings',
      tokenCol: 'token',
      dimCol: (k) => `dim ${k}`,
      step1: 'Step 1 — attention scores by dot product',
      step1Text:
        'Multiply each dimension of the query (“shiny”) with the same dimension of every token and add the results: one score per pair of tokens.',
      step2: 'Step 2 — softmax: exponentials, their sum, the weights',
      step2Text:
        'Softmax normalises the scores so the weights add up to 1; the exponential accentuates the differences.',
      exps: 'Exponentials',
      sum: 'Sum',
      weights: 'Attention weights',
      weightsSum: (s) => `(they add up to ${s})`,
      barsTitle: 'How much “shiny” attends to each word',
      step3: 'Step 3 — the context vector',
      step3Text:
        'Multiply each embedding by its attention weight and add the weighted embeddings: the context vector of “shiny”.',
      weighted: (t) => `Weighted embedding of “${t}”`,
      context: 'Context vector of “shiny”',
      roundingNote:
        'The HackTricks tutorial prints [0.3992, 0.3858, 0.8610]: it rounded the attention weights before multiplying (its weighted terms imply weights of about 0.2291, 0.4068, 0.3645). The exact values, computed here without rounding, are [0.3990, 0.3854, 0.8610] — they differ in the fourth decimal by up to 3.8·10⁻⁴.',
      all: 'All three queries at once: the attention weights',
      allText: 'Row i holds the weights token i gives to every token; the “shiny” row is the one computed above.',
    },
    book: {
      heading: '2. “Your journey starts with one step” — the book’s chapter 3',
      intro:
        'The same steps on the book’s six 3-dimensional inputs, then the trainable, causal and multi-head versions, with the book’s seeds. Each block is checked against the numbers the book prints.',
      simplified: '2.1 Simplified attention for “journey”',
      simplifiedText:
        'Scores are dot products with “journey”. The book first normalises naively — each score divided by their sum — then uses softmax, which keeps every weight positive and handles large scores better; the context vector is the weighted sum of the inputs.',
      scoresJourney: 'Scores (query “journey”)',
      weightsJourney: 'Weights',
      naive: 'Naive: scores ÷ their sum',
      contextJourney: 'Context vector of “journey”',
      allWeights: 'Attention weights for all six queries',
      allRows: 'All six weight rows',
      allContexts: 'All six context vectors',
      allOutputs: 'The whole output',
      trainable: '2.2 Self-attention with trainable weights (SelfAttention_v1, torch.manual_seed(123))',
      trainableText:
        'Three trainable matrices project every input to a query, a key and a value (d_in = 3 → d_out = 2). Scores are query·key, divided by √d_k before the softmax; the context is the weighted sum of the values.',
      wq: 'W_query',
      wk: 'W_key',
      wv: 'W_value',
      query2: 'query₂ = x₂ · W_query',
      score22: 'ω₂₂ = query₂ · key₂',
      scores2: 'Scores ω₂ = query₂ · keysᵀ',
      weights2: 'Weights α₂ = softmax(ω₂ / √d_k)',
      context2: 'Context vector z₂ = α₂ · values',
      v1All: 'SelfAttention_v1 — context vectors of all six tokens',
      v2: '2.3 SelfAttention_v2 (nn.Linear layers, torch.manual_seed(789))',
      v2Title: 'SelfAttention_v2 — context vectors of all six tokens',
      v2Text:
        'nn.Linear stores each weight as (d_out × d_in) and draws it differently, so the numbers change; the mechanism is the same.',
      causal: '2.4 Causal attention: hiding future words — both routes',
      causalText:
        'A token may only attend to itself and the tokens before it. Route A (the book’s first try): softmax, zero everything above the diagonal, divide each row by its new sum. Route B (the classes’ way): set the future scores to −∞ before the softmax. Both give the same weights.',
      routeA: 'Route A — softmax, then zero the future and renormalise',
      routeAUnmasked: 'Weights before masking',
      routeAWeights: 'Masked and renormalised',
      routeB: 'Route B — mask with −∞, then softmax',
      routeBMasked: 'Masked scores (−∞ above the diagonal)',
      routeBMaskedScaled: 'Scaled scores, future masked with −∞',
      routeBScaledNote:
        'attnkit masks after scaling by 1/√d_k; the book masks before, so its printed scores are these × √2. The check compares at the same scale.',
      routeBWeights: 'Softmax of the masked scores',
      routesAgree: (d) => `The two routes agree: largest difference ${d}.`,
      dropout: '2.5 Dropout on the attention weights (p = 0.5, torch.manual_seed(123))',
      dropoutText:
        'In training, dropout zeroes each weight with probability p and scales the survivors by 1/(1 − p) = 2, so the expected sum stays the same. It is off at inference.',
      dropoutWeights: 'Causal weights after dropout',
      dropoutOnes: '2.5a Dropout on a matrix of ones (p = 0.5, torch.manual_seed(123))',
      dropoutOnesText:
        'The book first applies dropout to torch.ones(6, 6): about half the entries become 0, the rest 1/(1 − p) = 2. The same seed drops the same positions of the weights below.',
      dropoutOnesTitle: 'dropout(torch.ones(6, 6))',
      causalClass: '2.6 CausalAttention on a batch of two (torch.manual_seed(123))',
      causalClassText:
        'The class puts it together — projections, −∞ mask, softmax, dropout (0 here) — over a batch of two identical inputs.',
      contextBatch: (b) => `Context vectors, batch item ${b + 1}`,
      batchSame: 'Batch item 2 is identical to item 1.',
      wrapper: '2.7 Multi-head attention: a wrapper of two causal heads',
      wrapperText:
        'MultiHeadAttentionWrapper runs two independent CausalAttention heads (d_out = 2 each) and concatenates their outputs: 4 columns.',
      head: (h) => `Head ${h + 1} weights`,
      mha: '2.8 MultiHeadAttention with out_proj',
      mhaText:
        'MultiHeadAttention projects once to d_out = 2, splits it into 2 heads of head_dim = 1, attends per head, concatenates, and mixes the heads with a final linear layer, out_proj.',
      beforeOut: 'Context before out_proj',
      mhaHeads: 'The weights of each head (batch item 1)',
      afterOut: 'Context after out_proj (the output)',
    },
  },

  // Multi-head attention's shapes, step by step
  shapes: {
    cols: ['step', 'PyTorch (the book’s MultiHeadAttention.forward)', 'shape', 'what happens'],
    caption: (b, n, dIn, dOut, heads) =>
      `Tensor shapes for b = ${b}, num_tokens = ${n}, d_in = ${dIn}, d_out = ${dOut}, num_heads = ${heads} (head_dim = ${dOut / heads})`,
    steps: {
      input: 'the input: b sequences of num_tokens embeddings',
      project: 'one projection for all heads at once (d_in → d_out)',
      view: 'split the last dimension into num_heads pieces of head_dim: no number moves',
      transpose: 'swap tokens and heads, so each head is a (num_tokens × head_dim) matrix',
      scores: 'one num_tokens × num_tokens score matrix per head (the batched matmul runs over b and heads)',
      softmax: 'masked, scaled by 1/√head_dim, normalised along the last dimension (the keys)',
      back: 'weights × values per head, then tokens and heads swap back',
      merge: 'contiguous() copies the numbers into the new order; view glues the heads side by side',
      outProj: 'out_proj mixes the heads’ outputs (d_out → d_out)',
    },
  },

  // Playground
  pg: {
    heading: 'Playground',
    intro: 'Type a sentence or paste your own embeddings and weights; every change recomputes at once.',
    inputMode: 'Input',
    modeSentence: 'Sentence',
    modeJson: 'Paste JSON',
    sentence: 'Sentence',
    sentenceHelp:
      'Each token gets a deterministic pseudo-random embedding (a hash of the word starts the generator). At d_in = 3 the words of the book and of the HackTricks tutorial use their printed embeddings.',
    dIn: 'Embedding size d_in',
    xJson: 'Embeddings x (JSON: tokens × d_in or batch × tokens × d_in, or {"x": …})',
    sdJson: 'state_dict (JSON, optional: PyTorch names → nested lists)',
    sdHelp:
      'Shaped like {"W_query.weight": [[…]], …}. Leave empty to draw the parameters from the Seed field, as torch.manual_seed(seed) would. “Edit as JSON” fills it with the current parameters.',
    tokensLabel: 'Tokens (hover or focus one to highlight its row and column)',
    mechanism: 'Mechanism',
    dOut: 'd_out',
    heads: 'Heads',
    causal: 'Causal mask',
    route: 'Causal route',
    routes: { 'neg-inf': '−∞ then softmax', renormalise: 'softmax, zero, renormalise' },
    dropout: 'Dropout p',
    train: 'Training mode (dropout active)',
    seed: 'Seed',
    qkvBias: 'qkv bias',
    computing: 'Computing…',
    summary: (m, shape, ms) => `${m}: context ${shape} in ${ms} ms`,
    crossCheck: (d) => `JavaScript reference agrees: max |Δ| ${d} of the largest value`,
    crossCheckBad: (d) => `JavaScript reference differs: max |Δ| ${d} of the largest value`,
    headSelect: 'Head',
    batchSelect: 'Batch item',
    weightsTitle: 'Attention weights',
    weightsDropTitle: 'Weights after dropout',
    lines: 'Lines view',
    contextTitle: 'Context vectors',
    steps: 'Every intermediate',
    stepsText: 'All steps the module computed, for the selected head and batch item.',
    inames: {
      queries: 'Queries Q',
      keys: 'Keys K',
      values: 'Values V',
      scores: 'Scores Q·Kᵀ',
      scaled_scores: 'Scaled scores',
      masked_scores: 'Masked scores',
      unmasked_weights: 'Weights before the mask',
      weights: 'Weights',
      weights_after_dropout: 'Weights after dropout',
      context_before_out_proj: 'Context before out_proj',
      context: 'Context',
    },
    errorPrefix: 'The module says: ',
    input: {
      syntax: (what, msg) => `${what} is not valid JSON: ${msg}`,
      syntaxAt: (what, msg, line, col) => `${what} is not valid JSON at line ${line}, column ${col}: ${msg}`,
      notJsonNumber: (where, word) =>
        `${where} is ${word}, which JSON cannot hold; write a finite number (e.g. 0 or 1e-3) instead`,
      notNumber: (where, got) => `${where} is ${got}; expected a number`,
      noX: 'x is missing: expected {"x": [[…], …]} (optionally with "tokens": [names])',
      notList: 'x must be a list of token vectors, e.g. [[0.43, 0.15, 0.89], [0.55, 0.87, 0.66]]',
      row: (b, i, batches) => (batches > 1 ? `x batch item ${b + 1}, row ${i + 1}` : `x row ${i + 1}`),
      entry: (where, c) => `${where}, number ${c + 1}`,
      rowNotList: (where, got) =>
        `${where} is ${JSON.stringify(got) ?? 'missing'}; expected a list of numbers (one token vector)`,
      rowLength: (where, got, d) =>
        `${where} has ${got} number${got === 1 ? '' : 's'}; every token vector needs ${d} (as many as row 1)`,
      batchRows: (b, got, n) =>
        `x batch item ${b + 1} has ${got} rows; every batch item needs ${n} (as many as item 1)`,
      tokensNotList: 'tokens must be a list of names, one per row of x',
      tokensLength: (got, n) =>
        `tokens lists ${got} name${got === 1 ? '' : 's'} but x has ${n} row${n === 1 ? '' : 's'}; give one name per row (or leave tokens out)`,
      sdNotObject: 'state_dict must be an object: {"W_query.weight": [[…]], …}',
      mb: (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MB`,
      fileTooBig: (name, size, max) =>
        `The file “${name}” is ${S.pg.input.mb(size)}; the playground reads state_dict files of up to ${S.pg.input.mb(max)}. Pick a smaller one (one layer’s weights), or use the package or the attnkit CLI.`,
      fileEmpty: (name) =>
        `The file “${name}” is empty; expected a JSON state_dict such as {"W_query.weight": [[…]], …}`,
      fileBinary: (name, at) =>
        `The file “${name}” is not text (it holds a zero byte at byte ${at}); expected a JSON state_dict, e.g. one saved with json.dump({k: v.tolist() for k, v in model.state_dict().items()}, f)`,
      fileNotUtf8: (name) => `The file “${name}” is not UTF-8 text; expected a JSON state_dict`,
      fileUnreadable: (name, why) => `The file “${name}” could not be read (${why}); pick it again`,
      sdEntry: (name, path) => `state_dict "${name}"${path.map((k) => `[${k}]`).join('')}`,
      range: (label, whole, min, max, got) =>
        `${label} must be ${whole ? 'a whole number' : 'a number'} from ${min} to ${max}; got ${got === '' ? 'nothing' : got}`,
      noTokens: 'The sentence has no tokens: type a few words',
      tooMany: (n, max) =>
        `This input has ${n} tokens; the playground draws every head of up to ${max} tokens. Shorten the text (the package itself has no such limit).`,
    },
    loadBook: 'Load the book’s inputs',
    loadHello: 'Load “Hello shiny sun”',
    real: {
      legend: 'Attention for real models',
      cross: 'Keys and values from a second sentence (cross-attention)',
      kvSentence: 'Second sentence (keys and values)',
      kvDefault: 'Le voyage commence par un pas',
      kvHelp:
        'Queries come from the sentence above, keys and values from this one: the weights have one column per word of it.',
      pad: 'A padded batch: add a second, shorter sentence',
      padSentence: 'Second batch item',
      padDefault: 'Attention is all',
      padHelp:
        'The shorter item is padded with zeros to the longer one’s length; key_padding_mask hides the padding, drawn grey.',
      kvHeads: 'Key/value heads (0: one per head)',
      kvHeadsHelp:
        'Grouped-query attention: fewer key/value heads than query heads, each shared by a group of query heads (must divide Heads; 1 is multi-query).',
      file: 'state_dict file',
      fileHelp: 'Pick a JSON state_dict, or drop the file on the field above.',
      format: 'state_dict names',
      formatHelp:
        'book: W_query.weight, …; torch-mha: nn.MultiheadAttention’s in_proj_weight, …; gpt2: c_attn, c_proj; auto: recognise them.',
      formats: {
        book: 'book (W_query.weight, …)',
        auto: 'auto',
        'torch-mha': 'torch-mha (nn.MultiheadAttention)',
        gpt2: 'gpt2 (c_attn, c_proj)',
      },
      crossAndPad:
        'Choose cross-attention or a padded batch, not both: the padding mask here is for the sentence’s own keys.',
      padToken: '[pad]',
      linesCross: 'The lines view joins a sentence to itself; with cross-attention see the heatmap.',
    },
    gen: {
      heading: 'Token by token, with the KV cache',
      text: 'Generation feeds one token at a time: each step appends that token’s key and value to the cache and computes only its own row of weights. The worker runs the layer’s decoder and checks every step’s context against the full causal forward.',
      run: 'Run token by token',
      running: 'Decoding…',
      step: 'Step',
      done: (n, d) =>
        `${n} steps through the KV cache; each step’s context matches the full forward’s row: max |Δ| ${d}`,
      cache: (t, n, H, hd) =>
        `Step ${t} of ${n}: the cache holds ${t} key${t === 1 ? '' : 's'} and ${t} value${t === 1 ? '' : 's'} per head (${H} head${H === 1 ? '' : 's'} × ${hd} numbers each); the new query attends to all ${t}.`,
      rowTitle: 'This step’s new row of weights',
      sofarTitle: 'Every row so far (the causal weights, built row by row)',
    },
    colour: 'Colour scale',
    colourHelp:
      'Linear runs from 0 to the largest weight; per row scales each row to its own largest value (long causal inputs stay readable); log shows four decades. Auto: linear up to 32 tokens, per row above.',
    colourModes: { auto: 'auto', linear: 'linear', row: 'per row', log: 'log' },
    untrained:
      'These weights are random and untrained: the parameters are drawn from the Seed field, the embeddings from a hash of each word, so any pattern here is chance.',
    untrainedLink: 'Watch attention learn a pattern →',
    permalink: 'Link to this view',
    copySd: 'Copy state_dict',
    editSd: 'Edit as JSON',
    copiedSd: (k) =>
      `Copied the state_dict (${k} tensors) as JSON: paste it into Paste JSON’s state_dict field to start from these weights.`,
    copyFailed: (msg) => `The browser did not allow copying (${msg}); use “Edit as JSON” instead.`,
    gridTitle: 'Every head (click one to open it)',
    gridHelp:
      'Each thumbnail is one head’s attention weights for the selected batch item (rows: queries, columns: keys), in the colour scale chosen on the left.',
    headN: (k) => `Head ${k + 1}`,
    stepsTooMany: (n, max) =>
      `Every intermediate is drawn for up to ${max} tokens (this input has ${n}); the weights and context above show every token.`,
    crossCheckSkipped: {
      dropout: 'JavaScript cross-check: off while dropout is active (the reference has no dropout)',
      size: 'JavaScript cross-check: skipped for inputs this large (it would take seconds)',
      features: 'JavaScript cross-check: the reference has no cross-attention, padding or grouped-query heads',
    },
  },

  // Watch it learn
  learn: {
    heading: 'Watch it learn',
    intro:
      'The playground’s weights are random. Here a small model — token and position embeddings, one multi-head attention layer, a read-out — learns a task from scratch in a Web Worker: its loss falls, and its heads’ weights on a fixed probe sequence form the pattern the task needs.',
    task: 'Task',
    heads: 'Heads',
    dModel: 'd_model',
    steps: 'Train up to (steps)',
    lr: 'Learning rate (AdamW)',
    seed: 'Seed',
    start: 'Start',
    pause: 'Pause',
    stepOnce: 'Step',
    reset: 'Reset',
    stepLabel: 'Step',
    lossLabel: 'Loss',
    accuracyEval: 'Accuracy (evaluation set)',
    curvesTitle: 'Loss (training batches) and accuracy (evaluation set)',
    curveAria: (what, step) => `${what} over ${step} training steps; the dashed line marks when the pattern appeared.`,
    snapshot: 'Snapshot (scrub back through training)',
    probeHelp:
      'Each head’s attention weights on the probe, the first sequence of the evaluation set (labels: position:token). Top: before training; below: at the snapshot chosen above.',
    untrainedRow: 'Untrained (step 0)',
    nowRow: 'At the snapshot',
    untrainedHead: (k) => `Head ${k + 1}, untrained`,
    nowHead: (k, step) => `Head ${k + 1}, step ${step}`,
    appeared: (step, head, share) =>
      `The pattern appeared at step ${step}: head ${head + 1} puts ${share} of its weight on the expected key.`,
    goal: (acc, steps) => `With the defaults it reaches ${Math.round(acc * 100)} % accuracy within ${steps} steps.`,
    training: 'Training…',
    stopped: (n) => `Paused after ${n} steps.`,
    resetDone: 'A fresh, untrained model.',
    missing:
      'Training needs the package’s model API (ak.createModel with trainStep() and weights()), which this build of attnkit does not have yet.',
    tasks: {
      'copy-previous': {
        name: 'copy the previous token',
        about:
          'Each position must output the token just before it. The pattern to expect: every query puts its weight on the key one position back — a diagonal just below the main one.',
      },
      reverse: {
        name: 'reverse the sequence',
        about:
          'Position t must output the token at position n − 1 − t (not causal). The pattern to expect: the anti-diagonal — the first query attends to the last key, the last to the first.',
      },
      sort: {
        name: 'sort the sequence',
        about:
          'Half the sequence holds distinct tokens, then a separator, then the same tokens sorted. The pattern to expect: each position after the separator attends to the key holding the next smallest token — a permutation that changes with every input.',
      },
      induction: {
        name: 'induction (continue a repeat)',
        about:
          'The second half repeats the first; each position predicts the next token. The pattern to expect (an induction head): attend to the token after the previous occurrence of the current one.',
      },
    },
  },

  // Performance
  perf: {
    heading: 'Performance',
    intro:
      'Causal multi-head attention (dropout 0, no qkv bias) on random inputs, timed in a Web Worker: attnkit’s WebAssembly module against onnxruntime-web (its WebAssembly SIMD backend — the same comparison as the repository’s npm run bench:compare) and against a plain-JavaScript reference, all on the same input with the same weights, in the same run. Each time is the median of several runs (one run of the reference for C2 and C3, which take seconds in plain JavaScript).',
    flopsNote:
      'FLOPs = projections 2·b·n·(3·d_in·d_out + d_out²) (Q, K, V and out_proj) + causal attention 2·2·b·h·(n(n+1)/2)·head_dim — the useful work, the same count for every column.',
    smallNote:
      'C1 is tiny (864 FLOP): its time is the cost of calling into WebAssembly and copying the result (for onnxruntime-web, of an asynchronous session.run), so JIT-compiled JavaScript can win there. The larger configurations show the kernels.',
    ratioNote:
      'Ratios are the peer’s median ÷ attnkit’s median from the same run: above 1× attnkit is faster. max |Δ| is the largest absolute difference between the peer’s output and attnkit’s — a correctness check, taken before the timing.',
    ortHelp:
      'onnxruntime-web builds, in this worker, the ONNX graph bench/compare uses (three MatMul projections, com.microsoft.MultiHeadAttention with unidirectional=1, MatMul + Add for out_proj) from the layer’s own state_dict. Its plain WebAssembly SIMD build (14 MB of .wasm, about 3.7 MB gzipped) is served by this page and downloaded only the first time you run it with “onnxruntime-web” ticked; nothing comes from a CDN.',
    threadsNote: (isolated) =>
      isolated
        ? 'Threads: attnkit and onnxruntime-web both run at the chosen count (attnkit’s single-thread build at 1, its pthreads build at 2); the plain-JavaScript reference always runs on one thread. Changing the count starts a fresh worker, because onnxruntime-web fixes its thread count when it starts.'
        : 'Threads: 1 for everything. This page is not cross-origin isolated (no COOP/COEP headers), so SharedArrayBuffer — and with it 2 threads — is not available.',
    timingNote:
      'Calls shorter than 2 ms are first warmed up for a quarter of a second (JIT and WebAssembly tier-up), then timed in batches of at least 2 ms (the batch time ÷ the number of calls), so the browser’s coarse clock does not decide the result. Every column is timed the same way.',
    run: (c) => `Run ${c}`,
    runAll: 'Run all',
    tableLabel: 'Timings: attnkit, onnxruntime-web and plain JavaScript',
    scrollCue: 'The table is wider than the screen: scroll it sideways for every column →',
    cancel: 'Cancel',
    withOrt: 'onnxruntime-web',
    withRef: 'plain-JavaScript reference',
    threadsLabel: 'Threads',
    threads1: '1 thread',
    threads2: '2 threads',
    threads2Unavailable: '2 threads (needs cross-origin isolation)',
    groups: { attnkit: 'attnkit (wasm SIMD)', ort: 'onnxruntime-web (wasm SIMD)', ref: 'plain JavaScript' },
    cols: {
      lead: ['Config', 'Shape', 'Work', 'Threads'],
      attnkit: ['median', 'GFLOP/s'],
      ort: ['median', '÷ attnkit', 'max |Δ|'],
      ref: ['median', '÷ attnkit', 'max |Δ|'],
    },
    pending: '—',
    off: 'off',
    ortFailedCell: 'did not load',
    ortFailed: (msg) =>
      `onnxruntime-web could not run, so its columns are empty (attnkit’s numbers are unaffected): ${msg}`,
    ortLoaded: (version, threads) =>
      `onnxruntime-web ${version ?? ''} · WebAssembly SIMD · ${threads} ${threads === 1 ? 'thread' : 'threads'}.`.replace(
        '  ',
        ' ',
      ),
    phaseWasm: (c, i, n, t) => `${c}: attnkit run ${i} of ${n} (${t} ${t === 1 ? 'thread' : 'threads'})…`,
    phaseOrtLoad: (c) => `${c}: loading onnxruntime-web and building the ONNX graph…`,
    phaseOrt: (c, i, n, t) => `${c}: onnxruntime-web run ${i} of ${n} (${t} ${t === 1 ? 'thread' : 'threads'})…`,
    phaseRef: (c) => `${c}: plain-JavaScript reference…`,
    done: (c) => `${c} done.`,
    cancelled: 'Cancelled.',
  },

  footer:
    'attnkit — numbers from the HackTricks tutorial “LLM Training – Attention mechanisms” and the book’s notebook (rasbt/LLMs-from-scratch, chapter 3). Everything on this page is served by the page itself; it works offline.',
};
