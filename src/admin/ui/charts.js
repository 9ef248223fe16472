// A route's figures over time as four small uPlot charts: percentage,
// divergence rate, error rates and p99 latency of both backends. The
// charts of one route share a cursor; changes of percentage are drawn as
// vertical lines (red for a roll back, green for a promotion).

import uPlot from './vendor/uPlot.esm.js'
import { actionLabel, formatTime, h } from './dom.js'

export const colors = { candidate: '#c2410c', baseline: '#1d4ed8', percentage: '#047857', divergence: '#b91c1c' }

const chartHeight = 130

const percent = (value, digits = 2) => value === null || value === undefined ? '–' : `${Number(value.toFixed(digits))}%`
const millis = (value) => value === null || value === undefined ? '–' : `${Math.round(value)} ms`
/** Rates arrive as fractions; the charts draw percents. */
const asPercent = (rate) => rate === null ? null : rate * 100

const charts = [
  {
    title: 'Percentage on the candidate',
    series: [{
      label: 'percentage',
      stroke: colors.percentage,
      fill: 'rgba(4, 120, 87, 0.08)',
      width: 2,
      value: (_u, v) => percent(v),
      stepped: true
    }],
    data: (points) => [points.map((point) => point.percentage)],
    range: [0, 100],
    axis: (value) => `${value}%`
  },
  {
    title: 'Divergence rate',
    series: [{ label: 'divergence', stroke: colors.divergence, width: 2, value: (_u, v) => percent(v) }],
    data: (points) => [points.map((point) => asPercent(point.divergenceRate))],
    range: [0, null],
    axis: (value) => `${value}%`
  },
  {
    title: 'Error rate',
    series: [
      { label: 'candidate', stroke: colors.candidate, width: 2, value: (_u, v) => percent(v) },
      { label: 'baseline', stroke: colors.baseline, width: 2, value: (_u, v) => percent(v) }
    ],
    data: (points) => [
      points.map((point) => asPercent(point.candidateErrorRate)),
      points.map((point) => asPercent(point.baselineErrorRate))
    ],
    range: [0, null],
    axis: (value) => `${value}%`
  },
  {
    title: 'p99 latency',
    series: [
      { label: 'candidate', stroke: colors.candidate, width: 2, value: (_u, v) => millis(v) },
      { label: 'baseline', stroke: colors.baseline, width: 2, value: (_u, v) => millis(v) }
    ],
    data: (points) => [points.map((point) => point.candidateP99Ms), points.map((point) => point.baselineP99Ms)],
    range: [0, null],
    axis: (value) => `${value} ms`
  }
]

/**
 * Draws the four charts of one route into `container`; `update` redraws
 * them with new figures, `destroy` frees them.
 */
export function createRouteCharts (container, routeName) {
  /** What the latest answer says; the charts' range and draw hooks read it. */
  const figures = { changes: [], from: 0, to: 0 }
  const plots = []
  // Each chart fills its grid cell; uPlot draws at a fixed size, so it is told the cell's width.
  const widthOf = (holder) => Math.max(200, holder.clientWidth)

  const build = (timeseries) => {
    for (const chart of charts) {
      const holder = h('figure', { class: 'chart' }, h('figcaption', { text: chart.title }))
      container.append(holder)
      plots.push(new uPlot(chartOptions(chart, routeName, widthOf(holder), figures), toData(chart, timeseries), holder))
    }
  }
  const resize = new ResizeObserver(() => {
    for (const plot of plots) plot.setSize({ width: widthOf(plot.root.parentElement), height: chartHeight })
  })
  resize.observe(container)

  return {
    update (answer) {
      const timeseries = trimLeadingGap(answer)
      Object.assign(figures, { changes: timeseries.changes, from: timeseries.from, to: timeseries.to })
      if (plots.length === 0) { build(timeseries); return }
      // Resetting the scales calls the range functions, which read `figures`.
      plots.forEach((plot, index) => plot.setData(toData(charts[index], timeseries)))
    },
    destroy () {
      resize.disconnect()
      for (const plot of plots) plot.destroy()
    }
  }
}

/**
 * Starts the charts where the figures start: a route that began counting
 * two minutes ago would otherwise be a sliver at the right of an hour.
 * The percentage before the first figure or change is left out with the
 * rest, since nothing shows what it was then.
 */
function trimLeadingGap (timeseries) {
  const counted = (point) => point.compared > 0 || point.candidateRequests > 0 || point.baselineRequests > 0
  const firstFigure = timeseries.points.find(counted)
  const starts = [firstFigure?.at, timeseries.changes[0]?.at].filter((at) => at !== undefined)
  if (starts.length === 0) return timeseries

  const from = Math.max(timeseries.from, Math.min(...starts) - timeseries.pointMs)
  return { ...timeseries, from, points: timeseries.points.filter((point) => point.at + timeseries.pointMs > from) }
}

function toData (chart, timeseries) {
  return [timeseries.points.map((point) => point.at / 1_000), ...chart.data(timeseries.points)]
}

const axisStyle = { stroke: '#555', grid: { stroke: '#eee' }, ticks: { stroke: '#ddd' } }

/**
 * A time tick as one short line, 24-hour: "16:19", or "16:19:30" when the
 * ticks are under a minute apart. uPlot's own labels add the date on a
 * second line, and on a narrow card they ran into each other.
 */
function formatTick (seconds, increment) {
  const clock = new Date(seconds * 1_000).toLocaleTimeString('en-GB', { hour12: false })
  return increment < 60 ? clock : clock.slice(0, 5)
}

function chartOptions (chart, routeName, width, figures) {
  return {
    width,
    height: chartHeight,
    cursor: { sync: { key: `route-${routeName}` }, drag: { x: false, y: false } },
    legend: { live: true },
    scales: {
      x: { time: true, range: () => [figures.from / 1_000, figures.to / 1_000] },
      y: { range: (_u, min, max) => [chart.range[0], chart.range[1] ?? Math.max(1, (max ?? 0) * 1.15)] }
    },
    axes: [
      { ...axisStyle, space: 60, values: (_u, ticks, _axis, _space, increment) => ticks.map((tick) => formatTick(tick, increment)) },
      { ...axisStyle, size: 64, values: (_u, ticks) => ticks.map(chart.axis) }
    ],
    series: [
      { value: (_u, v) => v === null ? '–' : formatTime(v * 1_000) },
      ...chart.series.map(({ stepped, ...series }) => stepped
        ? { ...series, spanGaps: true, paths: uPlot.paths.stepped({ align: 1 }) }
        : series)
    ],
    hooks: { draw: [(plot) => drawChanges(plot, figures.changes)] }
  }
}

/** A vertical line at each change of percentage, labelled on hover by the legend's time. */
function drawChanges (plot, changes) {
  const context = plot.ctx
  const { top, height } = plot.bbox
  context.save()
  for (const change of changes) {
    const x = Math.round(plot.valToPos(change.at / 1_000, 'x', true))
    context.strokeStyle = change.to < change.from ? 'rgba(185, 28, 28, 0.7)' : 'rgba(4, 120, 87, 0.6)'
    context.setLineDash(change.to === change.from ? [3, 3] : [])
    context.lineWidth = 1.5 * devicePixelRatio
    context.beginPath()
    context.moveTo(x, top)
    context.lineTo(x, top + height)
    context.stroke()
  }
  context.restore()
}

/** A line under the charts naming the changes drawn, newest first. */
export function describeChanges (changes) {
  if (changes.length === 0) return h('p', { class: 'hint', text: 'No change of percentage in this range.' })

  const latest = changes.slice(-3).reverse()
  return h('p', { class: 'hint changes' }, 'Changes: ', latest.map((change, index) => [
    index > 0 ? ' · ' : '',
    `${formatTime(change.at)} ${actionLabel(change.action)} ${change.from}% → ${change.to}% by ${change.actor}`
  ]), changes.length > 3 ? ` · and ${changes.length - 3} earlier` : '')
}
