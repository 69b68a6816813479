import { Buckets, HubDomain, LogStream, RequestStream, ResultStream, SharedDevice, Subjects } from "@ferry/contracts";

/** The NATS users a site's server knows when it requires credentials: one per Ferry role. */
export const NatsRoles = ["admin", "gateway", "inferer", "logger", "deployer", "link", "device"] as const;
export type NatsRole = (typeof NatsRoles)[number];

/** Subjects a user may publish to and subscribe to (nats-server `permissions`). */
export interface NatsPermissions {
  publish: { allow?: string[]; deny?: string[] };
  subscribe: { allow?: string[]; deny?: string[] };
  /** Whether the user may answer requests it receives (publish once to their reply subject). */
  allowResponses: boolean;
}

/**
 * Every JetStream API subject about one stream: `$JS.API.STREAM.INFO.S`, `$JS.API.CONSUMER.CREATE.S.…`,
 * `$JS.API.STREAM.MSG.GET.S`, `$JS.API.CONSUMER.MSG.NEXT.S.…`.
 */
function streamApi(stream: string): string[] {
  return [`$JS.API.*.*.${stream}`, `$JS.API.*.*.${stream}.>`, `$JS.API.*.*.*.${stream}`, `$JS.API.*.*.*.${stream}.>`];
}

const kv = (bucket: string): string[] => [...streamApi(`KV_${bucket}`), `$KV.${bucket}.>`];
const objects = (bucket: string): string[] => [...streamApi(`OBJ_${bucket}`), `$O.${bucket}.>`];
/** Acks and flow control of JetStream consumers, and the account info nats.js asks for. */
const consuming = ["$JS.ACK.>", "$JS.FC.>", "$JS.API.INFO"];
/**
 * Services never create, change or delete streams (the admin provisions them: topology.ts), nor purge
 * logs or durable requests and results: only an operator (admin) does. (Object stores purge an
 * object's old chunks when it is replaced, so those purges stay allowed.)
 */
const serviceDeny = [
  "$JS.API.STREAM.CREATE.>", "$JS.API.STREAM.UPDATE.>", "$JS.API.STREAM.DELETE.>", `$JS.API.STREAM.PURGE.${LogStream}`, `$JS.API.STREAM.PURGE.${RequestStream}`, `$JS.API.STREAM.PURGE.${ResultStream}`,
  "$JS.API.ACCOUNT.>", "$JS.API.SERVER.>", "$JS.API.META.>",
];
const discovery = ["$SRV.>"];
/**
 * Reading one device's durable results (`ferry.result.<pipeline>.<device>.<id>`): direct gets and consumer
 * creation only in the 2.10+ forms that carry the subject in the API subject, so the server holds both to
 * the device's own token (a wildcard published in its place matches no literal token). Consumers are then
 * used by name (next, info, delete, acks), which no filter scopes: see docs/known-limits.md.
 */
function resultReading(device: string): string[] {
  const own = `${Subjects.resultPrefix}*.${device}.>`;
  return [
    `$JS.API.DIRECT.GET.${ResultStream}.${own}`, `$JS.API.CONSUMER.CREATE.${ResultStream}.*.${own}`,
    `$JS.API.CONSUMER.INFO.${ResultStream}.*`, `$JS.API.CONSUMER.DELETE.${ResultStream}.*`, `$JS.API.CONSUMER.MSG.NEXT.${ResultStream}.*`,
    `$JS.ACK.${ResultStream}.>`, "$JS.API.INFO",
  ];
}

/**
 * What a device user may do: ask for inference (`ferry.infer`, `ferry.infer.>`), submit durable requests as
 * itself (`ferry.submit.<pipeline>.<device>`) and read its own results, and nothing else: no responses (it
 * cannot answer inference requests), no other JetStream API, no log records, no buckets, no service subjects.
 * The shared `device` user is the device `device`, and may also submit on the old `ferry.submit.<pipeline>`.
 */
export function devicePermissions(device: string): NatsPermissions {
  const submit = [`${Subjects.submitPrefix}*.${device}`, ...(device === SharedDevice ? [`${Subjects.submitPrefix}*`] : [])];
  return {
    publish: { allow: [Subjects.infer, `${Subjects.inferPrefix}>`, ...submit, ...resultReading(device)] },
    subscribe: { allow: ["_INBOX.>"] },
    allowResponses: false,
  };
}

function role(publish: string[], subscribe: string[], allowResponses = true): NatsPermissions {
  return { publish: { allow: publish, deny: serviceDeny }, subscribe: { allow: ["_INBOX.>", ...subscribe] }, allowResponses };
}

/** What each role may do (the shared `device` user: {@link devicePermissions}). */
export function rolePermissions(r: NatsRole): NatsPermissions | undefined {
  switch (r) {
    case "admin":
      return undefined;
    case "gateway":
      return role([Subjects.infer, `${Subjects.inferPrefix}>`, Subjects.status, Subjects.logsQuery, Subjects.metrics, Subjects.linkStatus,
        Subjects.gatewayTraffic, ...kv(Buckets.site), ...kv(Buckets.deployments), ...consuming], [Subjects.gatewayTraffic]);
    case "inferer":
      return role([`${Subjects.logPrefix}>`, `${Subjects.resultPrefix}>`, ...streamApi(LogStream), ...streamApi(RequestStream), ...streamApi(ResultStream),
        ...kv(Buckets.site), ...kv(Buckets.deployments), ...objects(Buckets.models), ...consuming],
      [Subjects.infer, `${Subjects.inferPrefix}>`, Subjects.status, Subjects.metrics, ...discovery]);
    case "logger":
      return role([...streamApi(LogStream), ...consuming], [Subjects.logsQuery, Subjects.metrics, ...discovery]);
    case "deployer":
      return role([...kv(Buckets.site), ...kv(Buckets.deployments), ...objects(Buckets.models), ...consuming],
        [Subjects.deploy, Subjects.undeploy, Subjects.setCurrent]);
    case "link":
      return role([`${Subjects.heartbeatPrefix}>`, Subjects.status, `$JS.${HubDomain}.API.>`, ...kv(Buckets.site), ...kv(Buckets.deployments), ...objects(Buckets.models), ...consuming],
        [Subjects.linkStatus]);
    case "device":
      return devicePermissions(SharedDevice);
  }
}

/** Read-only JetStream API subjects of one stream through a domain's API prefix (consumers of it included). */
function readOnlyStreamApi(api: string, stream: string): string[] {
  return [
    `${api}.STREAM.INFO.${stream}`, `${api}.DIRECT.GET.${stream}`, `${api}.DIRECT.GET.${stream}.>`, `${api}.STREAM.MSG.GET.${stream}`,
    `${api}.CONSUMER.CREATE.${stream}`, `${api}.CONSUMER.CREATE.${stream}.>`, `${api}.CONSUMER.INFO.${stream}.>`,
    `${api}.CONSUMER.DELETE.${stream}.>`, `${api}.CONSUMER.MSG.NEXT.${stream}.>`,
  ];
}

/**
 * What an edge's leaf link may do on the Ops hub (its user there): send its own heartbeats, read the hub's
 * published pipelines and models (read-only, through `$JS.hub.API`), answer the hub's requests to its own
 * JetStream (`$JS.<edge>.API`, for log sync), and nothing else: no other edge's heartbeats, no writes to
 * the hub's buckets or streams, no stream management.
 */
export function edgeLeafPermissions(edge: string): NatsPermissions {
  const hubApi = `$JS.${HubDomain}.API`;
  const deployments = `KV_${Buckets.deployments}`;
  const models = `OBJ_${Buckets.models}`;
  return {
    publish: {
      allow: [
        `${Subjects.heartbeatPrefix}${edge}`, `${hubApi}.INFO`, ...readOnlyStreamApi(hubApi, deployments), ...readOnlyStreamApi(hubApi, models),
        `$JS.ACK.${deployments}.>`, `$JS.ACK.${models}.>`, "$JS.FC.>", "_INBOX.>",
        // What the hub's log sync (a stream source) gets from the edge: its consumer's messages and replies.
        "$JS.S.>", "$JSC.R.>",
      ],
    },
    subscribe: { allow: ["_INBOX.>", `$JS.${edge}.API.>`, "$JS.FC.>"] },
    allowResponses: true,
  };
}
