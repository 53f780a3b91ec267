import { type Dispatcher, request } from 'undici';
import type { ProbeResult, SlotProbe } from '../../app/ports.ts';
import type { ServiceConfig } from '../../config/greenlight-schema.ts';
import type { Slot } from '../../domain/slots.ts';

/** Health and version probes of a slot, straight to its URL (not through HAProxy). */
export class UndiciSlotProbe implements SlotProbe {
  private readonly services: Readonly<Record<string, ServiceConfig>>;
  private readonly dispatcher: Dispatcher;

  constructor(services: Readonly<Record<string, ServiceConfig>>, dispatcher: Dispatcher) {
    this.services = services;
    this.dispatcher = dispatcher;
  }

  private config(service: string): ServiceConfig {
    const config = this.services[service];
    if (config === undefined) throw new Error(`unknown service ${service}`);
    return config;
  }

  private async get(url: string, timeoutMs: number): Promise<{ status: number; body: string }> {
    const res = await request(url, {
      method: 'GET',
      dispatcher: this.dispatcher,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
      headers: { 'user-agent': 'greenlight-probe' },
    });
    const body = await res.body.text();
    return { status: res.statusCode, body: body.slice(0, 4096) };
  }

  async health(service: string, slot: Slot): Promise<ProbeResult> {
    const config = this.config(service);
    const url = new URL(config.health.path, config.slots[slot].url).toString();
    try {
      const { status } = await this.get(url, config.health.timeoutMs);
      return status === config.health.expectStatus
        ? { ok: true }
        : {
            ok: false,
            reason: `${url} answered ${status}, expected ${config.health.expectStatus}`,
          };
    } catch (error) {
      return { ok: false, reason: `${url} did not answer (${describe(error)})` };
    }
  }

  async version(
    service: string,
    slot: Slot,
  ): Promise<{ ok: true; version: string } | { ok: false; reason: string }> {
    const config = this.config(service);
    const url = new URL(config.versionPath, config.slots[slot].url).toString();
    try {
      const { status, body } = await this.get(url, config.health.timeoutMs);
      if (status !== 200) return { ok: false, reason: `${url} answered ${status}` };
      const version = parseVersion(body);
      return version === undefined
        ? { ok: false, reason: `${url} reported no version` }
        : { ok: true, version };
    } catch (error) {
      return { ok: false, reason: `${url} did not answer (${describe(error)})` };
    }
  }
}

/** Plain text (`2.4.1`, `v2.4.1`) or JSON with a `version` field. */
export function parseVersion(body: string): string | undefined {
  const text = body.trim();
  if (text.startsWith('{')) {
    try {
      const value = (JSON.parse(text) as { version?: unknown }).version;
      return typeof value === 'string' ? value.replace(/^v/i, '') : undefined;
    } catch {
      return undefined;
    }
  }
  const first = text.split(/\s+/)[0];
  return first ? first.replace(/^v/i, '') : undefined;
}

function describe(error: unknown): string {
  const e = error as { code?: string; name?: string; message?: string };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return 'timed out';
  return e.code ?? e.message ?? String(error);
}
