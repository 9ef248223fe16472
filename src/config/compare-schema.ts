import { z } from 'zod'
import { fieldPathExpectation, parseFieldPattern } from '../diff/field-path.js'
import type { CompareRules } from '../diff/rules.js'

/*
 * A route's `compare:` section: how the diff workers normalize the
 * baseline's and the candidate's answers before calling them different.
 * Its defaults live here and nowhere else; src/diff/rules.ts describes the
 * validated shape.
 *
 * As in schema.ts, every custom message says what was *expected*.
 */

/** A field pattern (see src/diff/field-path.ts); '' would be the whole body. */
const fieldPattern = z.string({ error: fieldPathExpectation })
  .refine((text) => parseFieldPattern(text) !== undefined, fieldPathExpectation)

/** Ignoring or tolerating '' would cover the whole body: a slip, not a rule. */
const fieldPatternNotRoot = fieldPattern.refine((text) => text !== '', fieldPathExpectation)

/** A key field of an unordered array's elements: one plain key. */
const elementKey = z.string({ error: 'a key field name such as id' })
  .min(1, 'a key field name such as id')

const headerName = z.string({ error: 'a header name' })
  .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'a header name')
  .transform((name) => name.toLowerCase())

const unorderedArraySchema = z.union([
  fieldPattern.transform((path) => ({ path })),
  z.strictObject({
    path: fieldPattern,
    /** Field that identifies an element; without it, elements match by equal content. */
    key: elementKey.optional()
  })
], { error: 'a field path, or { path, key }' })

const toleranceBound = z.number({ error: 'a number of 0 or more' })
  .nonnegative('a number of 0 or more')

const numericToleranceSchema = z.strictObject({
  path: fieldPatternNotRoot,
  /** Largest absolute difference, in the field's own unit. */
  absolute: toleranceBound.optional(),
  /** Largest difference as a share of the baseline's value: 0.01 is 1%. */
  relative: toleranceBound.optional()
}).refine((rule) => rule.absolute !== undefined || rule.relative !== undefined,
  'absolute, relative or both')

const fieldPatterns = z.array(fieldPatternNotRoot, { error: 'a list of field paths' })
const headerNames = z.array(headerName, { error: 'a list of header names' })

export const compareSchema = z.strictObject({
  /** Fields whose differences are ignored, with everything below them. */
  ignorePaths: fieldPatterns.default([]),
  /** Header names compared by value, or `*` for all but transport headers. */
  compareHeaders: headerNames.default([]),
  /** Header names never compared, even under `*`. */
  ignoreHeaders: headerNames.default([]),
  /** Arrays compared as multisets: `tags`, or `{ path: items, key: id }`. */
  unorderedArrays: z.array(unorderedArraySchema, { error: 'a list of array paths' }).default([]),
  numericTolerance: z.array(numericToleranceSchema, {
    error: 'a list of { path, absolute, relative }'
  }).default([]),
  /** A key with the value null equals an absent key. Empty values stay different. */
  nullEqualsMissing: z.boolean({ error: 'true or false' }).default(false),
  /** Largest body after undoing its content-encoding; larger pairs are not comparable. */
  maxDecodedBytes: z.number({ error: 'a number of bytes' })
    .int('a whole number of bytes').positive('a number of bytes above 0').default(8 * 1024 * 1024),
  /**
   * Deepest nesting of arrays and objects, in levels. deep-diff recurses,
   * so the upper bound keeps it far from the call stack's limit; 1,000
   * levels are covered by a test.
   */
  maxDepth: z.number({ error: 'a nesting depth' })
    .int('a whole nesting depth').min(1, 'a nesting depth from 1 to 1000')
    .max(1_000, 'a nesting depth from 1 to 1000').default(256),
  /** Distinct differences listed per verdict; the rest are counted. Arbitrary bound. */
  maxDifferences: z.number({ error: 'a number of differences' })
    .int('a whole number of differences').positive('a number of differences above 0').default(100)
}) satisfies z.ZodType<CompareRules>

/** A validated `compare:` section, ready for compileRules. */
export type CompareConfig = z.infer<typeof compareSchema>
