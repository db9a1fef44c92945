import { z } from 'zod';
import { ChannelWebhookEvents, PublishProxyOptions } from '../webhooks/options.js';

// Per-namespace options of the config file (`namespaces:` and `defaults:`). The namespace of
// `chat:lobby` is `chat`; a channel without `:` belongs to the namespace `""`.

export const SUBSCRIBE_RULES = ['anyone', 'authenticated', 'token'] as const;
export const PUBLISH_RULES = ['nobody', 'authenticated', 'subscribers'] as const;

export const NamespaceOptions = z
  .object({
    subscribe: z
      .enum(SUBSCRIBE_RULES)
      .describe('Who may subscribe: anyone; authenticated users (a connection token with a non-empty sub); or only with a subscription token for the channel'),
    publish: z
      .enum(PUBLISH_RULES)
      .describe('Who may publish from a client: nobody (backends only, the default); authenticated users; or whoever may subscribe to the channel'),
    presence: z.boolean().describe('Whether the presence API lists the subscribers of its channels'),
    joinLeave: z.boolean().describe('Publish join/leave events when an identified user subscribes or leaves (anonymous clients never cause them)'),
    webhooks: ChannelWebhookEvents,
    publishProxy: PublishProxyOptions.optional(),
  })
  .strict();
export type NamespaceOptions = z.infer<typeof NamespaceOptions>;

export const DEFAULT_NAMESPACE: NamespaceOptions = { subscribe: 'anyone', publish: 'nobody', presence: true, joinLeave: false, webhooks: [] };

export const NamespaceName = z.string().regex(/^[A-Za-z0-9_-]*$/, 'namespace names are [A-Za-z0-9_-]* ("" is the namespace of channels without a colon)');

export const NamespacesConfig = z.record(NamespaceName, NamespaceOptions.partial()).describe('Options per namespace; unlisted options and namespaces follow `defaults`');

/** Resolves the options of a channel's namespace once per namespace name. */
export class Namespaces {
  private readonly resolved = new Map<string, NamespaceOptions>();
  readonly defaults: NamespaceOptions;

  constructor(defaults: Partial<NamespaceOptions> = {}, namespaces: Record<string, Partial<NamespaceOptions>> = {}) {
    this.defaults = { ...DEFAULT_NAMESPACE, ...defaults };
    for (const [name, options] of Object.entries(namespaces)) this.resolved.set(name, { ...this.defaults, ...options });
  }

  of(namespace: string): NamespaceOptions {
    return this.resolved.get(namespace) ?? this.defaults;
  }

  /** True when every namespace lets anyone subscribe (the start log then says channels are public). */
  get allPublic(): boolean {
    if (this.defaults.subscribe !== 'anyone') return false;
    for (const o of this.resolved.values()) if (o.subscribe !== 'anyone') return false;
    return true;
  }
}
