import { existsSync, statSync } from 'node:fs'
import { isAbsolute, join, posix, relative } from 'node:path'
import t, { type Test } from 'tap'
import { parse } from 'yaml'
import { loadConfig } from '../../src/config/load.js'
import type { Config } from '../../src/config/schema.js'
import { readRepoFile, readYaml, repoRoot } from '../helpers/promql.js'

/*
 * docker-compose.yml read without Docker: the files it mounts and builds
 * exist, the services it names are defined, and every address one part of
 * the stack uses to reach another (Prometheus targets, the Alertmanager
 * webhook, Grafana's data source, the backends) is a service listening
 * on that port.
 */

type Environment = Record<string, string>

interface Mount {
  source: string
  target: string
}

interface Service {
  name: string
  image?: string
  build?: { context: string, dockerfile: string }
  command: string[]
  environment: Environment
  mounts: Mount[]
  dependsOn: string[]
}

/** `$$`, `${NAME}` with an optional `:-`, `-`, `:?` or `?` operand, and `$NAME`. */
const variable = /\$\$|\$\{(\w+)(?:(:?[-?])([^}]*))?\}|\$(\w+)/g

const compose = parse(readRepoFile('docker-compose.yml'), { merge: true })
const rawServices = Object.entries(compose.services as Record<string, any>)
const services = new Map(rawServices.map(([name, raw]) => [name, readService(name, raw)]))

/**
 * Compose's interpolation, as on a machine whose environment sets none of
 * the variables: `${X:-default}` and `${X-default}` give the default,
 * `${X}` and `$X` give '' (Compose warns), `${X:?why}` is an error, `$$` is `$`.
 */
function interpolate (text: string): string {
  return text.replace(variable, (match, name?: string, op?: string, operand?: string) => {
    if (match === '$$') return '$'
    if (op?.endsWith('?') === true) throw new Error(`docker-compose.yml requires ${name ?? ''} to be set: ${operand ?? ''}`)

    return op?.endsWith('-') === true ? operand ?? '' : ''
  })
}

function readService (name: string, raw: any): Service {
  const command = raw.command === undefined ? [] : [raw.command].flat().map((part: unknown) => interpolate(String(part)))
  const environment: Environment = {}
  const entries = Array.isArray(raw.environment)
    ? (raw.environment as string[]).map((entry) => entry.split(/=(.*)/s))
    : Object.entries(raw.environment ?? {})
  for (const [key, value] of entries) environment[key as string] = interpolate(String(value ?? ''))
  const context = typeof raw.build === 'string' ? raw.build : raw.build?.context ?? '.'
  const build = raw.build === undefined ? undefined : { context, dockerfile: raw.build.dockerfile ?? 'Dockerfile' }
  const dependsOn = Array.isArray(raw.depends_on) ? raw.depends_on : Object.keys(raw.depends_on ?? {})

  return { name, image: raw.image, build, command, environment, mounts: readMounts(raw.volumes ?? []), dependsOn }
}

/** Bind mounts only: named volumes are not files of the repository. */
function readMounts (volumes: unknown[]): Mount[] {
  return volumes.flatMap((volume): Mount[] => {
    if (typeof volume === 'string') {
      const [source = '', target = ''] = interpolate(volume).split(':')
      return source.startsWith('.') || source.startsWith('/') ? [{ source, target }] : []
    }
    const long = volume as { type?: string, source?: string, target?: string }
    return long.type === 'bind' ? [{ source: interpolate(long.source ?? ''), target: long.target ?? '' }] : []
  })
}

function inRepo (path: string): string {
  return isAbsolute(path) ? path : join(repoRoot, path)
}

/** The host file behind a path inside a service's container, through its bind mounts. */
function hostPath (service: Service, containerPath: string): string | undefined {
  for (const { source, target } of service.mounts) {
    if (containerPath === target) return inRepo(source)
    if (containerPath.startsWith(`${target}/`)) return join(inRepo(source), posix.relative(target, containerPath))
  }

  return undefined
}

function flagValue (service: Service, flag: string): string | undefined {
  const text = service.command.join(' ')
  const match = new RegExp(`${flag}[= ](\\S+)`).exec(text)

  return match?.[1]
}

function runsShadowramp (service: Service): 'serve' | 'worker' | undefined {
  if (service.build === undefined) return undefined
  const [verb] = service.command

  return verb === 'serve' || verb === 'worker' ? verb : undefined
}

/** The shadowramp configuration file a service reads, and the file loaded with the service's environment. */
function shadowrampConfig (service: Service): { file: string, config: Readonly<Config> } {
  const file = flagValue(service, '--config') ?? service.environment.SHADOWRAMP_CONFIG ?? 'config/shadowramp.yaml'

  return { file, config: loadConfig(inRepo(file), service.environment) }
}

/** The ports a service listens on inside its container. */
function listenerPorts (service: Service): number[] {
  const verb = runsShadowramp(service)
  if (verb !== undefined) {
    const { config } = shadowrampConfig(service)
    return verb === 'serve' ? [config.listen.port, config.admin.listen.port] : [config.worker.listen.port]
  }

  const ports = [
    flagValue(service, '--web.listen-address'),
    flagValue(service, '--port'),
    service.environment.GF_SERVER_HTTP_PORT
  ]
  return ports.filter((port): port is string => port !== undefined).map((port) => Number(port.split(':').pop()))
}

/** `host:port` (or a URL) names a service of the stack listening on that port. */
function checkAddress (t: Test, address: string, what: string): void {
  const { hostname, port } = new URL(address.includes('://') ? address : `http://${address}`)
  const service = services.get(hostname)
  t.ok(service !== undefined, `${what}: ${hostname} is a service`)
  if (service === undefined) return

  const ports = listenerPorts(service)
  t.ok(ports.includes(Number(port)), `${what}: ${hostname} listens on ${port} (it listens on ${ports.join(', ')})`)
}

t.test('the redis service still runs alone, as the README says', async (t) => {
  const redis = services.get('redis')
  t.match(redis, { image: /^redis:/, dependsOn: [] })
  t.same(compose.services.redis.ports, ['127.0.0.1:6379:6379'], 'on the host\'s loopback, where shadowramp looks first')
})

t.test('every file and directory the stack mounts, and the Dockerfile it builds, exists', async (t) => {
  let mounts = 0
  for (const service of services.values()) {
    for (const { source, target } of service.mounts) {
      mounts++
      t.ok(existsSync(inRepo(source)), `${service.name}: ${source} (mounted at ${target}) exists`)
      t.notOk(relative(repoRoot, inRepo(source)).startsWith('..'), `${service.name}: ${source} is inside the repository`)
    }
    if (service.build !== undefined) {
      const dockerfile = join(inRepo(service.build.context), service.build.dockerfile)
      t.ok(existsSync(dockerfile), `${service.name}: builds ${relative(repoRoot, dockerfile)}, which exists`)
    }
  }
  for (const section of ['configs', 'secrets']) {
    for (const [name, entry] of Object.entries(compose[section] ?? {}) as Array<[string, { file?: string }]>) {
      if (entry.file !== undefined) t.ok(existsSync(inRepo(entry.file)), `${section}.${name}: ${entry.file} exists`)
    }
  }
  t.ok(mounts >= 5, `${mounts} bind mounts checked`)

  const named = Object.values(compose.services as Record<string, any>).flatMap((raw) => (raw.volumes ?? []) as unknown[])
    .filter((volume): volume is string => typeof volume === 'string' && !/^[./]/.test(volume))
    .map((volume) => volume.split(':')[0])
  for (const volume of named) t.ok(volume !== undefined && volume in (compose.volumes ?? {}), `volume ${volume} is declared`)
})

t.test('the Dockerfile builds from node:20-slim with npm ci and npm run build, from files the context keeps', async (t) => {
  const dockerfile = readRepoFile('Dockerfile')
  t.match(dockerfile, /^FROM node:20-slim\b/m)
  t.match(dockerfile, /^RUN npm ci\b/m)
  t.match(dockerfile, /^RUN npm run build\b/m)

  const ignored = readRepoFile('.dockerignore').split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
  const copies = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)]
  const copied = copies.flatMap((match) => (match[1] as string).split(/\s+/))
  t.ok(copied.length >= 4, `${copied.length} paths copied`)
  for (const path of copied) {
    t.ok(existsSync(inRepo(path)), `COPY ${path}: exists`)
    t.notOk(ignored.includes(path.split('/')[0] as string), `COPY ${path}: not left out by .dockerignore`)
  }
})

t.test('every service named in depends_on is defined', async (t) => {
  for (const service of services.values()) {
    for (const dependency of service.dependsOn) {
      t.ok(services.has(dependency), `${service.name} depends on ${dependency}, which is defined`)
    }
  }
  t.ok(services.get('shadowramp')?.dependsOn.includes('redis'), 'the gateway waits for Redis')
})

t.test('the shadowramp services get every variable their configuration interpolates without a default', async (t) => {
  const shadowramp = [...services.values()].filter((service) => runsShadowramp(service) !== undefined)
  const verbs = shadowramp.map((service) => [service.name, runsShadowramp(service)])
  t.same(verbs, [['shadowramp', 'serve'], ['worker', 'worker']])

  for (const service of shadowramp) {
    const file = flagValue(service, '--config') ?? service.environment.SHADOWRAMP_CONFIG ?? ''
    const required = [...readRepoFile(file).matchAll(/\$\{(\w+)\}/g)].map((match) => match[1] as string)
    t.ok(required.length > 0, `${file} interpolates ${[...new Set(required)].join(', ')}`)
    for (const name of new Set(required)) {
      t.ok((service.environment[name] ?? '') !== '', `${service.name}: ${name} is set`)
    }
    t.doesNotThrow(() => shadowrampConfig(service), `${service.name}: ${file} loads with the service's environment`)
  }
})

t.test('every port Prometheus scrapes, and every address between services, is a service listening there', async (t) => {
  const prometheusService = services.get('prometheus') as Service
  const configPath = flagValue(prometheusService, '--config.file') ?? ''
  const prometheusFile = hostPath(prometheusService, configPath)
  const mounted = prometheusFile !== undefined && existsSync(prometheusFile)
  t.ok(mounted, `Prometheus reads ${configPath}, mounted from the repository`)
  const prometheus = parse(readRepoFile(relative(repoRoot, prometheusFile ?? '')))

  let targets = 0
  for (const job of prometheus.scrape_configs as any[]) {
    for (const sd of job.dns_sd_configs ?? []) {
      for (const name of sd.names as string[]) {
        targets++
        checkAddress(t, `${name}:${String(sd.port)}`, `scrape job ${job.job_name}`)
      }
    }
    for (const group of job.static_configs ?? []) {
      for (const target of group.targets as string[]) {
        targets++
        checkAddress(t, target, `scrape job ${job.job_name}`)
      }
    }
  }
  t.ok(targets >= 2, `${targets} scrape targets checked`)
  for (const alertmanager of prometheus.alerting.alertmanagers as any[]) {
    const alertTargets = alertmanager.static_configs[0].targets as string[]
    for (const target of alertTargets) checkAddress(t, target, 'Prometheus sends alerts to')
  }

  const alertmanagerService = services.get('alertmanager') as Service
  const alertmanagerFile = hostPath(alertmanagerService, flagValue(alertmanagerService, '--config.file') ?? '')
  const alertmanager = parse(readRepoFile(relative(repoRoot, alertmanagerFile ?? '')))
  const webhook = alertmanager.receivers.find((receiver: any) => receiver.name === 'shadowramp-rollback').webhook_configs[0]
  checkAddress(t, webhook.url, 'the Alertmanager webhook')
  const tokenFile = webhook.http_config.authorization.credentials_file as string
  const writesToken = alertmanagerService.command.join(' ').includes(`> ${tokenFile}`)
  t.ok(writesToken, `the alertmanager container writes ${tokenFile} before it starts`)
  const token = alertmanagerService.environment.SHADOWRAMP_ALERTMANAGER_TOKEN ?? ''
  t.ok(token !== '', 'from SHADOWRAMP_ALERTMANAGER_TOKEN')
  const accepted = services.get('shadowramp')?.environment.SHADOWRAMP_ALERTMANAGER_TOKEN
  t.equal(token, accepted, 'the token shadowramp accepts')

  const { config } = shadowrampConfig(services.get('shadowramp') as Service)
  const backends = new Set(config.routes.flatMap((route) => [route.baseline.url, route.candidate.url]))
  for (const url of backends) checkAddress(t, url, 'a route\'s backend')
  const alertmanagerToken = config.admin.tokens.find((entry) => entry.token === token)
  t.equal(alertmanagerToken?.role, 'operator', 'Alertmanager\'s token is an operator token of shadowramp')
})

t.test('Grafana is provisioned with the Prometheus data source and the dashboard', async (t) => {
  const grafana = services.get('grafana') as Service
  const datasources = hostPath(grafana, '/etc/grafana/provisioning/datasources/prometheus.yml')
  t.ok(datasources !== undefined && existsSync(datasources), 'the data source file is mounted where Grafana provisions from')
  const datasource = parse(readRepoFile(relative(repoRoot, datasources ?? ''))).datasources[0]
  checkAddress(t, datasource.url, 'Grafana\'s data source')

  const providers = hostPath(grafana, '/etc/grafana/provisioning/dashboards/shadowramp.yml')
  const provider = parse(readRepoFile(relative(repoRoot, providers ?? ''))).providers[0]
  const dashboards = hostPath(grafana, provider.options.path)
  const isDirectory = dashboards !== undefined && statSync(dashboards).isDirectory()
  t.ok(isDirectory, `the provider's ${provider.options.path} is a mounted directory`)
  t.ok(existsSync(join(dashboards ?? '', 'shadowramp.json')), 'holding shadowramp.json')
  const home = hostPath(grafana, grafana.environment.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH ?? '')
  t.ok(home !== undefined && existsSync(home), 'the home dashboard is the shadowramp one')
  t.ok(readYaml('dashboards/prometheus/prometheus.yml').scrape_configs.length > 0)
})
