import { readFileSync } from 'node:fs'

const shebang = /^#!\/usr\/bin\/env -S node(?<options>(?: --[\w-]+(?:=\S+)?)*)$/

/**
 * The options `shadowramp` gives node, read from the first line of the
 * built CLI (`#!/usr/bin/env -S node <options>`), so that a benchmark runs
 * its gateways and workers as the command runs them.
 */
export function cliNodeOptions (mainFile: string): string[] {
  const firstLine = readFileSync(mainFile, 'utf8').split('\n', 1)[0] ?? ''
  const options = shebang.exec(firstLine)?.groups?.options
  if (options === undefined) throw new Error(`${mainFile} does not start with "#!/usr/bin/env -S node": run npm run build`)

  return options.split(' ').filter((option) => option !== '')
}

/** The old generation a benchmark process starts with, in MB: `npm run bench:*` passes it. */
export const generatorOldSpaceMb = 256

/**
 * A warning when this process, which sends the load and times the
 * answers, was started without a first old-generation budget. Without
 * one, V8 counts the megabytes of answer bodies it reads each second
 * against a small budget and collects its whole heap every half second or
 * so; each collection holds up the requests due meanwhile, and they count
 * as slow answers of whichever gateway is being measured.
 */
export function generatorHeapWarning (execArgv: readonly string[]): string | undefined {
  if (execArgv.some((option) => option.startsWith('--initial-old-space-size'))) return undefined

  return `this process times the answers but was started without --initial-old-space-size=${generatorOldSpaceMb}: ` +
    'its own full garbage collections will show as slow answers (npm run bench:… passes it)'
}
