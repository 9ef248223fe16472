// Holds the suite to the coverage floor stated in package.json
// ("coverageFloor"), read from the summary tap writes on every run.
// The floor is raised as the suite grows; it is never lowered to pass.
import { readFileSync } from 'node:fs'

const floor = JSON.parse(readFileSync('package.json', 'utf8')).coverageFloor
const summary = JSON.parse(readFileSync('.tap/report/coverage-summary.json', 'utf8')).total
const short = Object.entries(floor).filter(([metric, minimum]) => summary[metric].pct < minimum)

for (const [metric, minimum] of short) {
  console.error(`coverage of ${metric} is ${summary[metric].pct}%, under the floor of ${minimum}%`)
}
if (short.length === 0) {
  const figures = Object.keys(floor).map((metric) => `${metric} ${summary[metric].pct}%`).join(', ')
  console.log(`coverage at or above the floor: ${figures}`)
}
process.exitCode = short.length === 0 ? 0 : 1
