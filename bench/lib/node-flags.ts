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
