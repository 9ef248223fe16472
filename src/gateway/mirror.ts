import type { Transform } from 'node:stream'
import type { BackendName, UpstreamRequest, UpstreamResponse } from './upstream.js'

/**
 * What the live path lets the shadow side see. The gateway knows nothing
 * else about mirroring: it asks whether a request is mirrored, shows the
 * live answer, and says when there is none to show.
 */
export interface Mirror {
  /** Called before the live request is sent; undefined when it is not mirrored. */
  begin: (route: string, request: UpstreamRequest, live: BackendName, requestId: string) => LiveTap | undefined
}

export interface LiveTap {
  /**
   * The backend chosen answered the live request. Returns a pass-through
   * for the body on its way to the client, or undefined for a bodiless
   * answer (HEAD, 204, 304).
   */
  observe: (response: UpstreamResponse, hasBody: boolean) => Transform | undefined
  /** The live answer came from further down the fallback chain: no pair. */
  abandon: (reason: 'live-fell-back') => void
}
