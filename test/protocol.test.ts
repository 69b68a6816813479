import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  Endpoints, Headers, MediaTypes, Subjects, batchHeaders, batchReplies, batchSize, decodeLogBatch, encodeEnvelope, encodeLogBatch,
  logBatchCount, logRecordStart, readReply, recordHeaders, replyPart, requestHeaders, requestParts, LogRecordsHeader,
} from "@ferry/contracts";

describe("the protocol's one owner for each wire format", () => {
  it("pairs every request/reply subject with its types (publish-only prefixes aside)", () => {
    const published = new Set<string>([Subjects.logPrefix, Subjects.submitPrefix, Subjects.resultPrefix]);
    const paired = new Set(Object.values(Endpoints).map((e) => e.subject));
    for (const subject of Object.values(Subjects)) {
      if (!published.has(subject)) assert.ok(paired.has(subject), `${subject} has no entry in Endpoints`);
    }
  });

  it("a request's headers round-trip through a message, alone or in a batch", () => {
    const meta = { contentType: MediaTypes.pandasRecords, accept: MediaTypes.arrowFile, splitKey: "user-7", requestId: "r1" };
    const body = new TextEncoder().encode("[]");
    const [single] = requestParts(recordHeaders(requestHeaders(meta)), body);
    assert.deepEqual(single!.headers, requestHeaders(meta));
    assert.equal(batchSize(recordHeaders(requestHeaders(meta))), undefined);
    const envelope = encodeEnvelope([single!, { headers: requestHeaders({ contentType: MediaTypes.arrowFile }), body }]);
    const parts = requestParts(recordHeaders(batchHeaders(2)), envelope);
    assert.equal(parts.length, 2);
    assert.equal(parts[1]!.headers[Headers.contentType], MediaTypes.arrowFile);
    assert.equal(parts[1]!.headers[Headers.accept], undefined);
  });

  it("a reply without a status is 200 pandas-records; batch replies keep each part's status", () => {
    const body = new Uint8Array([1]);
    assert.deepEqual(readReply(undefined, body), { status: 200, contentType: MediaTypes.pandasRecords, body });
    const parts = [{ status: 200, contentType: MediaTypes.json, body }, { status: 422, contentType: MediaTypes.json, body }];
    const back = batchReplies(encodeEnvelope(parts.map(replyPart)), 2);
    assert.deepEqual(back.map((r) => r.status), [200, 422]);
  });

  it("a log batch gives each record and its time without parsing the JSON", () => {
    const records = [`${logRecordStart(1_700_000_000_123)},"in":{}}`, `${logRecordStart(5)},"in":{"a":[1]}}`];
    const batch = encodeLogBatch(records);
    assert.equal(batch.headers[LogRecordsHeader], "2");
    const back = decodeLogBatch(new TextEncoder().encode(batch.data));
    assert.deepEqual(back.map((r) => r.time), [1_700_000_000_123, 5]);
    assert.deepEqual(back.map((r) => JSON.parse(new TextDecoder().decode(r.data)) as unknown), records.map((r) => JSON.parse(r) as unknown));
    assert.equal(decodeLogBatch(new TextEncoder().encode('{"in":1}'))[0]!.time, 0, "a record not written by Ferry has no time");
    assert.equal(logBatchCount(undefined), 1);
  });
});
