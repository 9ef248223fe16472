/*
 * JSON schemas of the admin API: Fastify validates requests and serializes
 * responses with them, and @fastify/swagger turns them into the OpenAPI
 * document. Response schemas list every field, because the serializer
 * drops fields a schema does not name.
 */

export const errorBody = {
  type: 'object',
  description: 'A coded error: `code` is stable, `error` is for people.',
  properties: {
    error: { type: 'string' },
    code: { type: 'string', example: 'SR_ERR_UNKNOWN_ROUTE' }
  },
  required: ['error', 'code']
} as const

/** The error answers every API route may give, besides its own. */
export const commonErrors = {
  400: errorBody,
  401: errorBody,
  404: errorBody,
  503: errorBody
} as const

/** Answers of the alert receivers: never refused for a route's state, never rate limited. */
export const alertErrors = {
  ...commonErrors,
  403: errorBody
} as const

/** Answers of the routes that change a rollout or a rule. */
export const changeErrors = {
  ...alertErrors,
  409: errorBody,
  429: errorBody
} as const

export const routeParams = {
  type: 'object',
  properties: {
    route: { type: 'string', description: 'A configured route name.', maxLength: 63 }
  },
  required: ['route']
} as const

const nullableString = { type: ['string', 'null'] } as const

const planSummary = {
  type: ['object', 'null'],
  description: 'The route\'s plan from the configuration; null when the percentage moves only by hand.',
  properties: {
    steps: { type: 'array', items: { type: 'number' } },
    intervalMs: { type: 'integer' },
    thresholds: {
      type: 'object',
      properties: {
        divergencePercent: { type: 'number' },
        errorExcessPoints: { type: 'number' },
        fallbackPercent: { type: 'number' },
        p99Ratio: { type: 'number' },
        p99ExcessMs: { type: 'number' }
      }
    }
  }
} as const

export const routeView = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    paths: { type: 'array', items: { type: 'string' } },
    percentage: { type: 'number', description: 'Share of live requests the candidate serves, 0–100.' },
    status: { type: 'string', enum: ['manual', 'ramping', 'paused', 'rolled-back', 'complete'] },
    step: {
      type: ['object', 'null'],
      description: 'The plan step the route is on; null without a plan.',
      properties: {
        index: { type: 'integer', description: '0-based index into plan.steps.' },
        percentage: { type: 'number', description: 'The step\'s percentage.' },
        of: { type: 'integer', description: 'How many steps the plan has.' }
      }
    },
    stepStartedAt: nullableString,
    waitingFor: { ...nullableString, description: 'What the controller waits for, in words.' },
    failingIntervals: { type: 'integer' },
    version: { type: 'integer', description: 'Raised by one on every change; 0 while Redis holds no state.' },
    updatedAt: { ...nullableString, description: 'When the route last changed; the actor and reason are that change\'s.' },
    actor: { type: 'string' },
    reason: { type: 'string' },
    plan: planSummary,
    divergence: {
      type: 'object',
      description: 'Pairs of the current step (the last 10 minutes for routes without a plan).',
      properties: {
        from: { type: 'string' },
        to: { type: 'string' },
        compared: { type: 'integer' },
        diverging: { type: 'integer', description: 'Diverging and status-mismatched pairs.' },
        rate: { type: ['number', 'null'], description: 'diverging / compared, from 0 to 1; null with nothing compared.' }
      }
    }
  }
} as const

export const historyQuery = {
  type: 'object',
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: 1_000, default: 50 }
  },
  additionalProperties: false
} as const

export const historyEntries = {
  type: 'array',
  description: 'Newest first.',
  items: {
    type: 'object',
    properties: {
      at: { type: 'string' },
      route: { type: 'string' },
      actor: { type: 'string' },
      action: { type: 'string', description: 'set, pause, resume, promote, roll-back, retry, alert, start, complete, …' },
      from: { type: 'number' },
      to: { type: 'number' },
      reason: { type: 'string' },
      figures: { description: 'The analysis or alert the change was based on.' }
    }
  }
} as const

export const reportQuery = {
  type: 'object',
  properties: {
    since: { type: 'string', default: '10m', description: 'How far back: 30s, 10m, 1h, 1d (at most 1d).' }
  },
  additionalProperties: false
} as const

const pathCounts = { type: 'array', items: { type: 'object', additionalProperties: true } } as const

export const routeReport = {
  type: 'object',
  description: 'The same figures as `shadowramp report --json`; from and to are epoch milliseconds.',
  additionalProperties: true,
  properties: {
    route: { type: 'string' },
    from: { type: 'number' },
    to: { type: 'number' },
    pairs: { type: 'integer' },
    compared: { type: 'integer' },
    identical: { type: 'integer' },
    diverging: { type: 'integer' },
    statusMismatch: { type: 'integer' },
    noiseOnly: { type: 'integer' },
    notComparable: { type: 'integer' },
    divergenceRate: { type: ['number', 'null'] },
    paths: pathCounts,
    suggestions: pathCounts,
    acceptedRules: pathCounts
  }
} as const

export const examplesQuery = {
  type: 'object',
  properties: {
    kind: { type: 'string', minLength: 1, maxLength: 64, description: 'Kind of divergence, as in the report\'s paths.' },
    path: { type: 'string', maxLength: 1_000, description: 'Field path, as in the report\'s paths (`@status` for a status alone, empty for the whole body).' }
  },
  required: ['kind', 'path'],
  additionalProperties: false
} as const

export const examplesBody = {
  type: 'object',
  properties: {
    route: { type: 'string' },
    kind: { type: 'string' },
    path: { type: 'string' },
    examples: { type: 'array', description: 'Newest first, redacted as configured.', items: { type: 'object', additionalProperties: true } }
  }
} as const

export const timeseriesQuery = {
  type: 'object',
  properties: {
    since: { type: 'string', default: '1h', description: 'How far back: 5m, 1h, 6h, 1d (at most 1d).' }
  },
  additionalProperties: false
} as const

const nullableNumber = { type: ['number', 'null'] } as const

export const timeseriesBody = {
  type: 'object',
  description: 'A route\'s figures over time, for charts. Times are epoch milliseconds; rates are fractions from 0 to 1, null where nothing was counted.',
  properties: {
    route: { type: 'string' },
    from: { type: 'number' },
    to: { type: 'number' },
    pointMs: { type: 'integer', description: 'How long each point covers: 10 s buckets, added up so a range gives at most a few hundred points.' },
    points: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          at: { type: 'number', description: 'Start of the point.' },
          percentage: { type: 'number', description: 'The percentage in force at the end of the point, from the history (the current state for the last point).' },
          compared: { type: 'integer' },
          diverging: { type: 'integer', description: 'Diverging and status-mismatched pairs.' },
          divergenceRate: nullableNumber,
          candidateRequests: { type: 'integer' },
          candidateErrorRate: nullableNumber,
          baselineRequests: { type: 'integer' },
          baselineErrorRate: nullableNumber,
          candidateP99Ms: nullableNumber,
          baselineP99Ms: nullableNumber
        }
      }
    },
    changes: {
      type: 'array',
      description: 'History entries within the range, oldest first.',
      items: {
        type: 'object',
        properties: {
          at: { type: 'number' },
          action: { type: 'string' },
          actor: { type: 'string' },
          from: { type: 'number' },
          to: { type: 'number' }
        }
      }
    }
  }
} as const

export const tokenBody = {
  type: 'object',
  description: 'The token the request came with: its name and role, never the secret.',
  properties: {
    name: { type: 'string' },
    role: { type: 'string', enum: ['read', 'operator'] }
  }
} as const

const reason = { type: 'string', minLength: 1, maxLength: 500, description: 'Stored in the history; defaults to the action and actor.' } as const

export const setBody = {
  type: 'object',
  properties: {
    percentage: { type: 'number', minimum: 0, maximum: 100, description: 'From 0 to 100 in steps of 0.01.' },
    reason
  },
  required: ['percentage'],
  additionalProperties: false
} as const

export const actionBody = {
  type: 'object',
  properties: { reason },
  additionalProperties: false
} as const

const ignoreRuleFields = {
  rule: { type: 'string', enum: ['ignorePaths', 'ignoreHeaders'] },
  pattern: { type: 'string', minLength: 1, maxLength: 500 }
} as const

export const ignoreRuleBody = {
  type: 'object',
  properties: { ...ignoreRuleFields, decision: { type: 'string', enum: ['accepted', 'rejected'] } },
  required: ['rule', 'pattern', 'decision'],
  additionalProperties: false
} as const

export const ignoreRuleQuery = {
  type: 'object',
  properties: ignoreRuleFields,
  required: ['rule', 'pattern'],
  additionalProperties: false
} as const

export const ignoreRuleDecision = {
  type: 'object',
  properties: {
    route: { type: 'string' },
    rule: { type: 'string' },
    pattern: { type: 'string' },
    decision: { type: 'string' },
    at: { type: 'string' },
    actor: { type: 'string' }
  }
} as const

export const forgottenBody = {
  type: 'object',
  properties: { route: { type: 'string' }, rule: { type: 'string' }, pattern: { type: 'string' }, forgotten: { type: 'boolean' } }
} as const

const stringMap = { type: 'object', additionalProperties: { type: 'string' } } as const

export const alertmanagerBody = {
  type: 'object',
  description: 'Alertmanager\'s webhook payload (version 4). Firing alerts with a `route` or `shadowramp_route` label roll that route back; `*` or `all` means every route.',
  properties: {
    version: { type: 'string' },
    status: { type: 'string' },
    receiver: { type: 'string' },
    groupKey: { type: 'string' },
    groupLabels: stringMap,
    commonLabels: stringMap,
    commonAnnotations: stringMap,
    alerts: {
      type: 'array',
      maxItems: 1_000,
      items: {
        type: 'object',
        properties: {
          status: { type: 'string', enum: ['firing', 'resolved'] },
          labels: stringMap,
          annotations: stringMap,
          startsAt: { type: 'string' },
          endsAt: { type: 'string' },
          fingerprint: { type: 'string' }
        },
        required: ['status', 'labels']
      }
    }
  },
  required: ['alerts']
} as const

export const webhookBody = {
  type: 'object',
  properties: {
    route: { type: 'string', minLength: 1, maxLength: 63, description: 'A route name, or `*` for every route.' },
    reason: { type: 'string', minLength: 1, maxLength: 500 },
    source: { type: 'string', pattern: '^[A-Za-z0-9_.@:-]{1,64}$', description: 'Who sends it; recorded as the actor (default `webhook`).' }
  },
  required: ['route', 'reason'],
  additionalProperties: false
} as const

export const alertOutcome = {
  type: 'object',
  properties: {
    rolledBack: {
      type: 'array',
      items: { type: 'object', properties: { route: { type: 'string' }, from: { type: 'number' }, to: { type: 'number' } } }
    },
    alreadyRolledBack: { type: 'array', items: { type: 'string' }, description: 'Routes already rolled back to 0: nothing changed.' },
    unknown: { type: 'array', items: { type: 'string' }, description: 'Route label values that name no configured route.' },
    ignored: {
      type: 'object',
      description: 'Alerts that changed nothing.',
      properties: { resolved: { type: 'integer' }, withoutRoute: { type: 'integer' } }
    }
  }
} as const
