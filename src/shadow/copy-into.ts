/**
 * Copies `source` into `target` at `at`; returns the bytes copied.
 *
 * The arena is shared memory (see pair-arena.ts), and V8 copies into or
 * out of shared memory with relaxed atomic stores: word by word when both
 * sides share an alignment, byte by byte otherwise, which for a body at an
 * odd place in a record measured five times slower than a plain copy.
 * Buffer's fill with a Buffer as its value copies with a plain memcpy in
 * Node's own code, whatever the alignment: with the value exactly as long
 * as the range, it is one copy.
 */
export function copyInto (source: Buffer, target: Buffer, at: number): number {
  if (source.length > 0) target.fill(source, at, at + source.length)
  return source.length
}
