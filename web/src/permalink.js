// A permalink: the playground's inputs and settings in the URL's hash ("#pg?" + URL search parameters),
// so a link restores the same view. Plain section anchors (#playground, #learn) are left alone.
const PREFIX = '#pg?';

export const permalinkHash = (state) => PREFIX + new URLSearchParams(state).toString();

/** The state in a hash, or null when the hash is not a permalink. */
export function readPermalink(hash) {
  if (!hash || !hash.startsWith(PREFIX)) return null;
  return Object.fromEntries(new URLSearchParams(hash.slice(PREFIX.length)));
}
