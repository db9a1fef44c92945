import { z } from 'zod';
import { PublishRequest, PublishResult } from './api.js';
import { ErrorBody } from './errors.js';

// The ingest doors (docs/ingest.md): a Unix socket taking newline-delimited JSON, UDP datagrams,
// and NATS requests on `<prefix>.ingest.<channel>`. Each message is the REST API's PublishRequest,
// so a field added there is taken here too; the NATS door takes the channel from the subject.

/** One line (Unix socket), one datagram (UDP) or one NATS request body. */
export const IngestMessage = PublishRequest;
export type IngestMessage = z.infer<typeof IngestMessage>;

/** The reply to each line (Unix socket) and each NATS request: the position, or an error from the table. UDP has none. */
export const IngestReply = z.union([PublishResult.strict(), z.object({ error: ErrorBody }).strict()]);
export type IngestReply = z.infer<typeof IngestReply>;

/** The ingest doors, as metrics and logs name them. */
export const INGEST_DOORS = ['unix', 'udp', 'nats'] as const;
export type IngestDoor = (typeof INGEST_DOORS)[number];

/**
 * What became of one message, the label of hubbub_ingest_messages_total: published; not a
 * PublishRequest (bad JSON, bad channel…); longer than the door's size limit; or refused — a UDP
 * datagram without a valid signature, or a request the publish service declined (forbidden,
 * payload_too_large, unavailable).
 */
export const INGEST_OUTCOMES = ['accepted', 'malformed', 'oversize', 'refused'] as const;
export type IngestOutcome = (typeof INGEST_OUTCOMES)[number];
