#!/usr/bin/env node
/*
 * Part of `npm run build`: tsc compiles only TypeScript, so the web UI's
 * static files are copied from src/admin/ui to dist/admin/ui, where the
 * built admin listener serves them from. The target is emptied first, so
 * a file deleted from src does not live on in dist.
 */
import { cpSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const from = join(root, 'src', 'admin', 'ui')
const to = join(root, 'dist', 'admin', 'ui')

rmSync(to, { recursive: true, force: true })
cpSync(from, to, { recursive: true })
