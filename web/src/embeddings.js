// Sentence → tokens → deterministic embeddings.
//
// A token's embedding depends only on the token (lower-cased) and d_in: an FNV-1a hash of the token
// seeds a small generator (mulberry32) that draws d_in numbers in [0, 1), like the book's inputs.
// At d_in = 3 the words of the HackTricks tutorial ("Hello shiny sun!") and of the book ("Your journey starts with
// one step") get their printed embeddings, so typing those sentences reproduces the walkthrough.
import { mulberry32 } from './prng.js';
import helloGolden from '../../data/book/hacktricks_hello_shiny_sun.json';
import bookGolden from '../../data/book/book_02_simplified_attention_all.json';

const KNOWN3 = new Map();
for (const t of helloGolden.tokens) KNOWN3.set(t.toLowerCase(), helloGolden.embeddings[t]);
bookGolden.inputs.tokens.forEach((t, i) => KNOWN3.set(t.toLowerCase(), bookGolden.inputs.inputs_6x3[i]));

export const BOOK = {
  tokens: bookGolden.inputs.tokens,
  x: bookGolden.inputs.inputs_6x3,
  sentence: bookGolden.inputs.sentence,
};
export const HELLO = { tokens: helloGolden.tokens, x: helloGolden.tokens.map((t) => helloGolden.embeddings[t]) };

/** Words and punctuation marks; punctuation other than a sentence's final mark is kept as a token. */
export function tokenize(sentence) {
  const words = sentence.match(/[\p{L}\p{N}'’]+|[^\s\p{L}\p{N}]/gu) || [];
  // The tutorial treats "sun!" as the word "sun": drop a sentence's trailing punctuation.
  while (words.length > 1 && /^[.!?]$/.test(words[words.length - 1])) words.pop();
  return words;
}

function fnv1a(s) {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function embedToken(token, dIn) {
  const key = token.toLowerCase();
  if (dIn === 3 && KNOWN3.has(key)) return KNOWN3.get(key);
  const next = mulberry32(fnv1a(`${key}\u0000${dIn}`));
  // two decimals, like the book's hand-written inputs
  return Array.from({ length: dIn }, () => Math.round(next() * 100) / 100);
}

export function embedSentence(sentence, dIn) {
  const tokens = tokenize(sentence);
  const x = new Float32Array(tokens.length * dIn);
  tokens.forEach((t, i) => x.set(embedToken(t, dIn), i * dIn));
  return { tokens, x, shape: [1, tokens.length, dIn] };
}

/** Fast seeded uniform numbers in [-1, 1) for the performance panel's random inputs. */
export function randomInput(n, seed = 1) {
  const next = mulberry32(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = next() * 2 - 1;
  return a;
}
