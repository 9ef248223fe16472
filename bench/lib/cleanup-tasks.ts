/**
 * Work that must happen however a benchmark ends, beyond stopping its
 * children: a gateway's Redis namespace and configuration directory
 * outlive its process. runBench runs these after stopping the children.
 */
const tasks = new Set<() => Promise<void>>()

/** Registers a task; the returned function unregisters it once it has run normally. */
export function addCleanup (task: () => Promise<void>): () => void {
  tasks.add(task)

  return () => { tasks.delete(task) }
}

export async function runCleanups (): Promise<void> {
  const pending = [...tasks]
  tasks.clear()
  await Promise.allSettled(pending.map(async (task) => await task()))
}

/** Wraps a task so that calling it again returns the first call's promise. */
export function once (task: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined

  return async () => {
    running ??= task()
    await running
  }
}
